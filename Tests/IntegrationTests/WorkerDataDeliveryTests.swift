import Foundation
import XCTest

/// Workers started with only an address: they receive the coordinator's MNIST files over the socket,
/// cache them, and train to the weights of one process; started again on the same cache they reuse it.
final class WorkerDataDeliveryTests: XCTestCase {
    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("WorkerDataDeliveryTests train in several processes: run them in a release build")
        #endif
    }

    func testWorkersWithoutDataReceiveItThenReuseTheCacheAndMatchOneProcessBitForBit() throws {
        let mnist = try mnistDirectory()
        let root = try temporaryDirectory(self, "delivery")
        let settings = ["--data", mnist, "--limit-train", "3000", "--epochs", "1", "--seed", "7", "--no-maps"]
        let reference = try train(settings, in: root + "/in-process")
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try reference.weightsDigest()
        let cache = root + "/cache"
        for attempt in ["transfer", "reuse"] {
            let endpoint = "tcp://127.0.0.1:\(freePort())"
            let workers = try ["a", "b"].map {
                try RunningProcess("glassbox-worker", ["--connect", endpoint, "--threads", "1", "--cache", cache],
                                   outputPath: "\(root)/\(attempt)-worker-\($0).log")
            }
            let run = try train(settings + ["--workers", "2", "--bind", endpoint], in: "\(root)/\(attempt)")
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertEqual(try run.weightsDigest(), expected, "\(attempt): final weights differ from one process:\n\(run.output)")
            for worker in workers { XCTAssertEqual(worker.wait(timeout: 30), 0, worker.output) }
            let received = workers.filter { $0.output.contains("received the data set mnist") }
            let reused = workers.filter { $0.output.contains("reusing the cached data set mnist") }
            if attempt == "transfer" {
                // A worker that asks once the other has filled the cache reuses it: both are right.
                XCTAssertFalse(received.isEmpty, workers.map(\.output).joined(separator: "\n"))
                XCTAssertEqual(received.count + reused.count, 2, workers.map(\.output).joined(separator: "\n"))
            } else {
                XCTAssertEqual(reused.count, 2, workers.map(\.output).joined(separator: "\n"))
                XCTAssertFalse(workers.contains { $0.output.contains("receiving the data set") },
                               workers.map(\.output).joined(separator: "\n"))
            }
            XCTAssertEqual(run.output.contains("sending the data set to"), attempt == "transfer", run.output)
            // One folder, named by the fingerprint, holding the coordinator's four files byte for byte.
            let folders = try FileManager.default.contentsOfDirectory(atPath: cache)
            XCTAssertEqual(folders.count, 1, "\(folders)")
            let folder = "\(cache)/\(folders.first ?? "")"
            let names = try FileManager.default.contentsOfDirectory(atPath: mnist).filter { $0.contains("-ubyte") }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), names.sorted())
            for name in names {
                XCTAssertTrue(FileManager.default.contentsEqual(atPath: "\(folder)/\(name)", andPath: "\(mnist)/\(name)"), name)
            }
        }
    }
}
