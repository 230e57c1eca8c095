// k-nearest-neighbour graphs, Euclidean.
//
// data is (rows, dim) row-major Float. A KNNGraph holds, per row, k neighbour indices and distances
// sorted ascending; in a graph of a data set with itself, neighbour 0 is the row itself at distance 0
// (umap-learn's convention: k = 40 means the point plus 39 others).
//
// Two searches:
// - exact: blocked sgemm (query block x reference tile of dot products) with a fused top-k scan
//   against each row's current k-th distance. The reference for recall; 3.7 TFLOP at 60,000 x 512.
// - approximate: exact search in a PCA projection (~32 dims) proposes neighbours, then
//   neighbours-of-neighbours refinement passes in the full dimension fix them. A previous graph
//   (last epoch's) can replace the PCA step: activations drift slowly, so 1-2 passes suffice.
// Both split into blocks of query rows that only read shared inputs (`exactNeighborRows`,
// `refineNeighborRows`), so the blocks can run on threads here or on worker processes.

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

/// One max-heap of (key, index) per query row, fixed capacity, initially all +infinity.
struct TopKHeaps {
    let capacity: Int
    let keys: UnsafeMutablePointer<Float>
    let items: UnsafeMutablePointer<Int32>

    init(count: Int, capacity: Int) {
        self.capacity = capacity
        keys = .allocate(capacity: max(1, count * capacity))
        items = .allocate(capacity: max(1, count * capacity))
        keys.initialize(repeating: .infinity, count: max(1, count * capacity))
        items.initialize(repeating: -1, count: max(1, count * capacity))
    }

    func deallocate() {
        keys.deallocate()
        items.deallocate()
    }

    @inline(__always) func top(_ h: Int) -> Float { capacity > 0 ? keys[h * capacity] : -.infinity }

    /// Replaces the largest key by (key, item) and restores the heap order.
    @inline(__always) func replaceTop(_ h: Int, _ key: Float, _ item: Int32) {
        let kp = keys + h * capacity, ip = items + h * capacity
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= capacity { break }
            var c = l
            if l + 1 < capacity && kp[l + 1] > kp[l] { c = l + 1 }
            if kp[c] <= key { break }
            kp[i] = kp[c]
            ip[i] = ip[c]
            i = c
        }
        kp[i] = key
        ip[i] = item
    }

    /// Empties heap h (all +infinity).
    func reset(_ h: Int) {
        (keys + h * capacity).update(repeating: .infinity, count: capacity)
        (items + h * capacity).update(repeating: -1, count: capacity)
    }

    func sortedEntries(_ h: Int) -> [(Float, Int32)] {
        var e = (0..<capacity).map { (keys[h * capacity + $0], items[h * capacity + $0]) }
        e.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        return e
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

// MARK: - Approximate search: PCA candidates, then neighbours-of-neighbours refinement

/// Knobs of the approximate search (Glassbox's own; umap-learn uses pynndescent instead).
public struct NeighborSearchOptions: Sendable, Equatable {
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
    public var convergence: Double = 0.001

    public init() {}
}

/// The rows of a data set in locality order (neighbours near each other in memory), as Float16 or
/// Float, for the refinement passes' random row reads. `order[p]` is the original row at position p;
/// `position[i]` the position of original row i. With `axes`, also the rows' projections on them
/// (orthonormal, e.g. principal axes): the distance between projections is a lower bound of the full
/// distance, which rules most candidates out at a fraction of the cost.
public struct LocalityOrderedRows: @unchecked Sendable {
    public let rows: Int
    public let dim: Int
    public let order: [Int32]
    public let position: [Int32]
    let half: [Float16]
    let single: [Float]
    /// Projections (rows, projectionDim) in locality order, or empty.
    public let projection: [Float]
    public let projectionDim: Int

    public var isHalfPrecision: Bool { !half.isEmpty }

    /// `projected`: the rows' projections on `axes` in original order, if already computed.
    init(data: UnsafePointer<Float>, rows: Int, dim: Int, order: [Int32], halfPrecision: Bool,
         axes: PrincipalComponents? = nil, projected known: [Float]? = nil, threads: Int = 1) {
        self.rows = rows
        self.dim = dim
        self.order = order
        var position = [Int32](repeating: 0, count: rows)
        for (p, i) in order.enumerated() { position[Int(i)] = Int32(p) }
        self.position = position
        if let axes {
            var projected = known ?? []
            if projected.isEmpty {
                projected = [Float](repeating: 0, count: rows * axes.count)
                projected.withUnsafeMutableBufferPointer { axes.project(data, rows: rows, into: $0.baseAddress!, threads: threads) }
            }
            var inOrder = [Float](repeating: 0, count: rows * axes.count)
            for p in 0..<rows {
                let i = Int(order[p])
                for d in 0..<axes.count { inOrder[p * axes.count + d] = projected[i * axes.count + d] }
            }
            projection = inOrder
            projectionDim = axes.count
        } else {
            projection = []
            projectionDim = 0
        }
        // Float16 only if every value fits (|x| < 65504); Glassbox activations and pixels do.
        var fits = halfPrecision
        if fits {
            for i in 0..<(rows * dim) where !(abs(data[i]) < 60_000) { fits = false; break }
        }
        if fits {
            var h = [Float16](repeating: 0, count: rows * dim)
            h.withUnsafeMutableBufferPointer { hp in
                for p in 0..<rows {
                    let src = data + Int(order[p]) * dim, dst = hp.baseAddress! + p * dim
                    for d in 0..<dim { dst[d] = Float16(src[d]) }
                }
            }
            half = h
            single = []
        } else {
            var s = [Float](repeating: 0, count: rows * dim)
            s.withUnsafeMutableBufferPointer { sp in
                for p in 0..<rows {
                    (sp.baseAddress! + p * dim).update(from: data + Int(order[p]) * dim, count: dim)
                }
            }
            half = []
            single = s
        }
    }

    /// Row p (locality order) as Float, into `out` (dim).
    @inline(__always)
    func load(_ p: Int, into out: UnsafeMutablePointer<Float>, _ store: RowStorage) {
        if let h = store.half {
            let src = h + p * dim
            for d in 0..<dim { out[d] = Float(src[d]) }
        } else {
            out.update(from: store.single! + p * dim, count: dim)
        }
    }

    func withStorage<R>(_ body: (RowStorage) -> R) -> R {
        projection.withUnsafeBufferPointer { pp in
            let bound = projectionDim > 0 ? pp.baseAddress : nil
            if isHalfPrecision {
                return half.withUnsafeBufferPointer {
                    body(RowStorage(half: $0.baseAddress!, single: nil, dim: dim, bound: bound, boundDim: projectionDim))
                }
            }
            return single.withUnsafeBufferPointer {
                body(RowStorage(half: nil, single: $0.baseAddress!, dim: dim, bound: bound, boundDim: projectionDim))
            }
        }
    }
}

/// Raw pointers to locality-ordered rows, for the hot loops.
struct RowStorage: @unchecked Sendable {
    let half: UnsafePointer<Float16>?
    let single: UnsafePointer<Float>?
    let dim: Int
    let bound: UnsafePointer<Float>?
    let boundDim: Int

    /// Squared distance between the projections of rows p and q: a lower bound of their squared
    /// distance (up to Float16 rounding of the stored rows).
    @inline(__always)
    func squaredLowerBound(_ p: Int, _ q: Int) -> Float {
        let a = bound! + p * boundDim, b = bound! + q * boundDim
        var acc = SIMD8<Float>()
        var d = 0
        while d + 8 <= boundDim {
            let e = UnsafeRawPointer(a + d).loadUnaligned(as: SIMD8<Float>.self) - UnsafeRawPointer(b + d).loadUnaligned(as: SIMD8<Float>.self)
            acc.addProduct(e, e)
            d += 8
        }
        var s = acc.sum()
        while d < boundDim { let e = a[d] - b[d]; s += e * e; d += 1 }
        return s
    }

    /// Squared Euclidean distance between the Float vector q (dim) and stored row p.
    @inline(__always)
    func squaredDistance(_ q: UnsafePointer<Float>, _ p: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var d = 0
        if let h = half {
            let row = UnsafeRawPointer(h + p * dim), qr = UnsafeRawPointer(q)
            while d + 16 <= dim {
                let x0 = SIMD8<Float>(row.loadUnaligned(fromByteOffset: 2 * d, as: SIMD8<Float16>.self))
                let x1 = SIMD8<Float>(row.loadUnaligned(fromByteOffset: 2 * d + 16, as: SIMD8<Float16>.self))
                let y0 = qr.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
                let y1 = qr.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
                let e0 = x0 - y0, e1 = x1 - y1
                acc0.addProduct(e0, e0)
                acc1.addProduct(e1, e1)
                d += 16
            }
            var s = (acc0 + acc1).sum()
            while d < dim {
                let e = Float(h[p * dim + d]) - q[d]
                s += e * e
                d += 1
            }
            return s
        }
        let base = single! + p * dim
        let row = UnsafeRawPointer(base), qr = UnsafeRawPointer(q)
        while d + 16 <= dim {
            let x0 = row.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            let x1 = row.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
            let y0 = qr.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            let y1 = qr.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
            let e0 = x0 - y0, e1 = x1 - y1
            acc0.addProduct(e0, e0)
            acc1.addProduct(e1, e1)
            d += 16
        }
        var s = (acc0 + acc1).sum()
        while d < dim {
            let e = base[d] - q[d]
            s += e * e
            d += 1
        }
        return s
    }
}

/// A breadth-first order of a kNN graph's rows (nearest neighbours first): rows close in the graph
/// end up close in the order, so a pass over consecutive rows reads nearby memory.
public func localityOrder(_ graph: KNNGraph) -> [Int32] {
    let n = graph.rows, k = graph.k
    var order = [Int32]()
    order.reserveCapacity(n)
    var seen = [Bool](repeating: false, count: n)
    var head = 0
    for start in 0..<n where !seen[start] {
        seen[start] = true
        order.append(Int32(start))
        while head < order.count {
            let u = Int(order[head])
            head += 1
            for j in 0..<k {
                let v = Int(graph.indices[u * k + j])
                if v >= 0 && !seen[v] {
                    seen[v] = true
                    order.append(Int32(v))
                }
            }
        }
    }
    return order
}

/// Neighbour lists in refinement form: graph in locality positions, plus which entries are new since
/// the previous pass (only pairs involving a new entry are compared again).
public struct RefinementGraph: Sendable {
    public var graph: KNNGraph
    public var isNew: [Bool]
}

/// The entries pointing at each row, restricted to new entries and at most `cap` per row
/// (CSR: `items[start[i]..<start[i + 1]]` are rows r with i among r's new neighbours).
public struct ReverseNeighbors: Sendable {
    public let start: [Int32]
    public let items: [Int32]

    public init(_ g: RefinementGraph, cap: Int) {
        let n = g.graph.rows, k = g.graph.k
        var count = [Int32](repeating: 0, count: n + 1)
        for i in 0..<n {
            for j in 1..<k where g.isNew[i * k + j] {
                let l = Int(g.graph.indices[i * k + j])
                if l >= 0 && count[l + 1] < cap { count[l + 1] += 1 }
            }
        }
        for i in 0..<n { count[i + 1] += count[i] }
        var fill = Array(count[0..<n])
        var items = [Int32](repeating: 0, count: Int(count[n]))
        for i in 0..<n {
            for j in 1..<k where g.isNew[i * k + j] {
                let l = Int(g.graph.indices[i * k + j])
                if l >= 0 && fill[l] < count[l + 1] {
                    items[Int(fill[l])] = Int32(i)
                    fill[l] += 1
                }
            }
        }
        start = count
        self.items = items
    }
}

/// One neighbours-of-neighbours pass for the rows `rows` of `current` (all in locality positions):
/// each row's candidates are the neighbours of its `expansion` nearest neighbours and the rows that
/// newly point at it; candidates are compared in the full dimension and the row's k best kept.
/// Pure: reads `current`, `reverse` and `data`, writes only the rows `rows` of `next`.
/// Returns the number of entries that changed.
public func refineNeighbors(
    rows: Range<Int>, current: RefinementGraph, reverse: ReverseNeighbors, data: LocalityOrderedRows,
    expansion: Int, next: inout RefinementGraph
) -> Int {
    let k = current.graph.k
    let stamps = UnsafeMutablePointer<Int32>.allocate(capacity: current.graph.rows)
    stamps.initialize(repeating: -1, count: current.graph.rows)
    let query = UnsafeMutablePointer<Float>.allocate(capacity: data.dim)
    defer { stamps.deallocate(); query.deallocate() }
    return data.withStorage { store in
        current.graph.indices.withUnsafeBufferPointer { ci in
            current.graph.distances.withUnsafeBufferPointer { cd in
                current.isNew.withUnsafeBufferPointer { cn in
                    reverse.start.withUnsafeBufferPointer { rs in
                        reverse.items.withUnsafeBufferPointer { ri in
                            next.graph.indices.withUnsafeMutableBufferPointer { ni in
                                next.graph.distances.withUnsafeMutableBufferPointer { nd in
                                    next.isNew.withUnsafeMutableBufferPointer { nn in
                                        refineNeighborRows(
                                            rows, k: k, indices: ci.baseAddress!, distances: cd.baseAddress!,
                                            isNew: cn.baseAddress!, reverseStart: rs.baseAddress!,
                                            reverseItems: ri.baseAddress!, store: store, data: data,
                                            expansion: expansion, outIndices: ni.baseAddress!,
                                            outDistances: nd.baseAddress!, outIsNew: nn.baseAddress!,
                                            stamps: stamps, query: query)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

func refineNeighborRows(
    _ rows: Range<Int>, k: Int, indices: UnsafePointer<Int32>, distances: UnsafePointer<Float>,
    isNew: UnsafePointer<Bool>, reverseStart: UnsafePointer<Int32>, reverseItems: UnsafePointer<Int32>,
    store: RowStorage, data: LocalityOrderedRows, expansion: Int,
    outIndices: UnsafeMutablePointer<Int32>, outDistances: UnsafeMutablePointer<Float>,
    outIsNew: UnsafeMutablePointer<Bool>, stamps: UnsafeMutablePointer<Int32>,
    query: UnsafeMutablePointer<Float>
) -> Int {
    var changes = 0
    let expand = min(expansion, k - 1)
    for i in rows {
        let row = i * k
        let li = outIndices + row, ld = outDistances + row, ln = outIsNew + row
        // The row's list as it stands: self at 0, then ascending, all old.
        for s in 0..<k {
            li[s] = indices[row + s]
            ld[s] = distances[row + s]
            ln[s] = false
            if li[s] >= 0 { stamps[Int(li[s])] = Int32(i) }
        }
        stamps[i] = Int32(i)
        data.load(i, into: query, store)
        var worst = ld[k - 1]

        @inline(__always) func consider(_ c: Int) {
            stamps[c] = Int32(i)
            // The projections' distance bounds the full one from below (0.1% slack for Float16).
            if store.bound != nil && store.squaredLowerBound(i, c) * 0.999 >= worst * worst { return }
            let d = store.squaredDistance(query, c).squareRoot()
            if d < worst {
                var s = k - 1
                while s > 1 && ld[s - 1] > d {
                    li[s] = li[s - 1]
                    ld[s] = ld[s - 1]
                    ln[s] = ln[s - 1]
                    s -= 1
                }
                li[s] = Int32(c)
                ld[s] = d
                ln[s] = true
                worst = ld[k - 1]
                changes += 1
            }
        }

        // Neighbours of the nearest neighbours (a pair is compared again only if an entry is new).
        if expand > 0 {
            for s in 1...expand {
                let j = Int(indices[row + s])
                if j < 0 { continue }
                let jNew = isNew[row + s]
                let jrow = j * k
                for t in 1..<k {
                    let c = Int(indices[jrow + t])
                    if c < 0 || stamps[c] == Int32(i) { continue }
                    if !(jNew || isNew[jrow + t]) { continue }
                    consider(c)
                }
            }
        }
        // Rows that newly found this one.
        for r in Int(reverseStart[i])..<Int(reverseStart[i + 1]) {
            let c = Int(reverseItems[r])
            if stamps[c] != Int32(i) { consider(c) }
        }
    }
    return changes
}

/// Distances in the full dimension for a graph's entries (rows and indices in locality positions);
/// each row sorted, cut to its `keep` nearest, self first, all entries marked new.
func refinementStart(_ g: KNNGraph, data: LocalityOrderedRows, keep k: Int, threads: Int) -> RefinementGraph {
    let n = g.rows, kIn = g.k
    var indices = [Int32](repeating: -1, count: n * k)
    var distances = [Float](repeating: .infinity, count: n * k)
    let blocks = max(1, min(n, threads * 8))
    data.withStorage { store in
        g.indices.withUnsafeBufferPointer { gi in
            indices.withUnsafeMutableBufferPointer { ip in
                distances.withUnsafeMutableBufferPointer { dp in
                    let p = UncheckedSendable(value: (gi.baseAddress!, ip.baseAddress!, dp.baseAddress!))
                    forEachBlock(blocks, threads: threads) { b, _ in
                        let (gi, outI, outD) = p.value
                        let query = UnsafeMutablePointer<Float>.allocate(capacity: data.dim)
                        defer { query.deallocate() }
                        var entries = [(Float, Int32)]()
                        entries.reserveCapacity(kIn)
                        for i in blockRange(b, of: blocks, count: n) {
                            data.load(i, into: query, store)
                            entries.removeAll(keepingCapacity: true)
                            for s in 0..<kIn {
                                let j = gi[i * kIn + s]
                                if j < 0 || Int(j) == i || entries.contains(where: { $0.1 == j }) { continue }
                                entries.append((store.squaredDistance(query, Int(j)).squareRoot(), j))
                            }
                            entries.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                            outI[i * k] = Int32(i)
                            outD[i * k] = 0
                            for s in 1..<k where s - 1 < entries.count {
                                outI[i * k + s] = entries[s - 1].1
                                outD[i * k + s] = entries[s - 1].0
                            }
                        }
                    }
                }
            }
        }
    }
    return RefinementGraph(graph: KNNGraph(rows: n, k: k, indices: indices, distances: distances),
                           isNew: [Bool](repeating: true, count: n * k))
}

/// Runs refinement passes over all rows (row blocks on threads, one barrier per pass).
func refine(_ start: RefinementGraph, data: LocalityOrderedRows, passes: Int, expansion: Int,
            convergence: Double, threads: Int) -> RefinementGraph {
    var current = start
    let n = current.graph.rows, k = current.graph.k
    for _ in 0..<passes {
        let reverse = ReverseNeighbors(current, cap: k)
        var next = current
        let blocks = max(1, min(n, threads * 16))
        var changes = [Int](repeating: 0, count: blocks)
        data.withStorage { store in
            current.graph.indices.withUnsafeBufferPointer { ci in
                current.graph.distances.withUnsafeBufferPointer { cd in
                    current.isNew.withUnsafeBufferPointer { cn in
                        reverse.start.withUnsafeBufferPointer { rs in
                            reverse.items.withUnsafeBufferPointer { ri in
                                next.graph.indices.withUnsafeMutableBufferPointer { ni in
                                    next.graph.distances.withUnsafeMutableBufferPointer { nd in
                                        next.isNew.withUnsafeMutableBufferPointer { nn in
                                            changes.withUnsafeMutableBufferPointer { ch in
                                                let p = UncheckedSendable(value: (
                                                    ci.baseAddress!, cd.baseAddress!, cn.baseAddress!,
                                                    rs.baseAddress!, ri.baseAddress!, ni.baseAddress!,
                                                    nd.baseAddress!, nn.baseAddress!, ch.baseAddress!))
                                                let t = max(1, min(threads, blocks))
                                                let stamps = UnsafeMutablePointer<Int32>.allocate(capacity: t * n)
                                                stamps.initialize(repeating: -1, count: t * n)
                                                let queries = UnsafeMutablePointer<Float>.allocate(capacity: t * data.dim)
                                                defer { stamps.deallocate(); queries.deallocate() }
                                                let scratch = UncheckedSendable(value: (stamps, queries))
                                                forEachBlock(blocks, threads: t) { b, thread in
                                                    let v = p.value
                                                    v.8[b] = refineNeighborRows(
                                                        blockRange(b, of: blocks, count: n), k: k,
                                                        indices: v.0, distances: v.1, isNew: v.2,
                                                        reverseStart: v.3, reverseItems: v.4, store: store,
                                                        data: data, expansion: expansion, outIndices: v.5,
                                                        outDistances: v.6, outIsNew: v.7,
                                                        stamps: scratch.value.0 + thread * n,
                                                        query: scratch.value.1 + thread * data.dim)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        current = next
        if Double(changes.reduce(0, +)) < convergence * Double(n * k) { break }
    }
    return current
}

/// Maps a graph in locality positions back to original row numbering.
func originalOrder(_ g: KNNGraph, data: LocalityOrderedRows) -> KNNGraph {
    let n = g.rows, k = g.k
    var indices = [Int32](repeating: -1, count: n * k)
    var distances = [Float](repeating: .infinity, count: n * k)
    for i in 0..<n {
        let p = Int(data.position[i])
        for s in 0..<k {
            let j = g.indices[p * k + s]
            indices[i * k + s] = j < 0 ? -1 : data.order[Int(j)]
            distances[i * k + s] = g.distances[p * k + s]
        }
    }
    return KNNGraph(rows: n, k: k, indices: indices, distances: distances)
}

/// Maps a graph in original numbering to locality positions.
func localityPositions(_ g: KNNGraph, data: LocalityOrderedRows) -> KNNGraph {
    let n = g.rows, k = g.k
    var indices = [Int32](repeating: -1, count: n * k)
    var distances = [Float](repeating: .infinity, count: n * k)
    for p in 0..<n {
        let i = Int(data.order[p])
        for s in 0..<k {
            let j = g.indices[i * k + s]
            indices[p * k + s] = j < 0 ? -1 : data.position[Int(j)]
            distances[p * k + s] = g.distances[i * k + s]
        }
    }
    return KNNGraph(rows: n, k: k, indices: indices, distances: distances)
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
/// earlier PCA, still a valid projection for the bounds) if given.
public func approximateNearestNeighbors(
    data: [Float], rows: Int, dim: Int, k: Int, options: NeighborSearchOptions = NeighborSearchOptions(),
    previous: KNNGraph? = nil, axes: PrincipalComponents? = nil, seed: UInt64 = 0,
    threads: Int = UMAPOptions.defaultThreads
) -> (graph: KNNGraph, index: NeighborIndex) {
    precondition(data.count == rows * dim && k >= 1 && k <= rows)
    return data.withUnsafeBufferPointer { xb in
        let x = xb.baseAddress!
        if let previous, previous.rows == rows {
            // Warm: the previous graph's neighbours, re-measured, then refinement passes.
            let startGraph = previous.k == k ? previous : resized(previous, k: k)
            let axes = axes ?? principalComponents(x, rows: rows, dim: dim, count: options.pcaDimensions, seed: seed,
                                                    threads: threads)
            let ordered = LocalityOrderedRows(data: x, rows: rows, dim: dim, order: localityOrder(startGraph),
                                              halfPrecision: options.halfPrecision, axes: axes, threads: threads)
            let start = refinementStart(localityPositions(startGraph, data: ordered), data: ordered, keep: k,
                                        threads: threads)
            let refined = refine(start, data: ordered, passes: options.warmRefinementPasses,
                                 expansion: options.expansion, convergence: options.convergence, threads: threads)
            let index = NeighborIndex(rows: ordered, graph: refined.graph, axes: axes, cells: nil,
                                      probes: options.cellProbes, candidates: options.candidates)
            return (originalOrder(refined.graph, data: ordered), index)
        }
        // Fresh: cells by k-means in the PCA projection, rows ordered by cell (then first principal
        // component) so each cell is contiguous and neighbours are near in memory.
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
        let (cellIndex, candidates) = ordered.projection.withUnsafeBufferPointer { pp in
            let cellIndex = CellIndex(points: pp.baseAddress!, rows: rows, dim: pca.count, cellOf: cellOf, cells: cells)
            let candidates = cellIndex.search(pp.baseAddress!, queryRows: rows, probes: options.cellProbes,
                                              k: min(rows, max(k, options.candidates)), selfPositions: 0, threads: threads)
            return (cellIndex, candidates)
        }
        let start = refinementStart(candidates, data: ordered, keep: k, threads: threads)
        let refined = refine(start, data: ordered, passes: options.refinementPasses, expansion: options.expansion,
                             convergence: options.convergence, threads: threads)
        let index = NeighborIndex(rows: ordered, graph: refined.graph, axes: pca, cells: cellIndex,
                                  probes: options.cellProbes, candidates: options.candidates)
        return (originalOrder(refined.graph, data: ordered), index)
    }
}

/// Rows cut into cells (k-means clusters) for inverted-file search: a query is compared only with
/// the rows of the `probes` cells whose centroids are nearest to it. Rows are in positions where each
/// cell is contiguous; they are stored dimension-major in chunks of 8 rows, so one vector instruction
/// advances 8 distances.
public struct CellIndex: Sendable {
    public let dim: Int
    public let cellCount: Int
    let centroids: [Float]
    let centroidNorms: [Float]
    /// Cell c holds positions cellStart[c]..<cellStart[c + 1], in chunks chunkStart[c]..<chunkStart[c + 1].
    let cellStart: [Int]
    let chunkStart: [Int]
    /// Chunk t: dim x 8 floats; padding lanes sit far away so they never qualify.
    let packed: [Float]

    /// `points` (rows, dim) in positions with `cellOf` (each row's cell) non-decreasing.
    init(points: UnsafePointer<Float>, rows: Int, dim: Int, cellOf: [Int32], cells: KMeansClusters) {
        self.dim = dim
        cellCount = cells.count
        centroids = cells.centroids
        centroidNorms = (0..<cells.count).map { c in
            (0..<dim).reduce(Float(0)) { $0 + cells.centroids[c * dim + $1] * cells.centroids[c * dim + $1] }
        }
        var start = [Int](repeating: 0, count: cellCount + 1)
        for c in cellOf { start[Int(c) + 1] += 1 }
        for c in 0..<cellCount { start[c + 1] += start[c] }
        var chunks = [Int](repeating: 0, count: cellCount + 1)
        for c in 0..<cellCount { chunks[c + 1] = chunks[c] + (start[c + 1] - start[c] + 7) / 8 }
        var packed = [Float](repeating: 1e18, count: chunks[cellCount] * dim * 8)
        for c in 0..<cellCount {
            for r in start[c]..<start[c + 1] {
                let local = r - start[c]
                let base = (chunks[c] + local / 8) * dim * 8 + local % 8
                for d in 0..<dim { packed[base + d * 8] = points[r * dim + d] }
            }
        }
        cellStart = start
        chunkStart = chunks
        self.packed = packed
    }

    /// The k nearest indexed positions of each query (queryRows, dim) among its `probes` nearest
    /// cells, by squared distance in this space, ascending. With `selfPositions`, query i is indexed
    /// row selfPositions + i: it is excluded and put first at distance 0 (k - 1 others follow).
    func search(_ queries: UnsafePointer<Float>, queryRows: Int, probes: Int, k: Int, selfPositions: Int? = nil,
                threads: Int) -> KNNGraph {
        let probeCount = min(probes, cellCount)
        let others = selfPositions == nil ? k : k - 1
        var indices = [Int32](repeating: -1, count: queryRows * k)
        var distances = [Float](repeating: .infinity, count: queryRows * k)
        let blockRows = 256
        let blocks = (queryRows + blockRows - 1) / blockRows
        packed.withUnsafeBufferPointer { pk in
            centroids.withUnsafeBufferPointer { cp in
                indices.withUnsafeMutableBufferPointer { ip in
                    distances.withUnsafeMutableBufferPointer { dp in
                        let p = UncheckedSendable(value: (pk.baseAddress!, cp.baseAddress!, ip.baseAddress!, dp.baseAddress!))
                        forEachBlock(blocks, threads: threads) { b, _ in
                            let (packed, centroids, outI, outD) = p.value
                            let r0 = b * blockRows, r1 = min(queryRows, r0 + blockRows)
                            // Distances (less |q|²) from the block's queries to every centroid.
                            let toCentroids = UnsafeMutablePointer<Float>.allocate(capacity: (r1 - r0) * cellCount)
                            defer { toCentroids.deallocate() }
                            BLAS.sgemm(transB: true, m: r1 - r0, n: cellCount, k: dim, a: queries + r0 * dim, lda: dim,
                                       b: centroids, ldb: dim, c: toCentroids, ldc: cellCount)
                            let best = TopKBuffers(count: 1, k: others)
                            let nearestCells = TopKBuffers(count: 1, k: probeCount)
                            defer { best.deallocate(); nearestCells.deallocate() }
                            for r in r0..<r1 {
                                nearestCells.reset(0)
                                let row = toCentroids + (r - r0) * cellCount
                                for c in 0..<cellCount { nearestCells.offer(0, centroidNorms[c] - 2 * row[c], Int32(c)) }
                                best.reset(0)
                                let q = queries + r * dim
                                let me = selfPositions.map { $0 + r } ?? -1
                                for (_, cell) in nearestCells.sortedEntries(0) {
                                    let c = Int(cell)
                                    for t in chunkStart[c]..<chunkStart[c + 1] {
                                        let chunk = packed + t * dim * 8
                                        var acc = SIMD8<Float>()
                                        for d in 0..<dim {
                                            let e = UnsafeRawPointer(chunk + d * 8).loadUnaligned(as: SIMD8<Float>.self) - q[d]
                                            acc.addProduct(e, e)
                                        }
                                        if anyLane(acc .< SIMD8(repeating: best.threshold(0))) {
                                            let first = cellStart[c] + (t - chunkStart[c]) * 8
                                            for l in 0..<8 where first + l != me { best.offer(0, acc[l], Int32(first + l)) }
                                        }
                                    }
                                }
                                var o = r * k
                                if me >= 0 {
                                    outI[o] = Int32(me)
                                    outD[o] = 0
                                    o += 1
                                }
                                for (d2, j) in best.sortedEntries(0) {
                                    outI[o] = j
                                    outD[o] = d2
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return KNNGraph(rows: queryRows, k: k, indices: indices, distances: distances)
    }
}

/// A graph cut or padded to k neighbours per row.
func resized(_ g: KNNGraph, k: Int) -> KNNGraph {
    var indices = [Int32](repeating: -1, count: g.rows * k)
    var distances = [Float](repeating: .infinity, count: g.rows * k)
    for i in 0..<g.rows {
        for s in 0..<min(k, g.k) {
            indices[i * k + s] = g.indices[i * g.k + s]
            distances[i * k + s] = g.distances[i * g.k + s]
        }
    }
    return KNNGraph(rows: g.rows, k: k, indices: indices, distances: distances)
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
