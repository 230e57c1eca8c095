// ReLU followed by 2x2 max-pooling (stride 2, valid), fused: relu(max(x)) == max(relu(x)).
//
// input: padded layout (S+1)^2 x 32 per image (see Conv2x2.swift); output: S/2 x S/2 x 32 per
// image, either in padded layout (pitch S/2+1, feeding another convolution) or dense (pitch S/2,
// feeding Flatten). `argmax` records, per output element, which of the 4 window cells won
// (0...3), or 255 where the ReLU clipped the maximum to zero (no gradient flows).

public enum MaxPoolReLU {
    /// - Parameter outputPadded: whether the output uses the padded layout.
    public static func forward(
        input: UnsafePointer<Float>, inputGeometry g: PaddedGeometry,
        output: UnsafeMutablePointer<Float>, outputPadded: Bool,
        argmax: UnsafeMutablePointer<UInt8>
    ) {
        precondition(g.channels == 32 && g.size % 2 == 0)
        let half = g.size / 2
        let outPitch = outputPadded ? half + 1 : half
        let outPerImage = outPitch * outPitch
        for n in 0..<g.images {
            for i in 0..<half {
                for j in 0..<half {
                    let q00 = (n * g.pixelsPerImage + (2 * i) * g.pitch + 2 * j) * 32
                    let q01 = q00 + 32, q10 = q00 + g.pitch * 32, q11 = q10 + 32
                    let o = (n * outPerImage + i * outPitch + j) * 32
                    for c in stride(from: 0, to: 32, by: 8) {
                        let (m, k) = maxWithIndex(input + q00 + c, input + q01 + c, input + q10 + c, input + q11 + c)
                        let positive = m .> 0
                        UnsafeMutableRawPointer(output + o + c).storeBytes(
                            of: SIMD8<Float>(repeating: 0).replacing(with: m, where: positive), as: SIMD8<Float>.self)
                        let winner = SIMD8<UInt8>(truncatingIfNeeded: SIMD8<Int32>(repeating: 255).replacing(with: k, where: positive))
                        UnsafeMutableRawPointer(argmax + o + c).storeBytes(of: winner, as: SIMD8<UInt8>.self)
                    }
                }
            }
        }
    }

    /// Element-wise maximum of four 8-channel vectors and the index (0...3) of the first winner.
    @inline(__always)
    static func maxWithIndex(_ p0: UnsafePointer<Float>, _ p1: UnsafePointer<Float>, _ p2: UnsafePointer<Float>,
                             _ p3: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Int32>) {
        var m = UnsafeRawPointer(p0).loadUnaligned(as: SIMD8<Float>.self)
        var k = SIMD8<Int32>(repeating: 0)
        for (index, p) in [p1, p2, p3].enumerated() {
            let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
            let greater = v .> m
            m.replace(with: v, where: greater)
            k.replace(with: Int32(index + 1), where: greater)
        }
        return (m, k)
    }

    /// Routes each output gradient to the winning input cell. `inputGradient` is fully rewritten
    /// (valid and pad pixels), so it needs no clearing beforehand.
    public static func backward(
        outputGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, outputPadded: Bool,
        inputGradient: UnsafeMutablePointer<Float>, inputGeometry g: PaddedGeometry
    ) {
        inputGradient.update(repeating: 0, count: g.floatCount)
        let half = g.size / 2
        let outPitch = outputPadded ? half + 1 : half
        let outPerImage = outPitch * outPitch
        let cellOffsets = [0, 32, g.pitch * 32, g.pitch * 32 + 32]
        for n in 0..<g.images {
            for i in 0..<half {
                for j in 0..<half {
                    let q00 = (n * g.pixelsPerImage + (2 * i) * g.pitch + 2 * j) * 32
                    let o = (n * outPerImage + i * outPitch + j) * 32
                    for c in 0..<32 {
                        let k = argmax[o + c]
                        if k != 255 { inputGradient[q00 + cellOffsets[Int(k)] + c] = outputGradient[o + c] }
                    }
                }
            }
        }
    }
}
