import Foundation
import XCTest
@testable import Core

/// The approximate neighbour search's per-row stages cut into blocks of rows, computed in any order, as
/// the workers of a distributed run compute them.
final class UMAPRowBlocksTests: XCTestCase {
    /// The first `rows` MNIST training images as rows of 784 intensities in [0, 1], and the same images
    /// shifted one pixel to the right (a drift for the warm start); or a skip without MNIST.
    func mnistPixels(rows: Int) throws -> (images: [Float], shifted: [Float]) {
        let dir = ProcessInfo.processInfo.environment["GLASSBOX_DATA"] ?? "data/mnist"
        let probe = (dir as NSString).appendingPathComponent("train-images-idx3-ubyte")
        guard FileManager.default.fileExists(atPath: probe) || FileManager.default.fileExists(atPath: probe + ".gz") else {
            throw XCTSkip("MNIST is not in \(dir): run `make data` or set GLASSBOX_DATA")
        }
        let train = try DatasetSource.load(.directory(dir)).train
        let images = train.pixels[0..<(rows * 784)].map { Float($0) / 255 }
        var shifted = [Float](repeating: 0, count: images.count)
        for i in 0..<(rows * 28) {
            for c in 1..<28 { shifted[i * 28 + c] = images[i * 28 + c - 1] }
        }
        return (images, shifted)
    }

    /// A fresh search of 3,000 MNIST images and a warm search of the shifted images from its graph, with
    /// every stage cut into uneven blocks computed in reverse order on one thread, give the neighbours and
    /// index of the search on two threads bit for bit.
    func testBlockwiseStagesGiveTheThreadedSearchBitForBit() throws {
        let rows = 3000, dim = 784, k = 15
        let (x, moved) = try mnistPixels(rows: rows)
        let threaded = approximateNearestNeighbors(data: x, rows: rows, dim: dim, k: k, seed: 3, threads: 2)
        let blockwise = approximateNearestNeighbors(data: x, rows: rows, dim: dim, k: k, seed: 3, threads: 2,
                                                    stages: BlockwiseStages())
        XCTAssertEqual(blockwise.graph, threaded.graph)
        XCTAssertEqual(blockwise.index.graph, threaded.index.graph)
        XCTAssertGreaterThan(neighborRecall(threaded.graph, exact: exactNearestNeighbors(data: x, rows: rows, dim: dim, k: k)),
                             0.95)

        let warmThreaded = approximateNearestNeighbors(data: moved, rows: rows, dim: dim, k: k, previous: threaded.graph,
                                                       axes: threaded.index.axes, seed: 3, threads: 2)
        let warmBlockwise = approximateNearestNeighbors(data: moved, rows: rows, dim: dim, k: k, previous: threaded.graph,
                                                        axes: threaded.index.axes, seed: 3, threads: 2, stages: BlockwiseStages())
        XCTAssertEqual(warmBlockwise.graph, warmThreaded.graph)
        XCTAssertNotEqual(warmThreaded.graph, threaded.graph, "the shifted images have other neighbours")
        XCTAssertEqual(warmThreaded.graph.indices[17 * k], 17, "neighbour 0 is the row itself")
    }

    /// A fit whose search runs on other stages gives the same neighbours, scales and embedding as `fit`.
    func testFitOnOtherStagesEqualsTheFit() throws {
        let rows = 1200, dim = 784
        let (x, _) = try mnistPixels(rows: rows)
        var options = UMAPOptions()
        options.nNeighbors = 15
        options.neighborSearch = .approximate
        options.threads = 2
        let reference = UMAP.fit(data: x, rows: rows, dim: dim, options: options)
        let model = UMAP.fit(data: x, rows: rows, dim: dim, options: options, stages: BlockwiseStages())
        XCTAssertEqual(model.neighbors, reference.neighbors)
        XCTAssertEqual(model.sigmas, reference.sigmas)
        XCTAssertEqual(model.embedding, reference.embedding)
    }

    /// The merge of row blocks checks that they cover every row once.
    func testRowBlocksMergeInAnyOrder() {
        let k = 2
        func block(_ first: Int, _ n: Int) -> RefinementGraph {
            RefinementGraph(graph: KNNGraph(rows: n, k: k, indices: (0..<(n * k)).map { Int32(first * k + $0) },
                                            distances: (0..<(n * k)).map { Float(first * k + $0) }),
                            isNew: (0..<(n * k)).map { ($0 + first) % 3 == 0 })
        }
        let merged = RefinementGraph(rowBlocks: [(5, block(5, 2)), (0, block(0, 5))], rows: 7, k: k)
        XCTAssertEqual(merged.graph.indices, (0..<14).map(Int32.init))
        XCTAssertEqual(merged.graph.distances, (0..<14).map(Float.init))
        XCTAssertEqual(Array(merged.isNew[10..<14]), block(5, 2).isNew)
    }
}

/// The stages as a worker computes its blocks: one thread, uneven blocks (cell starts at multiples of
/// `cellSearchBlockRows`), last block first.
final class BlockwiseStages: NeighborSearchStages {
    typealias Failure = Never
    private var data: LocalityOrderedRows?

    func load(_ rows: LocalityOrderedRows) { data = rows }

    /// Uneven blocks covering the rows, starting at multiples of `alignment`, last first.
    func blocks(alignment: Int = 1) -> [Range<Int>] {
        let n = data!.rows
        var starts = [0]
        var next = 0
        var size = 97
        while true {
            next = (next + size + alignment - 1) / alignment * alignment
            if next >= n { break }
            starts.append(next)
            size = size * 3 % 701 + 50
        }
        return zip(starts, starts.dropFirst() + [n]).map { $0..<$1 }.reversed()
    }

    func merged(_ k: Int, _ pieces: [(Range<Int>, RefinementGraph)]) -> RefinementGraph {
        RefinementGraph(rowBlocks: pieces.map { ($0.0.lowerBound, $0.1) }, rows: data!.rows, k: k)
    }

    func cellStart(_ cells: CellIndex, probes: Int, candidates: Int, keep k: Int) -> RefinementGraph {
        merged(k, blocks(alignment: cellSearchBlockRows).map {
            ($0, cellStartRows($0, cells: cells, data: data!, probes: probes, candidates: candidates, keep: k))
        })
    }

    func graphStart(_ graph: KNNGraph, keep k: Int) -> RefinementGraph {
        merged(k, blocks().map { r in
            (r, graphStartRows(r, neighbors: graph.indices[(r.lowerBound * graph.k)..<(r.upperBound * graph.k)],
                               inputK: graph.k, data: data!, keep: k))
        })
    }

    func refinementPass(_ current: RefinementGraph, expansion: Int) -> (next: RefinementGraph, changes: Int) {
        let reverse = ReverseNeighbors(current, cap: current.graph.k)
        var changes = 0
        let next = merged(current.graph.k, blocks().map { r in
            let (rows, c) = refineNeighborRowBlock(r, current: current, reverse: reverse, data: data!, expansion: expansion)
            changes += c
            return (r, rows)
        })
        return (next, changes)
    }
}
