// Lanczos with full reorthogonalisation for the leading eigenvector of a large symmetric operator
// given only as a product (the spectral initialisation's D^-½ P D^-½), and the vector kernels it runs
// on. The small tridiagonal problem of each step is solved by `tridiagonalEigen` (SymmetricEigen.swift).
// Reductions are cut by vector length, never by threads, so every step is the same bits on any number
// of threads.

/// The eigenvector of the largest eigenvalue of a symmetric operator (|eigenvalues| <= 1) restricted
/// to the complement of the orthonormal `deflating` vectors, by Lanczos with full
/// reorthogonalisation, from `start` (plus 1% noise) or a random vector. Converged when the Ritz
/// residual is below 1e-4 of the Laplacian eigenvalue 1 - θ (ARPACK's relative test, floored at 1e-6
/// absolute), or after 300 steps. Also returns the second Ritz vector, a good start for the next run.
func leadingEigenvector(
    size n: Int, multiply: (UnsafePointer<Float>, inout [Float]) -> Void, deflating: [[Float]], start: [Float]?,
    seed: UInt64, threads: Int
) -> ([Float], [Float]?)? {
    let maxSteps = min(n - deflating.count, 300)
    if maxSteps < 1 { return nil }
    var basis = [Float](repeating: 0, count: n * (maxSteps + 1))  // Lanczos vectors as rows
    var alpha = [Double](), beta = [Double]()
    var w = [Float](repeating: 0, count: n)
    var g = SplitMix64(seed: seed, .spectralStart)
    var v = (0..<n).map { _ in Float(g.nextGaussian()) }
    if let start {
        // Noise keeps components the previous Krylov space lacked (a repeated eigenvalue's copies).
        let scale = Float(0.01 / Double(n).squareRoot())
        for i in 0..<n { v[i] = start[i] + scale * v[i] }
    }
    for _ in 0..<2 { for u in deflating { deflate(&v, u) } }
    guard normalize(&v) else { return nil }
    basis.replaceSubrange(0..<n, with: v)
    var ritz: (values: [Double], vectors: [Double])? = nil
    var steps = 0
    while steps < maxSteps {
        let j = steps
        basis.withUnsafeBufferPointer { multiply($0.baseAddress! + j * n, &w) }
        alpha.append(basis.withUnsafeBufferPointer { bp in w.withUnsafeBufferPointer { dot(bp.baseAddress! + j * n, $0.baseAddress!, n) } })
        // Full reorthogonalisation against the Lanczos vectors and the deflated ones (a second round
        // when the first removed most of w: "twice is enough"); this also removes the three-term
        // recurrence's α·v_j and β·v_{j-1}.
        let before = dot(w, w)
        for round in 0..<2 {
            if round == 1 && dot(w, w) > 0.5 * before { break }
            orthogonalize(&w, against: basis, count: j + 1, length: n, threads: threads)
            for u in deflating { deflate(&w, u) }
        }
        let b = dot(w, w).squareRoot()
        beta.append(b)
        steps += 1
        let breakdown = !(b > 1e-7)
        if breakdown || steps == maxSteps || (steps >= 8 && steps % 8 == 0) {
            let decomposition = tridiagonalEigen(diagonal: alpha, offDiagonal: Array(beta.dropLast()))
            ritz = decomposition
            if breakdown || steps == maxSteps { break }
            let theta = decomposition.values[steps - 1]
            let residual = b * abs(decomposition.vectors[(steps - 1) * steps + steps - 1])
            if residual <= max(1e-4 * (1 - theta), 1e-6) { break }
        }
        basis.withUnsafeMutableBufferPointer { bp in
            let next = bp.baseAddress! + steps * n
            let inv = Float(1 / b)
            for i in 0..<n { next[i] = w[i] * inv }
        }
    }
    guard let (values, vectors) = ritz else { return nil }
    let m = values.count
    func ritzVector(_ index: Int) -> [Float]? {
        var x = [Float](repeating: 0, count: n)
        basis.withUnsafeBufferPointer { bp in
            for s in 0..<m {
                let c = Float(vectors[index * m + s])
                if c == 0 { continue }
                let row = bp.baseAddress! + s * n
                for i in 0..<n { x[i] += c * row[i] }
            }
        }
        for _ in 0..<2 { for u in deflating { deflate(&x, u) } }
        guard normalize(&x), !x.contains(where: { !$0.isFinite }) else { return nil }
        return x
    }
    guard let leading = ritzVector(m - 1) else { return nil }
    return (leading, m >= 2 ? ritzVector(m - 2) : nil)
}

/// w -= Vᵀ(V w) for the `count` orthonormal rows of V (count, length): one Gram-Schmidt sweep as two
/// matrix-vector products, the columns split into up to 8 parts (by length, not threads, so the sum
/// of the parts' V w is the same on any number of threads).
func orthogonalize(_ w: inout [Float], against basis: [Float], count: Int, length n: Int, threads: Int) {
    let t = max(1, min(8, n / 8192))
    var partial = [Float](repeating: 0, count: t * count)
    basis.withUnsafeBufferPointer { bp in
        w.withUnsafeMutableBufferPointer { wp in
            partial.withUnsafeMutableBufferPointer { pp in
                let p = UncheckedSendable(value: (bp.baseAddress!, wp.baseAddress!, pp.baseAddress!))
                forEachBlock(t, threads: threads) { b, _ in
                    let (v, w, h) = p.value
                    let cols = blockRange(b, of: t, count: n)
                    BLAS.sgemm(m: count, n: 1, k: cols.count, a: v + cols.lowerBound, lda: n, b: w + cols.lowerBound,
                               ldb: 1, c: h + b * count, ldc: 1)
                }
                for b in 1..<t { for r in 0..<count { pp[r] += pp[b * count + r] } }
                forEachBlock(t, threads: threads) { b, _ in
                    let (v, w, h) = p.value
                    let cols = blockRange(b, of: t, count: n)
                    BLAS.sgemm(transA: true, m: cols.count, n: 1, k: count, alpha: -1, a: v + cols.lowerBound, lda: n,
                               b: h, ldb: 1, beta: 1, c: w + cols.lowerBound, ldc: 1)
                }
            }
        }
    }
}

/// Σ a[i]·b[i] over n entries, accumulated in Float lanes and Double blocks.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Float>()
    var total = 0.0
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        acc.addProduct(x, y)
        i += 8
        if i % 4096 == 0 { total += Double(acc.sum()); acc = SIMD8<Float>() }
    }
    total += Double(acc.sum())
    while i < n { total += Double(a[i] * b[i]); i += 1 }
    return total
}

func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    return a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in dot(ap.baseAddress!, bp.baseAddress!, a.count) } }
}

/// v -= (u·v) u for a unit vector u.
func deflate(_ v: inout [Float], _ u: [Float]) {
    let c = Float(dot(v, u))
    for i in 0..<v.count { v[i] -= c * u[i] }
}

/// v /= |v|; false if v is (numerically) zero.
func normalize(_ v: inout [Float]) -> Bool {
    let norm = dot(v, v).squareRoot()
    if !(norm > 1e-20) { return false }
    let inv = Float(1 / norm)
    for i in 0..<v.count { v[i] *= inv }
    return true
}
