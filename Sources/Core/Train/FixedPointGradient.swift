/// A gradient sum in 64-bit fixed point (resolution 2^-32).
///
/// Integer addition is associative, so the sum of micro-batch gradients is bit-identical however
/// the micro-batches are grouped over threads, processes or workers. That is what makes training
/// with any number of workers give the same weights.
public struct FixedPointGradient: Sendable, Equatable {
    public static let scale: Float = 4_294_967_296  // 2^32
    public private(set) var values: [Int64]

    public init(count: Int) { values = [Int64](repeating: 0, count: count) }
    public init(values: [Int64]) { self.values = values }

    public var count: Int { values.count }

    /// Adds a Float gradient (e.g. one micro-batch's sums), rounding each entry to 2^-32.
    public mutating func add(_ g: UnsafePointer<Float>) {
        let s = FixedPointGradient.scale
        let limit: Float = 9.0e18  // just under Int64.max; larger gradients saturate
        values.withUnsafeMutableBufferPointer { acc in
            for i in 0..<acc.count {
                let x = (g[i] * s).rounded()
                acc[i] &+= x > -limit && x < limit ? Int64(x) : (x > 0 ? Int64.max / 2 : Int64.min / 2)
            }
        }
    }

    public mutating func add(_ other: FixedPointGradient) {
        precondition(other.count == count)
        values.withUnsafeMutableBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in for i in 0..<a.count { a[i] &+= b[i] } }
        }
    }

    /// The mean gradient over `samples` samples, as Float.
    public func mean(over samples: Int, into out: UnsafeMutablePointer<Float>) {
        let f = 1 / (Double(FixedPointGradient.scale) * Double(samples))
        for i in 0..<values.count { out[i] = Float(Double(values[i]) * f) }
    }
}
