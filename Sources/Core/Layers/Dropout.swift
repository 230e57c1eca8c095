// Inverted dropout, active only in training: kept elements are scaled by 1/(1-rate).
//
// The mask of one sample depends only on (seed, layer stream, epoch, sample index), never on
// which thread, micro-batch or worker computes it.

public enum Dropout {
    /// Fills `mask[0..<count]` with 0 or 1/(1-rate) for one sample.
    /// `valid(e)` maps a dense element index to its position in `mask` (padded layouts).
    public static func makeMask(
        rate: Float, seed: UInt64, stream: RandomStream, epoch: Int, sampleIndex: Int,
        elements: Int, mask: UnsafeMutablePointer<Float>, position: (Int) -> Int
    ) {
        var g = SplitMix64(seed: seed, stream: stream, UInt64(epoch), UInt64(sampleIndex))
        // Drop when a 24-bit uniform falls below rate * 2^24 (two draws per 64-bit output).
        let threshold = UInt64((Double(rate) * 16_777_216).rounded(.up))
        let keep = 1 / (1 - rate)
        var e = 0
        while e < elements {
            let r = g.next()
            mask[position(e)] = (r >> 40) >= threshold ? keep : 0
            if e + 1 < elements { mask[position(e + 1)] = ((r >> 8) & 0xFF_FFFF) >= threshold ? keep : 0 }
            e += 2
        }
    }

    /// x *= mask, element-wise (forward and backward alike).
    @inline(__always)
    public static func apply(_ x: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] *= mask[i] }
    }
}
