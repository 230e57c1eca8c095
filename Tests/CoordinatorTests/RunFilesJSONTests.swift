import Cluster
@testable import Coordinator
import Core
import Foundation
import XCTest

/// The JSON files of a run directory: written with `JSONEncoder`, byte for byte what the earlier
/// `JSONSerialization` code wrote (the old code path is repeated here as the reference), and a
/// checkpoint written before the change still loads.
final class RunFilesJSONTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "glassbox-run-json-\(getpid())-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The bytes `JSONSerialization` writes for `object`, as the run files were written before.
    private func serialized(_ object: Any, _ options: JSONSerialization.WritingOptions) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
    }

    /// Two epochs of metrics as `train` writes them, with the UMAP stage's keys.
    private func metrics() throws -> [EpochMetrics] {
        let json = """
            [{"epoch":1,"loss":0.2871653914451599,"acc":0.91234,"valLoss":0.0812,"valAcc":0.9751666666666666,
              "seconds":61.25,"samplesPerSecond":783.6734693877551},
             {"epoch":2,"loss":1e-07,"acc":1,"valLoss":123456789.5,"valAcc":0.5,"seconds":2e16,"samplesPerSecond":0}]
            """
        return try JSONDecoder().decode([EpochMetrics].self, from: Data(json.utf8))
    }

    func testMetricsRowsAreTheBytesJSONSerializationWrote() throws {
        let run = try RunDirectory(path: directory)
        let rows: [[String: Double]] = [
            ["epoch": 0, "umap_seconds": 12.5, "umap_transform_seconds": 0.1 + 0.2, "umap_quality_seconds": 1.0 / 3,
             "umap_neighbors_seconds": 4e-7, "umap_trustworthiness": 0.9871234, "umap_knn_test_accuracy": 0.95,
             "hidden_seconds": 123456.789],
            ["epoch": 1, "loss": 0.2871653914451599, "acc": 0.91234, "val_loss": 1e-5, "val_acc": 1, "seconds": 61.25,
             "samples_per_second": 783.6734693877551, "umap_frame_displacement": 2e21, "hidden_seconds": -0.5],
        ]
        try run.writeMetricsJSONL(rows)
        let lines = try String(contentsOfFile: run.file("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, rows.count + 1, "one line per row and a final newline")
        for (line, row) in zip(lines, rows) {
            XCTAssertEqual(String(line), try serialized(row, [.sortedKeys]))
            XCTAssertEqual(try JSONDecoder().decode([String: Double].self, from: Data(line.utf8)), row)
        }
        XCTAssertTrue(lines[1].hasPrefix("{\"acc\":0.91234,\"epoch\":1,\"hidden_seconds\":-0.5,"), String(lines[1]))
    }

    func testEmptyMetricsFileHasNoLines() throws {
        let run = try RunDirectory(path: directory)
        try run.writeMetricsJSONL([])
        XCTAssertEqual(try String(contentsOfFile: run.file("metrics.jsonl"), encoding: .utf8), "")
    }

    private func settings() -> CheckpointSettings {
        CheckpointSettings(seed: 18_446_744_073_709_551_557, batchSize: 100, microBatchSize: 25, validationFraction: 0.2,
                           trainingImages: 6000, dataset: "mnist", datasetFingerprint: "0123456789abcdef")
    }

    /// A state with recognisable values: parameter i is i / 1000, m is 2i, v is 3i.
    private func state() throws -> TrainingState {
        let n = SeedCNN.layout.count
        var adam = AdamState(count: n)
        adam.m = (0..<n).map { Float(2 * $0) }
        adam.v = (0..<n).map { Float(3 * $0) }
        adam.step = 960
        return TrainingState(parameters: (0..<n).map { Float($0) / 1000 }, adam: adam, epochsDone: 2,
                             history: try metrics())
    }

    func testCheckpointRoundTrips() throws {
        let run = try RunDirectory(path: directory)
        let written = try state()
        try Checkpoint.write(written, settings: settings(), in: run)
        let (read, readSettings) = try Checkpoint.read(in: directory)
        XCTAssertEqual(readSettings, settings())
        XCTAssertEqual(read.parameters, written.parameters)
        XCTAssertEqual(read.adam, written.adam)
        XCTAssertEqual(read.epochsDone, 2)
        XCTAssertEqual(read.history, written.history)
    }

    /// `checkpoint.json` as the old code made it: every metadata string parsed as JSON where it is JSON.
    func testCheckpointSummaryIsTheBytesJSONSerializationWrote() throws {
        let run = try RunDirectory(path: directory)
        try Checkpoint.write(try state(), settings: settings(), in: run)
        let metadata = try Safetensors.read(from: run.file(Checkpoint.fileName)).metadata
        let old = try serialized(metadata.mapValues { value -> Any in
            (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])) ?? value
        }, [.prettyPrinted, .sortedKeys]) + "\n"
        let new = try String(contentsOfFile: run.file(Checkpoint.summaryName), encoding: .utf8)
        XCTAssertEqual(new, old)
        XCTAssertTrue(new.contains("\"seed\" : 18446744073709551557"), new)
    }

    /// The safetensors metadata exactly as the build before the JSONEncoder change wrote it.
    func testCheckpointWrittenByTheEarlierBuildLoads() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let n = SeedCNN.layout.count
        let parameters = (0..<n).map { Float($0 % 97) / 97 }
        let metadata = [
            "format": "glassbox-checkpoint-1", "epochs_done": "1", "adam_step": "480", "adam_learning_rate": "0.001",
            "adam_beta1": "0.9", "adam_beta2": "0.999", "adam_epsilon": "1e-07",
            "settings": #"{"batchSize":100,"dataset":"mnist","datasetFingerprint":"5f0c","microBatchSize":25,"#
                + #""seed":1,"trainingImages":60000,"validationFraction":0.2}"#,
            "history": #"[{"acc":0.8977708333333333,"epoch":1,"loss":0.3345,"samplesPerSecond":812.5,"seconds":59.07,"#
                + #""valAcc":0.9745833333333334,"valLoss":0.0869}]"#,
        ]
        try Safetensors.write([NamedTensor(name: "parameters", shape: [n], values: parameters),
                               NamedTensor(name: "adam/m", shape: [n], values: parameters.map { -$0 }),
                               NamedTensor(name: "adam/v", shape: [n], values: parameters.map { $0 * $0 })],
                              metadata: metadata, to: (directory as NSString).appendingPathComponent(Checkpoint.fileName))
        let (state, settings) = try Checkpoint.read(in: directory)
        XCTAssertEqual(settings, CheckpointSettings(seed: 1, batchSize: 100, microBatchSize: 25, validationFraction: 0.2,
                                                    trainingImages: 60000, dataset: "mnist", datasetFingerprint: "5f0c"))
        XCTAssertEqual(state.parameters, parameters)
        XCTAssertEqual(state.adam.m, parameters.map { -$0 })
        XCTAssertEqual(state.adam.v, parameters.map { $0 * $0 })
        XCTAssertEqual(state.adam.step, 480)
        XCTAssertEqual([state.adam.learningRate, state.adam.beta1, state.adam.beta2, state.adam.epsilon],
                       [0.001, 0.9, 0.999, 1e-7])
        XCTAssertEqual(state.epochsDone, 1)
        XCTAssertEqual(state.history.map(\.epoch), [1])
        XCTAssertEqual(state.history.first?.valAcc, 0.9745833333333334)
        XCTAssertEqual(state.history.first?.samplesPerSecond, 812.5)
    }

    func testEventLineIsTheBytesJSONSerializationWrote() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("events.jsonl")
        let fields: [String: Any] = [
            "worker": "host/a:12", "rank": 2, "version": Int(UInt32(7)), "live": Int32(3), "loss": 0.287165391,
            "workers": ["w1", "w2"], "by_type": ["stepUpdate": ["sent_bytes": 1_048_576, "sent_messages": 4]],
            "empty": [String](), "ok": true, "seed": UInt64.max,
        ]
        let log = try EventLog(path: path)
        log.record("traffic", fields)
        log.record("run_finished")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (line, expected) in zip(lines, [fields, [:]]) {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            var old = expected
            old["event"] = object["event"]
            old["time"] = try XCTUnwrap(object["time"] as? String)
            XCTAssertEqual(String(line), try serialized(old, [.sortedKeys, .withoutEscapingSlashes]))
        }
        XCTAssertTrue(lines[0].contains("\"event\":\"traffic\""), String(lines[0]))
        XCTAssertTrue(lines[1].hasPrefix("{\"event\":\"run_finished\",\"time\":\""), String(lines[1]))
    }

    func testEventWithAValueJSONCannotHoldIsDropped() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("events.jsonl")
        let log = try EventLog(path: path)
        log.record("odd", ["when": Date()])
        log.record("nested_odd", ["list": [1, Date()]])
        log.record("kept", ["n": 1])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(text.contains("\"event\":\"kept\""), text)
    }
}
