// The one random-number design of Glassbox.
//
// Every random decision is derived from a key (seed, stream, a, b), e.g. (seed, .dropout1, epoch,
// sampleIndex). A generator seeded from such a key yields the same numbers whichever thread,
// process or worker draws them, so splitting a batch cannot change dropout masks or shuffles.

/// Purposes of random streams; the raw value is mixed into the key.
public enum RandomStream: UInt64, Sendable {
    case initialWeights = 1
    case initialShuffle = 2
    case epochShuffle = 3
    case dropout1 = 4
    case dropout2 = 5
    case umap = 6
    case sampling = 7
}

/// SplitMix64: a tiny, fast, statistically good 64-bit generator (Steele, Lea, Flood 2014).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(state: UInt64) { self.state = state }

    /// A generator for the key (seed, stream, a, b).
    public init(seed: UInt64, stream: RandomStream, _ a: UInt64 = 0, _ b: UInt64 = 0) {
        var h = SplitMix64.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        h = SplitMix64.mix(h ^ (stream.rawValue &* 0xD1B5_4A32_D192_ED03))
        h = SplitMix64.mix(h ^ (a &* 0xABC9_8388_FB8F_AC03))
        h = SplitMix64.mix(h ^ (b &* 0x8CB9_2BA7_2F3D_8DD7))
        state = h
    }

    @inline(__always)
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// Uniform in [0, 1) with 24 random bits (exactly representable in Float).
    @inline(__always)
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<n (n > 0), by Lemire's multiply-shift (bias below 2^-32 for our n).
    @inline(__always)
    public mutating func nextInt(below n: Int) -> Int {
        Int((UInt64(truncatingIfNeeded: next() >> 32) &* UInt64(n)) >> 32)
    }

    /// Standard normal by Box-Muller.
    public mutating func nextGaussian() -> Double {
        var u1 = nextUnitDouble()
        while u1 <= 0 { u1 = nextUnitDouble() }
        let u2 = nextUnitDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Normal(0, stddev) truncated to two standard deviations (redrawn outside), as Keras'
    /// TruncatedNormal.
    public mutating func nextTruncatedGaussian(stddev: Double) -> Double {
        while true {
            let z = nextGaussian()
            if abs(z) <= 2 { return z * stddev }
        }
    }
}

/// A permutation of 0..<n from the key's generator (Fisher-Yates).
public func seededPermutation(count n: Int, generator: inout SplitMix64) -> [Int] {
    var p = Array(0..<n)
    if n < 2 { return p }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = generator.nextInt(below: i + 1)
        p.swapAt(i, j)
    }
    return p
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
