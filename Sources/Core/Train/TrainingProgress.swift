/// The numbers of one training progress line. The text line is `message`; a JSON line carries each
/// field under its coding key beside it.
public struct TrainingProgress: Sendable, Equatable, Encodable {
    public var epoch: Int
    public var epochs: Int
    /// Steps done in this epoch (1-based: the step just finished).
    public var step: Int
    public var steps: Int
    public var samplesPerSecond: Double
    /// Mean loss and accuracy of this epoch's batches so far.
    public var loss: Double
    public var acc: Double
    /// Seconds left in the whole run (training and maps, `RunEstimate`) and in this epoch's training.
    public var etaSeconds: Double
    public var epochEtaSeconds: Double
    /// Live workers of a distributed run; nil when training in-process.
    public var workers: Int?

    public init(epoch: Int, epochs: Int, step: Int, steps: Int, samplesPerSecond: Double, loss: Double, acc: Double,
                etaSeconds: Double, epochEtaSeconds: Double, workers: Int? = nil) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps
        self.samplesPerSecond = samplesPerSecond; self.loss = loss; self.acc = acc
        self.etaSeconds = etaSeconds; self.epochEtaSeconds = epochEtaSeconds; self.workers = workers
    }

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, step, steps, loss, acc, workers
        case samplesPerSecond = "samples_per_s", etaSeconds = "eta_s", epochEtaSeconds = "epoch_eta_s"
    }

    /// E.g. `epoch 1/10 step 96/480 1234 samples/s loss 0.4321 acc 0.8765 ETA run 12:34 (epoch 0:20), 2 workers`.
    public var message: String {
        var line = "epoch \(epoch)/\(epochs) step \(step)/\(steps) \(fmt(samplesPerSecond, 0)) samples/s "
            + "loss \(fmt(loss, 4)) acc \(fmt(acc, 4)) ETA run \(formatDuration(etaSeconds)) (epoch \(formatDuration(epochEtaSeconds)))"
        if let workers { line += ", \(workers) worker\(workers == 1 ? "" : "s")" }
        return line
    }
}

/// The time left in a whole run: the training steps still to come (this epoch's and every later
/// epoch's) at the pace measured so far, plus the maps still to draw (one after each epoch from this
/// one on) at the mean time of the maps drawn so far. A run that draws no maps records none, so its
/// estimate is the training alone.
public struct RunEstimate: Sendable, Equatable {
    public var epochs: Int
    public var stepsPerEpoch: Int
    /// Seconds each map of this run took, in order (epoch 0's first).
    public private(set) var mapSeconds: [Double] = []

    public init(epochs: Int, stepsPerEpoch: Int) {
        self.epochs = epochs; self.stepsPerEpoch = stepsPerEpoch
    }

    public mutating func recordMap(seconds: Double) { mapSeconds.append(seconds) }

    /// Seconds left in the run and in epoch `epoch`'s training (epochs count from 1) after `stepsDone`
    /// of its steps, each taking `secondsPerStep`.
    public func remaining(epoch: Int, stepsDone: Int, secondsPerStep: Double) -> (run: Double, epoch: Double) {
        let epochLeft = Double(stepsPerEpoch - stepsDone) * secondsPerStep
        let laterEpochs = Double(max(epochs - epoch, 0) * stepsPerEpoch) * secondsPerStep
        let mapsLeft = max(epochs - epoch + 1, 0)
        let maps = mapSeconds.isEmpty ? 0 : Double(mapsLeft) * mapSeconds.reduce(0, +) / Double(mapSeconds.count)
        return (epochLeft + laterEpochs + maps, epochLeft)
    }
}
