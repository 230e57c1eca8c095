import XCTest
@testable import Protocol

final class OwnRowsCuttingTests: XCTestCase {
    func testLeavingOutOwnRowsAndPuttingThemBackGivesTheUpdate() throws {
        let full = StepUpdate(version: 5, samples: 9, gradient: sampleGradient(rows: 9))
        for (start, count) in [(0, 4), (4, 5), (2, 3), (0, 9)] {
            let own = OwnRows(firstMicroBatch: 7, start: UInt32(start), count: UInt32(count))
            let sent = full.leavingOut(own)
            XCTAssertEqual(sent.gradient.rows, UInt32(9 - count))
            guard case .stepUpdate(let received) = try decode(encode(.stepUpdate(sent))).1 else { return XCTFail("not an update") }
            XCTAssertEqual(received.ownRows, own)
            let g = full.gradient
            let restored = received.restoringOwnRows(
                flatRows: Array(g.flatRows[start * Int(g.flatWidth)..<(start + count) * Int(g.flatWidth)]),
                deltaRows: Array(g.deltaRows[start * Int(g.deltaWidth)..<(start + count) * Int(g.deltaWidth)]))
            XCTAssertEqual(restored, g, "rows \(start)..<\(start + count)")
            XCTAssertLessThan(encode(.stepUpdate(sent)).count, encode(.stepUpdate(full)).count)
        }
    }
}
