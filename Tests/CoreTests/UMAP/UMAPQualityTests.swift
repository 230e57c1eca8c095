import XCTest
@testable import Core

/// The map measurements' fast paths (the planar grid search, the vector rank count) against plainly
/// written references, on points with duplicates and exact ties, where a fast path goes wrong first.
final class UMAPQualityTests: XCTestCase {
    /// Points on a coarse lattice (many duplicates and equal distances), plus a cluster far away.
    func latticePoints(_ count: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling)
        return (0..<count).flatMap { i -> [Float] in
            let far: Float = i % 7 == 0 ? 500 : 0
            return [Float(g.next() % 23) * 0.5 + far, Float(g.next() % 17) * 0.25 - far]
        }
    }

    func randomPoints(_ count: Int, seed: UInt64, scale: Double = 10) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling)
        return (0..<(2 * count)).map { _ in Float(g.nextGaussian() * scale) }
    }

    func assertSameGraph(_ a: KNNGraph, _ b: KNNGraph, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.rows, b.rows, what, file: file, line: line)
        for i in 0..<(a.rows * a.k) where a.indices[i] != b.indices[i] || a.distances[i] != b.distances[i] {
            XCTFail("\(what): row \(i / a.k) slot \(i % a.k): \(a.indices[i]) at \(a.distances[i]) against "
                    + "\(b.indices[i]) at \(b.distances[i])", file: file, line: line)
            return
        }
    }

    func testThePlanarGridSearchFindsWhatTheFullScanFindsWithTiesAndDuplicates() {
        for (seed, k) in [(1, 1), (2, 10), (3, 11), (4, 40)] as [(UInt64, Int)] {
            let references = latticePoints(900, seed: seed)
            // Queries inside, on the lattice, between its points, and far outside the references' extent.
            var queries = latticePoints(200, seed: seed + 100) + randomPoints(200, seed: seed + 200)
            queries += [-1e4, 3, 2e4, -2e4, 5.75, 2.25]
            for threads in [1, 2] {
                assertSameGraph(planarNearestNeighbors(queries: queries, references: references, k: k, threads: threads),
                                planarNeighborsByScan(queries: queries, references: references, k: k, excludingSelf: false),
                                "queries, k \(k), \(threads) threads")
                assertSameGraph(planarNearestNeighbors(points: references, k: k, threads: threads),
                                planarNeighborsByScan(queries: references, references: references, k: k, excludingSelf: true),
                                "self search, k \(k), \(threads) threads")
            }
        }
    }

    func testThePlanarSearchAnswersFewerReferencesThanKAndNonFinitePoints() {
        let references: [Float] = [0, 0, 1, 1, 2, 2]
        let graph = planarNearestNeighbors(queries: [0.9, 0.9], references: references, k: 5)
        XCTAssertEqual(graph.indices, [1, 0, 2, -1, -1])
        XCTAssertEqual(graph.distances[3], .infinity)
        let withNaN = planarNearestNeighbors(queries: [.nan, 0, 1, 1], references: references, k: 2)
        XCTAssertEqual(withNaN.indices, [-1, -1, 1, 0], "a NaN query has no neighbours, the others are untouched")
        let one = planarNearestNeighbors(points: [3, 4], k: 2)
        XCTAssertEqual(one.indices, [0, -1])
    }

    func testThePlanarSearchAgreesWithTheBlockedProductSearchOnRandomMaps() {
        let references = randomPoints(3000, seed: 7), queries = randomPoints(500, seed: 8)
        let grid = planarNearestNeighbors(queries: queries, references: references, k: 10)
        let product = exactNearestNeighbors(queries: queries, queryRows: 500, references: references, referenceRows: 3000,
                                            dim: 2, k: 10)
        // The product rounds differently (|r|² - 2 q·r), so compare the distances, not near-tie orders.
        for i in 0..<(500 * 10) {
            XCTAssertEqual(grid.distances[i], product.distances[i], accuracy: 1e-3 * max(1, grid.distances[i]),
                           "query \(i / 10) slot \(i % 10)")
        }
    }

    /// sklearn.manifold.trustworthiness written out: full ranks by sorting each row.
    func trustworthinessBySorting(data: [Float], dim: Int, embedding: [Float], k: Int) -> Double {
        let n = data.count / dim
        func distance(_ x: [Float], _ d: Int, _ i: Int, _ j: Int) -> Double {
            (0..<d).reduce(0.0) { s, c in let t = Double(x[i * d + c]) - Double(x[j * d + c]); return s + t * t }
        }
        var total = 0.0
        for i in 0..<n {
            let others = (0..<n).filter { $0 != i }
            let dataOrder = others.sorted { (distance(data, dim, i, $0), $0) < (distance(data, dim, i, $1), $1) }
            var rank = [Int: Int]()
            for (r, j) in dataOrder.enumerated() { rank[j] = r + 1 }
            let mapOrder = others.sorted { (distance(embedding, 2, i, $0), $0) < (distance(embedding, 2, i, $1), $1) }
            for j in mapOrder.prefix(k) { total += Double(max(0, rank[j]! - k)) }
        }
        let nd = Double(n), kd = Double(k)
        return 1 - total * 2 / (nd * kd * (2 * nd - 3 * kd - 1))
    }

    func testTrustworthinessEqualsTheSortedRanksDefinition() {
        // Integer-valued data: many exactly equal distances, where the tie rule decides ranks. The data's
        // distances are exact in Float and Double alike, so the two computations see the same ties.
        var g = SplitMix64(seed: 5, stream: .sampling)
        let n = 150, dim = 6
        let data = (0..<(n * dim)).map { _ in Float(g.next() % 4) }
        let embedding = (0..<(2 * n)).map { _ in Float(g.next() % 9) }
        let fast = trustworthiness(data: data, dim: dim, embedding: embedding, k: 5, threads: 2)
        let plain = trustworthinessBySorting(data: data, dim: dim, embedding: embedding, k: 5)
        XCTAssertEqual(fast, plain, accuracy: 1e-12)
        XCTAssertLessThan(fast, 1, "a random map is not trustworthy")
        // The data itself as its own map: every map neighbour is a data neighbour.
        let line = (0..<n).flatMap { i -> [Float] in [Float(i) * 3, 0] }
        XCTAssertEqual(trustworthiness(data: line, dim: 2, embedding: line, k: 5), 1, accuracy: 1e-12)
    }

    func testTheMapClassifierAccuracyEqualsAPlainMajorityVote() {
        let train = latticePoints(600, seed: 11), test = randomPoints(150, seed: 12, scale: 4)
        var g = SplitMix64(seed: 13, stream: .sampling)
        let trainLabels = (0..<600).map { _ in Int32(g.next() % 3) }
        let testLabels = (0..<150).map { _ in Int32(g.next() % 3) }
        let neighbours = planarNeighborsByScan(queries: test, references: train, k: 10, excludingSelf: false)
        var correct = 0
        for i in 0..<150 {
            var votes = [Int32](repeating: 0, count: 3)
            for s in 0..<10 { votes[Int(trainLabels[Int(neighbours.indices[i * 10 + s])])] += 1 }
            let best = votes.firstIndex(of: votes.max()!)!  // ties to the smallest label
            if best == Int(testLabels[i]) { correct += 1 }
        }
        let accuracy = knnClassifierAccuracy(trainEmbedding: train, trainLabels: trainLabels, testEmbedding: test,
                                             testLabels: testLabels)
        XCTAssertEqual(accuracy, Double(correct) / 150)
    }
}
