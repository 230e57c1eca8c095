// Inverted-file search: rows cut into cells (k-means clusters of their projections); a query is
// compared only with the rows of the cells nearest to it.

/// Rows cut into cells (k-means clusters) for inverted-file search: a query is compared only with
/// the rows of the `probes` cells whose centroids are nearest to it. Rows are in positions where each
/// cell is contiguous; they are stored dimension-major in chunks of 8 rows, so one vector instruction
/// advances 8 distances.
public struct CellIndex: Sendable {
    public let dim: Int
    public let cellCount: Int
    /// The cells' centroids (cellCount, dim).
    public let centroids: [Float]
    let centroidNorms: [Float]
    /// Cell c holds positions cellStart[c]..<cellStart[c + 1], in chunks chunkStart[c]..<chunkStart[c + 1].
    public let cellStart: [Int]
    let chunkStart: [Int]
    /// Chunk t: dim x 8 floats; padding lanes sit far away so they never qualify.
    let packed: [Float]

    /// `points` (rows, dim) in positions with `cellOf` (each row's cell) non-decreasing.
    init(points: UnsafePointer<Float>, rows: Int, dim: Int, cellOf: [Int32], cells: KMeansClusters) {
        var start = [Int](repeating: 0, count: cells.count + 1)
        for c in cellOf { start[Int(c) + 1] += 1 }
        for c in 0..<cells.count { start[c + 1] += start[c] }
        self.init(points: points, dim: dim, cellStart: start, centroids: cells.centroids)
    }

    /// `points` (cellStart.last, dim) in positions, cell c holding positions cellStart[c]..<cellStart[c + 1]
    /// (non-decreasing from 0), with `centroids` (cellStart.count - 1, dim): e.g. an index rebuilt by a worker.
    public init(points: UnsafePointer<Float>, dim: Int, cellStart start: [Int], centroids: [Float]) {
        precondition(start.count >= 2 && start[0] == 0 && centroids.count == (start.count - 1) * dim)
        self.dim = dim
        cellCount = start.count - 1
        self.centroids = centroids
        centroidNorms = (0..<cellCount).map { c in
            (0..<dim).reduce(Float(0)) { $0 + centroids[c * dim + $1] * centroids[c * dim + $1] }
        }
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
        let blockRows = cellSearchBlockRows
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
