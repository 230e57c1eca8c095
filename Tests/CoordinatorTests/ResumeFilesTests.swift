import Cluster
@testable import Coordinator
import Core
import Foundation
import XCTest

/// The files `--resume` reads: a mid-epoch checkpoint and the map checkpoint come back exactly, a
/// checkpoint cut short is refused (never loaded), a crash's temporary files are ignored and cleared,
/// and a changed setting is named.
final class ResumeFilesTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "glassbox-resume-files-\(getpid())-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func settings(neighbors: Int = 10) -> CheckpointSettings {
        CheckpointSettings(seed: 5, batchSize: 100, microBatchSize: 25, validationFraction: 0.2, trainingImages: 1000,
                           dataset: "mnist", datasetFingerprint: "0123456789abcdef",
                           run: RunChoices(epochs: 3, dataArguments: ["--data", "/data/mnist"], maps: true,
                                           umapMode: "warm", nNeighbors: neighbors))
    }

    /// Three steps into epoch 2, with loss sums whose every bit matters.
    private func midEpochState() throws -> TrainingState {
        let n = SeedCNN.layout.count
        var adam = AdamState(count: n)
        adam.step = 11
        adam.m = (0..<n).map { Float($0 % 13) * 1e-3 }
        let json = #"[{"epoch":1,"loss":0.30000000000000004,"acc":0.875,"valLoss":0.3333333333333333,"valAcc":0.9,"#
            + #""seconds":4.5,"samplesPerSecond":177.7}]"#
        let history = try JSONDecoder().decode([EpochMetrics].self, from: Data(json.utf8))
        return TrainingState(parameters: (0..<n).map { Float($0 % 101) / 101 }, adam: adam, epochsDone: 1,
                             history: history, stepsDone: 3,
                             epochStats: BatchStats(lossSum: 0.1 + 0.2 + 1e-17 * 3 + 207.00000000000003, correct: 251, count: 300))
    }

    func testMidEpochCheckpointRoundTripsEveryBit() throws {
        let run = try RunDirectory(path: directory)
        let written = try midEpochState()
        try Checkpoint.write(written, settings: settings(), in: run)
        let (read, readSettings) = try Checkpoint.read(in: directory)
        XCTAssertEqual(readSettings, settings())
        XCTAssertEqual(read.parameters, written.parameters)
        XCTAssertEqual(read.adam, written.adam)
        XCTAssertEqual(read.epochsDone, 1)
        XCTAssertEqual(read.stepsDone, 3)
        XCTAssertEqual(read.epochStats.lossSum.bitPattern, written.epochStats.lossSum.bitPattern)
        XCTAssertEqual(read.epochStats, written.epochStats)
        XCTAssertEqual(read.history, written.history)
    }

    func testCheckpointCutShortIsRefusedWithAMessageAndACrashedWriteIsNeverRead() throws {
        let run = try RunDirectory(path: directory)
        try Checkpoint.write(try midEpochState(), settings: settings(), in: run)
        let path = run.file(Checkpoint.fileName)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // A crash mid-write leaves a partial temporary file beside the intact checkpoint.
        let partial = run.file(".\(Checkpoint.fileName).tmp-AbC123")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: partial))
        XCTAssertEqual(try Checkpoint.read(in: directory).0.stepsDone, 3, "the intact checkpoint is read")
        run.removeUnfinishedWrites()
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial), "the crash's temporary file is cleared")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))

        // The checkpoint itself cut short (as no atomic write leaves it): refused, naming the file.
        for length in [bytes.count / 2, 7, 0] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Checkpoint.read(in: directory), "\(length) bytes") { error in
                XCTAssertTrue("\(error)".contains(path), "\(length) bytes: \(error)")
            }
        }
    }

    func testChangedMapSettingsAreNamedAndMoreEpochsAreAllowed() {
        XCTAssertEqual(Checkpoint.difference(settings(), settings(neighbors: 20)),
                       "--n-neighbors was 10 in the checkpoint, is 20 now")
        var longer = settings()
        longer.run?.epochs = 30
        XCTAssertNil(Checkpoint.difference(settings(), longer))
        var noMaps = settings()
        noMaps.run?.maps = false
        XCTAssertEqual(Checkpoint.difference(settings(), noMaps), "maps (--no-maps) was on in the checkpoint, is off now")
        var older = settings()
        older.run = nil  // a checkpoint of an earlier build records no choices
        XCTAssertNil(Checkpoint.difference(older, settings()))
    }

    func testMapCheckpointRoundTripsRowsAndWarmStart() throws {
        let run = try RunDirectory(path: directory)
        let rows = 50, k = 4
        let data = (0..<(rows * 6)).map { Float(sin(Double($0) * 1.7)) }
        var options = UMAPOptions()
        options.nNeighbors = k
        options.nEpochs = 10
        options.threads = 1
        let model = UMAP.fit(data: data, rows: rows, dim: 6, options: options)
        let metricsRows: [[String: Double]] = [["epoch": 0, "umap_trustworthiness": 0.1 + 0.2],
                                               ["epoch": 1, "loss": 1.0 / 3, "umap_frame_displacement": 2e-9]]
        try MapCheckpoint(epoch: 1, metricsRows: metricsRows, warmStart: model.warmStart).write(in: run)
        let read = try XCTUnwrap(try MapCheckpoint.read(in: directory))
        XCTAssertEqual(read.epoch, 1)
        XCTAssertEqual(read.metricsRows, metricsRows)
        XCTAssertEqual(read.warmStart?.embedding, model.embedding)
        XCTAssertEqual(read.warmStart?.neighbors, model.neighbors)

        try MapCheckpoint(epoch: 2, metricsRows: metricsRows, warmStart: nil).write(in: run)  // fresh mode
        XCTAssertNil(try MapCheckpoint.read(in: directory)?.warmStart)
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: run.file(MapCheckpoint.fileName)))
        XCTAssertThrowsError(try MapCheckpoint.read(in: directory)) { error in
            XCTAssertTrue("\(error)".contains(MapCheckpoint.fileName), "\(error)")
        }
    }
}
