// k-means (Lloyd's algorithm), used to cut the neighbour search into cells: points search only the
// cells nearest their own. data is (rows, dim) row-major; distances to centroids come from sgemm.

/// Clusters of a data set: `centroids` (count, dim) and each row's cluster.
public struct KMeansClusters: Sendable {
    public let count: Int
    public let dim: Int
    public let centroids: [Float]
    public let assignment: [Int32]
}

/// Lloyd's k-means from `count` distinct random rows, `iterations` rounds; empty clusters are
/// re-seeded at random rows.
public func kMeans(
    data: [Float], rows: Int, dim: Int, count requested: Int, iterations: Int = 6, seed: UInt64 = 0,
    threads: Int = UMAPOptions.defaultThreads
) -> KMeansClusters {
    precondition(data.count == rows * dim && rows > 0)
    let count = max(1, min(requested, rows))
    var random = SplitMix64(seed: seed, .kMeans)
    let picks = seededPermutation(count: rows, generator: &random).prefix(count)
    var centroids = [Float](repeating: 0, count: count * dim)
    for (c, r) in picks.enumerated() {
        for d in 0..<dim { centroids[c * dim + d] = data[r * dim + d] }
    }
    var assignment = [Int32](repeating: 0, count: rows)
    for iteration in 0...iterations {
        assignment = nearestCentroids(data: data, rows: rows, dim: dim, centroids: centroids, count: count,
                                      threads: threads)
        if iteration == iterations { break }
        var sums = [Double](repeating: 0, count: count * dim)
        var sizes = [Int](repeating: 0, count: count)
        for r in 0..<rows {
            let c = Int(assignment[r])
            sizes[c] += 1
            for d in 0..<dim { sums[c * dim + d] += Double(data[r * dim + d]) }
        }
        for c in 0..<count {
            if sizes[c] == 0 {
                let r = random.nextInt(below: rows)
                for d in 0..<dim { centroids[c * dim + d] = data[r * dim + d] }
            } else {
                for d in 0..<dim { centroids[c * dim + d] = Float(sums[c * dim + d] / Double(sizes[c])) }
            }
        }
    }
    return KMeansClusters(count: count, dim: dim, centroids: centroids, assignment: assignment)
}

/// The nearest of `count` centroids (count, dim) for each row.
func nearestCentroids(data: [Float], rows: Int, dim: Int, centroids: [Float], count: Int, threads: Int) -> [Int32] {
    var norms = [Float](repeating: 0, count: count)
    for c in 0..<count {
        var s: Float = 0
        for d in 0..<dim { s += centroids[c * dim + d] * centroids[c * dim + d] }
        norms[c] = s
    }
    var assignment = [Int32](repeating: 0, count: rows)
    data.withUnsafeBufferPointer { x in
        centroids.withUnsafeBufferPointer { cp in
            assignment.withUnsafeMutableBufferPointer { out in
                forEachRowBlockProduct(x.baseAddress!, rows: rows, cp.baseAddress!, yRows: count, dim: dim,
                                       blockRows: 512, threads: threads) { _, block, dots in
                    for r in block {
                        var best = Float.infinity, bestC = 0
                        let row = dots + (r - block.lowerBound) * count
                        for c in 0..<count {
                            let v = norms[c] - 2 * row[c]
                            if v < best { best = v; bestC = c }
                        }
                        out[r] = Int32(bestC)
                    }
                }
            }
        }
    }
    return assignment
}
