import Foundation
import XCTest

@testable import Core

/// Inputs that the saved-model fuzz target (Fuzz/Sources/FuzzUMAPModel) showed to read out of bounds,
/// kept as tests in the normal suite.
final class UMAPFuzzRegressionTests: XCTestCase {
    /// A row of duplicates (every neighbour distance 0) with localConnectivity at or below 0 read the
    /// "first non-zero distance" one past the row's end: the next row's first distance (here 7, which
    /// localConnectivity -0.5 turned into rho 3.5), or past the buffer for the last row (AddressSanitizer,
    /// `make sanitize`, reports that read). The row's rho must be 0.
    func testRowOfDuplicatesWithLocalConnectivityAtMostZeroReadsOnlyItsOwnDistances() {
        let graph = KNNGraph(rows: 3, k: 3, indices: [0, 1, 2, 1, 0, 2, 2, 0, 1],
                             distances: [0, 0, 0, 7, 8, 9, 0, 1, 2])
        for localConnectivity: Float in [0, -0.5, -1] {
            let (sigmas, rhos) = smoothKNNDistances(graph, nNeighbors: 3, localConnectivity: localConnectivity, threads: 1)
            XCTAssertEqual(rhos[0], 0, "localConnectivity \(localConnectivity): rho of the row of duplicates")
            XCTAssertTrue(sigmas.allSatisfy { $0.isFinite }, "localConnectivity \(localConnectivity): \(sigmas)")
        }
        let lastRow = KNNGraph(rows: 2, k: 2, indices: [0, 1, 1, 0], distances: [0, 3, 0, 0])
        XCTAssertEqual(smoothKNNDistances(lastRow, nNeighbors: 2, localConnectivity: -0.5, threads: 1).rhos, [1.5, 0])
    }

    /// A saved model whose index claims Int.max cells, with zero projection axes so that every array the
    /// header shapes still has 0 values, trapped on `cells + 1`; now the header is refused by name.
    func testSavedModelWithAnImpossibleCellCountIsRefusedNotATrap() throws {
        var options = quickUMAPOptions(nEpochs: 5, seed: 2)
        options.nNeighbors = 5
        options.neighborSearch = .approximate
        options.search.pcaDimensions = 2
        options.search.cellSize = 20
        let data: [Float] = (0..<(60 * 3)).map { (i: Int) -> Float in Float((i / 3) % 3) * 10 + Float(i % 7) / 7 }
        let directory = try makeScratchDirectory() + "/model"
        try UMAP.fit(data: data, rows: 60, dim: 3, options: options).save(to: directory)
        let headerPath = directory + "/umap-model.json"
        var header = try JSONSerialization.jsonObject(with: Data(readFile(headerPath))) as! [String: Any]
        var index = try XCTUnwrap(header["index"] as? [String: Any], "the fit should have an index")
        XCTAssertNotNil(index["cells"], "the fit should have cells")
        index["cells"] = Int.max
        header["index"] = index
        try writeFile(Array(JSONSerialization.data(withJSONObject: header)), to: headerPath)
        for (name, shape) in [("index_axes_variances.npy", [0]), ("index_axes.npy", [0, 3]),
                              ("index_projection.npy", [60, 0]), ("index_cell_centroids.npy", [Int.max, 0])] {
            try NPY.write(NPYArray(shape: shape, values: []), to: directory + "/" + name)
        }
        assertDataError(try UMAPModel.load(from: directory, threads: 1), .badHeader,
                        containing: "index.cells is \(Int.max); expected 1 to 60")
    }
}
