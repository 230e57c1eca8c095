import Dispatch

/// The gradient of one training step (or of some of its micro-batches), in a form whose
/// combination is exact and independent of how micro-batches were grouped:
///
/// - `sums`: every parameter except `hidden/kernel`, summed over samples in 64-bit fixed point
///   (integer addition is associative);
/// - `hidden/kernel`'s gradient is the product flat^T . delta over the step's samples. Instead of
///   that 1568 x 512 matrix we keep its *sufficient factors*, the rows `flatRows` (the layer's
///   input, after dropout) and `deltaRows` (d loss / d pre-activation), in canonical sample order,
///   and multiply once per step. This is also 4x smaller to ship between processes.
public struct StepGradient: Sendable, Equatable {
    public static let hiddenKernel = SeedCNN.layout["hidden/kernel"]
    /// Parameters carried in `sums`: the whole layout minus `hidden/kernel`.
    public static let packedCount = SeedCNN.layout.count - hiddenKernel.count

    public var sums: FixedPointGradient
    public var flatRows: [Float]
    public var deltaRows: [Float]
    public var rows: Int

    public init(sums: FixedPointGradient, flatRows: [Float], deltaRows: [Float], rows: Int) {
        precondition(sums.count == StepGradient.packedCount)
        precondition(flatRows.count == rows * SeedCNN.flatWidth && deltaRows.count == rows * SeedCNN.hiddenWidth)
        self.sums = sums; self.flatRows = flatRows; self.deltaRows = deltaRows; self.rows = rows
    }

    public static var empty: StepGradient {
        StepGradient(sums: FixedPointGradient(count: packedCount), flatRows: [], deltaRows: [], rows: 0)
    }

    /// Adds a full-layout Float gradient's packed part (the `hidden/kernel` slice is ignored).
    public mutating func addPacked(from full: UnsafePointer<Float>) {
        let hk = StepGradient.hiddenKernel
        sums.add(full, range: 0..<hk.offset, at: 0)
        sums.add(full + hk.range.upperBound, range: 0..<(SeedCNN.layout.count - hk.range.upperBound), at: hk.offset)
    }

    /// Appends `other` after this one (its samples come later in canonical order).
    public mutating func append(_ other: StepGradient) {
        sums.add(other.sums)
        flatRows += other.flatRows
        deltaRows += other.deltaRows
        rows += other.rows
    }

    /// `append` for a part held elsewhere (a shared file): its sums and its rows, copied in.
    public mutating func append(sums other: UnsafeBufferPointer<Int64>, flatRows flat: UnsafeBufferPointer<Float>,
                                deltaRows delta: UnsafeBufferPointer<Float>) {
        let added = flat.count / SeedCNN.flatWidth
        precondition(flat.count == added * SeedCNN.flatWidth && delta.count == added * SeedCNN.hiddenWidth)
        sums.add(other)
        flatRows.append(contentsOf: flat)
        deltaRows.append(contentsOf: delta)
        rows += added
    }

    /// Makes this `empty` again, keeping its arrays' storage for what is appended next.
    public mutating func removeAll() {
        sums.setZero()
        flatRows.removeAll(keepingCapacity: true)
        deltaRows.removeAll(keepingCapacity: true)
        rows = 0
    }

    /// The mean gradient over `samples` samples, in the full parameter layout.
    public func mean(samples: Int, threads: Int, kernels: KernelPath = .current) -> [Float] {
        let hk = StepGradient.hiddenKernel
        let n = SeedCNN.layout.count
        var out = [Float](repeating: 0, count: n)
        let packed = sums.mean(over: samples)
        out.withUnsafeMutableBufferPointer { o in
            let p = o.baseAddress!
            packed.withUnsafeBufferPointer { s in
                (p).update(from: s.baseAddress!, count: hk.offset)
                (p + hk.range.upperBound).update(from: s.baseAddress! + hk.offset, count: n - hk.range.upperBound)
            }
            if rows > 0 {
                // Two fixed column blocks, on up to two threads: every element is one chain over the
                // rows (`DenseProduct`), so neither the split, `threads` nor the CPU changes the result.
                let out = UncheckedSendable(value: p + hk.offset)
                flatRows.withUnsafeBufferPointer { f in
                    deltaRows.withUnsafeBufferPointer { d in
                        let fp = UncheckedSendable(value: f.baseAddress!)
                        let dp = UncheckedSendable(value: d.baseAddress!)
                        let half = SeedCNN.hiddenWidth / 2, rows = self.rows
                        forEachBlockAsTaken(2, threads: threads) { block in
                            DenseProduct.accumulate(m: SeedCNN.flatWidth, n: half, k: rows, a: fp.value, aRow: 1,
                                                    aCol: SeedCNN.flatWidth, b: dp.value + block * half,
                                                    ldb: SeedCNN.hiddenWidth, c: out.value + block * half,
                                                    ldc: SeedCNN.hiddenWidth, scale: 1 / Float(samples), path: kernels)
                        }
                    }
                }
            }
        }
        return out
    }
}
