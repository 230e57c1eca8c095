/// Runs `body(block, rows, dots)` for consecutive blocks of `blockRows` rows of `x` (rows, dim), block b
/// on `forEachBlock`'s thread b % threads, where `dots` = x[rows] · yᵀ is (rows.count, yRows) row-major,
/// from one sgemm per block. The blocks are cut by `blockRows`, never by threads, so each block's dot
/// products are the same bits on any number of threads. `dots` lives only for the call.
func forEachRowBlockProduct(
    _ x: UnsafePointer<Float>, rows: Int, _ y: UnsafePointer<Float>, yRows: Int, dim: Int, blockRows: Int,
    threads: Int, _ body: (_ block: Int, _ rows: Range<Int>, _ dots: UnsafeMutablePointer<Float>) -> Void
) {
    forEachBlock(rowBlockCount(rows, blockRows: blockRows), threads: threads) { b, _ in
        let block = (b * blockRows)..<min(rows, (b + 1) * blockRows)
        let dots = UnsafeMutablePointer<Float>.allocate(capacity: block.count * yRows)
        defer { dots.deallocate() }
        BLAS.sgemm(transB: true, m: block.count, n: yRows, k: dim, a: x + block.lowerBound * dim, lda: dim, b: y,
                   ldb: dim, c: dots, ldc: yRows)
        body(b, block, dots)
    }
}

/// The number of blocks of `blockRows` rows that cover `rows` rows (the last one may be shorter).
func rowBlockCount(_ rows: Int, blockRows: Int) -> Int { (rows + blockRows - 1) / blockRows }
