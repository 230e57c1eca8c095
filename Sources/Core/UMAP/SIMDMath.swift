// Vector helpers written so they compile to plain AVX2 instructions: the generic SIMD conversions
// and roundings of the standard library go through per-lane slow paths. Valid ranges are stated.

/// floor(x) for 0 <= x < 2^22 (adds and subtracts 2^23 to round, then corrects).
@inline(__always)
func floorNonNegative(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let magic = SIMD8<Float>(repeating: 8_388_608)
    let nearest = (x + magic) - magic
    return nearest.replacing(with: nearest - 1, where: nearest .> x)
}

/// Float(i) for |i| < 2^22, lane by lane.
@inline(__always)
func floatFromSmallInt(_ i: SIMD8<Int32>) -> SIMD8<Float> {
    // 0x4B40_0000 is 1.5·2^23: adding i to its bits adds i to its value.
    unsafeBitCast(i &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912
}

/// x clamped to [-bound, bound].
@inline(__always)
func clamped(_ x: SIMD8<Float>, _ bound: Float) -> SIMD8<Float> {
    let hi = SIMD8<Float>(repeating: bound), lo = SIMD8<Float>(repeating: -bound)
    return x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
}

/// log2(x) for normal x > 0, absolute error 2.2e-6: exponent plus a degree-6 least-squares polynomial
/// of the mantissa (no division).
@inline(__always)
func fastLog2(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
    let exponent = floatFromSmallInt((bits &>> 23) &- 127)
    let t = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self) - 1  // [0, 1)
    var p = SIMD8<Float>(repeating: -0.025_123_487)
    p = SIMD8(repeating: 0.119_299_56).addingProduct(p, t)
    p = SIMD8(repeating: -0.274_625_41).addingProduct(p, t)
    p = SIMD8(repeating: 0.455_528_68).addingProduct(p, t)
    p = SIMD8(repeating: -0.717_558_43).addingProduct(p, t)
    p = SIMD8(repeating: 1.442_475_4).addingProduct(p, t)
    p = SIMD8(repeating: 2.120_490_1e-6).addingProduct(p, t)
    return exponent + p
}

/// 2^y, y clamped to [-126, 126], relative error 2.6e-7 (degree-5 least-squares polynomial).
@inline(__always)
func fastExp2(_ y: SIMD8<Float>) -> SIMD8<Float> {
    let c = y.replacing(with: 126, where: y .> 126).replacing(with: -126, where: y .< -126)
    // Round to nearest integer by the 1.5·2^23 trick; the integer sits in the low mantissa bits.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = c + magic
    let f = c - (shifted - magic)  // [-0.5, 0.5]
    var p = SIMD8<Float>(repeating: 0.001_340_043_7)
    p = SIMD8(repeating: 0.009_676_041_9).addingProduct(p, f)
    p = SIMD8(repeating: 0.055_503_272).addingProduct(p, f)
    p = SIMD8(repeating: 0.240_221_07).addingProduct(p, f)
    p = SIMD8(repeating: 0.693_147_21).addingProduct(p, f)
    p = SIMD8(repeating: 1.000_000_1).addingProduct(p, f)
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
    return p * scale
}

/// x^b = 2^(b·log2 x) for x > 0.
@inline(__always)
func fastPow(_ x: SIMD8<Float>, _ b: Float) -> SIMD8<Float> { fastExp2(b * fastLog2(x)) }

@inline(__always)
func fastPow(_ x: Float, _ b: Float) -> Float { fastPow(SIMD8(repeating: x), b)[0] }

/// Whether any lane is set (one vtestps; the standard library's `any` is an out-of-line call).
@inline(__always)
func anyLane(_ mask: SIMDMask<SIMD8<Int32>>) -> Bool {
    let v = unsafeBitCast(mask, to: SIMD8<Int32>.self)
    let h = v.lowHalf | v.highHalf
    let q = h.lowHalf | h.highHalf
    return (q[0] | q[1]) != 0
}
