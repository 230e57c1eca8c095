import CKernels

/// Flush-to-zero and denormals-are-zero: subnormal floats (below 1.18e-38) become 0, as TensorFlow's CPU
/// kernels have them. Without it, Adam's first moments of long-silent weights decay into subnormals, and
/// arithmetic on those is many times slower on x86 (after 100 epochs 14.7% of them were subnormal and a
/// step took 1.8x as long).
///
/// The mode is per-thread CPU state and it changes results: every thread that computes must set it, in
/// every process alike, or replicas stop agreeing to the bit. The parallel-for helpers set it on each
/// thread they run a block on; the executables set it on their main threads at start-up.
public enum FlushToZero {
    /// Sets the mode on the calling thread (a few nanoseconds; idempotent).
    @inline(__always)
    public static func enable() { glassbox_enable_flush_to_zero() }

    /// Clears the mode on the calling thread (IEEE gradual underflow): for tests and measurements only.
    static func disable() { glassbox_disable_flush_to_zero() }

    /// Whether the calling thread has both flush-to-zero and denormals-are-zero set.
    public static var isEnabled: Bool { glassbox_flush_to_zero_enabled() }
}

/// The number of subnormal values in `values` (nonzero, with magnitude below `Float.leastNormalMagnitude`).
public func subnormalCount(_ values: [Float]) -> Int {
    values.reduce(0) { $0 + ($1.isSubnormal ? 1 : 0) }
}
