// Exact k-nearest-neighbour search, Euclidean: blocked sgemm (a block of query rows x a tile of
// reference rows of dot products) with a fused top-k scan against each row's current k-th distance.
// The reference that the approximate search (NearestNeighbors.swift) is measured against, and the
// search of small sets (maps, projections). Query blocks only read shared inputs, so they run on any
// thread or worker process.

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
