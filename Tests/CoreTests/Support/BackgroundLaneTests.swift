import Foundation
import XCTest
@testable import Core

final class BackgroundLaneTests: XCTestCase {
    func testJobsRunInOrderOffTheCallersThreadAndDrainWaitsForAll() {
        let lane = BackgroundLane(name: "test.lane")
        defer { lane.close() }
        let seen = SharedArray(repeating: -1, count: 200)
        let counter = SharedArray(repeating: 0, count: 1)
        let caller = pthread_self()
        let offCaller = SharedArray(repeating: true, count: 1)
        for i in 0..<200 {
            lane.async {
                if pthread_equal(pthread_self(), caller) != 0 { offCaller[0] = false }
                if i % 50 == 0 { usleep(2_000) }  // slow jobs must not let later ones overtake them
                seen[counter[0]] = i
                counter[0] += 1
            }
        }
        lane.drain()
        XCTAssertEqual(counter[0], 200, "drain returned before every job ran")
        XCTAssertEqual(seen.array, Array(0..<200), "jobs ran out of order")
        XCTAssertTrue(offCaller[0])
        // The lane keeps serving after a drain.
        lane.async { counter[0] += 1 }
        lane.drain()
        XCTAssertEqual(counter[0], 201)
    }

    func testAClosedLaneRunsWhatWasQueuedThenItsThreadEnds() {
        let lane = BackgroundLane(name: "test.lane.closed")
        let done = SharedArray(repeating: 0, count: 1)
        for _ in 0..<5 { lane.async { usleep(1_000); done[0] += 1 } }
        lane.close()
        lane.drain()
        XCTAssertEqual(done[0], 5)
    }
}
