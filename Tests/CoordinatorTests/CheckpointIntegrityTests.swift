import Cluster
@testable import Coordinator
import Core
import Foundation
import XCTest

/// A checkpoint damaged on disk is refused with a message naming it, never loaded: cut short, a flipped
/// bit in a tensor, or a changed metadata value (which the values' digest also covers).
final class CheckpointIntegrityTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "glassbox-checkpoint-integrity-\(getpid())-\(UUID().uuidString)"
        try writeCheckpoint()
    }

    /// A checkpoint of recognisable values in `directory`, replacing any there.
    private func writeCheckpoint() throws {
        let n = SeedCNN.layout.count
        var adam = AdamState(count: n)
        adam.m = (0..<n).map { Float($0 % 97) / 7 }
        adam.v = (0..<n).map { Float($0 % 89) / 11 }
        adam.step = 96
        let state = TrainingState(parameters: (0..<n).map { Float($0 % 101) / 1000 }, adam: adam, epochsDone: 2)
        let settings = CheckpointSettings(seed: 3, batchSize: 100, microBatchSize: 25, validationFraction: 0.2,
                                          trainingImages: 600, dataset: "mnist", datasetFingerprint: "0123456789abcdef")
        try Checkpoint.write(state, settings: settings, in: try RunDirectory(path: directory))
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private var path: String { directory + "/" + Checkpoint.fileName }

    /// Reads the checkpoint after `damage` changed its bytes; the error's text, or nil if it loaded.
    private func readAfter(_ damage: (inout [UInt8]) -> Void) throws -> String? {
        var bytes = try FileBytes.read(path)
        damage(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Checkpoint.read(in: directory)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testAnUndamagedCheckpointLoads() throws {
        XCTAssertNil(try readAfter { _ in })
    }

    func testAFlippedBitInAnyTensorIsRefused() throws {
        let size = try FileBytes.read(path).count
        // The first parameter, a value in the middle of Adam's m, the last byte of Adam's v.
        for offset in [size - SeedCNN.layout.count * 12, size - SeedCNN.layout.count * 6, size - 1] {
            try writeCheckpoint()
            let message = try XCTUnwrap(try readAfter { $0[offset] ^= 0x01 }, "a flipped bit at byte \(offset) was loaded")
            XCTAssertTrue(message.contains(path) && message.contains("corrupted"), message)
        }
    }

    func testAChangedMetadataValueIsRefused() throws {
        let message = try XCTUnwrap(try readAfter { bytes in
            // "epochs_done":"2" becomes "3": still valid JSON of the same length.
            let key = Array("\"epochs_done\":\"2\"".utf8)
            guard let start = (0...(bytes.count - key.count)).first(where: { Array(bytes[$0..<$0 + key.count]) == key }) else {
                return XCTFail("no epochs_done in the header")
            }
            bytes[start + key.count - 2] = UInt8(ascii: "3")
        }, "a changed epoch count was loaded")
        XCTAssertTrue(message.contains("corrupted"), message)
    }

    func testACheckpointCutShortIsRefused() throws {
        for keep in [0.5, 0.999, 0.01] {
            try writeCheckpoint()
            let message = try XCTUnwrap(try readAfter { $0.removeLast(Int(Double($0.count) * (1 - keep))) },
                                        "a checkpoint cut to \(keep) of its size was loaded")
            XCTAssertTrue(message.contains(path), message)
        }
    }
}
