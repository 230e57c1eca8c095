// The UMAP stage split by blocks of query rows, for worker processes.
//
// A worker holding the whole data matrix computes the exact neighbours of a block of rows
// (`exactNeighborRowBlock`); the coordinator stitches the blocks together (`KNNGraph(rowBlocks:)`)
// and finishes the fit from the merged graph (`UMAP.fit(neighbors:...)`, `UMAP.warmFit(neighbors:...)`).
// Blocks that start at multiples of `exactSearchBlockRows` run exactly the sub-blocks the in-process
// exact search runs, so the merged graph equals `exactNearestNeighbors(data:rows:dim:k:)` bit for bit.

/// Query rows per sub-block of the exact search: row blocks starting at multiples of this give results
/// identical to a single-process search.
public let exactSearchBlockRows = 64

/// Exact k nearest neighbours of the rows `queryRows` of `data` (rows, dim) among all its rows, the row
/// itself first at distance 0 (umap-learn's convention). Row r of the result is row
/// `queryRows.lowerBound + r` of `exactNearestNeighbors(data:rows:dim:k:)`; bit for bit so when
/// `queryRows.lowerBound` is a multiple of `exactSearchBlockRows`.
public func exactNeighborRowBlock(
    data: [Float], rows: Int, dim: Int, k: Int, queryRows: Range<Int>, threads: Int = UMAPOptions.defaultThreads
) -> KNNGraph {
    precondition(data.count == rows * dim && k >= 1 && k <= rows)
    precondition(queryRows.lowerBound >= 0 && queryRows.upperBound <= rows)
    let count = queryRows.count
    var indices = [Int32](repeating: -1, count: count * k)
    var distances = [Float](repeating: .infinity, count: count * k)
    let first = queryRows.lowerBound
    let blocks = (count + exactSearchBlockRows - 1) / exactSearchBlockRows
    data.withUnsafeBufferPointer { xb in
        let x = xb.baseAddress!
        let norms = squaredRowNorms(x, rows: rows, dim: dim)
        indices.withUnsafeMutableBufferPointer { ip in
            distances.withUnsafeMutableBufferPointer { dp in
                norms.withUnsafeBufferPointer { np in
                    // exactNeighborRows writes at absolute query rows: shift the outputs by the block's start.
                    let shared = UncheckedSendable(value: (x, np.baseAddress!, ip.baseAddress!, dp.baseAddress!))
                    forEachBlock(blocks, threads: threads) { b, _ in
                        let (x, norms, outI, outD) = shared.value
                        let lo = first + b * exactSearchBlockRows
                        let sub = lo..<min(queryRows.upperBound, lo + exactSearchBlockRows)
                        exactNeighborRows(sub, queries: x, references: x, referenceNorms: norms, referenceRanges: [0..<rows],
                                          dim: dim, k: k, selfSearch: true,
                                          indices: outI - first * k, distances: outD - first * k)
                    }
                }
            }
        }
    }
    return KNNGraph(rows: count, k: k, indices: indices, distances: distances)
}

extension KNNGraph {
    /// The graph of all rows from row blocks `(firstRow, graph of rows firstRow ..< firstRow + graph.rows)`
    /// that together cover `0 ..< rows` exactly once, in any order.
    public init(rowBlocks: [(firstRow: Int, graph: KNNGraph)], rows: Int, k: Int) {
        var indices = [Int32](repeating: -1, count: rows * k)
        var distances = [Float](repeating: .infinity, count: rows * k)
        var covered = 0
        for (firstRow, block) in rowBlocks {
            precondition(block.k == k && firstRow >= 0 && firstRow + block.rows <= rows,
                         "row block \(firstRow) + \(block.rows) x \(block.k) does not fit \(rows) x \(k)")
            let offset = firstRow * k
            indices.replaceSubrange(offset..<(offset + block.indices.count), with: block.indices)
            distances.replaceSubrange(offset..<(offset + block.distances.count), with: block.distances)
            covered += block.rows
        }
        precondition(covered == rows, "row blocks cover \(covered) of \(rows) rows")
        self.init(rows: rows, k: k, indices: indices, distances: distances)
    }
}

extension UMAP {
    /// A fresh fit from a precomputed kNN graph of `data` (row itself first, e.g. merged from worker row
    /// blocks): `fit(data:rows:dim:options:)` without its neighbour search. `neighborSeconds` is
    /// recorded as the neighbour stage's time.
    public static func fit(
        neighbors: KNNGraph, data: [Float], rows: Int, dim: Int, options: UMAPOptions = UMAPOptions(),
        neighborSeconds: Double = 0
    ) -> UMAPModel {
        precondition(data.count == rows * dim && rows >= 2 && neighbors.rows == rows)
        return fitFromGraph(neighbors, data: data, dim: dim, options: options, previous: nil,
                            neighborSeconds: neighborSeconds)
    }

    /// The next map of a sequence from a precomputed kNN graph of `data`: `warmFit(data:previous:options:)`
    /// without its neighbour search (starts from `previous`'s layout, aligned onto it by Procrustes).
    public static func warmFit(
        neighbors: KNNGraph, data: [Float], previous: UMAPModel, options: UMAPOptions? = nil,
        neighborSeconds: Double = 0
    ) -> UMAPModel {
        let options = options ?? previous.options
        precondition(neighbors.rows == previous.rows && data.count % previous.rows == 0,
                     "warmFit needs the same rows as the previous fit")
        precondition(options.nComponents == 2 && previous.options.nComponents == 2, "warmFit aligns 2-D maps")
        return fitFromGraph(neighbors, data: data, dim: data.count / previous.rows, options: options,
                            previous: previous, neighborSeconds: neighborSeconds)
    }

    /// The stages after the neighbour search; warm (from `previous`'s layout, then aligned) if given.
    /// Leaves an index built from the graph, so `transform` searches approximately as after `fit`.
    private static func fitFromGraph(
        _ knn: KNNGraph, data: [Float], dim: Int, options: UMAPOptions, previous: UMAPModel?, neighborSeconds: Double
    ) -> UMAPModel {
        let rows = knn.rows
        var timings = UMAPTimings()
        timings.neighbors = neighborSeconds
        var clock = ContinuousClock.now
        let k = knn.k
        let index = data.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            let axes = previous?.index?.axes
                ?? principalComponents(x, rows: rows, dim: dim, count: options.search.pcaDimensions, seed: options.seed,
                                       threads: options.threads)
            let ordered = LocalityOrderedRows(data: x, rows: rows, dim: dim, order: localityOrder(knn),
                                              halfPrecision: options.search.halfPrecision, axes: axes, threads: options.threads)
            return NeighborIndex(rows: ordered, graph: localityPositions(knn, data: ordered), axes: axes, cells: nil,
                                 probes: options.search.cellProbes, candidates: options.search.candidates)
        }
        let (sigmas, rhos, graph) = fuzzyGraph(knn, k: k, options: options)
        let nEpochs = previous == nil ? options.epochs(forRows: rows) : options.warmEpochs
        let pruned = pruneWeakEdges(graph, nEpochs: nEpochs, defaultEpochs: rows > 10_000 ? 200 : 500)
        timings.graph = seconds(since: clock)

        clock = .now
        var embedding = previous?.embedding
            ?? spectralInitialization(pruned, dim: options.nComponents, data: data, dataDim: dim, seed: options.seed,
                                      threads: options.threads)
        timings.initialization = seconds(since: clock)

        clock = .now
        let (a, b) = options.curveParameters()
        let parameters = options.layoutParameters(
            a: a, b: b, nEpochs: nEpochs,
            initialAlpha: previous == nil ? options.learningRate : options.warmLearningRate, seed: options.seed)
        optimizeLayout(&embedding, dim: options.nComponents, graph: pruned, parameters: parameters) { _ in }
        timings.optimization = seconds(since: clock)

        if let previous {
            clock = .now
            embedding = alignProcrustes(embedding, onto: previous.embedding)
            timings.alignment = seconds(since: clock)
        }
        return UMAPModel(options: options, rows: rows, dim: dim, data: data, embedding: embedding, neighbors: knn,
                         sigmas: sigmas, rhos: rhos, graph: graph, a: a, b: b, index: index, timings: timings)
    }
}
