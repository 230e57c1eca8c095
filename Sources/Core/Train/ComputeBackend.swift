/// Which image set an evaluation reads.
public enum ImageSetKind: UInt8, Sendable { case train = 0, test = 1 }

/// Where the network is computed: this process (`LocalBackend`) or a set of workers.
/// The training loop only talks to this interface, so one- and many-process runs share it.
public protocol ComputeBackend: AnyObject {
    /// Gradient sums and statistics of the micro-batches (training mode, dropout keyed by epoch).
    func gradients(microBatches: [ArraySlice<Int>], epoch: Int) throws -> (StepGradient, BatchStats)
    /// Makes every replica use these weights.
    func setParameters(_ parameters: [Float]) throws
    /// Inference over `indices` of a set: statistics, predictions and optionally `hidden` outputs.
    func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float])
}

/// The whole network in this process.
public final class LocalBackend: ComputeBackend {
    public let engine: CNNEngine
    public let train: LabeledImages
    public let test: LabeledImages
    public let seed: UInt64

    public init(engine: CNNEngine, train: LabeledImages, test: LabeledImages, seed: UInt64) {
        self.engine = engine; self.train = train; self.test = test; self.seed = seed
    }

    public func gradients(microBatches: [ArraySlice<Int>], epoch: Int) -> (StepGradient, BatchStats) {
        engine.gradients(microBatches: microBatches, data: train, epoch: epoch, seed: seed)
    }

    public func setParameters(_ parameters: [Float]) { engine.setParameters(parameters) }

    public func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool)
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        engine.evaluate(indices, data: set == .train ? train : test, hidden: hidden)
    }
}

/// Applies the mean of the step gradient over `samples` samples to `parameters` with Adam.
public func applyAdam(_ gradient: StepGradient, samples: Int, parameters: inout [Float], adam: inout AdamState) {
    let mean = gradient.mean(samples: samples)
    mean.withUnsafeBufferPointer { g in
        parameters.withUnsafeMutableBufferPointer { adam.apply(gradient: g.baseAddress!, to: $0.baseAddress!, count: $0.count) }
    }
}
