// Principal components of a data matrix, used to find candidate neighbours in a few dimensions.
//
// data is (rows, dim) row-major. The covariance (dim, dim) is accumulated by sgemm over row blocks;
// its leading eigenvectors come from subspace iteration with a Rayleigh-Ritz step (exactness is not
// needed: the projection only proposes candidates, which are then checked in the full dimension).

/// The leading principal axes of a data set.
public struct PrincipalComponents: Sendable {
    /// Input dimension.
    public let dim: Int
    /// Number of axes kept.
    public let count: Int
    /// Column means of the data (dim).
    public let mean: [Float]
    /// Orthonormal axes as rows (count, dim), by decreasing variance.
    public let components: [Float]
    /// Variance of the data along each axis (count).
    public let variances: [Float]

    /// Projects rows (rows, dim) onto the axes: (rows, count), centred by `mean`.
    public func project(_ data: [Float], rows: Int, threads: Int = UMAPOptions.defaultThreads) -> [Float] {
        precondition(data.count == rows * dim)
        var out = [Float](repeating: 0, count: rows * count)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                project(x.baseAddress!, rows: rows, into: y.baseAddress!, threads: threads)
            }
        }
        return out
    }

    func project(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        // y = x C^T - (mean C^T) per row.
        var shift = [Float](repeating: 0, count: count)
        for c in 0..<count {
            var s: Float = 0
            for d in 0..<dim { s += mean[d] * components[c * dim + d] }
            shift[c] = s
        }
        let blockRows = 2048
        let blocks = (rows + blockRows - 1) / blockRows
        let xs = UncheckedSendable(value: x), ys = UncheckedSendable(value: y)
        components.withUnsafeBufferPointer { comp in
            forEachBlock(blocks, threads: threads) { b, _ in
                let r0 = b * blockRows, r1 = min(rows, r0 + blockRows)
                BLAS.sgemm(transB: true, m: r1 - r0, n: count, k: dim,
                           a: xs.value + r0 * dim, lda: dim, b: comp.baseAddress!, ldb: dim,
                           c: ys.value + r0 * count, ldc: count)
                for r in r0..<r1 {
                    for c in 0..<count { ys.value[r * count + c] -= shift[c] }
                }
            }
        }
    }
}

/// The `count` leading principal components of `data` (rows, dim).
public func principalComponents(
    data: [Float], rows: Int, dim: Int, count: Int, seed: UInt64 = 0,
    threads: Int = UMAPOptions.defaultThreads
) -> PrincipalComponents {
    precondition(data.count == rows * dim && rows > 0)
    return data.withUnsafeBufferPointer {
        principalComponents($0.baseAddress!, rows: rows, dim: dim, count: count, seed: seed, threads: threads)
    }
}

func principalComponents(
    _ x: UnsafePointer<Float>, rows: Int, dim: Int, count requested: Int, seed: UInt64, threads: Int
) -> PrincipalComponents {
    let count = min(requested, dim)
    // Column means, in Double.
    var meanD = [Double](repeating: 0, count: dim)
    for r in 0..<rows {
        let row = x + r * dim
        for d in 0..<dim { meanD[d] += Double(row[d]) }
    }
    let mean = meanD.map { Float($0 / Double(rows)) }

    // Covariance: row block b is accumulated into partial sum b mod `groups` (a count that does not
    // depend on the threads, so neither does the sum); each thread centres rows in its own scratch.
    let blockRows = 1024
    let blocks = (rows + blockRows - 1) / blockRows
    let groups = min(blocks, 8)
    let t = max(1, min(threads, groups))
    var partial = [Float](repeating: 0, count: groups * dim * dim)
    var scratch = [Float](repeating: 0, count: t * blockRows * dim)
    partial.withUnsafeMutableBufferPointer { pp in
        scratch.withUnsafeMutableBufferPointer { sp in
            let p = UncheckedSendable(value: pp.baseAddress!), s = UncheckedSendable(value: sp.baseAddress!)
            let xs = UncheckedSendable(value: x)
            forEachBlock(groups, threads: t) { g, thread in
                let buf = s.value + thread * blockRows * dim
                for b in stride(from: g, to: blocks, by: groups) {
                    let r0 = b * blockRows, r1 = min(rows, r0 + blockRows)
                    for r in r0..<r1 {
                        let src = xs.value + r * dim, dst = buf + (r - r0) * dim
                        for d in 0..<dim { dst[d] = src[d] - mean[d] }
                    }
                    BLAS.sgemm(transA: true, m: dim, n: dim, k: r1 - r0, a: buf, lda: dim, b: buf, ldb: dim,
                               beta: 1, c: p.value + g * dim * dim, ldc: dim)
                }
            }
        }
    }
    var cov = [Float](repeating: 0, count: dim * dim)
    let scale = 1 / Float(max(rows - 1, 1))
    for g in 0..<groups {
        for i in 0..<(dim * dim) { cov[i] += partial[g * dim * dim + i] }
    }
    for i in 0..<(dim * dim) { cov[i] *= scale }

    // Subspace iteration on q >= count vectors, then Rayleigh-Ritz.
    let q = min(dim, count + 16)
    var g = SplitMix64(seed: seed, .pca)
    var basis = (0..<(dim * q)).map { _ in Float(g.nextGaussian()) }  // (dim, q)
    orthonormalizeColumns(&basis, rows: dim, cols: q)
    var product = [Float](repeating: 0, count: dim * q)
    for _ in 0..<12 {
        cov.withUnsafeBufferPointer { c in
            basis.withUnsafeBufferPointer { bq in
                product.withUnsafeMutableBufferPointer { pr in
                    BLAS.sgemm(m: dim, n: q, k: dim, a: c.baseAddress!, lda: dim, b: bq.baseAddress!, ldb: q,
                               c: pr.baseAddress!, ldc: q)
                }
            }
        }
        swap(&basis, &product)
        orthonormalizeColumns(&basis, rows: dim, cols: q)
    }
    // Rayleigh quotient T = B^T C B (q, q).
    cov.withUnsafeBufferPointer { c in
        basis.withUnsafeBufferPointer { bq in
            product.withUnsafeMutableBufferPointer { pr in
                BLAS.sgemm(m: dim, n: q, k: dim, a: c.baseAddress!, lda: dim, b: bq.baseAddress!, ldb: q,
                           c: pr.baseAddress!, ldc: q)
            }
        }
    }
    var tmat = [Double](repeating: 0, count: q * q)
    for i in 0..<q {
        for j in 0..<q {
            var s = 0.0
            for d in 0..<dim { s += Double(basis[d * q + i]) * Double(product[d * q + j]) }
            tmat[i * q + j] = s
        }
    }
    for i in 0..<q { for j in 0..<i { let m = 0.5 * (tmat[i * q + j] + tmat[j * q + i]); tmat[i * q + j] = m; tmat[j * q + i] = m } }
    let (values, vectors) = symmetricEigen(tmat, n: q)
    var components = [Float](repeating: 0, count: count * dim)
    var variances = [Float](repeating: 0, count: count)
    for c in 0..<count {
        let j = q - 1 - c  // descending
        variances[c] = Float(max(values[j], 0))
        for d in 0..<dim {
            var s = 0.0
            for i in 0..<q { s += Double(basis[d * q + i]) * vectors[j * q + i] }
            components[c * dim + d] = Float(s)
        }
    }
    return PrincipalComponents(dim: dim, count: count, mean: mean, components: components, variances: variances)
}

/// Modified Gram-Schmidt (twice, for stability) on the columns of a (rows, cols) row-major matrix.
func orthonormalizeColumns(_ m: inout [Float], rows: Int, cols: Int) {
    var col = [Double](repeating: 0, count: rows)
    var done = [[Double]]()
    for j in 0..<cols {
        for r in 0..<rows { col[r] = Double(m[r * cols + j]) }
        for _ in 0..<2 {
            for prev in done {
                var dot = 0.0
                for r in 0..<rows { dot += prev[r] * col[r] }
                for r in 0..<rows { col[r] -= dot * prev[r] }
            }
        }
        var norm = 0.0
        for r in 0..<rows { norm += col[r] * col[r] }
        norm = norm.squareRoot()
        if norm < 1e-30 {  // degenerate direction: any unit vector orthogonal enough will do
            for r in 0..<rows { col[r] = r == j % rows ? 1 : 0 }
            norm = 1
        }
        for r in 0..<rows { col[r] /= norm }
        done.append(col)
        for r in 0..<rows { m[r * cols + j] = Float(col[r]) }
    }
}
