/// Which image set an evaluation reads.
public enum ImageSetKind: UInt8, Sendable { case train = 0, test = 1 }

/// Where the network is trained and run: this process (`LocalBackend`) or a set of workers.
/// The training loop only talks to this interface, so one- and many-process runs share it. The backend
/// owns the optimiser step, so that a distributed one can apply it where the weights are used (on the
/// workers) and hand out the next step's work while it is applied.
public protocol ComputeBackend: AnyObject {
    /// Makes every replica hold `model` (the start of a run, or a checkpoint to resume).
    func load(_ model: ModelState) throws
    /// One training step on every replica: the gradient of `microBatches` (training mode, dropout keyed by
    /// epoch), averaged over their samples and applied with Adam. `upcoming` is the epoch's next step, if
    /// it has another, which a backend may hand out ahead; nil means this step ends the epoch. Returns the
    /// step's loss and accuracy statistics.
    func step(microBatches: [ArraySlice<Int>], epoch: Int, upcoming: UpcomingStep?) throws -> BatchStats
    /// The weights and Adam state after the steps so far.
    func model() -> ModelState
    /// Inference over `indices` of a set: statistics, predictions and optionally `hidden` outputs.
    func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float])
}

/// The step after the current one, so that a backend can prepare it while the current one runs.
public struct UpcomingStep: Sendable, Equatable {
    public var microBatches: [ArraySlice<Int>]
    /// True if it is the epoch's last step (after which the weights are read: validation, checkpoint).
    public var endsEpoch: Bool
    /// True if the weights are read after it although it does not end the epoch (a mid-epoch checkpoint).
    public var readsWeights: Bool

    public init(microBatches: [ArraySlice<Int>], endsEpoch: Bool, readsWeights: Bool = false) {
        self.microBatches = microBatches
        self.endsEpoch = endsEpoch
        self.readsWeights = readsWeights
    }
}

/// The whole network in this process.
public final class LocalBackend: ComputeBackend {
    public let engine: CNNEngine
    public let train: LabeledImages
    public let test: LabeledImages
    public let seed: UInt64
    private var current: ModelState?

    public init(engine: CNNEngine, train: LabeledImages, test: LabeledImages, seed: UInt64) {
        self.engine = engine; self.train = train; self.test = test; self.seed = seed
    }

    public func load(_ model: ModelState) {
        current = model
        engine.setParameters(model.parameters)
    }

    public func step(microBatches: [ArraySlice<Int>], epoch: Int, upcoming: UpcomingStep? = nil) -> BatchStats {
        precondition(current != nil, "LocalBackend: load a model before training")
        let (gradient, stats) = engine.gradients(microBatches: microBatches, data: train, epoch: epoch, seed: seed)
        engine.releaseParameters()  // so that Adam updates the weights in place
        current!.applyAdam(gradient, samples: stats.count, threads: engine.threads)
        engine.setParameters(current!.parameters)
        return stats
    }

    public func model() -> ModelState {
        guard let current else { preconditionFailure("LocalBackend: no model loaded") }
        return current
    }

    public func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool)
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        engine.evaluate(indices, data: set == .train ? train : test, hidden: hidden)
    }
}

/// What a training step changes: every parameter and Adam's state.
public struct ModelState: Sendable {
    public var parameters: [Float]
    public var adam: AdamState

    public init(parameters: [Float], adam: AdamState) {
        self.parameters = parameters
        self.adam = adam
    }

    /// Applies the mean of `gradient` over `samples` samples with Adam. One mutating access to the whole
    /// state: `applyAdam(..., parameters: &s.parameters, adam: &s.adam)` on a class's `s` is two
    /// overlapping accesses, which a build with exclusivity checking (e.g. the test build) traps on.
    public mutating func applyAdam(_ gradient: StepGradient, samples: Int, threads: Int) {
        Core.applyAdam(gradient, samples: samples, threads: threads, parameters: &parameters, adam: &adam)
    }
}

/// Applies step `step` (from `adam.beginStep()`) of Adam to the elements of `shares` only: the mean of
/// the step gradient over `samples` samples for those elements, on at most `threads` threads. Every element
/// gets the bits the whole `applyAdam` gives it.
public func applyAdam(_ gradient: StepGradient, samples: Int, threads: Int, parameters: inout [Float],
                      adam: inout AdamState, shares: [ParameterShare], step: AdamState.Step) {
    adam.update(step, gradient: gradient, samples: samples, shares: shares, parameters: &parameters, threads: threads)
}

/// Applies the mean of the step gradient over `samples` samples to `parameters` with Adam, on at most
/// `threads` threads (the result does not depend on them).
public func applyAdam(_ gradient: StepGradient, samples: Int, threads: Int, parameters: inout [Float],
                      adam: inout AdamState) {
    let step = adam.beginStep()
    adam.update(step, gradient: gradient, samples: samples, shares: [.whole], parameters: &parameters, threads: threads)
}
