@testable import Cluster
import Core
import Protocol
import XCTest

/// The pool's decisions, driven with a fake clock (`DispatcherHarness`): no sockets, no processes.
final class PoolDispatcherTests: XCTestCase {
    func testProportionalRangesFollowTheWeightsAndCoverEveryUnit() {
        XCTAssertEqual(proportionalRanges(8, weights: [1, 3]), [0..<2, 2..<8])
        XCTAssertEqual(proportionalRanges(4, weights: [2, 2]), [0..<2, 2..<4])
        XCTAssertEqual(proportionalRanges(2, weights: [1, 1, 1]), [0..<1, 1..<2])
    }

    func testStepSharesAreProportionalToThreadsInRankOrder() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b", "c"], threads: [1, 2, 1])
        pool.submit(stepJob(8))
        XCTAssertEqual(ids.map { pool.lastRange(of: $0) }, [0..<2, 2..<6, 6..<8])
    }

    func testJobWithFewerMicroBatchesThanWorkersLeavesTheRestIdleAndFinishes() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b", "c"])
        pool.submit(stepJob(2))
        XCTAssertEqual(ids.map { pool.requests(to: $0).count }, [1, 1, 0], "the first free workers take the ranges")
        XCTAssertEqual(pool.lastRange(of: ids[0]), 0..<1)
        XCTAssertEqual(pool.lastRange(of: ids[1]), 1..<2)
        pool.answer(ids[1])
        XCTAssertNil(pool.outcome, "finished with one of two ranges answered")
        pool.answer(ids[0])
        XCTAssertEqual(try pool.outcome?.get().map(\.range), [0..<1, 1..<2])
    }

    func testLostWorkersRangeIsReassignedAndResultsStayInMicroBatchOrder() throws {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b", "c"])
        pool.submit(stepJob(12))
        XCTAssertEqual(pool.lastRange(of: ids[1]), 4..<8)
        pool.perform(pool.dispatcher.received(.shutdown(reason: "stopped"), Envelope(runNonce: 7), from: ids[1],
                                              at: pool.t))
        XCTAssertEqual(pool.events.last, "worker_left")
        pool.answer(ids[2])
        XCTAssertEqual(pool.lastRange(of: ids[2]), 4..<8, "the first free worker takes the lost range")
        pool.answer(ids[0])
        XCTAssertNil(pool.outcome, "finished before the lost range was recomputed")
        pool.answer(ids[2])
        let results = try XCTUnwrap(pool.outcome).get()
        XCTAssertEqual(results.map(\.range), [0..<4, 4..<8, 8..<12])
        XCTAssertEqual(results.map(\.worker), ["a:1", "c:1", "c:1"])
        for result in results {
            guard case .stepResult(let r) = result.message else { return XCTFail("not a step result") }
            XCTAssertEqual(r.microBatches, result.range.map { Int32($0) })
        }
    }

    func testFailedSendDropsTheWorkerAndRequeuesItsRange() throws {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        pool.unreachable = [ids[1]]
        pool.submit(stepJob(4))
        XCTAssertEqual(pool.dispatcher.liveCount, 1)
        pool.answer(ids[0])
        XCTAssertEqual(pool.lastRange(of: ids[0]), 2..<4)
        pool.answer(ids[0])
        XCTAssertEqual(try XCTUnwrap(pool.outcome).get().map(\.range), [0..<2, 2..<4])
    }

    func testWorkerPastStepDeadlineIsDroppedAndItsRangeRequeued() throws {
        let pool = DispatcherHarness(heartbeatTimeout: 100, stepDeadline: 5)
        let ids = pool.start(["a", "b"])
        pool.submit(stepJob(4))
        pool.answer(ids[0])
        pool.pass(5)
        XCTAssertEqual(pool.dispatcher.liveCount, 2, "dropped at its deadline, not after it")
        pool.pass(0.5)
        XCTAssertFalse(pool.dispatcher.isLive(ids[1]))
        XCTAssertEqual(pool.lastRange(of: ids[0]), 2..<4)
        pool.answer(ids[0])
        XCTAssertEqual(try XCTUnwrap(pool.outcome).get().map(\.range), [0..<2, 2..<4])
    }

    func testSilentIdleWorkerIsDroppedOnlyAfterHeartbeatTimeout() {
        let pool = DispatcherHarness(heartbeatTimeout: 10)
        let ids = pool.start(["a", "b"])
        pool.pass(6)
        pool.perform(pool.dispatcher.received(.heartbeat(timestampNanoseconds: 0), Envelope(runNonce: 7), from: ids[0],
                                              at: pool.t))
        pool.pass(4)
        XCTAssertEqual(pool.dispatcher.liveCount, 2, "silent for exactly the timeout")
        pool.pass(0.5)
        XCTAssertEqual(pool.dispatcher.workerIDs, [ids[0]], "only the worker silent past the timeout is dropped")
        XCTAssertEqual(pool.events.last, "worker_left")
    }

    func testHeartbeatsGoOnlyToWorkersNotSentAnythingForAnInterval() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        func beats(_ id: WorkerID) -> Int { pool.sends.count { if $0.to == id, case .heartbeat = $0.message { true } else { false } } }
        pool.pass(0.9)
        XCTAssertEqual([beats(ids[0]), beats(ids[1])], [0, 0])
        pool.submit(stepJob(1))  // a request to a: no heartbeat due for it a second later
        pool.pass(0.2)
        XCTAssertEqual([beats(ids[0]), beats(ids[1])], [0, 1])
    }

    func testSoleWorkerGetsOmitGradientAndLosesItWhenASecondJoins() {
        let pool = DispatcherHarness()
        let a = pool.start(["a"])[0]
        pool.submit(stepJob(4))
        XCTAssertEqual(options(pool.requests(to: a).last!.message), [.applyOwnGradient, .omitGradient])
        pool.answer(a)
        // After a self-applied step no state is published: the newcomer waits for it, so `a` still
        // computes the whole step, but must send its gradient for the newcomer to catch up with.
        pool.perform(pool.dispatcher.advance(to: 2, update: nil, appliedBy: "a:1", ownRows: [:]))
        let b = pool.join("b")
        XCTAssertTrue(pool.dispatcher.needsState)
        pool.submit(ClusterBackend.trainingJob((0..<4).map { [$0][...] }, epoch: 0, version: 2, gradientSync: true,
                                               reportState: false))
        XCTAssertEqual(options(pool.requests(to: a).last!.message), [.applyOwnGradient])
        XCTAssertTrue(pool.requests(to: b).isEmpty)
    }

    func testTwoWorkersShareAStepAndNeitherAppliesItsOwnGradient() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        pool.submit(stepJob(4, report: true))
        XCTAssertEqual(ids.map { options(pool.requests(to: $0).last!.message) }, [[.reportState], []],
                       "only the first micro-batches' worker reports its state")
    }

    func testStateIsReportedAtEpochEndOrWhenEnoughIsKept() {
        XCTAssertTrue(ClusterBackend.reportsState(endsEpoch: true, keptSteps: 0))
        XCTAssertFalse(ClusterBackend.reportsState(endsEpoch: false, keptSteps: ClusterBackend.keptStepsBeforeReport - 1))
        XCTAssertTrue(ClusterBackend.reportsState(endsEpoch: false, keptSteps: ClusterBackend.keptStepsBeforeReport))
    }

    func testAdvanceSendsUpdateWithoutOwnRowsAndOnlyCountsTheSelfApplier() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b", "c"])
        let update = StepUpdate(version: 2, samples: 1, gradient: GradientFactors(
            sums: [], rows: 0, flatWidth: 0, deltaWidth: 0, flatRows: [], deltaRows: []))
        let own = OwnRows(firstMicroBatch: 0, start: 0, count: 3)
        let before = pool.sends.count
        pool.perform(pool.dispatcher.advance(to: 2, update: update, appliedBy: "c:1", ownRows: ["a:1": own]))
        let updates = pool.sends[before...].compactMap { send -> (WorkerID, OwnRows?)? in
            guard case .update(_, let leavingOut) = send.message else { return nil }
            return (send.to, leavingOut)
        }
        XCTAssertEqual(updates.map(\.0), [ids[0], ids[1]])
        XCTAssertEqual(updates.map(\.1), [own, nil])
        XCTAssertFalse(pool.dispatcher.needsState, "every worker holds version 2")
    }

    func testOutOfStepWorkerIsSentTheStateAndItsRangeGoesToAnother() throws {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        pool.submit(stepJob(4))
        XCTAssertEqual(pool.stateSends(to: ids[1]), 1)
        pool.perform(pool.dispatcher.received(.error(code: ErrorCode.wrongWeightsVersion.rawValue, text: "behind"),
                                              Envelope(runNonce: 7), from: ids[1], at: pool.t))
        XCTAssertEqual(pool.stateSends(to: ids[1]), 2)
        XCTAssertTrue(pool.dispatcher.isLive(ids[1]))
        pool.pass(0)
        XCTAssertEqual(pool.lastRange(of: ids[1]), 2..<4, "the resynced worker takes its range again")
        pool.answer(ids[1])
        pool.answer(ids[0])
        XCTAssertEqual(try XCTUnwrap(pool.outcome).get().map(\.range), [0..<2, 2..<4])
    }

    /// A pool of `--min-workers 2`, armed, that has just lost `b` of its two workers.
    private func poolBelowMinimum() -> (DispatcherHarness, b: WorkerID) {
        let pool = DispatcherHarness(minWorkers: 2, heartbeatTimeout: 1000, workerTimeout: 30)
        let ids = pool.start(["a", "b"])
        pool.dispatcher.armMinimum()
        pool.perform(pool.dispatcher.sendFailed(to: ids[1], because: "gone"))
        return (pool, ids[1])
    }

    func testBelowMinimumWorkersFailsOnlyAfterWorkerTimeout() {
        let (pool, b) = poolBelowMinimum()
        pool.pass(1)
        pool.submit(stepJob(2))
        pool.pass(30)
        XCTAssertNil(pool.failure, "failed before --worker-timeout passed")
        pool.pass(0.5)
        XCTAssertNotNil(pool.failure)
        XCTAssertTrue(pool.failure!.description.contains("lost: b:1"), pool.failure!.description)
        guard case .failure = pool.outcome else { return XCTFail("the running job did not fail: \(String(describing: pool.outcome))") }
        pool.submit(stepJob(2))
        guard case .failure = pool.outcome else { return XCTFail("a later job did not fail at once") }
    }

    func testMinimumTimerRestartsWhenEnoughWorkersAreBack() {
        let (pool, b) = poolBelowMinimum()
        pool.pass(0)
        pool.pass(20)
        pool.join("b")
        pool.pass(1)
        pool.perform(pool.dispatcher.sendFailed(to: b, because: "gone again"))
        pool.pass(0)
        pool.pass(15)
        XCTAssertNil(pool.failure, "the time below the minimum before the worker came back counted")
        pool.pass(15.5)
        XCTAssertNotNil(pool.failure)
    }

    func testWorkerWithAnotherDataSetIsRefused() {
        let pool = DispatcherHarness()
        let actions = pool.dispatcher.hello(Hello(buildID: "test", datasetFingerprint: "other", hostName: "x",
                                                  processID: 1, threadCount: 1), from: [1], at: 0)
        XCTAssertEqual(pool.dispatcher.liveCount, 0)
        XCTAssertTrue(actions.contains { if case .reply(.refused, _, _) = $0 { true } else { false } })
    }

    func testHelloUnderALiveWorkersNameIsRefusedAndTheWorkerKeepsItsPlace() {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        let copy = Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "a", processID: 1, threadCount: 8)
        let actions = pool.dispatcher.hello(copy, from: Array("impostor".utf8), at: 1)
        XCTAssertTrue(actions.contains { if case .reply(.refused, _, _) = $0 { true } else { false } }, "got \(actions)")
        XCTAssertEqual(pool.dispatcher.liveCount, 2)
        XCTAssertFalse(pool.dispatcher.isLive(Array("impostor".utf8)))
        XCTAssertEqual(pool.dispatcher.workerIDs, ids, "the live workers changed")
        // The worker itself saying hello again on its own id (a reconnect) is still welcome.
        let again = pool.dispatcher.hello(Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "a",
                                                processID: 1, threadCount: 1), from: ids[0], at: 2)
        XCTAssertTrue(again.contains { if case .reply(.welcome, _, _) = $0 { true } else { false } }, "got \(again)")
    }

    func testAWorkerWhoseCPUCannotRunTheRunsKernelsIsRefusedNamingBoth() {
        let pool = DispatcherHarness(welcomeSettings: ["kernels": "avx512"])
        let narrow = Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "old", processID: 1, threadCount: 1,
                           kernels: "avx2", kernelsSupported: "reference,avx2", blasCore: "Haswell")
        let refused = pool.dispatcher.hello(narrow, from: [1], at: 0)
        XCTAssertEqual(pool.dispatcher.liveCount, 0)
        let reason = refused.compactMap { if case .reply(.refused(let r), _, _) = $0 { r } else { nil } }.first ?? "none"
        XCTAssertTrue(reason.contains("--kernels avx512") && reason.contains("it runs reference,avx2"), reason)
        // One that runs the path joins, and its join says which path it computes with.
        let wide = Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "new", processID: 2, threadCount: 1,
                         kernels: "avx2", kernelsSupported: "reference,avx2,avx512", blasCore: "SkylakeX")
        let joined = pool.dispatcher.hello(wide, from: [2], at: 1)
        XCTAssertEqual(pool.dispatcher.liveCount, 1)
        let line = joined.compactMap { if case .log(let l, _) = $0, l.contains("joined") { l } else { nil } }.first ?? "none"
        XCTAssertTrue(line.contains("kernels avx512 of reference/avx2/avx512, BLAS core SkylakeX"), line)
        // With "auto" each worker keeps its own path, and a 3.0 worker, which does not say, is welcome too.
        let auto = DispatcherHarness(welcomeSettings: ["kernels": "auto"])
        let line2 = auto.dispatcher.hello(narrow, from: [3], at: 0)
            .compactMap { if case .log(let l, _) = $0, l.contains("joined") { l } else { nil } }.first ?? "none"
        XCTAssertTrue(line2.contains("kernels avx2 of reference/avx2, BLAS core Haswell"), line2)
        let old = Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "v30", processID: 4, threadCount: 1)
        _ = pool.dispatcher.hello(old, from: [4], at: 2)
        XCTAssertEqual(pool.dispatcher.liveCount, 2)
    }
}
