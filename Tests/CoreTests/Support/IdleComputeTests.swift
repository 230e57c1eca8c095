import Foundation
import XCTest
@testable import Core

#if canImport(Glibc)
import Glibc
#endif

final class IdleComputeTests: XCTestCase {
    /// Linux's SCHED_IDLE policy number (<sched.h>, not exported to Swift).
    private let schedIdle: Int32 = 5

    func testParallelLoopsStartedFromTheIdleThreadRunEveryBlockOnceOnItsLowPriorityThreads() throws {
        let idle = IdleCompute(threads: 3)
        let caller = pthread_self()
        let runs = SharedArray(repeating: 0, count: 300)
        let policies = SharedArray(repeating: Int32(-1), count: 300)
        let onCaller = SharedArray(repeating: false, count: 1)
        let taken = SharedArray(repeating: 0, count: 64)
        let threadsSeen = try idle.start { () -> Set<UInt> in
            var names = Set<UInt>()
            let lock = NSLock()
            forEachBlock(300, threads: 3) { block, _ in
                runs[block] += 1
                policies[block] = sched_getscheduler(0)
                if pthread_equal(pthread_self(), caller) != 0 { onCaller[0] = true }
                lock.withLock { _ = names.insert(UInt(pthread_self())) }
                usleep(100)  // long enough for the helpers to take blocks too
            }
            forEachBlockAsTaken(64, threads: 3) { block in taken[block] += 1 }
            return names
        }.wait()
        XCTAssertEqual(runs.array, [Int](repeating: 1, count: 300), "every block exactly once")
        XCTAssertEqual(taken.array, [Int](repeating: 1, count: 64), "every taken block exactly once")
        XCTAssertFalse(onCaller[0], "no block on the thread that started the job")
        XCTAssertGreaterThan(threadsSeen.count, 1, "the blocks ran on the helpers too: \(threadsSeen)")
        if idle.priority == "SCHED_IDLE" {
            XCTAssertEqual(Set(policies.array), [schedIdle], "every block at SCHED_IDLE")
        }
        // The Dispatch pool's threads, which the training uses, keep their policy.
        let after = SharedArray(repeating: Int32(-1), count: 8)
        forEachBlock(8, threads: 2) { block, _ in after[block] = sched_getscheduler(0) }
        XCTAssertFalse(after.array.contains(schedIdle), "a pool thread was left at SCHED_IDLE")
    }

    func testNestedLoopsGiveTheSameResultsAsOnThePool() throws {
        // A loop inside a block of another runs on the thread of that block, in order.
        func work() -> [Int] {
            let out = SharedArray(repeating: 0, count: 16 * 16)
            forEachBlock(16, threads: 2) { outer, _ in
                forEachBlock(16, threads: 2) { inner, _ in out[outer * 16 + inner] = outer * 100 + inner }
            }
            return out.array
        }
        let idle = IdleCompute(threads: 2)
        XCTAssertEqual(try idle.start { work() }.wait(), work())
    }

    func testAThrownErrorReachesTheWaiterAndTheThreadTakesTheNextJob() throws {
        struct Failure: Error, Equatable {}
        let idle = IdleCompute(threads: 2)
        let failing = idle.start { () throws -> Int in throw Failure() }
        XCTAssertThrowsError(try failing.wait()) { XCTAssertEqual($0 as? Failure, Failure()) }
        XCTAssertTrue(failing.isDone)
        let next = idle.start { 41 + 1 }
        XCTAssertEqual(try next.wait(), 42)
    }
}
