// Glibc's allocator tuning for the large message buffers of coordinator and workers.
#if canImport(Glibc)
import CZMQ  // its shim brings malloc.h, which Glibc's module leaves out (mallopt, M_MMAP_THRESHOLD)
#endif

/// How this process allocates message buffers.
public enum MessageBuffers {
    /// Lets the allocator keep and reuse large blocks instead of mapping fresh pages for each one: a 10 MB
    /// message (weights, a state report) built, copied into a ZeroMQ message and received every few steps
    /// otherwise costs thousands of page faults, several milliseconds, each time. Call once at start-up.
    public static func keepLargeBlocks() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // blocks up to 32 MB come from the heap, not from mmap
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)  // and freed heap memory stays mapped for reuse
        #endif
    }
}
