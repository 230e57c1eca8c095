import XCTest
@testable import Core

/// The UMAP stage cut into blocks of query rows (as the workers of a distributed run compute it).
final class UMAPRowBlocksTests: XCTestCase {
    func data(rows: Int, dim: Int, seed: UInt64 = 5) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling, 4)
        let centres = (0..<(10 * dim)).map { _ in g.nextGaussian() * 3 }
        return (0..<(rows * dim)).map { i in Float(centres[(i / dim % 10) * dim + i % dim] + g.nextGaussian()) }
    }

    /// Blocks at multiples of `exactSearchBlockRows`, searched in any order and merged, give the
    /// single-process exact graph bit for bit; the last block may be short.
    func testMergedRowBlocksEqualTheSingleProcessExactSearch() {
        let rows = 1000, dim = 24, k = 15
        let x = data(rows: rows, dim: dim)
        let whole = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k, threads: 2)
        let size = 3 * exactSearchBlockRows
        let starts = Array(stride(from: 0, to: rows, by: size)).reversed()
        let blocks = starts.map { first in
            (firstRow: first, graph: exactNeighborRowBlock(data: x, rows: rows, dim: dim, k: k,
                                                           queryRows: first..<min(rows, first + size), threads: 1))
        }
        let merged = KNNGraph(rowBlocks: blocks, rows: rows, k: k)
        XCTAssertEqual(merged, whole)
        XCTAssertEqual(merged.indices[17 * k], 17, "neighbour 0 is the row itself")
        XCTAssertEqual(merged.distances[17 * k], 0)
    }

    /// A block that does not start on the sub-block grid still finds the exact neighbours.
    func testUnalignedBlockFindsTheSameNeighbours() {
        let rows = 400, dim = 10, k = 8
        let x = data(rows: rows, dim: dim)
        let whole = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        let block = exactNeighborRowBlock(data: x, rows: rows, dim: dim, k: k, queryRows: 37..<300)
        let expected = KNNGraph(rows: 263, k: k, indices: Array(whole.indices[(37 * k)..<(300 * k)]),
                                distances: Array(whole.distances[(37 * k)..<(300 * k)]))
        XCTAssertGreaterThanOrEqual(neighborRecall(block, exact: expected), 0.999)
    }

    /// A fit from a precomputed graph equals `fit` with the exact search it replaces, and a warm fit from
    /// one runs and stays aligned with its predecessor.
    func testFitFromPrecomputedNeighboursEqualsTheExactFit() {
        let rows = 600, dim = 16
        let x = data(rows: rows, dim: dim)
        var options = UMAPOptions()
        options.nNeighbors = 15
        options.neighborSearch = .exact
        options.threads = 1
        let reference = UMAP.fit(data: x, rows: rows, dim: dim, options: options)
        let knn = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: 15, threads: 1)
        let model = UMAP.fit(neighbors: knn, data: x, rows: rows, dim: dim, options: options)
        XCTAssertEqual(model.embedding, reference.embedding)
        XCTAssertEqual(model.sigmas, reference.sigmas)
        XCTAssertNotNil(model.index, "transform searches through an index built from the graph")
        XCTAssertEqual(model.transform(newData: Array(x[0..<(10 * dim)]), rows: 10).count, 20)
        let moved = x.map { $0 * 1.01 }
        let warm = UMAP.warmFit(neighbors: exactNearestNeighbors(data: moved, rows: rows, dim: dim, k: 15),
                                data: moved, previous: model)
        XCTAssertEqual(warm.embedding.count, rows * 2)
        XCTAssertLessThan(frameDisplacement(from: model.embedding, to: warm.embedding), 0.5)
    }
}
