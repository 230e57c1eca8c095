// Small dense symmetric eigenproblems, in Double: the Rayleigh-Ritz steps of the PCA and of the
// spectral initialisation, and the meta-layout of disconnected components. Sizes here are at most a
// few hundred, so textbook methods suffice: cyclic Jacobi for dense matrices, implicit QL for
// tridiagonal ones (the Lanczos matrix).

/// Eigen-decomposition of a symmetric n x n matrix (row-major) by cyclic Jacobi rotations.
/// Returns the eigenvalues in ascending order and the eigenvectors as the rows of `vectors`
/// (`vectors[j * n + i]` is component i of eigenvector j).
func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
    precondition(matrix.count == n * n)
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    if n > 1 {
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for p in 0..<n {
                diag += a[p * n + p] * a[p * n + p]
                for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] }
            }
            if off <= 1e-30 * max(diag, 1e-300) { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<n {  // A <- A J
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {  // A <- J^T A
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {  // V <- V J, eigenvectors kept as rows of v (so update rows)
                        let vpk = v[p * n + k], vqk = v[q * n + k]
                        v[p * n + k] = c * vpk - s * vqk
                        v[q * n + k] = s * vpk + c * vqk
                    }
                }
            }
        }
    }
    let order = (0..<n).sorted { a[$0 * n + $0] < a[$1 * n + $1] }
    var values = [Double](repeating: 0, count: n)
    var vectors = [Double](repeating: 0, count: n * n)
    for (j, src) in order.enumerated() {
        values[j] = a[src * n + src]
        for i in 0..<n { vectors[j * n + i] = v[src * n + i] }
    }
    return (values, vectors)
}

/// Eigen-decomposition of the symmetric tridiagonal matrix with `diagonal` d (n) and `offDiagonal` e
/// (n - 1; e[i] couples i and i + 1), by the implicit QL method with Wilkinson-like shifts.
/// Returns eigenvalues ascending and eigenvectors as rows (`vectors[j * n + i]`).
func tridiagonalEigen(diagonal: [Double], offDiagonal: [Double]) -> (values: [Double], vectors: [Double]) {
    let n = diagonal.count
    precondition(offDiagonal.count >= n - 1)
    var d = diagonal
    var e = [Double](repeating: 0, count: n)
    for i in 0..<(max(n - 1, 0)) { e[i] = offDiagonal[i] }
    // zt[i * n + k]: component k of the vector that ends as eigenvector i.
    var zt = [Double](repeating: 0, count: n * n)
    for i in 0..<n { zt[i * n + i] = 1 }
    let eps = Double.ulpOfOne
    for l in 0..<n {
        var iterations = 0
        while true {
            var m = l
            while m < n - 1 {
                let dd = abs(d[m]) + abs(d[m + 1])
                if abs(e[m]) <= eps * dd { break }
                m += 1
            }
            if m == l { break }
            iterations += 1
            if iterations > 60 { break }
            var g = (d[l + 1] - d[l]) / (2 * e[l])
            var r = (g * g + 1).squareRoot()
            g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r))
            var s = 1.0, c = 1.0, p = 0.0
            var i = m - 1
            var deflated = false
            while i >= l {
                let f = s * e[i]
                let b = c * e[i]
                r = (f * f + g * g).squareRoot()
                e[i + 1] = r
                if r == 0 {
                    d[i + 1] -= p
                    e[m] = 0
                    deflated = true
                    break
                }
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                zt.withUnsafeMutableBufferPointer { z in
                    let zi = z.baseAddress! + i * n, zi1 = zi + n
                    for k in 0..<n {
                        let fk = zi1[k]
                        zi1[k] = s * zi[k] + c * fk
                        zi[k] = c * zi[k] - s * fk
                    }
                }
                i -= 1
            }
            if deflated { continue }
            d[l] -= p
            e[l] = g
            e[m] = 0
        }
    }
    let order = (0..<n).sorted { d[$0] < d[$1] }
    var values = [Double](repeating: 0, count: n)
    var vectors = [Double](repeating: 0, count: n * n)
    for (j, src) in order.enumerated() {
        values[j] = d[src]
        for k in 0..<n { vectors[j * n + k] = zt[src * n + k] }
    }
    return (values, vectors)
}
