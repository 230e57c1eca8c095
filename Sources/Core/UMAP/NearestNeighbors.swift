// k-nearest-neighbour graphs, Euclidean.
//
// data is (rows, dim) row-major Float. A KNNGraph holds, per row, k neighbour indices and distances
// sorted ascending; in a graph of a data set with itself, neighbour 0 is the row itself at distance 0
// (umap-learn's convention: k = 40 means the point plus 39 others).
//
// Two searches:
// - exact: blocked sgemm (query block x reference tile of dot products) with a fused top-k scan
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

// MARK: - Exact search

/// Exact k nearest neighbours of every row of `data` among the rows of `data` (row itself first).
public func exactNearestNeighbors(
    data: [Float], rows: Int, dim: Int, k: Int, threads: Int = UMAPOptions.defaultThreads
) -> KNNGraph {
    precondition(data.count == rows * dim)
    return data.withUnsafeBufferPointer { x in
        exactNearestNeighbors(queries: x.baseAddress!, queryRows: rows, references: x.baseAddress!,
                              referenceRows: rows, dim: dim, k: k, selfSearch: true, threads: threads)
    }
}

/// Exact k nearest neighbours of the rows `rows` of `data` among all its rows (row itself first): one
/// block of a search split over threads or worker processes. Returns a (rows.count, k) graph.
public func exactNearestNeighbors(rows: Range<Int>, data: [Float], dim: Int, k: Int) -> KNNGraph {
    let n = data.count / dim
    precondition(data.count == n * dim && rows.lowerBound >= 0 && rows.upperBound <= n)
    var indices = [Int32](repeating: -1, count: n * k)
    var distances = [Float](repeating: .infinity, count: n * k)
    data.withUnsafeBufferPointer { x in
        let norms = squaredRowNorms(x.baseAddress!, rows: n, dim: dim)
        norms.withUnsafeBufferPointer { np in
            indices.withUnsafeMutableBufferPointer { ip in
                distances.withUnsafeMutableBufferPointer { dp in
                    var r = rows.lowerBound
                    while r < rows.upperBound {
                        let block = r..<min(r + 64, rows.upperBound)
                        exactNeighborRows(block, queries: x.baseAddress!, references: x.baseAddress!,
                                          referenceNorms: np.baseAddress!, referenceRanges: [0..<n], dim: dim, k: k,
                                          selfSearch: true, indices: ip.baseAddress!, distances: dp.baseAddress!)
                        r = block.upperBound
                    }
                }
            }
        }
    }
    let range = (rows.lowerBound * k)..<(rows.upperBound * k)
    return KNNGraph(rows: rows.count, k: k, indices: Array(indices[range]), distances: Array(distances[range]))
}

/// Exact k nearest neighbours of each query row among the reference rows (no self convention).
public func exactNearestNeighbors(
    queries: [Float], queryRows: Int, references: [Float], referenceRows: Int, dim: Int, k: Int,
    threads: Int = UMAPOptions.defaultThreads
) -> KNNGraph {
    precondition(queries.count == queryRows * dim && references.count == referenceRows * dim)
    return queries.withUnsafeBufferPointer { q in
        references.withUnsafeBufferPointer { r in
            exactNearestNeighbors(queries: q.baseAddress!, queryRows: queryRows, references: r.baseAddress!,
                                  referenceRows: referenceRows, dim: dim, k: k, selfSearch: false,
                                  threads: threads)
        }
    }
}

func exactNearestNeighbors(
    queries: UnsafePointer<Float>, queryRows: Int, references: UnsafePointer<Float>, referenceRows: Int,
    dim: Int, k: Int, selfSearch: Bool, threads: Int
) -> KNNGraph {
    var indices = [Int32](repeating: -1, count: queryRows * k)
    var distances = [Float](repeating: .infinity, count: queryRows * k)
    let norms = squaredRowNorms(references, rows: referenceRows, dim: dim)
    let blockRows = 64
    let blocks = (queryRows + blockRows - 1) / blockRows
    indices.withUnsafeMutableBufferPointer { ip in
        distances.withUnsafeMutableBufferPointer { dp in
            norms.withUnsafeBufferPointer { np in
                let out = UncheckedSendable(value: (ip.baseAddress!, dp.baseAddress!, np.baseAddress!))
                let inp = UncheckedSendable(value: (queries, references))
                forEachBlock(blocks, threads: threads) { b, _ in
                    let rows = (b * blockRows)..<min(queryRows, (b + 1) * blockRows)
                    // Start at the references holding the queries: in locality-ordered data the
                    // threshold then drops early.
                    let split = min(referenceRows, rows.lowerBound / 1024 * 1024)
                    exactNeighborRows(rows, queries: inp.value.0, references: inp.value.1,
                                      referenceNorms: out.value.2, referenceRanges: [split..<referenceRows, 0..<split], dim: dim,
                                      k: k, selfSearch: selfSearch,
                                      indices: out.value.0, distances: out.value.1)
                }
            }
        }
    }
    return KNNGraph(rows: queryRows, k: k, indices: indices, distances: distances)
}

func squaredRowNorms(_ x: UnsafePointer<Float>, rows: Int, dim: Int) -> [Float] {
    var norms = [Float](repeating: 0, count: rows)
    for r in 0..<rows {
        let row = x + r * dim
        var s: Float = 0
        for d in 0..<dim { s += row[d] * row[d] }
        norms[r] = s
    }
    return norms
}

/// Exact neighbours for the query rows `rows` (at most 64 recommended) among the reference rows in
/// `referenceRanges` (all of them: one range 0..<referenceRows): writes the rows' k indices and
/// distances into `indices`/`distances` (indexed by query row). Reads only its inputs.
func exactNeighborRows(
    _ rows: Range<Int>, queries: UnsafePointer<Float>, references: UnsafePointer<Float>,
    referenceNorms: UnsafePointer<Float>, referenceRanges: [Range<Int>], dim: Int, k: Int, selfSearch: Bool,
    indices: UnsafeMutablePointer<Int32>, distances: UnsafeMutablePointer<Float>
) {
    let bq = rows.count
    if bq == 0 { return }
    let tile = 1024
    // Heap slots: self-search keeps k - 1 others (self is prepended).
    let kk = selfSearch ? k - 1 : k
    let tileBuffer = UnsafeMutablePointer<Float>.allocate(capacity: bq * tile)
    defer { tileBuffer.deallocate() }
    let heaps = TopKBuffers(count: bq, k: kk)
    defer { heaps.deallocate() }
    let q0 = rows.lowerBound
    for range in referenceRanges {
        var r0 = range.lowerBound
        while r0 < range.upperBound {
            let nb = min(tile, range.upperBound - r0)
            BLAS.sgemm(transB: true, m: bq, n: nb, k: dim, a: queries + q0 * dim, lda: dim,
                       b: references + r0 * dim, ldb: dim, c: tileBuffer, ldc: nb)
            scanTile(tileBuffer, queries: rows, referenceStart: r0, count: nb, norms: referenceNorms + r0,
                     heaps: heaps, selfSearch: selfSearch)
            r0 += nb
        }
    }
    for r in 0..<bq {
        let q = queries + (q0 + r) * dim
        var qn: Float = 0
        for d in 0..<dim { qn += q[d] * q[d] }
        let sorted = heaps.sortedEntries(r)
        let outI = indices + (q0 + r) * k, outD = distances + (q0 + r) * k
        var o = 0
        if selfSearch {
            outI[0] = Int32(q0 + r)
            outD[0] = 0
            o = 1
        }
        for (p, idx) in sorted {
            outI[o] = idx
            outD[o] = max(p + qn, 0).squareRoot()
            o += 1
        }
        while o < k {
            outI[o] = -1
            outD[o] = .infinity
            o += 1
        }
    }
}

/// Offers a tile of dot products (queries x `count` references) to the queries' heaps, keyed by
/// |y|² - 2 q·y (the squared distance less the query's constant |q|²).
@inline(__always)
func scanTile(_ tile: UnsafePointer<Float>, queries rows: Range<Int>, referenceStart r0: Int, count nb: Int,
              norms: UnsafePointer<Float>, heaps: TopKBuffers, selfSearch: Bool) {
    for r in 0..<rows.count {
        let qi = Int32(rows.lowerBound + r)
        let crow = tile + r * nb
        var j = 0
        while j + 8 <= nb {
            let dots = UnsafeRawPointer(crow + j).loadUnaligned(as: SIMD8<Float>.self)
            let n8 = UnsafeRawPointer(norms + j).loadUnaligned(as: SIMD8<Float>.self)
            let p = n8 - 2 * dots
            if anyLane(p .< SIMD8(repeating: heaps.threshold(r))) {
                for l in 0..<8 {
                    let idx = Int32(r0 + j + l)
                    if selfSearch && idx == qi { continue }
                    heaps.offer(r, p[l], idx)
                }
            }
            j += 8
        }
        while j < nb {
            let idx = Int32(r0 + j)
            if !(selfSearch && idx == qi) { heaps.offer(r, norms[j] - 2 * crow[j], idx) }
            j += 1
        }
    }
}

/// The k smallest keys offered, per query row, kept lazily: keys below the current threshold are
/// appended to a buffer of 4k; when it fills, a selection keeps the k smallest and lowers the
/// threshold to the k-th. Cheaper than a heap when many keys qualify early in a scan.
struct TopKBuffers {
    let k: Int
    let capacity: Int
    let keys: UnsafeMutablePointer<Float>
    let items: UnsafeMutablePointer<Int32>
    let counts: UnsafeMutablePointer<Int>
    let thresholds: UnsafeMutablePointer<Float>

    init(count: Int, k: Int) {
        self.k = max(k, 1)
        capacity = 4 * self.k
        keys = .allocate(capacity: count * capacity)
        items = .allocate(capacity: count * capacity)
        counts = .allocate(capacity: count)
        thresholds = .allocate(capacity: count)
        counts.initialize(repeating: 0, count: count)
        thresholds.initialize(repeating: .infinity, count: count)
    }

    func deallocate() {
        keys.deallocate()
        items.deallocate()
        counts.deallocate()
        thresholds.deallocate()
    }

    /// Keys at or above this cannot be among the k smallest.
    @inline(__always) func threshold(_ h: Int) -> Float { thresholds[h] }

    @inline(__always) func offer(_ h: Int, _ key: Float, _ item: Int32) {
        if !(key < thresholds[h]) { return }
        let n = counts[h]
        keys[h * capacity + n] = key
        items[h * capacity + n] = item
        counts[h] = n + 1
        if n + 1 == capacity { compact(h) }
    }

    func reset(_ h: Int) {
        counts[h] = 0
        thresholds[h] = .infinity
    }

    /// Keeps the k smallest buffered keys (quickselect) and sets the threshold to the k-th.
    func compact(_ h: Int) {
        let kp = keys + h * capacity, ip = items + h * capacity
        var lo = 0, hi = counts[h] - 1
        let target = k - 1
        while lo < hi {
            let pivot = kp[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while kp[i] < pivot { i += 1 }
                while kp[j] > pivot { j -= 1 }
                if i <= j {
                    (kp[i], kp[j]) = (kp[j], kp[i])
                    (ip[i], ip[j]) = (ip[j], ip[i])
                    i += 1
                    j -= 1
                }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { break }
        }
        counts[h] = k
        var largest = -Float.infinity
        for s in 0..<k { largest = max(largest, kp[s]) }
        thresholds[h] = largest
    }

    /// The (at most k) smallest, ascending, ties by item.
    func sortedEntries(_ h: Int) -> [(Float, Int32)] {
        if counts[h] > k { compact(h) }
        var e = (0..<counts[h]).map { (keys[h * capacity + $0], items[h * capacity + $0]) }
        e.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        return e
    }
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
