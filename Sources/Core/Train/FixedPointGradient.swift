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

    /// Adds Float values g[range] into entries starting at `at`, rounding each to 2^-32.
    public mutating func add(_ g: UnsafePointer<Float>, range: Range<Int>, at start: Int) {
        let s = FixedPointGradient.scale
        let limit: Float = 4.0e18  // larger values (a diverged run) saturate instead of trapping
        values.withUnsafeMutableBufferPointer { acc in
            for i in range {
                let x = (g[i] * s).rounded()
                acc[start + i - range.lowerBound] &+= Int64(min(max(x, -limit), limit))
            }
        }
    }

    public mutating func add(_ other: FixedPointGradient) {
        other.values.withUnsafeBufferPointer { add($0) }
    }

    /// Adds `other` (as many values as this one holds) entry by entry.
    public mutating func add(_ other: UnsafeBufferPointer<Int64>) {
        precondition(other.count == count)
        values.withUnsafeMutableBufferPointer { a in for i in 0..<a.count { a[i] &+= other[i] } }
    }

    /// Makes every entry zero, keeping the storage.
    public mutating func setZero() {
        values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// The mean over `samples` samples, as Float.
    public func mean(over samples: Int) -> [Float] {
        let f = 1 / (Double(FixedPointGradient.scale) * Double(samples))
        return values.map { Float(Double($0) * f) }
    }
}
