#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// umap-learn's `find_ab_params`: the (a, b) for which 1 / (1 + a·x^(2b)) best fits, in least
/// squares over 300 points evenly spaced in [0, 3·spread], the offset exponential that is 1 below
/// `minDist` and exp(-(x - minDist) / spread) above. Solved, as scipy's curve_fit does, by
/// Levenberg-Marquardt from (1, 1); here with the analytic Jacobian, in Double.
/// minDist 0.1, spread 1 -> a ≈ 1.5769, b ≈ 0.8951.
public func findAB(spread: Float = 1.0, minDist: Float = 0.1) -> (a: Float, b: Float) {
    let n = 300
    let s = Double(spread), m = Double(minDist)
    let xs = (0..<n).map { 3 * s * Double($0) / Double(n - 1) }
    let ys = xs.map { $0 < m ? 1.0 : exp(-($0 - m) / s) }

    func cost(_ a: Double, _ b: Double) -> Double {
        var c = 0.0
        for (x, y) in zip(xs, ys) {
            let r = 1 / (1 + a * pow(x, 2 * b)) - y
            c += r * r
        }
        return c
    }

    var a = 1.0, b = 1.0
    var lambda = 1e-3
    var current = cost(a, b)
    for _ in 0..<500 {
        // Normal equations J^T J and gradient J^T r.
        var jaa = 0.0, jab = 0.0, jbb = 0.0, ga = 0.0, gb = 0.0
        for (x, y) in zip(xs, ys) {
            let u = x > 0 ? pow(x, 2 * b) : 0
            let f = 1 / (1 + a * u)
            let r = f - y
            let da = -u * f * f
            let db = x > 0 ? -a * u * 2 * log(x) * f * f : 0
            jaa += da * da; jab += da * db; jbb += db * db
            ga += da * r; gb += db * r
        }
        var improved = false
        for _ in 0..<30 {
            let maa = jaa * (1 + lambda), mbb = jbb * (1 + lambda)
            let det = maa * mbb - jab * jab
            if det == 0 || !det.isFinite { lambda *= 10; continue }
            let stepA = -(mbb * ga - jab * gb) / det
            let stepB = -(maa * gb - jab * ga) / det
            let trial = cost(a + stepA, b + stepB)
            if trial.isFinite && trial < current {
                let relative = (current - trial) / max(current, 1e-300)
                a += stepA
                b += stepB
                current = trial
                lambda = max(lambda / 10, 1e-12)
                improved = relative > 1e-15
                break
            }
            lambda *= 10
        }
        if !improved { break }
    }
    return (Float(a), Float(b))
}
