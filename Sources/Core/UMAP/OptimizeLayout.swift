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
//   α·clip(2γb / ((0.001 + d²)(1 + a·d²^b)) · (y_i - y_k)), each component clipped to ±4; a negative
//   that is the head itself has no force (umap-learn: d² = 0).
// Each sampled edge draws its negatives from SplitMix64 keyed by (seed, edge, epoch).
//
// Reproducible on any number of threads (`LayoutSchedule`): in a fit the vertices fall into
// `vertexBlocks` blocks (vertex i in block i mod B) and each epoch runs in phases: first every block's
// edges within itself, then B - 1 rounds of a round-robin tournament in which each pair of blocks
// (p, q) takes its edges between p and q. The tasks of one phase touch disjoint vertices, every task
// runs its edges in a fixed order, and negatives read the embedding as it was at the start of the
// epoch (only the head moves), so no thread reads what another writes and the map depends on the seed
// and B only. umap-learn instead lets threads race (Hogwild); the schedule changes only the order of
// the updates, and negatives see positions up to one epoch old.
// In transform the tails do not move: tasks are contiguous ranges of heads, in one phase.
//
// Two kernels: `runReference` (any dim, umap-learn's order of updates within an edge, libm pow) and
// `run2D` (dim 2, the default, ~2x faster): a polynomial pow, and the attraction and the negatives of
// one sample evaluated together in the 8 lanes of one vector pass, at the head's position before the
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
    /// Threads; the result does not depend on them.
    public var threads: Int = 1
    /// Vertex blocks of a fit's schedule (rounded up to even): the map depends on this, not on the
    /// threads, of which at most vertexBlocks / 2 work at once.
    public var vertexBlocks = 16
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

/// The order in which every epoch visits a graph's edges: phases run one after another; the tasks
/// of a phase touch disjoint heads and moving tails, so they may run on any threads in any order.
struct LayoutSchedule {
    /// In a fit, the SGD works on the vertices renumbered so each block is contiguous (a task's
    /// moving points then sit in two short ranges): vertex i at position[i]. Empty: not renumbered.
    var position: [Int32] = []
    /// Per scheduled edge: its head, its tail (as positions) and its sampling rate w / w_max (rates
    /// padded by 8 zeros so 8-wide loads past the end stay in bounds). Within a task, edges are in
    /// graph order.
    var heads: [Int32] = []
    var targets: [Int32] = []
    var rates: [Float] = []
    /// Task t holds edges taskStart[t]..<taskStart[t + 1]; phase p holds tasks phaseStart[p]..<phaseStart[p + 1].
    var taskStart: [Int] = []
    var phaseStart: [Int] = []

    /// A fit's schedule (tails move): `blocks` vertex blocks, diagonal phase then round-robin rounds.
    init(fit graph: FuzzyGraph, blocks requested: Int) {
        let blocks = max(2, requested + requested % 2)
        // taskOf[p·B + q]: the task of the edges between blocks p and q.
        var taskOf = [Int](repeating: 0, count: blocks * blocks)
        for p in 0..<blocks { taskOf[p * blocks + p] = p }
        let half = blocks / 2, m = blocks - 1
        for round in 0..<m {
            for slot in 0..<half {
                // Circle method: block B - 1 stays, the others rotate.
                let p = slot == 0 ? m : (round + slot) % m
                let q = slot == 0 ? round : (round - slot + m) % m
                let task = blocks + round * half + slot
                taskOf[p * blocks + q] = task
                taskOf[q * blocks + p] = task
            }
        }
        let tasks = blocks + m * half
        var taskOfEdge = [Int](repeating: 0, count: graph.edgeCount)
        for i in 0..<graph.rows {
            for e in graph.rowStart[i]..<graph.rowStart[i + 1] {
                taskOfEdge[e] = taskOf[(i % blocks) * blocks + Int(graph.targets[e]) % blocks]
            }
        }
        // Block p holds vertices p, p + B, p + 2B, ... at positions blockStart[p] + i / B.
        var blockStart = [0]
        for p in 0..<blocks { blockStart.append(blockStart[p] + (graph.rows - p + blocks - 1) / blocks) }
        let position = (0..<graph.rows).map { Int32(blockStart[$0 % blocks] + $0 / blocks) }
        self.init(graph, taskOfEdge: taskOfEdge, tasks: tasks, position: position)
        phaseStart = [0] + (0..<m).map { blocks + $0 * half } + [tasks]
    }

    /// A transform's schedule (tails fixed): `parts` ranges of heads with about equal edge counts.
    init(fixedTail graph: FuzzyGraph, parts: Int) {
        var bounds = [0]
        for t in 1..<max(1, parts) {
            let target = graph.edgeCount * t / parts
            var lo = bounds.last!, hi = graph.rows
            while lo < hi { let mid = (lo + hi) / 2; if graph.rowStart[mid] < target { lo = mid + 1 } else { hi = mid } }
            bounds.append(lo)
        }
        bounds.append(graph.rows)
        var taskOfEdge = [Int](repeating: 0, count: graph.edgeCount)
        for t in 0..<(bounds.count - 1) {
            for e in graph.rowStart[bounds[t]]..<graph.rowStart[bounds[t + 1]] { taskOfEdge[e] = t }
        }
        self.init(graph, taskOfEdge: taskOfEdge, tasks: bounds.count - 1, position: [])
        phaseStart = [0, bounds.count - 1]
    }

    /// The graph's edges sorted by task, stably (a counting sort).
    private init(_ graph: FuzzyGraph, taskOfEdge: [Int], tasks: Int, position: [Int32]) {
        self.position = position
        let largest = graph.weights.max() ?? 0
        taskStart = [Int](repeating: 0, count: tasks + 1)
        for t in taskOfEdge { taskStart[t + 1] += 1 }
        for t in 0..<tasks { taskStart[t + 1] += taskStart[t] }
        var next = taskStart
        heads = [Int32](repeating: 0, count: graph.edgeCount)
        targets = [Int32](repeating: 0, count: graph.edgeCount)
        rates = [Float](repeating: 0, count: graph.edgeCount + 8)
        for i in 0..<graph.rows {
            for e in graph.rowStart[i]..<graph.rowStart[i + 1] {
                let s = next[taskOfEdge[e]]
                next[taskOfEdge[e]] += 1
                heads[s] = position.isEmpty ? Int32(i) : position[i]
                targets[s] = position.isEmpty ? graph.targets[e] : position[Int(graph.targets[e])]
                rates[s] = graph.weights[e] / largest
            }
        }
    }

    /// Rows (count, dim) of `points` moved to their positions (`inverse`: moved back).
    func renumbered(_ points: [Float], dim: Int, inverse: Bool = false) -> [Float] {
        if position.isEmpty { return points }
        var out = points
        for (i, p) in position.enumerated() {
            let (from, to) = inverse ? (Int(p), i) : (i, Int(p))
            for d in 0..<dim { out[to * dim + d] = points[from * dim + d] }
        }
        return out
    }
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
    let threads = max(1, parameters.threads)
    let moveTail = fixedTail == nil
    let schedule = moveTail ? LayoutSchedule(fit: graph, blocks: parameters.vertexBlocks)
                            : LayoutSchedule(fixedTail: graph, parts: threads)
    // umap-learn's epoch_of_next_negative_sample, starting at one negative period.
    var nextNegative = schedule.rates.map { $0 > 0 ? 1 / (parameters.negativeSampleRate * $0) : .infinity }
    var keyed = SplitMix64(seed: parameters.seed, .negativeSamples)
    let seedBase = keyed.next()
    var points = schedule.renumbered(embedding, dim: dim)
    defer { embedding = schedule.renumbered(points, dim: dim, inverse: true) }
    // Negatives read the fixed tail, or in a fit a copy of the points taken at each epoch's start.
    var negativeSource = fixedTail ?? points
    let tailCount = graph.columns

    points.withUnsafeMutableBufferPointer { hp in
        negativeSource.withUnsafeMutableBufferPointer { np in
            schedule.heads.withUnsafeBufferPointer { hd in
                schedule.targets.withUnsafeBufferPointer { tg in
                    schedule.rates.withUnsafeBufferPointer { rt in
                        nextNegative.withUnsafeMutableBufferPointer { nn in
                            let head = hp.baseAddress!
                            let tail = moveTail ? head : np.baseAddress!
                            let shared = UncheckedSendable(value: (head, tail, np.baseAddress!, hd.baseAddress!,
                                                                   tg.baseAddress!, rt.baseAddress!, nn.baseAddress!))
                            for n in 0..<parameters.nEpochs {
                                let alpha = parameters.initialAlpha * (1 - Float(max(n - 1, 0)) / Float(parameters.nEpochs))
                                if moveTail && n > 0 { np.baseAddress!.update(from: head, count: hp.count) }
                                for phase in 0..<(schedule.phaseStart.count - 1) {
                                    let firstTask = schedule.phaseStart[phase]
                                    forEachBlockAsTaken(schedule.phaseStart[phase + 1] - firstTask, threads: threads) { t in
                                        let (head, tail, negatives, heads, targets, rates, nextNegative) = shared.value
                                        let epoch = LayoutEpoch(
                                            epoch: n, alpha: alpha, a: parameters.a, b: parameters.b,
                                            gamma: parameters.gamma, negativeRate: parameters.negativeSampleRate,
                                            seedBase: seedBase, head: head, tail: tail, negatives: negatives,
                                            moveTail: moveTail, tailCount: tailCount, heads: heads, targets: targets,
                                            rates: rates, nextNegative: nextNegative)
                                        let edges = schedule.taskStart[firstTask + t]..<schedule.taskStart[firstTask + t + 1]
                                        if dim == 2 && !parameters.referenceKernel {
                                            epoch.run2D(edges)
                                        } else {
                                            epoch.runReference(edges, dim: dim)
                                        }
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

/// One epoch's SGD over a range of scheduled edges (grouped by head).
struct LayoutEpoch {
    let epoch: Int
    let alpha: Float
    let a: Float
    let b: Float
    let gamma: Float
    let negativeRate: Float
    let seedBase: UInt64
    let head: UnsafeMutablePointer<Float>
    /// Where attraction reads and moves tails (`head` in a fit).
    let tail: UnsafeMutablePointer<Float>
    /// Where negatives are read: the fixed tail, or the embedding at the start of the epoch.
    let negatives: UnsafePointer<Float>
    let moveTail: Bool
    let tailCount: Int
    let heads: UnsafePointer<Int32>
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
    /// more are due), all at the head's position before the edge; the head moves by their sum. A head
    /// stays in registers while its edges run.
    func run2D(_ edges: Range<Int>) {
        let nNow = Float(epoch), nBefore = Float(max(epoch - 1, 0))
        let zero = SIMD8<Float>()
        let laneBits = SIMD8<Float>(1, 2, 4, 8, 16, 32, 64, 128)
        let attractionLane = SIMD8<Float>(1, 0, 0, 0, 0, 0, 0, 0)
        let curve = ForceCurve(a: a, b: b, gamma: gamma, alpha: alpha)
        let tails = UInt64(tailCount)
        @inline(__always) func pick(_ bits: UInt64) -> Int { Int(((bits & 0xFFFF_FFFF) &* tails) >> 32) }
        var i = -1
        var yx: Float = 0, yy: Float = 0
        var e = edges.lowerBound
        let end = edges.upperBound
        while e < end {
            // Edges due this epoch: their sample count floor(n·rate) went up.
            let r8 = UnsafeRawPointer(rates + e).loadUnaligned(as: SIMD8<Float>.self)
            let due = floorNonNegative(nNow * r8) .> floorNonNegative(nBefore * r8)
            if !anyLane(due) { e += 8; continue }
            var bits = Int(zero.replacing(with: laneBits, where: due).sum()) & ((1 << min(8, end - e)) - 1)
            while bits != 0 {
                let edge = e + bits.trailingZeroBitCount
                bits &= bits - 1
                let h = Int(heads[edge])
                if h != i {
                    if i >= 0 { head[2 * i] = yx; head[2 * i + 1] = yy }
                    i = h
                    yx = head[2 * i]
                    yy = head[2 * i + 1]
                }
                let j = Int(targets[edge])
                var remaining = negativeSamples(edge: edge)
                var random = generator(edge: edge)
                var first = true
                var sumX: Float = 0, sumY: Float = 0
                while first || remaining > 0 {
                    let r0 = random.next(), r1 = random.next(), r2 = random.next(), r3 = random.next()
                    let k1 = pick(r0 >> 32), k2 = pick(r1), k3 = pick(r1 >> 32)
                    let k4 = pick(r2), k5 = pick(r2 >> 32), k6 = pick(r3), k7 = pick(r3 >> 32)
                    let k0 = first ? j : pick(r0)
                    // A negative that is the head itself sits at the head: d² = 0, no force.
                    let me = moveTail ? i : -1
                    @inline(__always) func x(_ k: Int) -> Float { k == me ? yx : negatives[2 * k] }
                    @inline(__always) func y(_ k: Int) -> Float { k == me ? yy : negatives[2 * k + 1] }
                    let x0 = first ? tail[2 * j] : x(k0), y0 = first ? tail[2 * j + 1] : y(k0)
                    let kx = SIMD8<Float>(x0, x(k1), x(k2), x(k3), x(k4), x(k5), x(k6), x(k7))
                    let ky = SIMD8<Float>(y0, y(k1), y(k2), y(k3), y(k4), y(k5), y(k6), y(k7))
                    // Lanes in use: the attraction (first chunk) and the negatives left.
                    let repulsions = min(remaining, first ? 7 : 8)
                    let (gx, gy) = curve.forces(dx: SIMD8(repeating: yx) - kx, dy: SIMD8(repeating: yy) - ky,
                                                lanesUsed: Float(repulsions + (first ? 1 : 0)),
                                                attraction: first ? attractionLane : zero)
                    sumX += gx.sum()
                    sumY += gy.sum()
                    if first && moveTail {
                        tail[2 * j] -= gx[0]
                        tail[2 * j + 1] -= gy[0]
                    }
                    remaining -= repulsions
                    first = false
                }
                yx += sumX
                yy += sumY
            }
            e += 8
        }
        if i >= 0 { head[2 * i] = yx; head[2 * i + 1] = yy }
    }

    /// The reference kernel, any dim: umap-learn's `_optimize_layout_euclidean_single_epoch` with its
    /// order of updates within an edge (each negative sees the head as moved by the previous one).
    func runReference(_ edges: Range<Int>, dim: Int) {
        let nNow = Float(epoch), nBefore = Float(max(epoch - 1, 0))
        for edge in edges {
            let rate = rates[edge]
            if (nNow * rate).rounded(.down) <= (nBefore * rate).rounded(.down) { continue }
            let i = Int(heads[edge]), j = Int(targets[edge])
            let current = head + i * dim
            let attracting = tail + j * dim
            var d2: Float = 0
            for d in 0..<dim { let t = current[d] - attracting[d]; d2 += t * t }
            var coefficient: Float = 0
            if d2 > 0 { coefficient = -2 * a * b * pow(d2, b - 1) / (a * pow(d2, b) + 1) }
            for d in 0..<dim {
                let g = clip(coefficient * (current[d] - attracting[d]))
                current[d] += g * alpha
                if moveTail { attracting[d] += -g * alpha }
            }
            var random = generator(edge: edge)
            for _ in 0..<negativeSamples(edge: edge) {
                let k = random.nextInt(below: tailCount)
                if moveTail && k == i { continue }
                let other = negatives + k * dim
                d2 = 0
                for d in 0..<dim { let t = current[d] - other[d]; d2 += t * t }
                if !(d2 > 0) { continue }
                coefficient = 2 * gamma * b / ((0.001 + d2) * (a * pow(d2, b) + 1))
                for d in 0..<dim { current[d] += clip(coefficient * (current[d] - other[d])) * alpha }
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
