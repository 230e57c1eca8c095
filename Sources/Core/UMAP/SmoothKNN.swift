#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

// umap-learn's `smooth_knn_dist`: for each point, rho (the distance to its nearest neighbour at
// local_connectivity 1) and sigma such that
//     sum over neighbours j = 1..<k of exp(-max(0, d_j - rho) / sigma) = log2(k) · bandwidth,
// found by at most 64 bisection steps to within 1e-5. distances is (rows, k), sorted per row,
// neighbour 0 being the point itself in a graph of the data with itself.

let smoothKTolerance = 1e-5
let minKDistScale: Float = 1e-3

/// Per-point scales (sigma) and local-connectivity offsets (rho) of a kNN graph.
/// `nNeighbors` is the k of the target log2(k) (umap-learn passes n_neighbors as a float).
public func smoothKNNDistances(
    _ graph: KNNGraph, nNeighbors: Float, localConnectivity: Float = 1, bandwidth: Float = 1,
    iterations: Int = 64, threads: Int = UMAPOptions.defaultThreads
) -> (sigmas: [Float], rhos: [Float]) {
    let n = graph.rows
    var sigmas = [Float](repeating: 0, count: n)
    var rhos = [Float](repeating: 0, count: n)
    // umap-learn: np.mean over the whole distance matrix, for points whose rho is 0.
    var total = 0.0, counted = 0
    for d in graph.distances where d.isFinite { total += Double(d); counted += 1 }
    let meanDistance = Float(total / Double(max(counted, 1)))
    let blocks = max(1, min(n, threads * 8))
    graph.distances.withUnsafeBufferPointer { dp in
        sigmas.withUnsafeMutableBufferPointer { sp in
            rhos.withUnsafeMutableBufferPointer { rp in
                let p = UncheckedSendable(value: (dp.baseAddress!, sp.baseAddress!, rp.baseAddress!))
                forEachBlock(blocks, threads: threads) { b, _ in
                    smoothKNNDistanceRows(
                        blockRange(b, of: blocks, count: n), distances: p.value.0, k: graph.k,
                        target: Double(log2(nNeighbors) * bandwidth), localConnectivity: localConnectivity,
                        meanDistance: meanDistance, iterations: iterations, sigmas: p.value.1, rhos: p.value.2)
                }
            }
        }
    }
    return (sigmas, rhos)
}

/// The scales of the rows `rows` (pure over its inputs: can run on any thread or worker).
/// The bisection sums its exponentials 8 at a time in Float (relative error ~3e-7 per term, far
/// inside the 1e-5 tolerance on a sum of about log2(k)).
func smoothKNNDistanceRows(
    _ rows: Range<Int>, distances: UnsafePointer<Float>, k: Int, target: Double, localConnectivity: Float,
    meanDistance: Float, iterations: Int, sigmas: UnsafeMutablePointer<Float>, rhos: UnsafeMutablePointer<Float>
) {
    // d - rho for neighbours 1..<k, padded to a multiple of 8 with +infinity (exp(-inf) = 0).
    let chunks = (max(k - 1, 0) + 7) / 8
    let shifted = UnsafeMutablePointer<Float>.allocate(capacity: max(chunks, 1) * 8)
    defer { shifted.deallocate() }
    let log2e: Float = 1.442_695_04
    for i in rows {
        let row = distances + i * k
        // rho: the local_connectivity-th smallest non-zero distance, interpolated (rows are sorted).
        var nonZero = 0, firstNonZero = k
        for j in 0..<k where row[j] > 0 && row[j].isFinite {
            if nonZero == 0 { firstNonZero = j }
            nonZero += 1
        }
        @inline(__always) func nonZeroDistance(_ n: Int) -> Float { row[firstNonZero + n] }
        var rho: Float = 0
        // nonZero > 0: with localConnectivity <= 0 and no non-zero distance (a row of duplicates) the
        // first non-zero distance would be read past the row's end; a saved model can hold any value.
        if nonZero > 0 && Float(nonZero) >= localConnectivity {
            let index = Int(localConnectivity.rounded(.down))
            let interpolation = localConnectivity - Float(index)
            if index > 0 {
                rho = nonZeroDistance(index - 1)
                if Double(interpolation) > smoothKTolerance {
                    rho += interpolation * (nonZeroDistance(index) - nonZeroDistance(index - 1))
                }
            } else {
                rho = interpolation * nonZeroDistance(0)
            }
        } else if nonZero > 0 {
            rho = nonZeroDistance(nonZero - 1)
        }
        rhos[i] = rho

        // Bisection on sigma; the sum skips neighbour 0, as umap-learn's does.
        for j in 0..<(chunks * 8) {
            let d = j + 1 < k ? row[j + 1] : .infinity
            shifted[j] = d.isFinite ? max(d - rho, 0) : .infinity
        }
        var lo = 0.0, hi = Double.infinity, mid = 1.0
        for _ in 0..<iterations {
            let scale = SIMD8<Float>(repeating: -log2e / Float(mid))
            var sum = SIMD8<Float>()
            for c in 0..<chunks {
                let d = UnsafeRawPointer(shifted + 8 * c).loadUnaligned(as: SIMD8<Float>.self)
                // exp(-d / mid); d = 0 (at or below rho) gives exactly 1, as umap-learn's branch.
                sum += fastExp2(d * scale).replacing(with: 0, where: d .== .infinity)
            }
            let psum = Double(sum.sum())
            if abs(psum - target) < smoothKTolerance { break }
            if psum > target {
                hi = mid
                mid = (lo + hi) / 2
            } else {
                lo = mid
                if hi == .infinity { mid *= 2 } else { mid = (lo + hi) / 2 }
            }
        }
        var sigma = Float(mid)
        // Floor: 1e-3 of the row's mean distance (of the whole graph's mean where rho is 0).
        if rho > 0 {
            var s: Float = 0, c = 0
            for j in 0..<k where row[j].isFinite { s += row[j]; c += 1 }
            let rowMean = s / Float(max(c, 1))
            sigma = max(sigma, minKDistScale * rowMean)
        } else {
            sigma = max(sigma, minKDistScale * meanDistance)
        }
        sigmas[i] = sigma
    }
}
