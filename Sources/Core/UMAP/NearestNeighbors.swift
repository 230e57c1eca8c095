// k-nearest-neighbour graphs, Euclidean.
//
// data is (rows, dim) row-major Float. A KNNGraph holds, per row, k neighbour indices and distances
// sorted ascending; in a graph of a data set with itself, neighbour 0 is the row itself at distance 0
// (umap-learn's convention: k = 40 means the point plus 39 others).
//
// Two searches:
// - exact (ExactNeighbors.swift): blocked sgemm (query block x reference tile of dot products) with a fused top-k scan
//   against each row's current k-th distance. The reference for recall; 3.7 TFLOP at 60,000 x 512.
// - approximate (`approximateNearestNeighbors`): PCA to ~32 dims; k-means cells in that projection
//   (CellIndex.swift); each row's 80 nearest projections among the rows of its 16 nearest cells,
//   re-measured in the full dimension; then neighbours-of-neighbours refinement passes in the full
//   dimension (NeighborRefinement.swift). A previous graph (last epoch's) can replace the cell
//   search: activations drift slowly, so 1-2 refinement passes suffice.
// All of it splits into blocks of query rows that only read shared inputs (`exactNeighborRows`,
// `cellStartRows`, `graphStartRows`, `refineNeighborRowBlock`), so blocks can run on threads here or
// on worker processes (NeighborStages.swift).

import Dispatch

/// A k-nearest-neighbour graph: `indices[i * k + j]`, `distances[i * k + j]` for row i, j in 0..<k,
/// sorted by increasing distance. Missing neighbours (k > available points) are -1 at infinity.
public struct KNNGraph: Sendable, Equatable {
    public let rows: Int
    public let k: Int
    public var indices: [Int32]
    public var distances: [Float]

    public init(rows: Int, k: Int, indices: [Int32], distances: [Float]) {
        precondition(indices.count == rows * k && distances.count == rows * k)
        self.rows = rows
        self.k = k
        self.indices = indices
        self.distances = distances
    }

    /// The neighbour indices of row i.
    public func neighbors(of i: Int) -> ArraySlice<Int32> { indices[(i * k)..<((i + 1) * k)] }
}

/// The fraction of true neighbours found: mean over rows of |approx(i) ∩ exact(i)| / k.
public func neighborRecall(_ approximate: KNNGraph, exact: KNNGraph) -> Double {
    precondition(approximate.rows == exact.rows)
    let k = min(approximate.k, exact.k)
    var hits = 0
    var truth = Set<Int32>()
    for i in 0..<exact.rows {
        truth.removeAll(keepingCapacity: true)
        for j in 0..<k { truth.insert(exact.indices[i * exact.k + j]) }
        for j in 0..<k where truth.contains(approximate.indices[i * approximate.k + j]) { hits += 1 }
    }
    return Double(hits) / Double(exact.rows * k)
}

// MARK: - Approximate search

/// Knobs of the approximate search (Glassbox's own; umap-learn uses pynndescent instead).
public struct NeighborSearchOptions: Sendable, Equatable, Codable {
    /// Dimensions of the PCA projection in which the data is cut into cells.
    public var pcaDimensions = 32
    /// Average points per cell (k-means cluster in the PCA projection).
    public var cellSize = 200
    /// Cells searched per point (in the projection): its own and the nearest others.
    public var cellProbes = 16
    /// Candidates per point taken from the cells (by projected distance) and re-measured in full.
    public var candidates = 80
    /// Refinement passes after the cell search (fresh fit).
    public var refinementPasses = 1
    /// Refinement passes when starting from a previous graph (warm fit).
    public var warmRefinementPasses = 2
    /// How many of a point's nearest neighbours have their own neighbour lists searched.
    public var expansion = 15
    /// Store the data as Float16 for refinement (half the memory traffic; distances still Float).
    public var halfPrecision = true
    /// Stop refining once a pass changes fewer than this fraction of the graph's entries.
    public var convergence: Double = 0.005

    public init() {}
}

/// What an approximate search leaves behind for later queries (transform) and warm starts.
public struct NeighborIndex: Sendable {
    /// The searched rows in locality order, with their projections on `axes`.
    public let rows: LocalityOrderedRows
    /// The data's graph in locality positions.
    public let graph: KNNGraph
    /// The orthonormal axes of the projections (principal axes of this or an earlier data set).
    public let axes: PrincipalComponents
    /// The rows' projections cut into cells, for queries (nil: queries search all projections).
    public let cells: CellIndex?
    /// Cells a query searches and candidates it re-measures in the full dimension.
    public let probes: Int
    public let candidates: Int
}

/// Approximate k nearest neighbours of every row of `data` (row itself first), and the index for
/// later queries. Fresh: the rows are cut into cells by k-means in a PCA projection; each cell's rows
/// take their `candidates` nearest (in the projection) from the nearest cells, which are re-measured
/// in the full dimension, then refined. Given `previous` (a graph of the same rows for earlier data,
/// e.g. the last epoch's activations), refinement passes start from it instead, with `axes` (the
/// earlier PCA, still a valid projection for the bounds) if given. The per-row stages run on this
/// process' threads.
public func approximateNearestNeighbors(
    data: [Float], rows: Int, dim: Int, k: Int, options: NeighborSearchOptions = NeighborSearchOptions(),
    previous: KNNGraph? = nil, axes: PrincipalComponents? = nil, seed: UInt64 = 0,
    threads: Int = UMAPOptions.defaultThreads
) -> (graph: KNNGraph, index: NeighborIndex) {
    approximateNearestNeighbors(data: data, rows: rows, dim: dim, k: k, options: options, previous: previous, axes: axes,
                                seed: seed, threads: threads, stages: ThreadedNeighborStages(threads: threads))
}

/// `approximateNearestNeighbors` with its per-row stages (starts, refinement passes) on `stages`, e.g.
/// worker processes; PCA, k-means and the locality order run here on `threads`. The same bits wherever
/// the stages run.
public func approximateNearestNeighbors<Stages: NeighborSearchStages>(
    data: [Float], rows: Int, dim: Int, k: Int, options: NeighborSearchOptions = NeighborSearchOptions(),
    previous: KNNGraph? = nil, axes: PrincipalComponents? = nil, seed: UInt64 = 0,
    threads: Int = UMAPOptions.defaultThreads, stages: Stages
) throws(Stages.Failure) -> (graph: KNNGraph, index: NeighborIndex) {
    precondition(data.count == rows * dim && k >= 1 && k <= rows)
    if let previous, previous.rows == rows {
        // Warm: the previous graph's neighbours, re-measured, then refinement passes.
        let startGraph = previous.k == k ? previous : resized(previous, k: k)
        let (ordered, axes) = data.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            let axes = axes ?? principalComponents(x, rows: rows, dim: dim, count: options.pcaDimensions, seed: seed,
                                                    threads: threads)
            return (LocalityOrderedRows(data: x, rows: rows, dim: dim, order: localityOrder(startGraph),
                                        halfPrecision: options.halfPrecision, axes: axes, threads: threads), axes)
        }
        try stages.load(ordered)
        let start = try stages.graphStart(localityPositions(startGraph, data: ordered), keep: k)
        let refined = try refine(start, passes: options.warmRefinementPasses, expansion: options.expansion,
                                 convergence: options.convergence, stages: stages)
        let index = NeighborIndex(rows: ordered, graph: refined.graph, axes: axes, cells: nil,
                                  probes: options.cellProbes, candidates: options.candidates)
        return (originalOrder(refined.graph, data: ordered), index)
    }
    // Fresh: cells by k-means in the PCA projection, rows ordered by cell (then first principal
    // component) so each cell is contiguous and neighbours are near in memory.
    let (pca, ordered, cellIndex) = data.withUnsafeBufferPointer { xb in
        let x = xb.baseAddress!
        let pca = principalComponents(x, rows: rows, dim: dim, count: options.pcaDimensions, seed: seed, threads: threads)
        let projected = pca.project(data, rows: rows, threads: threads)
        let cells = kMeans(data: projected, rows: rows, dim: pca.count,
                           count: max(1, rows / max(options.cellSize, 1)), seed: seed, threads: threads)
        let order = (0..<rows).sorted {
            let (a, b) = (cells.assignment[$0], cells.assignment[$1])
            return a != b ? a < b : projected[$0 * pca.count] < projected[$1 * pca.count]
        }.map(Int32.init)
        let ordered = LocalityOrderedRows(data: x, rows: rows, dim: dim, order: order, halfPrecision: options.halfPrecision,
                                          axes: pca, projected: projected, threads: threads)
        let cellOf = order.map { cells.assignment[Int($0)] }
        let cellIndex = ordered.projection.withUnsafeBufferPointer { pp in
            CellIndex(points: pp.baseAddress!, rows: rows, dim: pca.count, cellOf: cellOf, cells: cells)
        }
        return (pca, ordered, cellIndex)
    }
    try stages.load(ordered)
    let start = try stages.cellStart(cellIndex, probes: options.cellProbes, candidates: min(rows, max(k, options.candidates)),
                                     keep: k)
    let refined = try refine(start, passes: options.refinementPasses, expansion: options.expansion,
                             convergence: options.convergence, stages: stages)
    let index = NeighborIndex(rows: ordered, graph: refined.graph, axes: pca, cells: cellIndex,
                              probes: options.cellProbes, candidates: options.candidates)
    return (originalOrder(refined.graph, data: ordered), index)
}

// MARK: - Queries against an index (transform)

extension NeighborIndex {
    /// Approximate k nearest indexed rows (original numbering) of each query row (queries, dim):
    /// exact search among the projections, then `passes` expansions through the indexed rows' own
    /// neighbour lists, compared in the full dimension.
    public func query(_ queries: [Float], rows queryRows: Int, k: Int, expansion: Int, passes: Int = 2,
                      threads: Int = UMAPOptions.defaultThreads) -> KNNGraph {
        let dim = rows.dim, n = rows.rows
        precondition(queries.count == queryRows * dim && k <= n)
        let projectedQueries = axes.project(queries, rows: queryRows, threads: threads)
        let kc = min(n, max(k, candidates))
        let found = projectedQueries.withUnsafeBufferPointer { qp in
            if let cells {
                return cells.search(qp.baseAddress!, queryRows: queryRows, probes: probes, k: kc, threads: threads)
            }
            return rows.projection.withUnsafeBufferPointer { rp in
                exactNearestNeighbors(queries: qp.baseAddress!, queryRows: queryRows, references: rp.baseAddress!,
                                      referenceRows: n, dim: axes.count, k: kc, selfSearch: false, threads: threads)
            }
        }
        // Visit queries in the order of their nearest candidate, so consecutive queries read nearby rows.
        let visit = (0..<queryRows).sorted { found.indices[$0 * kc] < found.indices[$1 * kc] }
        var indices = [Int32](repeating: -1, count: queryRows * k)
        var distances = [Float](repeating: .infinity, count: queryRows * k)
        let blocks = max(1, min(queryRows, threads * 16))
        rows.withStorage { store in
            queries.withUnsafeBufferPointer { qp in
                indices.withUnsafeMutableBufferPointer { ip in
                    distances.withUnsafeMutableBufferPointer { dp in
                        let p = UncheckedSendable(value: (qp.baseAddress!, ip.baseAddress!, dp.baseAddress!))
                        forEachBlock(blocks, threads: threads) { b, _ in
                            let (q, outI, outD) = p.value
                            let scratch = QueryScratch(indexedRows: n, k: k)
                            defer { scratch.deallocate() }
                            for v in blockRange(b, of: blocks, count: queryRows) {
                                let qi = visit[v]
                                refineQuery(q + qi * dim, start: found.indices[(qi * kc)..<((qi + 1) * kc)],
                                            store: store, k: k, expansion: expansion, passes: passes,
                                            scratch: scratch, stamp: Int32(v))
                                for s in 0..<k {
                                    let j = scratch.indices[s]
                                    outI[qi * k + s] = j < 0 ? -1 : rows.order[Int(j)]
                                    outD[qi * k + s] = scratch.distances[s]
                                }
                            }
                        }
                    }
                }
            }
        }
        return KNNGraph(rows: queryRows, k: k, indices: indices, distances: distances)
    }

    /// Neighbours-of-candidates search for one query; result in `scratch.indices/distances` (positions).
    func refineQuery(_ q: UnsafePointer<Float>, start: ArraySlice<Int32>, store: RowStorage, k: Int,
                     expansion: Int, passes: Int, scratch: QueryScratch, stamp: Int32) {
        let li = scratch.indices, ld = scratch.distances, ln = scratch.isNew
        for s in 0..<k { li[s] = -1; ld[s] = .infinity; ln[s] = false }
        @inline(__always) func consider(_ c: Int32) {
            scratch.stamps[Int(c)] = stamp
            let d = store.squaredDistance(q, Int(c)).squareRoot()
            if d < ld[k - 1] {
                var s = k - 1
                while s > 0 && ld[s - 1] > d { li[s] = li[s - 1]; ld[s] = ld[s - 1]; ln[s] = ln[s - 1]; s -= 1 }
                li[s] = c
                ld[s] = d
                ln[s] = true
            }
        }
        for j in start where j >= 0 && scratch.stamps[Int(j)] != stamp { consider(j) }
        let gk = graph.k
        for _ in 0..<passes {
            // Expand the nearest entries that are new since the last pass.
            var expand = [Int32]()
            for s in 0..<min(expansion, k) where ln[s] && li[s] >= 0 { expand.append(li[s]) }
            for s in 0..<k { ln[s] = false }
            if expand.isEmpty { break }
            for j in expand {
                for t in 0..<gk {
                    let c = graph.indices[Int(j) * gk + t]
                    if c >= 0 && scratch.stamps[Int(c)] != stamp { consider(c) }
                }
            }
        }
    }
}

/// Per-thread buffers of `NeighborIndex.query`.
struct QueryScratch {
    let stamps: UnsafeMutablePointer<Int32>
    let indices: UnsafeMutablePointer<Int32>
    let distances: UnsafeMutablePointer<Float>
    let isNew: UnsafeMutablePointer<Bool>

    init(indexedRows: Int, k: Int) {
        stamps = .allocate(capacity: indexedRows)
        stamps.initialize(repeating: -1, count: indexedRows)
        indices = .allocate(capacity: k)
        distances = .allocate(capacity: k)
        isNew = .allocate(capacity: k)
    }

    func deallocate() {
        stamps.deallocate()
        indices.deallocate()
        distances.deallocate()
        isNew.deallocate()
    }
}
