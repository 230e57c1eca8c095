import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The short version of `scripts/load.sh`: many worker processes of one thread each against one coordinator,
/// on a tiny real subset, so that the coordinator's message handling is the load. Every run must end with
/// the weights of a one-process run.
final class LoadTests: XCTestCase {
    /// Workers in the fan-in run, and workers in all in the churn run (joining and leaving in waves).
    static let fanIn = 16
    static let churn = 30
    static let wave = 10
    /// A generous bound on the coordinator's peak resident memory with `fanIn` workers on the subset: it
    /// holds the data set, one model, and per worker a few queued messages (measured on the subset: 126 MiB in
    /// one process, 148 MiB with 32 workers, 168 MiB with 100 churning).
    static let peakMemoryBoundMiB = 512

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("LoadTests train real networks in many processes: run them in a release build")
        #endif
    }

    /// The first 2,000 training and 500 test images of MNIST, in `directory` (each worker loads all it is given).
    static func writeSubset(to directory: String) throws -> String {
        let source = try mnistDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, count) in [("train", 2000), ("t10k", 500)] {
            for (kind, header, item) in [("images-idx3-ubyte", 16, 784), ("labels-idx1-ubyte", 8, 1)] {
                let file = "\(name)-\(kind)"
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source + "/" + file)))
                XCTAssertGreaterThanOrEqual(bytes.count, header + count * item, "\(file) is shorter than expected")
                bytes = Array(bytes.prefix(header + count * item))
                // The item count, a big-endian UInt32 after the magic number.
                bytes.replaceSubrange(4..<8, with: withUnsafeBytes(of: UInt32(count).bigEndian, Array.init))
                try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + file))
            }
        }
        return directory
    }

    /// The number of messages of `type` the coordinator sent or received (`field`), from the run's traffic record.
    private func messages(_ run: RunResult, _ type: String, _ field: String) throws -> Int {
        let traffic = try XCTUnwrap(try run.events("traffic").first, "no traffic record:\n\(run.output)")
        let byType = try XCTUnwrap(traffic["by_type"] as? [String: [String: Int]])
        return byType[type]?[field] ?? 0
    }

    /// A one-process reference run on the subset with `settings`, then the same run started on a coordinator
    /// waiting for `workers` workers, which `startWorker` starts.
    private struct LoadRun {
        let root: String
        let data: String
        let endpoint: String
        let reference: RunResult
        let coordinator: RunningProcess

        init(_ test: XCTestCase, _ name: String, limitTrain: Int, epochs: Int, workers: Int) throws {
            root = try temporaryDirectory(test, name)
            data = try LoadTests.writeSubset(to: root + "/data")
            let settings = ["--data", data, "--limit-train", "\(limitTrain)", "--epochs", "\(epochs)", "--seed", "7",
                            "--no-maps"]
            reference = try train(settings, in: root + "/reference")
            XCTAssertEqual(reference.status, 0, reference.output)
            endpoint = "tcp://127.0.0.1:\(freePort())"
            coordinator = try startTraining(settings + ["--workers", "\(workers)", "--bind", endpoint,
                                                        "--worker-timeout", "120"], in: root + "/run")
        }

        func startWorker(_ number: Int) throws -> RunningProcess {
            try RunningProcess("glassbox-worker", ["--connect", endpoint, "--data", data, "--threads", "1"],
                               outputPath: root + "/worker-\(number).log")
        }

        /// The run's result once the coordinator has ended.
        var result: RunResult { RunResult(status: 0, output: coordinator.output, directory: root + "/run") }
    }

    func testSixteenWorkersLoseNoMessageAndGiveTheWeightsOfOneProcess() throws {
        let load = try LoadRun(self, "load", limitTrain: 600, epochs: 2, workers: Self.fanIn)
        let coordinator = load.coordinator, reference = load.reference
        let workers = try (0..<Self.fanIn).map { try load.startWorker($0) }
        XCTAssertEqual(coordinator.wait(timeout: 300), 0, coordinator.output)
        for worker in workers {
            XCTAssertEqual(worker.wait(timeout: 60), 0, worker.output)
            XCTAssertTrue(worker.output.contains("coordinator ended the run"), worker.output)
        }
        let run = load.result
        XCTAssertEqual(try run.weightsDigest(), try reference.weightsDigest(), "\(Self.fanIn) workers changed the weights")
        XCTAssertEqual(try run.events("worker_joined").count, Self.fanIn, run.output)
        XCTAssertEqual(try run.events("worker_left").count, 0, "no worker may be dropped:\n\(run.output)")
        // Every request the coordinator sent was answered: nothing lost on the way either direction.
        XCTAssertEqual(try messages(run, "stepAssignment", "sent_messages"), try messages(run, "stepResult", "received_messages"))
        XCTAssertEqual(try messages(run, "evalRequest", "sent_messages"), try messages(run, "evalReply", "received_messages"))
        XCTAssertEqual(try messages(run, "weightsDigest", "sent_messages"), try messages(run, "weightsDigest", "received_messages"))
        XCTAssertGreaterThan(try messages(run, "stepAssignment", "sent_messages"), 0)
        // Every step's update went to every worker, and none fell out of step (a lost update would show there).
        let steps = try XCTUnwrap(try run.events("traffic").first?["steps"] as? Int)
        XCTAssertEqual(try messages(run, "stepUpdate", "sent_messages"), steps * Self.fanIn)
        XCTAssertFalse(run.output.contains("is out of step"), run.output)
        let peak = try XCTUnwrap(peakMemoryMiB(run.output), "no peak memory line:\n\(run.output)")
        XCTAssertLessThan(peak, Self.peakMemoryBoundMiB, "the coordinator's peak memory with \(Self.fanIn) workers")
    }

    func testThirtyWorkersJoiningAndLeavingInWavesGiveTheWeightsOfOneProcess() throws {
        let load = try LoadRun(self, "churn", limitTrain: 2000, epochs: 3, workers: Self.wave)
        let coordinator = load.coordinator
        var workers: [RunningProcess] = []
        // Each wave joins, then the wave before it is killed: the pool always keeps one wave live.
        while workers.count < Self.churn {
            for _ in 0..<Self.wave {
                workers.append(try load.startWorker(workers.count))
            }
            XCTAssertTrue(coordinator.waitForOccurrences(of: "joined as rank", count: workers.count, timeout: 120),
                          "wave \(workers.count / Self.wave) did not join:\n\(coordinator.output)")
            for old in workers.dropLast(Self.wave) where old.process.isRunning { kill(old.pid, SIGKILL) }
        }
        XCTAssertFalse(coordinator.output.contains("epoch 3/3 done"),
                       "the run ended before the last wave joined; give it more steps:\n\(coordinator.output)")
        XCTAssertEqual(coordinator.wait(timeout: 300), 0, coordinator.output)
        for worker in workers.suffix(Self.wave) { XCTAssertEqual(worker.wait(timeout: 60), 0, worker.output) }
        let run = load.result
        XCTAssertEqual(try run.weightsDigest(), try load.reference.weightsDigest(), "churning workers changed the weights:\n\(run.output)")
        XCTAssertEqual(try run.events("worker_joined").count, Self.churn, run.output)
        // Killed workers are dropped when the coordinator notices (some may not be noticed before the end); the
        // last wave never is.
        XCTAssertLessThanOrEqual(try run.events("worker_left").count, Self.churn - Self.wave, run.output)
    }

    /// The coordinator's "peak resident memory N MiB" at the end of a run.
    private func peakMemoryMiB(_ output: String) -> Int? {
        guard let range = output.range(of: "peak resident memory ") else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }
}
