import CVectorKernels

/// The matrix product of the dense layers and of the hidden kernel's gradient: Glassbox's own, so that
/// their bits depend on no BLAS library (OpenBLAS gives other bits for another core, e.g. `Sandybridge`
/// against `Haswell`, and a host may have another version). Every element is a chain of fused
/// multiply-adds in one order, the same on every `KernelPath`: a cluster of mixed CPUs and libraries
/// trains the very weights of one process.
public enum DenseProduct {
    /// c[i][j] = scale * (c[i][j] + sum over l < k of a(i, l) * b[l][j]) for i < m, j < n, with
    /// a(i, l) = a[i * aRow + l * aCol] (so `aRow: k, aCol: 1` is a row-major m x k matrix and
    /// `aRow: 1, aCol: m` the transpose of a row-major k x m one), b row-major with row stride `ldb`, c with
    /// row stride `ldc`. The chain starts from c's value; `scale` (if not 1) multiplies its end.
    public static func accumulate(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRow: Int, aCol: Int,
                                  b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                  scale: Float = 1, path: KernelPath) {
        switch path {
        case .reference:
            referenceAccumulate(m: m, n: n, k: k, a: a, aRow: aRow, aCol: aCol, b: b, ldb: ldb, c: c, ldc: ldc, scale: scale)
        case .avx2:
            glassbox_gemm_accumulate_avx2(m, n, k, a, aRow, aCol, b, ldb, c, ldc, scale)
        case .avx512:
            glassbox_gemm_accumulate_avx512(m, n, k, a, aRow, aCol, b, ldb, c, ldc, scale)
        }
    }

    /// `accumulate` with b packed beforehand (`PackedMatrix`, for a b used by many products): the same bits.
    public static func accumulate(m: Int, a: UnsafePointer<Float>, aRow: Int, aCol: Int, packed b: PackedMatrix,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, scale: Float = 1) {
        let p = b.storage.pointer
        switch b.path {
        case .reference:
            referenceAccumulate(m: m, n: b.n, k: b.k, a: a, aRow: aRow, aCol: aCol, b: p, ldb: b.n, c: c, ldc: ldc, scale: scale)
        case .avx2:
            glassbox_gemm_accumulate_packed_avx2(m, b.n, b.k, a, aRow, aCol, p, c, ldc, scale)
        case .avx512:
            glassbox_gemm_accumulate_packed_avx512(m, b.n, b.k, a, aRow, aCol, p, c, ldc, scale)
        }
    }

    /// The readable product: one element at a time, the chain in order of l.
    static func referenceAccumulate(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aRow: Int, aCol: Int,
                                    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                    scale: Float) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = c[i * ldc + j]
                for l in 0..<k { acc.addProduct(a[i * aRow + l * aCol], b[l * ldb + j]) }
                c[i * ldc + j] = scale == 1 ? acc : acc * scale
            }
        }
    }

    /// out (cols x rows) = the transpose of `matrix` (rows x cols, row-major).
    public static func transpose(_ matrix: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        let tile = 32  // both sides stay in cache
        for r0 in stride(from: 0, to: rows, by: tile) {
            for c0 in stride(from: 0, to: cols, by: tile) {
                for r in r0..<min(rows, r0 + tile) {
                    for c in c0..<min(cols, c0 + tile) { out[c * rows + r] = matrix[r * cols + c] }
                }
            }
        }
    }
}

/// A k x n matrix laid out for `DenseProduct.accumulate(m:a:aRow:aCol:packed:c:ldc:scale:)` on one path:
/// column panels of the path's vector width (row-major as given on the reference path). n must be a
/// multiple of 32.
public final class PackedMatrix: @unchecked Sendable {
    public let k: Int, n: Int
    public let path: KernelPath
    let storage: FloatBuffer

    public init(k: Int, n: Int, path: KernelPath) {
        precondition(n % 32 == 0, "PackedMatrix: \(n) columns are not whole panels")
        self.k = k; self.n = n; self.path = path
        storage = FloatBuffer(count: k * n)
    }

    /// Lays out `b` (k x n, row stride `ldb`).
    public func pack(_ b: UnsafePointer<Float>, ldb: Int) {
        switch path {
        case .reference:
            for l in 0..<k { (storage.pointer + l * n).update(from: b + l * ldb, count: n) }
        case .avx2:
            glassbox_gemm_pack_avx2(k, n, b, ldb, storage.pointer)
        case .avx512:
            glassbox_gemm_pack_avx512(k, n, b, ldb, storage.pointer)
        }
    }
}
