/// A fixed-size, zero-initialised, 64-byte aligned float buffer that owns its memory.
///
/// Hot loops take `pointer`; everything else treats the buffer as an ordinary value holder.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    /// Floats of zero slack before element 0 and after the last element, so kernels may read a few
    /// pixels past either end (padded-layout taps) without bounds checks.
    public let slack: Int
    private let base: UnsafeMutablePointer<Float>

    public init(count: Int, slack: Int = 0) {
        self.count = count
        self.slack = slack
        let total = count + 2 * slack
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(total, 1))
        base.initialize(repeating: 0, count: max(total, 1))
    }

    deinit { base.deallocate() }

    /// Pointer to element 0 (slack lies before it).
    @inline(__always) public var pointer: UnsafeMutablePointer<Float> { base + slack }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    public func zero() { base.update(repeating: 0, count: count + 2 * slack) }

    public var array: [Float] { Array(buffer) }
}
