import XCTest
@testable import Protocol

final class NeighbourMessagesTests: XCTestCase {
    func testUMAPReplyNeedsADistancePerNeighbour() {
        var rows = sampleGraphRows
        rows.distances.removeLast()
        let reply = UMAPReply(search: 1, status: .done, rows: rows)
        guard case .invalidField(let field, _, _) = decodeError(encode(.umapReply(reply))) else {
            return XCTFail("expected invalidField")
        }
        XCTAssertEqual(field, "umapReply.rows.distances")
    }

    func testUMAPGraphRowsNeedFlagsOfZeroOrOne() {
        var rows = sampleGraphRows
        rows.isNew[2] = 2
        guard case .invalidField(let field, _, _) = decodeError(encode(.umapRequest(.graph(
            NeighbourGraphChunk(search: 1, pass: 1, totalRows: 2000, rows: rows))))) else {
            return XCTFail("expected invalidField")
        }
        XCTAssertEqual(field, "umapRequest.rows.isNew")
    }

    func testUMAPMatrixRowsMustFitTheMatrix() {
        let chunk = NeighbourMatrixRows(search: 1, totalRows: 3, dimension: 2, firstRow: 2, half: [1, 2, 3, 4], single: [],
                                        projectionDimension: 0, projection: [])
        XCTAssertEqual(decodeError(encode(.umapRequest(.matrix(chunk))))?.description,
                       "payload field umapRequest.firstRow at byte 21: rows 2 + 2 exceed the 3 rows")
        let both = NeighbourMatrixRows(search: 1, totalRows: 3, dimension: 1, firstRow: 0, half: [1], single: [1],
                                       projectionDimension: 0, projection: [])
        guard case .invalidField(let field, _, _) = decodeError(encode(.umapRequest(.matrix(both)))) else {
            return XCTFail("expected invalidField")
        }
        XCTAssertEqual(field, "umapRequest.half")
    }

    func testUnknownUMAPStageIsInvalid() {
        var w = PayloadWriter()
        w.write(UInt8(4))
        w.write(UInt8(9))
        XCTAssertEqual(decodeError(frame(.umapRequest, payload: w.bytes)),
                       .invalidField(field: "umapRequest.stage", offset: 1, reason: "unknown stage 9"))
    }
}
