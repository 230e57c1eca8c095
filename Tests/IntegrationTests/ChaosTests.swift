import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The short version of `scripts/chaos.sh`: one 3-epoch run on 3 worker processes, during which a worker is
/// stopped (and continued once dropped), another is killed, and a fresh one takes the killed one's place; the
/// final weights must equal an undisturbed one-process run's. Which workers are hit is random but seeded.
final class ChaosTests: XCTestCase {
    /// The settings of the chaotic run and of its reference (as in scripts/chaos.sh, more images so that the
    /// run outlasts the faults on a loaded machine).
    static func chaosRun() throws -> [String] {
        ["--data", try mnistDirectory(), "--limit-train", "6000", "--epochs", "3", "--seed", "7", "--no-maps"]
    }

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("ChaosTests train real networks in several processes: run them in a release build")
        #endif
    }

    func testWorkersStoppedKilledAndRestartedMidRunLeaveTheWeightsOfAnUndisturbedRun() throws {
        let root = try temporaryDirectory(self, "chaos")
        let reference = try train(Self.chaosRun(), in: root + "/reference")
        XCTAssertEqual(reference.status, 0, reference.output)

        let endpoint = "tcp://127.0.0.1:\(freePort())"
        var workers = try (0..<3).map { try startWorker(endpoint, [], logPath: root + "/worker-\($0).log") }
        // A stopped worker must be continued before it can be killed, also when an assertion below fails.
        addTeardownBlock { for worker in workers { kill(worker.pid, SIGCONT) } }
        let coordinator = try startTraining(Self.chaosRun() + ["--workers", "3", "--bind", endpoint, "--step-deadline", "3",
                                                               "--heartbeat-timeout", "3", "--worker-timeout", "120"],
                                            in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("3 live", timeout: 120), coordinator.output)
        var random = SplitMix64(seed: 14, stream: .sampling)
        var slots = [0, 1, 2]
        let stopped = slots.remove(at: random.nextInt(below: slots.count))
        let killed = slots[random.nextInt(below: slots.count)]

        // Each fault waits for the coordinator to have noticed the previous one, so all three land in the run.
        kill(workers[stopped].pid, SIGSTOP)
        XCTAssertTrue(coordinator.waitForOccurrences(of: ") left: ", count: 1, timeout: 60),
                      "the stopped worker \(stopped) was not dropped:\n\(coordinator.output)")
        kill(workers[stopped].pid, SIGCONT)
        kill(workers[killed].pid, SIGKILL)
        XCTAssertTrue(coordinator.waitForOccurrences(of: ") left: ", count: 2, timeout: 60),
                      "the killed worker \(killed) was not dropped:\n\(coordinator.output)")
        workers[killed] = try startWorker(endpoint, [], logPath: root + "/worker-\(killed)-restarted.log")
        XCTAssertTrue(coordinator.waitForOccurrences(of: "joined as rank", count: 4, timeout: 60),
                      "the restarted worker did not join:\n\(coordinator.output)")
        XCTAssertFalse(coordinator.output.contains("epoch 3/3 done"),
                       "the run ended before every fault landed; give it more steps:\n\(coordinator.output)")

        XCTAssertEqual(coordinator.wait(timeout: 300), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), try reference.weightsDigest(),
                       "stopped, killed and restarted workers changed the weights:\n\(run.output)")
        XCTAssertEqual(try run.metricsWithoutTimings(), try reference.metricsWithoutTimings())
        XCTAssertGreaterThanOrEqual(try run.events("worker_left").count, 2, run.output)
        for (slot, worker) in workers.enumerated() where slot != stopped {
            XCTAssertEqual(worker.wait(timeout: 60), 0, worker.output)
        }
        // The continued worker learns it was dropped and joins again, or is told the run ended.
        workers[stopped].wait(timeout: 60)
        XCTAssertTrue(workers[stopped].output.contains("joining again")
                      || workers[stopped].output.contains("coordinator ended the run"), workers[stopped].output)
    }
}

extension RunningProcess {
    /// Waits until the output contains `text` at least `count` times; false after `timeout` seconds or if
    /// the process ended with fewer.
    func waitForOccurrences(of text: String, count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let seen = output.components(separatedBy: text).count - 1
            if seen >= count { return true }
            if !process.isRunning { return output.components(separatedBy: text).count - 1 >= count }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}
