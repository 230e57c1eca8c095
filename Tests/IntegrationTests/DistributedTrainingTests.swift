import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real coordinator and worker processes on loopback, training on real MNIST images. The exactness tests
/// compare against one in-process run of the same settings: 2 epochs of 4,880 training images
/// (49 steps each, the last one short), i.e. 98 steps per run.
final class DistributedTrainingTests: XCTestCase {
    /// The settings every exactness test trains with.
    static func shortRun() throws -> [String] {
        // No maps: these runs compare weights; the loopback test covers the maps with workers.
        ["--data", try mnistDirectory(), "--limit-train", "6100", "--epochs", "2", "--seed", "7", "--no-maps"]
    }

    private static let referenceLock = NSLock()
    nonisolated(unsafe) private static var referenceRun: RunResult?
    nonisolated(unsafe) private static var referenceRoot: String?

    /// The in-process run of `shortRun()`, trained once for all tests.
    func reference() throws -> RunResult {
        try Self.referenceLock.withLock {
            if let run = Self.referenceRun { return run }
            let root = NSTemporaryDirectory() + "glassbox-it-reference-\(getpid())"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            Self.referenceRoot = root
            let run = try train(Self.shortRun(), in: root + "/in-process")
            XCTAssertEqual(run.status, 0, run.output)
            Self.referenceRun = run
            return run
        }
    }

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("ClusterTests train real networks in several processes: run them in a release build "
                      + "(swift build --build-tests -c release ...; about 1.5 minutes on 2 cores)")
        #endif
    }

    override class func tearDown() {
        if let root = referenceRoot { try? FileManager.default.removeItem(atPath: root) }
        super.tearDown()
    }

    func testTwoSpawnedWorkersTrainOnLoopbackAndLogWhatHappened() throws {
        let root = try temporaryDirectory(self, "loopback")
        let run = try train(["--data", try mnistDirectory(), "--limit-train", "3000", "--epochs", "1",
                             "--spawn-workers", "2", "--bind", "tcp://127.0.0.1:*"], in: root + "/run")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.output.components(separatedBy: "joined as rank").count - 1, 2, run.output)
        XCTAssertTrue(run.output.contains("samples/s"), run.output)
        XCTAssertTrue(run.output.contains(", 2 workers"), "progress lines name the live workers:\n\(run.output)")
        XCTAssertTrue(run.output.contains("coordinator ended the run"), "workers log their end:\n\(run.output)")
        XCTAssertTrue(run.output.contains("samples/s while computing"), "workers log their throughput:\n\(run.output)")
        XCTAssertEqual(try run.events("worker_joined").count, 2)
        XCTAssertEqual(try run.events("epoch_done").first?["workers"] as? Int, 2)
        XCTAssertEqual(try run.metricsWithoutTimings().count, 2, "header and one epoch")
        for file in ["fig/epoch_000.png", "fig/epoch_001.png", "mnist.gif", "train_test_dist.png", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/run/" + file), "maps drawn from the workers' activations: \(file)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/run/checkpoint.safetensors"))
    }

    func testOneTwoAndThreeWorkersGiveTheWeightsOfOneProcessBitForBit() throws {
        let reference = try reference()
        let expected = try reference.weightsDigest()
        let root = try temporaryDirectory(self, "n-workers")
        // The last run keeps replicas in step by shipping full weights instead of the step gradient.
        for (n, sync) in [(1, "gradient"), (2, "gradient"), (3, "gradient"), (2, "weights")] {
            let run = try train(Self.shortRun() + ["--spawn-workers", "\(n)", "--bind", "tcp://127.0.0.1:*",
                                                   "--weight-sync", sync], in: root + "/workers-\(n)-\(sync)")
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertEqual(try run.weightsDigest(), expected, "\(n) workers, \(sync) sync: final weights differ from one process")
            XCTAssertEqual(try run.metricsWithoutTimings(), try reference.metricsWithoutTimings(),
                           "\(n) workers, \(sync) sync: metrics differ from one process")
            if n == 1 && sync == "gradient" {
                // The only worker computes whole steps and applies its own gradient: no update is sent.
                XCTAssertTrue(run.output.contains("updates 0,"), "1 worker was sent step updates:\n\(run.output)")
            }
            if n > 1 && sync == "gradient" {
                // Spawned workers split every update through their shared file (`SharedUpdate`).
                let others = n - 1 == 1 ? "1 local worker" : "\(n - 1) local workers"
                XCTAssertEqual(run.output.components(separatedBy: "updates split with the other \(others)").count - 1, n,
                               run.output)
                XCTAssertEqual(run.output.components(separatedBy: " 0 applied whole here").count - 1, n, run.output)
                // ...and leave their step gradients there: only where they are goes through the coordinator.
                XCTAssertEqual(run.output.components(separatedBy: "left in the shared file, 0 sent through the coordinator")
                    .count - 1, n, run.output)
            }
        }
    }

    /// A cluster of unlike machines, on one host: one worker on the fast kernels of this CPU, one on the
    /// readable reference loops with OpenBLAS forced to another core (`Sandybridge`, whose sgemm rounds
    /// differently from `Haswell`/`Zen`). Every kernel path does the same chain of fused multiply-adds per
    /// value and no BLAS call is on the training path, so the weights are one process' bit for bit.
    func testWorkersOnDifferentKernelPathsAndBLASCoresGiveTheWeightsOfOneProcess() throws {
        let root = try temporaryDirectory(self, "mixed-paths")
        // Small: the reference loops are slow (8 steps of 100, half of each on that worker).
        let settings = ["--data", try mnistDirectory(), "--limit-train", "1000", "--epochs", "1", "--seed", "5", "--no-maps"]
        let alone = try train(settings, in: root + "/in-process")
        XCTAssertEqual(alone.status, 0, alone.output)
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let fast = try startWorker(endpoint, ["--kernels", "auto"], logPath: root + "/worker-fast.log")
        let slow = try startWorker(endpoint, ["--kernels", "reference"], logPath: root + "/worker-reference.log",
                                   environment: ["OPENBLAS_CORETYPE": "Sandybridge"])
        let mixed = try train(settings + ["--workers", "2", "--bind", endpoint], in: root + "/mixed", timeout: 300)
        XCTAssertEqual(mixed.status, 0, mixed.output)
        XCTAssertTrue(slow.output.contains("kernels: reference (--kernels)") && slow.output.contains("core Sandybridge"), slow.output)
        XCTAssertTrue(fast.output.contains("kernels: avx"), fast.output)
        XCTAssertEqual(try mixed.weightsDigest(), try alone.weightsDigest(),
                       "workers on different kernels and BLAS cores changed the weights:\n\(mixed.output)")
        XCTAssertEqual(try mixed.metricsWithoutTimings(), try alone.metricsWithoutTimings())
        XCTAssertEqual(fast.wait(timeout: 30), 0, fast.output)
        XCTAssertEqual(slow.wait(timeout: 30), 0, slow.output)
        // Each worker said at hello which path it computes with, and the coordinator's join lines name them.
        XCTAssertTrue(mixed.output.contains("kernels reference of reference/avx2"), mixed.output)
        XCTAssertTrue(mixed.output.contains("kernels avx2 of reference/avx2") || mixed.output.contains("kernels avx512 of reference/avx2"),
                      mixed.output)

        // A path named to the coordinator is the run's: the welcome tells workers that chose another to use it.
        let endpoint2 = "tcp://127.0.0.1:\(freePort())"
        let told = try (0..<2).map { try startWorker(endpoint2, ["--kernels", "auto"], logPath: root + "/worker-told-\($0).log") }
        let imposed = try train(settings + ["--workers", "2", "--bind", endpoint2, "--kernels", "reference"], in: root + "/imposed",
                                timeout: 300)
        XCTAssertEqual(imposed.status, 0, imposed.output)
        for worker in told {
            XCTAssertEqual(worker.wait(timeout: 30), 0, worker.output)
            XCTAssertTrue(worker.output.contains("kernels: reference (the run's --kernels; this worker chose avx"), worker.output)
        }
        XCTAssertEqual(imposed.output.components(separatedBy: "kernels reference of reference/avx2").count - 1, 2, imposed.output)
        XCTAssertEqual(try imposed.weightsDigest(), try alone.weightsDigest())
    }

    /// The mixed cluster users have: a host with AVX2 only (its BLAS on the `Zen` core) beside one with AVX-512
    /// (its BLAS on whatever core OpenBLAS picks there). Forced here on one AVX-512 CPU, each worker on its own
    /// path: both paths run at once in one run and the weights are the one-process run's, bit for bit.
    func testAnAVX2WorkerBesideAnAVX512WorkerGivesTheWeightsOfOneProcess() throws {
        guard KernelPath.supported.contains(.avx512) else {
            throw XCTSkip("this CPU has no AVX-512: the avx512 path cannot run here (the reference worker of the test above covers a mixed cluster)")
        }
        let expected = try reference()
        let root = try temporaryDirectory(self, "avx2-avx512")
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let wide = try startWorker(endpoint, ["--kernels", "avx512"], logPath: root + "/worker-avx512.log")
        let narrow = try startWorker(endpoint, ["--kernels", "avx2"], logPath: root + "/worker-avx2.log",
                                     environment: ["OPENBLAS_CORETYPE": "Zen"])
        let mixed = try train(Self.shortRun() + ["--workers", "2", "--bind", endpoint], in: root + "/mixed", timeout: 300)
        XCTAssertEqual(mixed.status, 0, mixed.output)
        XCTAssertEqual(wide.wait(timeout: 30), 0, wide.output)
        XCTAssertEqual(narrow.wait(timeout: 30), 0, narrow.output)
        XCTAssertTrue(wide.output.contains("kernels: avx512 (--kernels)"), wide.output)
        XCTAssertTrue(narrow.output.contains("kernels: avx2 (--kernels)") && narrow.output.contains("core Zen"), narrow.output)
        XCTAssertTrue(mixed.output.contains("kernels avx512 of reference/avx2/avx512"), mixed.output)
        XCTAssertTrue(mixed.output.contains("kernels avx2 of reference/avx2/avx512"), mixed.output)
        XCTAssertEqual(try mixed.weightsDigest(), try expected.weightsDigest(),
                       "an avx2 and an avx512 worker changed the weights:\n\(mixed.output)")
        XCTAssertEqual(try mixed.metricsWithoutTimings(), try expected.metricsWithoutTimings())
    }

    func testSIGKILLedWorkerMidEpochAndALateJoinerLeaveTheWeightsUnchanged() throws {
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "sigkill")
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let a = try startWorker(endpoint, [], logPath: root + "/worker-a.log")
        let b = try startWorker(endpoint, [], logPath: root + "/worker-b.log")
        let coordinator = try startTraining(Self.shortRun() + ["--workers", "2", "--bind", endpoint], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("2 live", timeout: 60), coordinator.output)
        killInEpochOne(b, of: coordinator, after: 1.0)
        let c = try startWorker(endpoint, [], logPath: root + "/worker-c.log")
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a lost and a joining worker changed the weights:\n\(run.output)")
        XCTAssertTrue(run.output.contains("vm:\(b.pid)") || run.output.contains(":\(b.pid) (rank"), run.output)
        XCTAssertEqual(try run.events("worker_left").count, 1, run.output)
        XCTAssertTrue(run.output.contains("joined as rank 3"), "the late worker joined mid-run:\n\(run.output)")
        XCTAssertEqual(a.wait(timeout: 30), 0, a.output)
        XCTAssertEqual(c.wait(timeout: 30), 0, c.output)
    }

    /// Two spawned workers split each update through a shared file; one is SIGKILLed mid-epoch. The other
    /// must not wait for its share for ever: it completes the step from the file and applies whole updates
    /// from then on, and the weights are still one process'.
    func testASIGKILLedSpawnedWorkerLeavesItsPartnerToGoOnAloneWithTheSameWeights() throws {
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "sigkill-spawned")
        let (coordinator, pids) = try startWithTwoSpawnedWorkers(in: root)
        guard pids.count == 2 else { return XCTFail("no pids of the spawned workers:\n\(coordinator.output)") }
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertFalse(coordinator.output.contains("epoch 1/2 done"), "the kill should land in epoch 1:\n\(coordinator.output)")
        kill(pids[1], SIGKILL)
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a lost spawned worker changed the weights:\n\(run.output)")
        XCTAssertTrue(run.output.contains("local worker 1 did not publish its share")
                      || run.output.contains("cannot complete the shared update"), run.output)
        let survivor = run.output.split(separator: "\n").first { $0.contains("updates split with the other 1 local worker (member 0") }
        XCTAssertNotNil(survivor, run.output)
        XCTAssertFalse(survivor?.contains(" 0 applied whole here") ?? true, "the survivor applied whole updates after the kill")
    }

    /// Two spawned workers leave their step gradients in their shared file, and the coordinator copies none of
    /// them: when a third worker joins mid-epoch, the coordinator reads the steps still in the file and
    /// recomputes the older ones. The joiner must get exactly the weights the two hold.
    func testAWorkerJoiningTwoSpawnedOnesMidEpochGetsTheirWeightsFromTheStepsTheyLeftInTheirFile() throws {
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "join-spawned")
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try startTraining(Self.shortRun() + ["--spawn-workers", "2", "--bind", endpoint], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("2 live", timeout: 60), coordinator.output)
        Thread.sleep(forTimeInterval: 0.5)
        let c = try startWorker(endpoint, [], logPath: root + "/worker-c.log")
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a worker joining spawned ones changed the weights:\n\(run.output)")
        XCTAssertEqual(try run.metricsWithoutTimings(), try reference().metricsWithoutTimings())
        XCTAssertTrue(run.output.contains("joined as rank 3"), "the third worker joined mid-run:\n\(run.output)")
        XCTAssertEqual(c.wait(timeout: 30), 0, c.output)
        XCTAssertTrue(c.output.contains("samples/s while computing"), "the joiner computed steps:\n\(c.output)")
    }

    /// The same with SIGSTOP for 4 s, then SIGCONT. Where the stop lands decides what happens: mid-compute,
    /// the coordinator waits for the result; mid-update, the partner waits 1 s for the share, then goes on
    /// alone (or, finding the share not whole, gets the state from the coordinator). Either way: no hang,
    /// the same weights.
    func testASIGSTOPpedSpawnedWorkerNeitherHangsItsPartnerNorChangesTheWeights() throws {
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "sigstop-spawned")
        let (coordinator, pids) = try startWithTwoSpawnedWorkers(in: root)
        guard pids.count == 2 else { return XCTFail("no pids of the spawned workers:\n\(coordinator.output)") }
        Thread.sleep(forTimeInterval: 1.0)
        kill(pids[0], SIGSTOP)
        Thread.sleep(forTimeInterval: 4.0)
        kill(pids[0], SIGCONT)
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a stopped spawned worker changed the weights:\n\(run.output)")
    }

    /// `shortRun()` on 2 spawned workers (which split each update), returned once both have joined, with their
    /// pids in rank order (empty if the coordinator did not log them).
    private func startWithTwoSpawnedWorkers(in root: String) throws -> (RunningProcess, [Int32]) {
        let coordinator = try startTraining(Self.shortRun() + ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:*",
                                                               "--min-workers", "1"], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("2 live", timeout: 60), coordinator.output)
        let line = coordinator.output.split(separator: "\n").first { $0.contains("started 2 local workers") }
        let pids = line?.split(separator: "pids ").last?.split(separator: ", ").compactMap { Int32($0) } ?? []
        return (coordinator, pids)
    }

    /// SIGKILLs `worker` `seconds` into the run, checking that epoch 1 is not done yet, and waits until the
    /// coordinator has dropped it.
    private func killInEpochOne(_ worker: RunningProcess, of coordinator: RunningProcess, after seconds: Double) {
        Thread.sleep(forTimeInterval: seconds)
        XCTAssertFalse(coordinator.output.contains("epoch 1/2 done"), "the kill should land in epoch 1:\n\(coordinator.output)")
        kill(worker.pid, SIGKILL)
        XCTAssertTrue(coordinator.waitForOutput("left:", timeout: 30), coordinator.output)
    }

    /// `shortRun()` with gradient sync on one worker (`worker-a`), returned once it has joined.
    private func startOnOneWorker(in root: String) throws -> (endpoint: String, worker: RunningProcess,
                                                              coordinator: RunningProcess) {
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let worker = try startWorker(endpoint, [], logPath: root + "/worker-a.log")
        let coordinator = try startTraining(Self.shortRun() + ["--workers", "1", "--bind", endpoint, "--weight-sync",
                                                               "gradient"], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("1 live", timeout: 60), coordinator.output)
        return (endpoint, worker, coordinator)
    }

    func testKilledOnlyWorkerIsReplacedWithTheStepsTheCoordinatorRecomputes() throws {
        // One worker computes every step, applies its own gradient and keeps it; the coordinator holds only
        // the last reported state and the steps since. A worker that joins after the only one was killed
        // must be given exactly the weights and Adam state the killed one had, which the coordinator
        // recomputes (the first report comes at the end of epoch 1, unless the kill missed its last step).
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "only-worker")
        let (endpoint, a, coordinator) = try startOnOneWorker(in: root)
        killInEpochOne(a, of: coordinator, after: 0.8)
        let b = try startWorker(endpoint, [], logPath: root + "/worker-b.log")
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "the replacement worker changed the weights:\n\(run.output)")
        XCTAssertTrue(run.output.contains("joined as rank 2"), "the replacement joined mid-run:\n\(run.output)")
        XCTAssertEqual(b.wait(timeout: 30), 0, b.output)
    }

    func testAWorkerJoiningASoleOneMidEpochCatchesUpOnceAndTakesPart() throws {
        // The sole worker keeps its gradients, so a worker that joins mid-epoch is brought up to date from
        // the coordinator's recomputation; from then on the sole worker ships its gradient until the
        // joiner takes a share. Catching up once or twice is right; once a step would mean the joiner
        // is stuck behind (then it would compute nothing until the epoch ends).
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "joiner")
        let (endpoint, a, coordinator) = try startOnOneWorker(in: root)
        let b = try startWorker(endpoint, [], logPath: root + "/worker-b.log")
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a joining worker changed the weights:\n\(run.output)")
        XCTAssertTrue(run.output.contains("joined as rank 2"), run.output)
        let catchUps = run.output.components(separatedBy: "recomputed").count - 1
        XCTAssertLessThanOrEqual(catchUps, 2, "the joiner caught up again and again:\n\(run.output)")
        XCTAssertEqual(try run.events("epoch_done").last?["workers"] as? Int, 2, run.output)
        XCTAssertEqual(a.wait(timeout: 30), 0, a.output)
        XCTAssertEqual(b.wait(timeout: 30), 0, b.output)
        XCTAssertTrue(b.output.contains("samples/s while computing"), "the joiner computed steps:\n\(b.output)")
    }

    func testHungWorkerIsDroppedAndRejoinsWithoutChangingTheWeights() throws {
        let expected = try reference().weightsDigest()
        let root = try temporaryDirectory(self, "hung")
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let a = try startWorker(endpoint, [], logPath: root + "/worker-a.log")
        let b = try startWorker(endpoint, [], logPath: root + "/worker-b.log")
        let coordinator = try startTraining(Self.shortRun() + ["--workers", "2", "--bind", endpoint, "--step-deadline", "2",
                                                               "--heartbeat-timeout", "2"], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("2 live", timeout: 60), coordinator.output)
        Thread.sleep(forTimeInterval: 0.5)
        kill(b.pid, SIGSTOP)
        XCTAssertTrue(coordinator.waitForOutput("left:", timeout: 30), coordinator.output)
        kill(b.pid, SIGCONT)
        XCTAssertEqual(coordinator.wait(timeout: 240), 0, coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.weightsDigest(), expected, "a hung worker changed the weights:\n\(run.output)")
        XCTAssertTrue(b.output.contains("joining again"), "the resumed worker learns it was dropped:\n\(b.output)")
        XCTAssertEqual(a.wait(timeout: 30), 0, a.output)
        XCTAssertEqual(b.wait(timeout: 30), 0, b.output)
    }

    func testResumedRunEndsWithTheWeightsOfAnUninterruptedOne() throws {
        let reference = try reference()
        let root = try temporaryDirectory(self, "resume")
        var arguments = try Self.shortRun()
        let epochs = try XCTUnwrap(arguments.firstIndex(of: "--epochs"))
        arguments[epochs + 1] = "1"
        let first = try train(arguments + ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:*"], in: root + "/run")
        XCTAssertEqual(first.status, 0, first.output)
        let resumed = try train(Self.shortRun() + ["--resume", root + "/run", "--spawn-workers", "1",
                                                  "--bind", "tcp://127.0.0.1:*"], in: root + "/run")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming"), resumed.output)
        XCTAssertEqual(try resumed.weightsDigest(), try reference.weightsDigest(), resumed.output)
        XCTAssertEqual(try resumed.metricsWithoutTimings(), try reference.metricsWithoutTimings())

        let changed = try train(Self.shortRun() + ["--resume", root + "/run", "--seed", "8"], in: root + "/run")
        XCTAssertNotEqual(changed.status, 0)
        XCTAssertTrue(changed.output.contains("--seed was 7 in the checkpoint, is 8 now"), changed.output)
    }

    func testTooFewWorkersForTooLongEndsWithACheckpointNamingTheLostWorker() throws {
        let root = try temporaryDirectory(self, "min-workers")
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let worker = try startWorker(endpoint, [], logPath: root + "/worker.log")
        let coordinator = try startTraining(Self.shortRun() + ["--workers", "1", "--bind", endpoint,
                                                               "--worker-timeout", "2"], in: root + "/run")
        XCTAssertTrue(coordinator.waitForOutput("1 live", timeout: 60), coordinator.output)
        Thread.sleep(forTimeInterval: 0.5)
        kill(worker.pid, SIGKILL)
        XCTAssertNotEqual(coordinator.wait(timeout: 60), 0, coordinator.output)
        XCTAssertTrue(coordinator.output.contains("lost: "), coordinator.output)
        XCTAssertTrue(coordinator.output.contains(":\(worker.pid)"), "names the lost worker:\n\(coordinator.output)")
        XCTAssertTrue(coordinator.output.contains("--resume \(root)/run"), coordinator.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/run/checkpoint.safetensors"))
    }

    func testWorkersWithAnUnknownKeyOrAnotherDataSetAreRefusedAndTheRunGoesOn() throws {
        let root = try temporaryDirectory(self, "refusals")
        for (dir, name) in [("allowed", "worker"), ("other", "intruder")] {
            let keygen = try RunningProcess("glassbox-coordinator", ["keygen", "--out", "\(root)/\(dir)", "--worker", name],
                                            outputPath: "\(root)/keygen-\(dir).log")
            XCTAssertEqual(keygen.wait(timeout: 30), 0, keygen.output)
        }
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/allowed/worker.key")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let good = try startWorker(endpoint, ["--curve-keys", root + "/allowed"], logPath: root + "/good.log")
        let intruder = try startWorker(endpoint, ["--curve-keys", root + "/other", "--curve-key-name", "intruder",
                                                  "--curve-server-key", root + "/allowed/coordinator.pub"],
                                       logPath: root + "/intruder.log")
        let fashion = "/usr/share/datasets/fashion-mnist"
        let otherData = FileManager.default.fileExists(atPath: fashion)
            ? try RunningProcess("glassbox-worker", ["--connect", endpoint, "--data", fashion, "--threads", "1",
                                                     "--curve-keys", root + "/allowed"], outputPath: root + "/other-data.log")
            : nil
        let coordinator = try startTraining(["--data", try mnistDirectory(), "--limit-train", "2000", "--epochs", "1",
                                             "--workers", "1", "--bind", endpoint, "--curve-keys", root + "/allowed"],
                                            in: root + "/run")
        XCTAssertEqual(intruder.wait(timeout: 60), 3, intruder.output)
        XCTAssertTrue(intruder.output.contains("refused this worker's CURVE key"), intruder.output)
        if let otherData {
            XCTAssertEqual(otherData.wait(timeout: 60), 3, otherData.output)
            XCTAssertTrue(otherData.output.contains("its data set has fingerprint"), otherData.output)
        }

        XCTAssertEqual(coordinator.wait(timeout: 120), 0, coordinator.output)
        XCTAssertTrue(coordinator.output.contains("refused a connection from 127.0.0.1: unknown key"), coordinator.output)
        let run = RunResult(status: 0, output: coordinator.output, directory: root + "/run")
        XCTAssertEqual(try run.events("connection_refused").isEmpty, false)
        if otherData != nil {
            XCTAssertTrue(coordinator.output.contains("refused worker"), coordinator.output)
            XCTAssertEqual(try run.events("worker_refused").count, 1)
        }
        XCTAssertEqual(good.wait(timeout: 30), 0, good.output)
    }

    func testAWorkerHostsOwnKeyPairIsAdmittedOnceItsPublicKeyIsInTheCoordinatorsFolder() throws {
        let root = try temporaryDirectory(self, "host-keys")
        let central = try RunningProcess("glassbox-coordinator", ["keygen", "--out", root + "/coordinator"],
                                         outputPath: root + "/keygen-coordinator.log")
        XCTAssertEqual(central.wait(timeout: 30), 0, central.output)
        // On the worker host: its own pair, of which only the public half is copied to the coordinator.
        let own = try RunningProcess("glassbox-worker", ["keygen", "--out", root + "/host", "--name", "node7"],
                                     outputPath: root + "/keygen-host.log")
        XCTAssertEqual(own.wait(timeout: 30), 0, own.output)
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/host/node7.key")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        try FileManager.default.copyItem(atPath: root + "/host/node7.pub", toPath: root + "/coordinator/node7.pub")
        try FileManager.default.copyItem(atPath: root + "/coordinator/coordinator.pub", toPath: root + "/host/coordinator.pub")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/coordinator/node7.key"))

        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let worker = try startWorker(endpoint, ["--curve-keys", root + "/host", "--curve-key-name", "node7"],
                                     logPath: root + "/worker.log")
        let run = try train(["--data", try mnistDirectory(), "--limit-train", "2000", "--epochs", "1", "--no-maps",
                             "--workers", "1", "--bind", endpoint, "--curve-keys", root + "/coordinator"], in: root + "/run")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(try run.events("worker_joined").count, 1)
        XCTAssertEqual(worker.wait(timeout: 30), 0, worker.output)
    }
}
