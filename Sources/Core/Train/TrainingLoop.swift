import Dispatch

/// Settings of one training run (the reference's defaults).
public struct TrainingSettings: Sendable {
    public var epochs = 10
    public var batchSize = 100
    public var microBatchSize = 25
    public var validationFraction = 0.2
    public var seed: UInt64 = 1
    /// Seconds between progress lines.
    public var progressInterval = 2.0
    public init() {}
}

/// Keras-style metrics of one epoch.
public struct EpochMetrics: Sendable, Codable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var acc: Double
    public var valLoss: Double
    public var valAcc: Double
    public var seconds: Double
    public var samplesPerSecond: Double

    public static let csvHeader = "epoch,loss,acc,val_loss,val_acc,seconds,samples_per_second"
    public var csvRow: String {
        "\(epoch),\(fmt(loss, 6)),\(fmt(acc, 6)),\(fmt(valLoss, 6)),\(fmt(valAcc, 6)),\(fmt(seconds, 2)),\(fmt(samplesPerSecond, 0))"
    }
}

/// Everything that determines how training continues: weights, optimiser state, epochs done, and the
/// steps of the next epoch already taken (a mid-epoch checkpoint) with their summed statistics.
public struct TrainingState: Sendable {
    public var parameters: [Float]
    public var adam: AdamState
    public var epochsDone: Int
    public var history: [EpochMetrics]
    /// Steps of epoch `epochsDone + 1` already applied to `parameters` (0 at an epoch's end).
    public var stepsDone: Int
    /// The loss and accuracy sums of those steps, added in step order (so the epoch's metrics come out
    /// the same bits as without the interruption).
    public var epochStats: BatchStats

    public init(parameters: [Float], adam: AdamState, epochsDone: Int = 0, history: [EpochMetrics] = [],
                stepsDone: Int = 0, epochStats: BatchStats = BatchStats()) {
        self.parameters = parameters; self.adam = adam; self.epochsDone = epochsDone; self.history = history
        self.stepsDone = stepsDone; self.epochStats = epochStats
    }

    public init(model: ModelState, epochsDone: Int, history: [EpochMetrics], stepsDone: Int = 0,
                epochStats: BatchStats = BatchStats()) {
        self.init(parameters: model.parameters, adam: model.adam, epochsDone: epochsDone, history: history,
                  stepsDone: stepsDone, epochStats: epochStats)
    }

    /// The weights and optimiser state.
    public var model: ModelState {
        get { ModelState(parameters: parameters, adam: adam) }
        set { parameters = newValue.parameters; adam = newValue.adam }
    }

    public static func initial(seed: UInt64) -> TrainingState {
        let p = initialParameters(seed: seed)
        return TrainingState(parameters: p, adam: AdamState(count: p.count))
    }
}

/// The training loop of the reference experiment over any `ComputeBackend`.
public final class TrainingLoop {
    public let settings: TrainingSettings
    public let plan: EpochPlan
    public let backend: ComputeBackend
    /// Epochs trained so far (including those of a resumed checkpoint).
    public private(set) var epochsDone: Int
    /// Metrics of every epoch so far.
    public private(set) var history: [EpochMetrics]
    private let log: (String) -> Void
    private let progress: (TrainingProgress) -> Void
    /// The whole run's ETA; the caller records each map's time (`recordMap(seconds:)`).
    public private(set) var estimate: RunEstimate

    /// Steps of the current epoch taken so far and their statistics (0 between epochs).
    private var stepsDone: Int
    private var epochStats: BatchStats
    /// Steps between mid-epoch checkpoints (0: none); `checkpoint` receives the state after such a step.
    public var checkpointEvery = 0
    public var checkpoint: ((TrainingState) throws -> Void)?
    /// Called after every step (and its checkpoint), on this thread: work to pick up between steps.
    public var afterStep: (() throws -> Void)?
    /// Whether the validation pass also returns its images' `hidden` outputs, kept for the epoch's map
    /// (`validationOutputs`), so that the map need not run those images again.
    public var keepsValidationOutputs = false
    /// The last validation pass's predictions and hidden outputs (in `plan.validationIndices` order) and the
    /// epoch whose weights made them; nil from the start of an epoch until its validation.
    public private(set) var validationOutputs: (epoch: Int, predictions: [UInt8], hidden: [Float])?

    /// Everything a checkpoint holds; the weights come from the backend, which owns the optimiser step.
    public var state: TrainingState {
        TrainingState(model: backend.model(), epochsDone: epochsDone, history: history, stepsDone: stepsDone,
                      epochStats: epochStats)
    }

    public init(settings: TrainingSettings, sampleCount: Int, backend: ComputeBackend, state: TrainingState,
                log: @escaping (String) -> Void, progress: ((TrainingProgress) -> Void)? = nil) throws {
        self.settings = settings
        self.plan = EpochPlan(sampleCount: sampleCount, validationFraction: settings.validationFraction,
                              batchSize: settings.batchSize, seed: settings.seed)
        self.backend = backend
        epochsDone = state.epochsDone
        history = state.history
        stepsDone = state.stepsDone
        epochStats = state.epochStats
        self.log = log
        self.progress = progress ?? { log($0.message) }
        estimate = RunEstimate(epochs: settings.epochs, stepsPerEpoch: plan.stepsPerEpoch)
        try backend.load(state.model)
    }

    /// Counts one map's time into the ETA of the progress lines.
    public func recordMap(seconds: Double) { estimate.recordMap(seconds: seconds) }

    /// Whether a mid-epoch checkpoint follows step `step` (0-based) of `steps`; never the last one, which
    /// the epoch's own checkpoint follows.
    private func checkpointsAfter(_ step: Int, of steps: Int) -> Bool {
        checkpoint != nil && checkpointEvery > 0 && (step + 1) % checkpointEvery == 0 && step + 1 < steps
    }

    /// Trains epoch `state.epochsDone + 1` (from its step `stepsDone` when resumed mid-epoch), validates,
    /// and returns its metrics.
    public func runEpoch() throws -> EpochMetrics {
        let epoch = epochsDone + 1
        validationOutputs = nil
        let order = plan.order(epoch: epoch)
        let steps = plan.stepsPerEpoch
        let firstStep = min(stepsDone, steps)
        let start = now()
        var lastPrint = start
        var total = epochStats
        var samples = 0  // trained by this process, for the rate
        let batch = { (step: Int) in microBatches(of: self.plan.batch(step, of: order), size: self.settings.microBatchSize) }
        var next = firstStep < steps ? batch(firstStep) : nil
        for step in firstStep..<steps {
            let current = next!
            next = step + 1 < steps ? batch(step + 1) : nil
            let upcoming = next.map { UpcomingStep(microBatches: $0, endsEpoch: step + 2 == steps,
                                                   readsWeights: checkpointsAfter(step + 1, of: steps)) }
            let stats = try backend.step(microBatches: current, epoch: epoch, upcoming: upcoming)
            total = total + stats
            samples += stats.count
            if checkpointsAfter(step, of: steps), let checkpoint {
                stepsDone = step + 1
                epochStats = total
                try checkpoint(state)
            }
            try afterStep?()
            let t = now()
            if t - lastPrint >= settings.progressInterval || step == steps - 1 {
                lastPrint = t
                let rate = Double(samples) / (t - start)
                let taken = Double(step + 1 - firstStep)
                let left = estimate.remaining(epoch: epoch, stepsDone: step + 1, secondsPerStep: (t - start) / taken)
                progress(TrainingProgress(
                    epoch: epoch, epochs: settings.epochs, step: step + 1, steps: steps, samplesPerSecond: rate,
                    loss: total.lossSum / Double(total.count), acc: Double(total.correct) / Double(total.count),
                    etaSeconds: left.run, epochEtaSeconds: left.epoch))
            }
        }
        let trainSeconds = now() - start
        let validation = try backend.evaluate(.train, indices: plan.validationIndices, hidden: keepsValidationOutputs)
        let val = validation.stats
        if keepsValidationOutputs {
            validationOutputs = (epoch, validation.predictions, validation.hidden)
        }
        let m = EpochMetrics(
            epoch: epoch, loss: total.lossSum / Double(total.count), acc: Double(total.correct) / Double(total.count),
            valLoss: val.lossSum / Double(max(val.count, 1)), valAcc: Double(val.correct) / Double(max(val.count, 1)),
            seconds: now() - start, samplesPerSecond: Double(samples) / trainSeconds)
        epochsDone = epoch
        stepsDone = 0
        epochStats = BatchStats()
        history.append(m)
        log("epoch \(epoch)/\(settings.epochs) done in \(fmt(m.seconds, 1)) s: loss \(fmt(m.loss, 4)) acc \(fmt(m.acc, 4)) "
            + "val_loss \(fmt(m.valLoss, 4)) val_acc \(fmt(m.valAcc, 4))")
        return m
    }
}

public func formatDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600):\(zeroPadded((t / 60) % 60, 2)):\(zeroPadded(t % 60, 2))" : "\(t / 60):\(zeroPadded(t % 60, 2))"
}

/// Fixed-point decimal formatting without Foundation's locale dependence.
public func fmt(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    if digits == 0 { return "\(Int(x.rounded()))" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (abs(x) * p).rounded()
    let ip = Int(r / p), fp = Int(r.truncatingRemainder(dividingBy: p))
    var f = "\(fp)"
    while f.count < digits { f = "0" + f }
    return (x < 0 && r != 0 ? "-" : "") + "\(ip).\(f)"
}
