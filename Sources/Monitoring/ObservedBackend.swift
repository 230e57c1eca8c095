import Core

/// A `ComputeBackend` that passes every call through to `inner` unchanged and tells a `RunMonitor`
/// about each training step (its time, loss and hits). The weights and results are `inner`'s, bit for bit.
public final class ObservedBackend: ComputeBackend {
    public let inner: ComputeBackend
    private let monitor: RunMonitor

    public init(_ inner: ComputeBackend, monitor: RunMonitor) {
        self.inner = inner
        self.monitor = monitor
    }

    public func load(_ model: ModelState) throws { try inner.load(model) }

    public func step(microBatches: [ArraySlice<Int>], epoch: Int, upcoming: UpcomingStep?) throws -> BatchStats {
        let start = now()
        let stats = try inner.step(microBatches: microBatches, epoch: epoch, upcoming: upcoming)
        monitor.stepDone(epoch: epoch, seconds: now() - start, stats: stats)
        return stats
    }

    public func model() -> ModelState { inner.model() }

    public func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        try inner.evaluate(set, indices: indices, hidden: hidden)
    }
}
