@testable import Cluster
import XCTest

final class RepeatedLineLimiterTests: XCTestCase {
    func testAThousandLinesOfOneKindBecomeOneLineAndOneSummary() {
        let limiter = RepeatedLineLimiter(window: 10)
        var logged: [String] = []
        for i in 0..<1000 { logged += limiter.note("refused hellos", "refused hello \(i)", at: Double(i) * 0.001) }
        XCTAssertEqual(logged, ["refused hello 0"])
        XCTAssertEqual(limiter.due(at: 5), [], "a summary before the window ended")
        let summaries = limiter.due(at: 10)
        XCTAssertEqual(summaries.count, 1, "\(summaries)")
        XCTAssertTrue(summaries[0].hasPrefix("refused hellos: 999 more in the last 10 s"), summaries[0])
        XCTAssertEqual(limiter.due(at: 30), [], "a window was summarised twice")
        XCTAssertEqual(limiter.note("refused hellos", "again", at: 31), ["again"], "a new window did not log in full")
    }

    func testEachKindIsLoggedOnceAndKindsDoNotShareAWindow() {
        let limiter = RepeatedLineLimiter(window: 10)
        XCTAssertEqual(limiter.note("a", "a1", at: 0), ["a1"])
        XCTAssertEqual(limiter.note("b", "b1", at: 1), ["b1"])
        XCTAssertEqual(limiter.note("a", "a2", at: 2), [])
        XCTAssertEqual(limiter.note("b", "b2", at: 3), [])
        // A line of a kind whose window has ended brings that window's summary first.
        let next = limiter.note("a", "a3", at: 12)
        XCTAssertEqual(next.count, 2, "\(next)")
        XCTAssertTrue(next[0].hasPrefix("a: 1 more"), next[0])
        XCTAssertEqual(next[1], "a3")
        let rest = limiter.flush()
        XCTAssertEqual(rest.count, 1, "\(rest)")
        XCTAssertTrue(rest[0].hasPrefix("b: 1 more"), rest[0])
    }

    func testAWindowWithoutRepeatsNeedsNoSummary() {
        let limiter = RepeatedLineLimiter(window: 10)
        XCTAssertEqual(limiter.note("a", "once", at: 0), ["once"])
        XCTAssertEqual(limiter.due(at: 100), [])
    }
}
