/// Adam applied straight from a step's gradient factors: the mean gradient of `hidden/kernel` is formed
/// 96 rows at a time (sixteen of the products' 6-row tiles) in a buffer that stays in cache and applied at
/// once, instead of being written to a 3.3 MB array and read back. On a 2-core host with two workers
/// applying updates side by side, memory traffic, not arithmetic, bounded the step; this leaves it the
/// moments and weights to read and write.
/// Each element is the same chain (`DenseProduct`) and the same Adam operations as in `mean` followed by
/// `apply`, so the bits are the same.
extension AdamState {
    /// Rows of `hidden/kernel` per block (the last of the 17 blocks has 32).
    static let fusedRows = 96

    /// Step `step` of the elements of `shares`, with the mean of `gradient` over `samples` samples, on at
    /// most `threads` threads.
    public mutating func update(_ step: Step, gradient: StepGradient, samples: Int, shares: [ParameterShare],
                                parameters: inout [Float], threads: Int, kernels: KernelPath = .current) {
        precondition(parameters.count == m.count)
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                parameters.withUnsafeMutableBufferPointer { wb in
                    AdamState.update(step, gradient: gradient, samples: samples, shares: shares, m: mb.baseAddress!,
                                     v: vb.baseAddress!, weights: wb.baseAddress!, threads: threads, kernels: kernels)
                }
            }
        }
    }

    /// The same on moments and weights anywhere (e.g. in a file shared between processes), in the full layout.
    static func update(_ step: Step, gradient: StepGradient, samples: Int, shares: [ParameterShare],
                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, weights w: UnsafeMutablePointer<Float>,
                       threads: Int, kernels: KernelPath) {
        FlushToZero.enable()
        let hk = StepGradient.hiddenKernel, n = SeedCNN.layout.count
        if shares.contains(where: \.includesOtherTensors) {
            let packed = gradient.sums.mean(over: samples)  // the tensors before hidden/kernel, then those after
            packed.withUnsafeBufferPointer { g in
                update(m: m, v: v, weights: w, gradient: g.baseAddress!, count: hk.offset, step)
                let after = hk.range.upperBound
                update(m: m + after, v: v + after, weights: w + after, gradient: g.baseAddress! + hk.offset, count: n - after, step)
            }
        }
        let rowsPerBlock = fusedRows
        let jobs: [(row: Int, columns: Range<Int>)] = shares.filter { !$0.columns.isEmpty }.flatMap { share in
            stride(from: 0, to: SeedCNN.flatWidth, by: rowsPerBlock).map { (row: $0, columns: share.columns) }
        }
        let threads = max(1, min(threads, jobs.count))
        let scratch = FloatBuffer(count: threads * rowsPerBlock * SeedCNN.hiddenWidth)
        let (mp, vp, wp) = (UncheckedSendable(value: m), UncheckedSendable(value: v), UncheckedSendable(value: w))
        let scale = 1 / Float(samples), rows = gradient.rows
        gradient.flatRows.withUnsafeBufferPointer { f in
            gradient.deltaRows.withUnsafeBufferPointer { d in
                let fp = UncheckedSendable(value: f.baseAddress), dp = UncheckedSendable(value: d.baseAddress)
                forEachBlock(jobs.count, threads: threads) { j, thread in
                    let (row, columns) = jobs[j]
                    let width = columns.count, blockRows = min(rowsPerBlock, SeedCNN.flatWidth - row)
                    let g = scratch.pointer + thread * rowsPerBlock * SeedCNN.hiddenWidth
                    g.update(repeating: 0, count: blockRows * width)
                    if rows > 0 {
                        DenseProduct.accumulate(m: blockRows, n: width, k: rows, a: fp.value! + row, aRow: 1,
                                                aCol: SeedCNN.flatWidth, b: dp.value! + columns.lowerBound,
                                                ldb: SeedCNN.hiddenWidth, c: g, ldc: width, scale: scale, path: kernels)
                    }
                    for i in 0..<blockRows {
                        let e = hk.offset + (row + i) * SeedCNN.hiddenWidth + columns.lowerBound
                        update(m: mp.value + e, v: vp.value + e, weights: wp.value + e, gradient: g + i * width,
                               count: width, step)
                    }
                }
            }
        }
    }
}
