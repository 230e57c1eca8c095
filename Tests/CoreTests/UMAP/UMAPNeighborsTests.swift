import XCTest
@testable import Core

/// The neighbour searches: exact against brute force, approximate and warm-started against exact.
final class UMAPNeighborsTests: XCTestCase {
    /// Data with structure at several scales, like activations: 20 clusters along random 6-D
    /// subspaces of a 48-D space, plus a little isotropic noise.
    func clusteredData(rows: Int, dim: Int = 48, seed: UInt64 = 11) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling, 3)
        let clusters = 20, intrinsic = 6
        let centres = (0..<(clusters * dim)).map { _ in g.nextGaussian() * 4 }
        let bases = (0..<(clusters * intrinsic * dim)).map { _ in g.nextGaussian() / Double(dim).squareRoot() * 3 }
        var x = [Float](repeating: 0, count: rows * dim)
        for r in 0..<rows {
            let c = r % clusters
            let z = (0..<intrinsic).map { _ in g.nextGaussian() }
            for d in 0..<dim {
                var v = centres[c * dim + d] + 0.1 * g.nextGaussian()
                for t in 0..<intrinsic { v += z[t] * bases[(c * intrinsic + t) * dim + d] }
                x[r * dim + d] = Float(v)
            }
        }
        return x
    }

    func testExactNeighborsMatchBruteForce() {
        let rows = 150, dim = 7, k = 9
        let x = clusteredData(rows: rows, dim: dim)
        let knn = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        for i in 0..<rows {
            var distances = [(Float, Int)]()
            for j in 0..<rows {
                var s: Float = 0
                for d in 0..<dim {
                    let t = x[i * dim + d] - x[j * dim + d]
                    s += t * t
                }
                distances.append((s.squareRoot(), j))
            }
            distances.sort { $0.0 < $1.0 }
            XCTAssertEqual(knn.indices[i * k], Int32(i), "the point itself first")
            XCTAssertEqual(knn.distances[i * k], 0)
            for s in 1..<k {
                XCTAssertEqual(knn.distances[i * k + s], distances[s].0, accuracy: 1e-3 * max(1, distances[s].0))
            }
        }
    }

    func testApproximateNeighborsRecallAtLeast95Percent() {
        let rows = 2500, dim = 48, k = 20
        let x = clusteredData(rows: rows, dim: dim)
        let exact = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        var options = NeighborSearchOptions()
        options.pcaDimensions = 8  // few dimensions, so the refinement pass has work to do
        let (approximate, _) = approximateNearestNeighbors(data: x, rows: rows, dim: dim, k: k, options: options)
        let recall = neighborRecall(approximate, exact: exact)
        XCTAssertGreaterThanOrEqual(recall, 0.95)
        for i in 0..<rows { XCTAssertEqual(approximate.indices[i * k], Int32(i), "the point itself first") }
        print("approximate recall \(recall)")
    }

    func testWarmStartFromAPreviousGraphRecoversNeighborsOfDriftedData() {
        let rows = 3000, dim = 48, k = 20
        let x = clusteredData(rows: rows, dim: dim)
        var g = SplitMix64(seed: 4, stream: .sampling)
        // Drift: every point moves by noise about 15% of a typical neighbour distance... and more.
        let drifted = x.map { $0 + Float(g.nextGaussian() * 0.15) }
        let previous = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        let truth = exactNearestNeighbors(data: drifted, rows: rows, dim: dim, k: k)
        let before = neighborRecall(previous, exact: truth)
        let (warm, _) = approximateNearestNeighbors(data: drifted, rows: rows, dim: dim, k: k, previous: previous)
        let after = neighborRecall(warm, exact: truth)
        XCTAssertGreaterThanOrEqual(after, 0.95, "recall after refinement (\(before) before)")
        XCTAssertGreaterThan(after, before)
    }

    func testIndexQueriesFindTheExactNeighborsOfNewPoints() {
        let rows = 1500, queries = 100, dim = 48, k = 15
        let all = clusteredData(rows: rows + queries, dim: dim)
        let x = Array(all[0..<(rows * dim)]), q = Array(all[(rows * dim)...])
        let (_, index) = approximateNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        let found = index.query(q, rows: queries, k: k, expansion: 15)
        let exact = exactNearestNeighbors(queries: q, queryRows: queries, references: x, referenceRows: rows, dim: dim, k: k)
        XCTAssertGreaterThanOrEqual(neighborRecall(found, exact: exact), 0.95)
        for i in 0..<queries {
            XCTAssertEqual(found.distances[i * k], exact.distances[i * k], accuracy: 1e-2, "nearest distance of query \(i)")
        }
    }
}

extension UMAPNeighborsTests {
    func testRowBlocksOfTheExactSearchMatchTheWholeSearch() {
        let rows = 300, dim = 12, k = 10
        let x = clusteredData(rows: rows, dim: dim)
        let whole = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)
        let block = exactNearestNeighbors(rows: 100..<230, data: x, dim: dim, k: k)
        XCTAssertEqual(block.indices, Array(whole.indices[(100 * k)..<(230 * k)]))
        // Distances agree to rounding (sgemm tiles the references differently).
        for (a, b) in zip(block.distances, whole.distances[(100 * k)..<(230 * k)]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }
}
