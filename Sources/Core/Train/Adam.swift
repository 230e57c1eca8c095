import Dispatch
/// Adam exactly as Keras 3 applies it:
///   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
///   m += (g - m) (1 - beta1);  v += (g^2 - v) (1 - beta2);  w -= alpha m / (sqrt(v) + epsilon)
public struct AdamState: Sendable, Equatable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-7
    /// Updates applied so far.
    public var step: Int = 0
    public var m: [Float]
    public var v: [Float]

    public init(count: Int) {
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
    }

    /// Counts one more update; its step size alpha and the factors of the moment updates.
    private mutating func nextStep() -> (alpha: Float, b1: Float, b2: Float, epsilon: Float) {
        let s = beginStep()
        return (s.alpha, s.b1, s.b2, s.epsilon)
    }

    /// The factors of one update: its step size and the moments' factors.
    public struct Step: Sendable, Equatable {
        let alpha, b1, b2, epsilon: Float
    }

    /// Counts one more update and returns its factors, for `update(_:gradient:samples:shares:parameters:threads:kernels:)`
    /// (which may then be called for disjoint shares, in any order).
    public mutating func beginStep() -> Step {
        step += 1
        let t = Double(step)
        let alpha = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        return Step(alpha: alpha, b1: 1 - beta1, b2: 1 - beta2, epsilon: epsilon)
    }

    /// One update of `weights` with the (already averaged) gradient, on at most `threads` threads (a worker
    /// of one thread uses one: on a shared host its neighbours have the other cores).
    public mutating func apply(gradient g: UnsafePointer<Float>, to w: UnsafeMutablePointer<Float>, count: Int,
                               threads: Int) {
        precondition(count == m.count)
        FlushToZero.enable()
        let (alpha, b1, b2, eps) = nextStep()
        // Element-wise, so splitting into chunks over threads cannot change the result.
        let chunk = 65_536
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let mp = UncheckedSendable(value: mb.baseAddress!), vp = UncheckedSendable(value: vb.baseAddress!)
                let wp = UncheckedSendable(value: w), gp = UncheckedSendable(value: g)
                forEachBlockAsTaken((count + chunk - 1) / chunk, threads: threads) { c in
                    AdamState.update(m: mp.value, v: vp.value, weights: wp.value, gradient: gp.value,
                                     range: (c * chunk)..<min(count, (c + 1) * chunk), alpha: alpha, b1: b1, b2: b2, epsilon: eps)
                }
            }
        }
    }

    /// The update of elements `range` (see the `count` form).
    @inline(__always)
    static func update(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, weights w: UnsafeMutablePointer<Float>,
                       gradient g: UnsafePointer<Float>, range: Range<Int>, alpha: Float, b1: Float, b2: Float,
                       epsilon: Float) {
        let s = range.lowerBound
        update(m: m + s, v: v + s, weights: w + s, gradient: g + s, count: range.count, Step(alpha: alpha, b1: b1, b2: b2, epsilon: epsilon))
    }

    /// The update of `count` elements whose moments, weights and gradient start at `m`, `v`, `w` and `g`,
    /// eight at a time: each lane does exactly the scalar operations of
    /// `referenceUpdate` in the same order (no fused multiply-add), so the bits are the same; with scalar
    /// square roots and divisions the loop took 2.4 ms for the model's 821,002 parameters, a tenth of a
    /// one-thread worker's step.
    @inline(__always)
    static func update(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, weights w: UnsafeMutablePointer<Float>,
                       gradient g: UnsafePointer<Float>, count: Int, _ step: Step) {
        typealias V = SIMD8<Float>
        let (alpha, b1, b2, epsilon) = (step.alpha, step.b1, step.b2, step.epsilon)
        let b1v = V(repeating: b1), b2v = V(repeating: b2), alphaV = V(repeating: alpha), epsV = V(repeating: epsilon)
        var i = 0
        while i + 8 <= count {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            var mi = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
            var vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
            let wi = UnsafeRawPointer(w + i).loadUnaligned(as: V.self)
            mi = mi + (gi - mi) * b1v
            vi = vi + (gi * gi - vi) * b2v
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
            UnsafeMutableRawPointer(w + i).storeBytes(of: wi - alphaV * mi / (vi.squareRoot() + epsV), as: V.self)
            i += 8
        }
        referenceUpdate(m: m, v: v, weights: w, gradient: g, range: i..<count, alpha: alpha, b1: b1, b2: b2,
                        epsilon: epsilon)
    }

    /// The readable update, one element at a time: Keras' formulas as written above.
    static func referenceUpdate(m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                                weights w: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
                                range: Range<Int>, alpha: Float, b1: Float, b2: Float, epsilon: Float) {
        for i in range {
            let gi = g[i]
            m[i] += (gi - m[i]) * b1
            v[i] += (gi * gi - v[i]) * b2
            w[i] -= alpha * m[i] / (v[i].squareRoot() + epsilon)
        }
    }

    /// `apply` through `referenceUpdate` alone, on the calling thread (for tests of the fast path).
    public mutating func applyReference(gradient g: UnsafePointer<Float>, to w: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count == m.count)
        FlushToZero.enable()
        let (alpha, b1, b2, eps) = nextStep()
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                AdamState.referenceUpdate(m: mb.baseAddress!, v: vb.baseAddress!, weights: w, gradient: g, range: 0..<count,
                                          alpha: alpha, b1: b1, b2: b2, epsilon: eps)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
