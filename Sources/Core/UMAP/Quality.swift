// How good a map is: trustworthiness (are a point's 2-D neighbours its neighbours in the data?),
// the accuracy of a kNN classifier in the map, and how far points move between consecutive maps.

/// Trustworthiness at k (Venna & Kaski; sklearn.manifold.trustworthiness) of `embedding`
/// (rows, embeddingDim) for `data` (rows, dim), on a random sample of `sampleSize` rows (all if nil):
///     T = 1 - 2 / (n·k·(2n - 3k - 1)) · Σ_i Σ_{j in k-NN of i in the map} max(0, rank_i(j) - k),
/// with rank_i(j) the position of j among i's neighbours in the data (exact, full dimension), both
/// computed within the sample as sklearn does on the arrays it is given.
public func trustworthiness(
    data: [Float], dim: Int, embedding: [Float], embeddingDim: Int = 2, k: Int = 10,
    sampleSize: Int? = nil, seed: UInt64 = 0, threads: Int = UMAPOptions.defaultThreads
) -> Double {
    let rows = data.count / dim
    precondition(embedding.count == rows * embeddingDim)
    var sample = Array(0..<rows)
    if let sampleSize, sampleSize < rows {
        var g = SplitMix64(seed: seed, stream: .sampling)
        sample = Array(seededPermutation(count: rows, generator: &g).prefix(sampleSize)).sorted()
    }
    let n = sample.count
    precondition(n > 3 * k + 1, "trustworthiness needs more than 3k + 1 points")
    var x = [Float](repeating: 0, count: n * dim)
    var y = [Float](repeating: 0, count: n * embeddingDim)
    for (s, i) in sample.enumerated() {
        for d in 0..<dim { x[s * dim + d] = data[i * dim + d] }
        for d in 0..<embeddingDim { y[s * embeddingDim + d] = embedding[i * embeddingDim + d] }
    }
    let mapNeighbors = embeddingDim == 2
        ? planarNearestNeighbors(points: y, k: k + 1, threads: threads)
        : exactNearestNeighbors(data: y, rows: n, dim: embeddingDim, k: k + 1, threads: threads)
    let norms = x.withUnsafeBufferPointer { squaredRowNorms($0.baseAddress!, rows: n, dim: dim) }
    let blockRows = 128
    var penalties = [Double](repeating: 0, count: rowBlockCount(n, blockRows: blockRows))
    x.withUnsafeBufferPointer { xp in
        norms.withUnsafeBufferPointer { norms in
            penalties.withUnsafeMutableBufferPointer { out in
                forEachRowBlockProduct(xp.baseAddress!, rows: n, xp.baseAddress!, yRows: n, dim: dim,
                                       blockRows: blockRows, threads: threads) { b, block, dots in
                    var penalty = 0.0
                    for i in block {
                        // Squared distances up to the constant |x_i|² (irrelevant for ranks).
                        let row = dots + (i - block.lowerBound) * n
                        for l in 0..<n { row[l] = norms[l] - 2 * row[l] }
                        for s in 1...k {
                            let j = Int(mapNeighbors.indices[i * (k + 1) + s])
                            if j < 0 { continue }
                            let dj = row[j]
                            // rank: 1 + points (other than i) strictly closer, or tied with a lower index.
                            var rank = 1 + countBelow(row, count: j, dj, orEqual: true)
                                + countBelow(row + j, count: n - j, dj, orEqual: false)
                            if i < j ? row[i] <= dj : row[i] < dj { rank -= 1 }
                            if rank > k { penalty += Double(rank - k) }
                        }
                    }
                    out[b] = penalty
                }
            }
        }
    }
    let total = penalties.reduce(0, +)
    let nd = Double(n), kd = Double(k)
    return 1 - total * 2 / (nd * kd * (2 * nd - 3 * kd - 1))
}

/// How many of `values[0..<count]` are below `threshold` (or equal to it, with `orEqual`); NaN counts as neither.
@inline(__always)
private func countBelow(_ values: UnsafeMutablePointer<Float>, count: Int, _ threshold: Float, orEqual: Bool) -> Int {
    let t = SIMD16<Float>(repeating: threshold)
    var counts = SIMD16<Int32>()
    var l = 0
    let raw = UnsafeRawPointer(values)
    while l + 16 <= count {
        let v = raw.loadUnaligned(fromByteOffset: l * 4, as: SIMD16<Float>.self)
        counts &+= SIMD16<Int32>().replacing(with: 1, where: orEqual ? v .<= t : v .< t)
        l += 16
    }
    var total = Int(counts.wrappedSum())
    while l < count {
        if orEqual ? values[l] <= threshold : values[l] < threshold { total += 1 }
        l += 1
    }
    return total
}

/// Accuracy of a k-nearest-neighbour majority vote (ties to the smallest label, as sklearn's
/// KNeighborsClassifier) from the labelled training map to the test points, in the map's space.
public func knnClassifierAccuracy(
    trainEmbedding: [Float], trainLabels: [Int32], testEmbedding: [Float], testLabels: [Int32],
    dim: Int = 2, k: Int = 10, threads: Int = UMAPOptions.defaultThreads
) -> Double {
    let trainRows = trainLabels.count, testRows = testLabels.count
    precondition(trainEmbedding.count == trainRows * dim && testEmbedding.count == testRows * dim)
    let knn = dim == 2
        ? planarNearestNeighbors(queries: testEmbedding, references: trainEmbedding, k: k, threads: threads)
        : exactNearestNeighbors(queries: testEmbedding, queryRows: testRows, references: trainEmbedding,
                                referenceRows: trainRows, dim: dim, k: k, threads: threads)
    var correct = 0
    var votes = [Int32: Int]()
    for i in 0..<testRows {
        votes.removeAll(keepingCapacity: true)
        for s in 0..<k {
            let j = knn.indices[i * k + s]
            if j >= 0 { votes[trainLabels[Int(j)], default: 0] += 1 }
        }
        let best = votes.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
        if best == testLabels[i] { correct += 1 }
    }
    return Double(correct) / Double(max(testRows, 1))
}

/// Mean distance a point moves from `previous` to `current` (both (rows, dim)), divided by the RMS
/// distance of `previous`'s points from their centroid: how steady consecutive frames are.
public func frameDisplacement(from previous: [Float], to current: [Float], dim: Int = 2) -> Double {
    precondition(previous.count == current.count && previous.count % dim == 0)
    let rows = previous.count / dim
    var centroid = [Double](repeating: 0, count: dim)
    for r in 0..<rows { for d in 0..<dim { centroid[d] += Double(previous[r * dim + d]) } }
    for d in 0..<dim { centroid[d] /= Double(rows) }
    var moved = 0.0, radius = 0.0
    for r in 0..<rows {
        var m = 0.0, s = 0.0
        for d in 0..<dim {
            let t = Double(current[r * dim + d] - previous[r * dim + d]); m += t * t
            let u = Double(previous[r * dim + d]) - centroid[d]; s += u * u
        }
        moved += m.squareRoot()
        radius += s
    }
    let rms = (radius / Double(rows)).squareRoot()
    return rms > 0 ? moved / Double(rows) / rms : 0
}
