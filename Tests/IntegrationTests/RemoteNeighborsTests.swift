import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The UMAP neighbour search on spawned workers (`--umap-neighbors workers`), against an in-process run.
final class RemoteNeighborsTests: XCTestCase {
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

    /// Two spawned workers search the neighbours of 5,000 real activations in row blocks (exact); the maps
    /// are written, and each epoch's trustworthiness is within 0.01 of the in-process run's (whose search at
    /// 5,000 rows is the approximate one). The blocks' bit-for-bit equality with a single-process search is
    /// `UMAPRowBlocksTests`.
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
