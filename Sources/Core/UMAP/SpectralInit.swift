// umap-learn's spectral initialisation (`spectral.py`, `noisy_scale_coords` and the [0, 10] rescale
// of `simplicial_set_embedding`).
//
// For a connected graph P (symmetric, (n, n)): the eigenvectors 1...dim of the normalised Laplacian
// L = I - D^-½ P D^-½ with the smallest eigenvalues (eigenvector 0, ∝ sqrt(degree), is trivial).
// umap-learn asks ARPACK's eigsh; here Lanczos with full reorthogonalisation on D^-½ P D^-½ (whose
// largest eigenvalues are 1 - L's smallest; Lanczos.swift), the trivial eigenvector deflated exactly.
// Disconnected graphs: each component laid out on its own and placed around a meta-layout of the
// components; solver failure: uniform random in [-10, 10].
// The layout is then scaled so max |y| = 10, given N(0, 1e-4) noise, and min-max rescaled to
// [0, 10] per axis.

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Connected components of a graph (edges taken as undirected): a label per row, 0..<count,
/// numbered in order of each component's first row.
public func connectedComponents(_ g: FuzzyGraph) -> (count: Int, labels: [Int32]) {
    var parent = Array(0..<g.rows)
    func find(_ x: Int) -> Int {
        var r = x
        while parent[r] != r { r = parent[r] }
        var y = x
        while parent[y] != r { let next = parent[y]; parent[y] = r; y = next }
        return r
    }
    for i in 0..<g.rows {
        for e in g.rowStart[i]..<g.rowStart[i + 1] {
            let a = find(i), b = find(Int(g.targets[e]))
            if a != b { parent[max(a, b)] = min(a, b) }
        }
    }
    var labels = [Int32](repeating: -1, count: g.rows)
    var rootLabel = [Int: Int32]()
    var count = 0
    for i in 0..<g.rows {
        let r = find(i)
        if let l = rootLabel[r] { labels[i] = l } else {
            rootLabel[r] = Int32(count)
            labels[i] = Int32(count)
            count += 1
        }
    }
    return (count, labels)
}

/// The spectral initialisation as umap-learn's `simplicial_set_embedding` makes it: spectral layout,
/// noisy scaling, [0, 10] rescale. `data` (rows, dataDim) places disconnected components.
/// Returns (rows, dim).
public func spectralInitialization(
    _ graph: FuzzyGraph, dim: Int, data: [Float]?, dataDim: Int, seed: UInt64,
    threads: Int = UMAPOptions.defaultThreads
) -> [Float] {
    var y = spectralLayout(graph, dim: dim, data: data, dataDim: dataDim, seed: seed, threads: threads)
    var noise = SplitMix64(seed: seed, .spectralNoise)
    noisyScale(&y, maxCoordinate: 10, noise: 1e-4, generator: &noise)
    rescaleToBox(&y, dim: dim, size: 10)
    return y
}

/// umap-learn's `noisy_scale_coords`: scale so the largest |coordinate| is `maxCoordinate`, then
/// add N(0, noise) to every coordinate.
func noisyScale(_ y: inout [Float], maxCoordinate: Float, noise: Double, generator: inout SplitMix64) {
    let largest = y.reduce(Float(0)) { max($0, abs($1)) }
    let expansion = largest > 0 ? maxCoordinate / largest : 1
    for i in 0..<y.count { y[i] = y[i] * expansion + Float(generator.nextGaussian() * noise) }
}

/// Min-max rescale of each axis of (rows, dim) to [0, size].
public func rescaleToBox(_ y: inout [Float], dim: Int, size: Float) {
    let rows = y.count / dim
    for d in 0..<dim {
        var lo = Float.infinity, hi = -Float.infinity
        for r in 0..<rows { lo = min(lo, y[r * dim + d]); hi = max(hi, y[r * dim + d]) }
        let range = hi - lo
        for r in 0..<rows { y[r * dim + d] = range > 0 ? size * (y[r * dim + d] - lo) / range : 0 }
    }
}

/// umap-learn's `spectral_layout`: (rows, dim), before noise and rescale.
public func spectralLayout(
    _ graph: FuzzyGraph, dim: Int, data: [Float]?, dataDim: Int, seed: UInt64,
    threads: Int = UMAPOptions.defaultThreads
) -> [Float] {
    let (count, labels) = connectedComponents(graph)
    if count > 1 {
        return multiComponentLayout(graph, componentCount: count, labels: labels, dim: dim, data: data,
                                    dataDim: dataDim, seed: seed, threads: threads)
    }
    if let vectors = laplacianEigenvectors(graph, count: dim, seed: seed, threads: threads) {
        return vectors
    }
    // umap-learn: "Spectral initialisation failed! ... Falling back to random initialisation!"
    var g = SplitMix64(seed: seed, .spectralFallback)
    return (0..<(graph.rows * dim)).map { _ in -10 + 20 * g.nextUnitFloat() }
}

/// The eigenvectors 1...count of the normalised Laplacian of a connected graph, as (rows, count)
/// row-major, or nil if the solver breaks down. They are the leading eigenvectors of
/// N = D^-½ P D^-½ orthogonal to u0 ∝ sqrt(degree), found one at a time by Lanczos, each run
/// deflated against u0 and the vectors already found (single-vector Lanczos finds one copy of a
/// repeated eigenvalue per run: a ring's cos and sin need two).
func laplacianEigenvectors(_ graph: FuzzyGraph, count want: Int, seed: UInt64, threads: Int) -> [Float]? {
    let n = graph.rows
    if n <= want + 1 { return nil }
    // Degrees: column sums (umap-learn: graph.sum(axis=0)); P is symmetric, so row sums.
    var degree = [Double](repeating: 0, count: n)
    for i in 0..<n {
        for e in graph.rowStart[i]..<graph.rowStart[i + 1] { degree[Int(graph.targets[e])] += Double(graph.weights[e]) }
    }
    if degree.contains(where: { !($0 > 0) }) { return nil }
    let invSqrtDegree = degree.map { Float(1 / $0.squareRoot()) }
    let norm = degree.reduce(0, +).squareRoot()
    var locked = [degree.map { Float($0.squareRoot() / norm) }]
    let blocks = max(1, min(n / 4096, threads * 4))
    var scaled = [Float](repeating: 0, count: n)
    let normalizedAdjacency = { (x: UnsafePointer<Float>, y: inout [Float]) in
        for i in 0..<n { scaled[i] = x[i] * invSqrtDegree[i] }
        sparseMultiply(graph, scaled, into: &y, blocks: blocks, threads: threads)
        for i in 0..<n { y[i] *= invSqrtDegree[i] }
    }
    var result = [Float](repeating: 0, count: n * want)
    var start: [Float]? = nil
    for r in 0..<want {
        guard let (v, next) = leadingEigenvector(size: n, multiply: normalizedAdjacency, deflating: locked,
                                                 start: start, seed: seed &+ UInt64(r), threads: threads) else { return nil }
        for i in 0..<n { result[i * want + r] = v[i] }
        locked.append(v)
        start = next
    }
    return result
}

/// y = P x for a CSR graph, rows split over threads.
func sparseMultiply(_ g: FuzzyGraph, _ x: [Float], into y: inout [Float], blocks: Int, threads: Int) {
    g.rowStart.withUnsafeBufferPointer { rs in
        g.targets.withUnsafeBufferPointer { t in
            g.weights.withUnsafeBufferPointer { w in
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        let p = UncheckedSendable(value: (rs.baseAddress!, t.baseAddress!, w.baseAddress!,
                                                          xp.baseAddress!, yp.baseAddress!))
                        forEachBlock(blocks, threads: threads) { b, _ in
                            let (rs, t, w, x, y) = p.value
                            for i in blockRange(b, of: blocks, count: g.rows) {
                                var s: Float = 0
                                for e in rs[i]..<rs[i + 1] { s += w[e] * x[Int(t[e])] }
                                y[i] = s
                            }
                        }
                    }
                }
            }
        }
    }
}

/// umap-learn's `multi_component_layout`: components placed at a meta-layout (unit vectors ±e_i for
/// at most 2·dim components, else a spectral embedding of the component centroids), each laid out
/// spectrally (or at random if tiny) within half the distance to the nearest other component.
func multiComponentLayout(
    _ graph: FuzzyGraph, componentCount: Int, labels: [Int32], dim: Int, data: [Float]?, dataDim: Int,
    seed: UInt64, threads: Int
) -> [Float] {
    var meta = [Double](repeating: 0, count: componentCount * dim)
    if componentCount > 2 * dim {
        meta = componentLayout(labels: labels, componentCount: componentCount, dim: dim, data: data,
                               dataDim: dataDim, seed: seed)
    } else {
        let half = (componentCount + 1) / 2
        for c in 0..<componentCount {
            let axis = c % half
            meta[c * dim + axis] = c < half ? 1 : -1
        }
    }
    var members = [[Int]](repeating: [], count: componentCount)
    for (i, l) in labels.enumerated() { members[Int(l)].append(i) }
    var result = [Float](repeating: 0, count: graph.rows * dim)
    var random = SplitMix64(seed: seed, .componentLayout)
    for c in 0..<componentCount {
        var nearest = Double.infinity
        for o in 0..<componentCount where o != c {
            var d2 = 0.0
            for d in 0..<dim { let t = meta[c * dim + d] - meta[o * dim + d]; d2 += t * t }
            if d2 > 0 { nearest = min(nearest, d2.squareRoot()) }
        }
        let dataRange = nearest.isFinite ? nearest / 2 : 1
        let rows = members[c]
        if rows.count < 2 * dim || rows.count <= dim + 1 {
            for i in rows {
                for d in 0..<dim {
                    let u = Double(random.nextUnitFloat()) * 2 - 1
                    result[i * dim + d] = Float(u * dataRange + meta[c * dim + d])
                }
            }
            continue
        }
        let sub = inducedSubgraph(graph, rows: rows)
        let layout = spectralLayout(sub, dim: dim, data: nil, dataDim: 0, seed: seed &+ UInt64(c), threads: threads)
        let largest = layout.reduce(Float(0)) { max($0, abs($1)) }
        let expansion = largest > 0 ? dataRange / Double(largest) : 1
        for (local, i) in rows.enumerated() {
            for d in 0..<dim {
                result[i * dim + d] = Float(Double(layout[local * dim + d]) * expansion + meta[c * dim + d])
            }
        }
    }
    return result
}

/// The subgraph on `rows` (sorted), renumbered 0..<rows.count.
func inducedSubgraph(_ g: FuzzyGraph, rows: [Int]) -> FuzzyGraph {
    var local = [Int: Int32]()
    for (l, i) in rows.enumerated() { local[i] = Int32(l) }
    var start = [Int](repeating: 0, count: rows.count + 1)
    var targets = [Int32](), weights = [Float]()
    for (l, i) in rows.enumerated() {
        for e in g.rowStart[i]..<g.rowStart[i + 1] {
            if let t = local[Int(g.targets[e])] {
                targets.append(t)
                weights.append(g.weights[e])
            }
        }
        start[l + 1] = targets.count
    }
    return FuzzyGraph(rows: rows.count, columns: rows.count, rowStart: start, targets: targets, weights: weights)
}

/// umap-learn's `component_layout`: a spectral embedding (as sklearn's SpectralEmbedding with a
/// precomputed affinity) of the component centroids under the affinity exp(-distance²), divided by
/// its largest entry. Deviation: where that affinity underflows (centroids more than ~27 apart, e.g.
/// well-separated activations), distances are first divided by their median so the embedding is
/// defined; umap-learn then gets an arbitrary basis. Returns (componentCount, dim) in Double.
func componentLayout(
    labels: [Int32], componentCount m: Int, dim: Int, data: [Float]?, dataDim: Int, seed: UInt64
) -> [Double] {
    guard let data, dataDim > 0 else {
        var g = SplitMix64(seed: seed, .componentLayout, 1)
        return (0..<(m * dim)).map { _ in Double(g.nextUnitFloat()) * 10 }
    }
    var centroids = [Double](repeating: 0, count: m * dataDim)
    var sizes = [Double](repeating: 0, count: m)
    for (i, l) in labels.enumerated() {
        let c = Int(l)
        sizes[c] += 1
        for d in 0..<dataDim { centroids[c * dataDim + d] += Double(data[i * dataDim + d]) }
    }
    for c in 0..<m { for d in 0..<dataDim { centroids[c * dataDim + d] /= sizes[c] } }
    var d2 = [Double](repeating: 0, count: m * m)
    for p in 0..<m {
        for q in (p + 1)..<max(m, p + 1) {
            var s = 0.0
            for d in 0..<dataDim { let t = centroids[p * dataDim + d] - centroids[q * dataDim + d]; s += t * t }
            d2[p * m + q] = s
            d2[q * m + p] = s
        }
    }
    func affinity(scale: Double) -> [Double] {
        var a = [Double](repeating: 0, count: m * m)
        for p in 0..<m { for q in 0..<m where p != q { a[p * m + q] = exp(-d2[p * m + q] / scale) } }
        return a
    }
    var a = affinity(scale: 1)
    let degreesOK = (0..<m).allSatisfy { p in (0..<m).reduce(0.0) { $0 + a[p * m + $1] } > 1e-12 }
    if !degreesOK {
        let offDiagonal = (0..<m).flatMap { p in (0..<m).filter { $0 != p }.map { d2[p * m + $0] } }.sorted()
        let median = offDiagonal.isEmpty ? 1 : max(offDiagonal[offDiagonal.count / 2], 1e-12)
        a = affinity(scale: median)
    }
    // Normalised Laplacian L = I - D^-½ A D^-½; eigenvectors 1...dim (ascending), divided by sqrt(D).
    var degree = [Double](repeating: 0, count: m)
    for p in 0..<m { for q in 0..<m { degree[p] += a[p * m + q] } }
    let dd = degree.map { $0 > 0 ? $0.squareRoot() : 1 }
    var laplacian = [Double](repeating: 0, count: m * m)
    for p in 0..<m {
        for q in 0..<m {
            laplacian[p * m + q] = (p == q ? (degree[p] > 0 ? 1 : 0) : 0) - a[p * m + q] / (dd[p] * dd[q])
        }
    }
    let (_, vectors) = symmetricEigen(laplacian, n: m)
    var embedding = [Double](repeating: 0, count: m * dim)
    for r in 0..<dim {
        let j = min(r + 1, m - 1)
        var column = (0..<m).map { vectors[j * m + $0] / dd[$0] }
        // sklearn's deterministic sign flip: the entry of largest magnitude is positive.
        if let big = column.indices.max(by: { abs(column[$0]) < abs(column[$1]) }), column[big] < 0 {
            column = column.map { -$0 }
        }
        for p in 0..<m { embedding[p * dim + r] = column[p] }
    }
    let largest = embedding.max() ?? 1
    if largest > 0 { for i in 0..<embedding.count { embedding[i] /= largest } }
    return embedding
}
