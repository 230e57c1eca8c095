import Cluster
import Protocol
import XCTest

/// Factors of `rows` samples, every value distinct, so that a row put back in the wrong place shows.
private func distinctFactors(rows: UInt32) -> GradientFactors {
    GradientFactors(sums: [-3, 0, 7], rows: rows, flatWidth: 3, deltaWidth: 2,
                    flatRows: (0..<(3 * Int(rows))).map { Float($0) + 0.25 },
                    deltaRows: (0..<(2 * Int(rows))).map { -Float($0) - 0.75 })
}

final class OwnRowsCuttingTests: XCTestCase {
    func testLeavingOutOwnRowsAndPuttingThemBackGivesTheUpdate() throws {
        let full = StepUpdate(version: 5, samples: 9, gradient: distinctFactors(rows: 9))
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
