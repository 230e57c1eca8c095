// umap-learn's layout optimisation (`layouts.py`, `optimize_layout_euclidean`): SGD on the fuzzy set
// cross entropy, sampling edges by weight and negatives uniformly.
//
// embedding (heads) is (rows, dim); the graph's rows are heads, its targets index the tail embedding
// (the heads themselves in a fit, a fixed embedding in transform). Per epoch n (0..<nEpochs):
// - an edge of weight w is sampled every w_max / w epochs (its c-th sample at the first epoch with
//   floor(n·w/w_max) >= c, as umap-learn's epoch_of_next_sample), with learning rate
//   α = initialAlpha·(1 - (n - 1)/nEpochs) (α stays initialAlpha for epochs 0 and 1, as umap-learn's);
// - attraction: both ends move by ±α·clip(-2ab·d²^(b-1) / (1 + a·d²^b) · (y_i - y_j)) (only the head
//   when the tail is fixed);
// - then the head is pushed from the negatives due (umap-learn's epoch_of_next_negative_sample
//   bookkeeping: `negativeSampleRate` per sample on average) at random tails by
//   α·clip(2γb / ((0.001 + d²)(1 + a·d²^b)) · (y_i - y_k)), each component clipped to ±4.
// Each sampled edge draws its negatives from SplitMix64 keyed by (seed, edge, epoch), so the random
// choices do not depend on threads. Threads split the heads (Hogwild, as umap-learn's parallel mode:
// the racing reads and writes of shared points make multi-threaded runs differ slightly); one thread
// is exactly reproducible.
//
// Two kernels: `runReference` (any dim, umap-learn's exact order of updates, libm pow) and `run2D`
// (dim 2, the default, ~2x faster): a polynomial pow, and the attraction and the negatives of one
// sample evaluated together in the 8 lanes of one vector pass, at the head's position before the
// sample (umap-learn moves the head between them; the difference is second order in α).

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// The SGD's settings; defaults as umap-learn's fit.
public struct LayoutParameters: Sendable {
    public var a: Float
    public var b: Float
    /// Repulsion strength γ.
    public var gamma: Float = 1
    public var initialAlpha: Float = 1
    public var negativeSampleRate: Float = 5
    public var nEpochs: Int
    public var seed: UInt64 = 0
    public var threads: Int = 1
    /// Use `runReference` even for dim 2 (tests compare the kernels).
    var referenceKernel = false

    public init(a: Float, b: Float, nEpochs: Int) {
        self.a = a
        self.b = b
        self.nEpochs = nEpochs
    }
}

/// umap-learn's pruning before the SGD: edges with weight below max / nEpochs (max / defaultEpochs
/// when nEpochs <= 10) are dropped; they would never be sampled.
public func pruneWeakEdges(_ graph: FuzzyGraph, nEpochs: Int, defaultEpochs: Int) -> FuzzyGraph {
    let largest = graph.weights.max() ?? 0
    let threshold = largest / Float(nEpochs > 10 ? nEpochs : defaultEpochs)
    return graph.filtered { $0 >= threshold }
}

/// Runs the SGD on `embedding` (heads, (graph.rows, dim)). `fixedTail` (graph.columns, dim): the
/// embedding the tails live in, which does not move (transform); nil: tails are heads (fit).
/// `progress(epoch)` is called after each epoch.
public func optimizeLayout(
    _ embedding: inout [Float], dim: Int, graph: FuzzyGraph, fixedTail: [Float]? = nil,
    parameters: LayoutParameters, progress: ((Int) -> Void)? = nil
) {
    precondition(embedding.count == graph.rows * dim)
    if let fixedTail { precondition(fixedTail.count == graph.columns * dim) } else {
        precondition(graph.columns == graph.rows)
    }
    let largest = graph.weights.max() ?? 0
    if graph.edgeCount == 0 || !(largest > 0) || parameters.nEpochs <= 0 { return }
    // Sampling rate w / w_max per edge, padded so 8-wide loads past a row's end stay in bounds.
    var rates = graph.weights.map { $0 / largest }
    rates.append(contentsOf: repeatElement(0, count: 8))
    // umap-learn's epoch_of_next_negative_sample, starting at one negative period.
    var nextNegative = rates.map { $0 > 0 ? 1 / (parameters.negativeSampleRate * $0) : .infinity }
    let threads = max(1, parameters.threads)
    // Heads split into contiguous ranges of about equal edge counts.
    var bounds = [0]
    for t in 1..<threads {
        let target = graph.edgeCount * t / threads
        var lo = bounds.last!, hi = graph.rows
        while lo < hi { let mid = (lo + hi) / 2; if graph.rowStart[mid] < target { lo = mid + 1 } else { hi = mid } }
        bounds.append(lo)
    }
    bounds.append(graph.rows)
    var keyed = SplitMix64(seed: parameters.seed, .negativeSamples)
    let seedBase = keyed.next()
    let moveTail = fixedTail == nil
    var tailStorage = fixedTail ?? []
    let tailCount = graph.columns

    embedding.withUnsafeMutableBufferPointer { hp in
        tailStorage.withUnsafeMutableBufferPointer { tp in
            graph.rowStart.withUnsafeBufferPointer { rs in
                graph.targets.withUnsafeBufferPointer { tg in
                    rates.withUnsafeBufferPointer { rt in
                        nextNegative.withUnsafeMutableBufferPointer { nn in
                            let head = hp.baseAddress!
                            let tail = moveTail ? head : tp.baseAddress!
                            let shared = UncheckedSendable(value: (head, tail, rs.baseAddress!, tg.baseAddress!,
                                                                   rt.baseAddress!, nn.baseAddress!))
                            for n in 0..<parameters.nEpochs {
                                let alpha = parameters.initialAlpha * (1 - Float(max(n - 1, 0)) / Float(parameters.nEpochs))
                                forEachBlock(threads, threads: threads) { t, _ in
                                    let (head, tail, rowStart, targets, rates, nextNegative) = shared.value
                                    let epoch = LayoutEpoch(
                                        epoch: n, alpha: alpha, a: parameters.a, b: parameters.b,
                                        gamma: parameters.gamma, negativeRate: parameters.negativeSampleRate,
                                        seedBase: seedBase, head: head, tail: tail, moveTail: moveTail,
                                        tailCount: tailCount, rowStart: rowStart, targets: targets, rates: rates,
                                        nextNegative: nextNegative)
                                    let rows = bounds[t]..<bounds[t + 1]
                                    if dim == 2 && !parameters.referenceKernel {
                                        epoch.run2D(rows)
                                    } else {
                                        epoch.runReference(rows, dim: dim)
                                    }
                                }
                                progress?(n + 1)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One epoch's SGD over a range of heads.
struct LayoutEpoch {
    let epoch: Int
    let alpha: Float
    let a: Float
    let b: Float
    let gamma: Float
    let negativeRate: Float
    let seedBase: UInt64
    let head: UnsafeMutablePointer<Float>
    let tail: UnsafeMutablePointer<Float>
    let moveTail: Bool
    let tailCount: Int
    let rowStart: UnsafePointer<Int>
    let targets: UnsafePointer<Int32>
    let rates: UnsafePointer<Float>
    let nextNegative: UnsafeMutablePointer<Float>

    /// The negatives due with a sample of `edge` now (umap-learn: int((n - next) / period), then
    /// next += that many periods).
    @inline(__always)
    func negativeSamples(edge: Int) -> Int {
        let period = 1 / (negativeRate * rates[edge])
        let due = ((Float(epoch) - nextNegative[edge]) / period).rounded(.towardZero)
        if !(due > 0) { return 0 }
        nextNegative[edge] += due * period
        return Int(due)
    }

    /// The negative-sample generator of `edge` at this epoch.
    @inline(__always)
    func generator(edge: Int) -> SplitMix64 {
        SplitMix64(state: seedBase ^ (UInt64(edge) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(epoch) &* 0xC2B2_AE3D_27D4_EB4F))
    }

    /// The fast kernel for dim 2 (see the file comment). Per sampled edge, one 8-lane pass computes
    /// the attraction to its tail (lane 0) and up to 7 repulsions (lanes 1...7; further chunks of 8 if
    /// more are due), all at the head's position before the edge; the head moves by their sum.
    func run2D(_ rows: Range<Int>) {
        let nNow = Float(epoch), nBefore = Float(max(epoch - 1, 0))
        let zero = SIMD8<Float>()
        let laneBits = SIMD8<Float>(1, 2, 4, 8, 16, 32, 64, 128)
        let attractionLane = SIMD8<Float>(1, 0, 0, 0, 0, 0, 0, 0)
        let curve = ForceCurve(a: a, b: b, gamma: gamma, alpha: alpha)
        let tails = UInt64(tailCount)
        @inline(__always) func pick(_ bits: UInt64) -> Int { Int(((bits & 0xFFFF_FFFF) &* tails) >> 32) }
        for i in rows {
            var e = rowStart[i]
            let end = rowStart[i + 1]
            var yx = head[2 * i], yy = head[2 * i + 1]
            var moved = false
            while e < end {
                // Edges due this epoch: their sample count floor(n·rate) went up.
                let r8 = UnsafeRawPointer(rates + e).loadUnaligned(as: SIMD8<Float>.self)
                let due = floorNonNegative(nNow * r8) .> floorNonNegative(nBefore * r8)
                if !anyLane(due) { e += 8; continue }
                var bits = Int(zero.replacing(with: laneBits, where: due).sum()) & ((1 << min(8, end - e)) - 1)
                while bits != 0 {
                    let edge = e + bits.trailingZeroBitCount
                    bits &= bits - 1
                    let j = Int(targets[edge])
                    var remaining = negativeSamples(edge: edge)
                    var random = generator(edge: edge)
                    var first = true
                    var sumX: Float = 0, sumY: Float = 0
                    while first || remaining > 0 {
                        let r0 = random.next(), r1 = random.next(), r2 = random.next(), r3 = random.next()
                        let k0 = first ? j : pick(r0)
                        let k1 = pick(r0 >> 32), k2 = pick(r1), k3 = pick(r1 >> 32)
                        let k4 = pick(r2), k5 = pick(r2 >> 32), k6 = pick(r3), k7 = pick(r3 >> 32)
                        let kx = SIMD8<Float>(tail[2 * k0], tail[2 * k1], tail[2 * k2], tail[2 * k3],
                                              tail[2 * k4], tail[2 * k5], tail[2 * k6], tail[2 * k7])
                        let ky = SIMD8<Float>(tail[2 * k0 + 1], tail[2 * k1 + 1], tail[2 * k2 + 1], tail[2 * k3 + 1],
                                              tail[2 * k4 + 1], tail[2 * k5 + 1], tail[2 * k6 + 1], tail[2 * k7 + 1])
                        // Lanes in use: the attraction (first chunk) and the negatives left.
                        let negatives = min(remaining, first ? 7 : 8)
                        let (gx, gy) = curve.forces(dx: SIMD8(repeating: yx) - kx, dy: SIMD8(repeating: yy) - ky,
                                                    lanesUsed: Float(negatives + (first ? 1 : 0)),
                                                    attraction: first ? attractionLane : zero)
                        sumX += gx.sum()
                        sumY += gy.sum()
                        if first && moveTail {
                            tail[2 * j] -= gx[0]
                            tail[2 * j + 1] -= gy[0]
                        }
                        remaining -= negatives
                        first = false
                    }
                    yx += sumX
                    yy += sumY
                    moved = true
                }
                e += 8
            }
            if moved {
                head[2 * i] = yx
                head[2 * i + 1] = yy
            }
        }
    }

    /// The reference kernel, any dim: umap-learn's `_optimize_layout_euclidean_single_epoch` with its
    /// order of updates (each negative sees the head as moved by the previous one).
    func runReference(_ rows: Range<Int>, dim: Int) {
        let nNow = Float(epoch), nBefore = Float(max(epoch - 1, 0))
        for i in rows {
            for edge in rowStart[i]..<rowStart[i + 1] {
                let rate = rates[edge]
                if (nNow * rate).rounded(.down) <= (nBefore * rate).rounded(.down) { continue }
                let j = Int(targets[edge])
                let current = head + i * dim
                var other = tail + j * dim
                var d2: Float = 0
                for d in 0..<dim { let t = current[d] - other[d]; d2 += t * t }
                var coefficient: Float = 0
                if d2 > 0 { coefficient = -2 * a * b * pow(d2, b - 1) / (a * pow(d2, b) + 1) }
                for d in 0..<dim {
                    let g = clip(coefficient * (current[d] - other[d]))
                    current[d] += g * alpha
                    if moveTail { other[d] += -g * alpha }
                }
                var random = generator(edge: edge)
                for _ in 0..<negativeSamples(edge: edge) {
                    let k = random.nextInt(below: tailCount)
                    other = tail + k * dim
                    d2 = 0
                    for d in 0..<dim { let t = current[d] - other[d]; d2 += t * t }
                    if !(d2 > 0) { continue }
                    coefficient = 2 * gamma * b / ((0.001 + d2) * (a * pow(d2, b) + 1))
                    for d in 0..<dim { current[d] += clip(coefficient * (current[d] - other[d])) * alpha }
                }
            }
        }
    }
}

/// The SGD's force law for 8 interactions at once: lane forces α·clip(coefficient·(y_i - y_k)) with
/// coefficient -2ab·d²^(b-1) / (1 + a·d²^b) where `attraction` is 1, 2γb / ((0.001 + d²)(1 + a·d²^b))
/// where it is 0; no force for d² = 0 or lanes at or beyond `lanesUsed`.
struct ForceCurve {
    let a: Float
    let b: Float
    let twoAB: Float
    let twoGammaB: Float
    let alpha: Float

    init(a: Float, b: Float, gamma: Float, alpha: Float) {
        self.a = a
        self.b = b
        twoAB = -2 * a * b
        twoGammaB = 2 * gamma * b
        self.alpha = alpha
    }

    // Out of line on purpose: on its own the compiler vectorises it fully; inlined into the kernel
    // it splits into scalar code, about 2x slower. Masks are 0/1 factors rather than selects for the
    // same reason.
    @inline(never)
    func forces(dx: SIMD8<Float>, dy: SIMD8<Float>, lanesUsed: Float, attraction: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>) {
        let zero = SIMD8<Float>(), one = SIMD8<Float>(repeating: 1)
        let lanes = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
        let d2 = dx * dx + dy * dy
        let live = zero.replacing(with: one, where: (d2 .> 0) .& (lanes .< lanesUsed))
        let safe = d2 * live + (one - live)
        let pb = fastPow(safe, b)
        let curve = a * pb + 1
        let numerator = twoGammaB + attraction * (twoAB * pb - twoGammaB)
        let denominator = curve * (safe + 0.001 * (one - attraction))
        let coefficient = numerator / denominator * live
        return (clamped(coefficient * dx, 4) * alpha, clamped(coefficient * dy, 4) * alpha)
    }
}

@inline(__always) func clip(_ x: Float) -> Float { min(max(x, -4), 4) }
