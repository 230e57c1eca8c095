import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The UMAP neighbour search on spawned workers (`--umap-neighbors workers`), against an in-process run.
final class RemoteNeighborsTests: XCTestCase {
    /// Runs `glassbox-coordinator neighbors` with `arguments`; its output.
    func neighbors(_ arguments: [String], log: String) throws -> String {
        let process = try RunningProcess("glassbox-coordinator", ["neighbors"] + arguments, outputPath: log)
        XCTAssertEqual(process.wait(timeout: 240), 0, process.output)
        return process.output
    }

    /// The activations of 3,000 training images before training and after one epoch (real drift): a fresh
    /// search of the first and a warm search of the second from its graph find the same neighbours, every
    /// index and distance bit for bit, on 2 spawned workers (1 thread each) as in this process.
    func testWorkersFindTheInProcessNeighboursBitForBit() throws {
        let root = try temporaryDirectory(self, "neighbours-bits")
        for epochs in ["0", "1"] {
            let run = try train(["--data", try mnistDirectory(), "--limit-train", "3000", "--epochs", epochs, "--seed", "5",
                                 "--no-maps", "--save-hidden"], in: root + "/e" + epochs)
            XCTAssertEqual(run.status, 0, run.output)
        }
        let common = ["--previous", root + "/e0/hidden_train.npy", "--input", root + "/e1/hidden_train.npy",
                      "--n-neighbors", "15", "--seed", "5"]
        let local = try neighbors(common + ["--out", root + "/local", "--threads", "2"], log: root + "/local.log")
        let remote = try neighbors(common + ["--out", root + "/remote", "--threads", "1", "--data", try mnistDirectory(),
                                             "--spawn-workers", "2", "--worker-threads", "1", "--bind", "tcp://127.0.0.1:*"],
                                   log: root + "/remote.log")
        XCTAssertTrue(local.contains("warm input (3000 x 512)"), local)
        XCTAssertTrue(remote.contains("workers"), remote)
        for file in ["previous_indices", "previous_distances", "input_indices", "input_distances"] {
            let a = try XCTUnwrap(FileManager.default.contents(atPath: "\(root)/local/\(file).npy"), file)
            let b = try XCTUnwrap(FileManager.default.contents(atPath: "\(root)/remote/\(file).npy"), file)
            XCTAssertEqual(a.count, 128 + 3000 * 15 * 4, file)
            XCTAssertTrue(a == b, "\(file).npy differs between the in-process and the 2-worker search")
        }
        let fresh = try NPY.read(from: root + "/local/previous_indices.npy").values
        let warm = try NPY.read(from: root + "/local/input_indices.npy").values
        XCTAssertNotEqual(fresh, warm, "training moved the neighbours")
        XCTAssertEqual(warm[7 * 15], 7, "neighbour 0 is the row itself")
    }

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("RemoteNeighborsTests train real networks in several processes: run them in a release build")
        #endif
    }

    /// metrics.jsonl's rows.
    func metricsJSONL(_ run: RunResult) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: run.directory + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Two spawned workers run the neighbour search's per-row stages for 5,000 real activations; the maps are
    /// written, and each epoch's trustworthiness is within 0.01 of the in-process run's (the neighbours are
    /// the same, `testWorkersFindTheInProcessNeighboursBitForBit`; the SGD runs on threads, so the layouts
    /// differ a little).
    func testTwoWorkersSearchTheNeighboursAndTheMapsMatchTheInProcessRun() throws {
        let root = try temporaryDirectory(self, "remote-neighbours")
        let common = ["--data", try mnistDirectory(), "--limit-train", "5000", "--epochs", "1", "--seed", "3"]
        let local = try train(common, in: root + "/local")
        XCTAssertEqual(local.status, 0, local.output)
        let remote = try train(common + ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:*",
                                         "--umap-neighbors", "workers"], in: root + "/remote")
        XCTAssertEqual(remote.status, 0, remote.output)
        for file in ["fig/epoch_000.png", "fig/epoch_001.png", "mnist.gif"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: remote.directory + "/" + file), "no \(file)")
        }
        let a = try metricsJSONL(local), b = try metricsJSONL(remote)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(b.count, 2)
        for (x, y) in zip(a, b) {
            let ta = try XCTUnwrap(x["umap_trustworthiness"] as? Double)
            let tb = try XCTUnwrap(y["umap_trustworthiness"] as? Double)
            XCTAssertEqual(ta, tb, accuracy: 0.01, "epoch \(x["epoch"] ?? "?")")
            XCTAssertGreaterThan(tb, 0.9)
        }
        let local2 = try train(["--data", try mnistDirectory(), "--limit-train", "200", "--epochs", "1", "--no-maps",
                                "--umap-neighbors", "workers"], in: root + "/refused")
        XCTAssertNotEqual(local2.status, 0, "--umap-neighbors workers needs workers")
    }
}
