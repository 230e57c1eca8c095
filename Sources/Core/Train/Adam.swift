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

    /// One update of `weights` with the (already averaged) gradient.
    public mutating func apply(gradient g: UnsafePointer<Float>, to w: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count == m.count)
        FlushToZero.enable()
        step += 1
        let t = Double(step)
        let alpha = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let b1 = 1 - beta1, b2 = 1 - beta2, eps = epsilon
        // Element-wise, so splitting into chunks over threads cannot change the result.
        let chunk = 65_536
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let mp = UncheckedSendable(value: mb.baseAddress!), vp = UncheckedSendable(value: vb.baseAddress!)
                let wp = UncheckedSendable(value: w), gp = UncheckedSendable(value: g)
                DispatchQueue.concurrentPerform(iterations: (count + chunk - 1) / chunk) { c in
                    FlushToZero.enable()
                    let m = mp.value, v = vp.value, w = wp.value, g = gp.value
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                        let gi = g[i]
                        m[i] += (gi - m[i]) * b1
                        v[i] += (gi * gi - v[i]) * b2
                        w[i] -= alpha * m[i] / (v[i].squareRoot() + eps)
                    }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
