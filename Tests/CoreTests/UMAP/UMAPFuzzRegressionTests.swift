import XCTest

@testable import Core

/// Inputs that the saved-model fuzz target (Fuzz/Sources/FuzzUMAPModel) showed to read out of bounds,
/// kept as tests in the normal suite.
final class UMAPFuzzRegressionTests: XCTestCase {
    /// A row of duplicates (every neighbour distance 0) with localConnectivity at or below 0 read the
    /// "first non-zero distance" one past the row's end: the next row's first distance (here 7), or past
    /// the buffer for the last row. The row's rho must be 0, and the other rows unaffected.
    func testRowOfDuplicatesWithLocalConnectivityAtMostZeroReadsOnlyItsOwnDistances() {
        let graph = KNNGraph(rows: 3, k: 3, indices: [0, 1, 2, 1, 0, 2, 2, 0, 1],
                             distances: [0, 0, 0, 7, 8, 9, 0, 1, 2])
        for localConnectivity: Float in [0, 0.5, -1] {
            let (sigmas, rhos) = smoothKNNDistances(graph, nNeighbors: 3, localConnectivity: localConnectivity, threads: 1)
            XCTAssertEqual(rhos[0], 0, "localConnectivity \(localConnectivity): rho of the row of duplicates")
            XCTAssertTrue(sigmas.allSatisfy { $0.isFinite }, "localConnectivity \(localConnectivity): \(sigmas)")
        }
        // The last row's case: under AddressSanitizer (make sanitize) the old code failed here.
        let lastRow = KNNGraph(rows: 2, k: 2, indices: [0, 1, 1, 0], distances: [0, 3, 0, 0])
        XCTAssertEqual(smoothKNNDistances(lastRow, nNeighbors: 2, localConnectivity: 0.5, threads: 1).rhos, [1.5, 0])
    }
}
