@testable import Cluster
import Core
import Protocol
import XCTest

/// Workers repeat their hello until welcomed; under load (100 workers joining in waves) a repeat crossed the
/// welcome and the same worker was logged and recorded as joining twice.
final class RepeatedHelloTests: XCTestCase {
    func testARepeatedHelloIsWelcomedAgainButJoinsOnce() throws {
        let pool = DispatcherHarness()
        let ids = pool.start(["a", "b"])
        pool.submit(stepJob(4))
        XCTAssertEqual(pool.lastRange(of: ids[0]), 0..<2)
        let statesBefore = pool.stateSends(to: ids[0])

        let repeated = pool.dispatcher.hello(Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "a",
                                                   processID: 1, threadCount: 1), from: ids[0], at: pool.t)
        pool.perform(repeated)
        XCTAssertTrue(repeated.contains { if case .reply(.welcome(let w), _, _) = $0 { w.rank == 1 } else { false } },
                      "the repeat is answered with the same rank")
        XCTAssertFalse(repeated.contains { if case .log(_, .info) = $0 { true } else { false } },
                       "a repeated hello is not logged as a join")
        XCTAssertEqual(pool.events.filter { $0 == "worker_joined" }.count, 2, "two workers, each joined once")
        XCTAssertEqual(pool.dispatcher.liveCount, 2)
        // It starts over from the state behind the new welcome, and its range goes to the first free worker.
        XCTAssertEqual(pool.stateSends(to: ids[0]), statesBefore + 1)
        pool.answer(ids[1])
        pool.pass(0)
        XCTAssertEqual(pool.lastRange(of: ids[0]), 0..<2, "the range was handed out again after the repeat")
        pool.answer(ids[0])
        XCTAssertEqual(try XCTUnwrap(pool.outcome).get().map(\.range), [0..<2, 2..<4])
    }

    func testAHelloFromAnotherProcessOnTheSameIDCountsAsAJoin() {
        let pool = DispatcherHarness()
        let id = pool.join("a")
        pool.perform(pool.dispatcher.hello(Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: "a",
                                                 processID: 2, threadCount: 1), from: id, at: pool.t))
        XCTAssertEqual(pool.events.filter { $0 == "worker_joined" }.count, 2)
        XCTAssertEqual(pool.dispatcher.liveCount, 1)
    }
}
