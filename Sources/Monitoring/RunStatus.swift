import Core

/// What `/status.json` holds: the live page draws itself from it every two seconds.
public struct RunStatus: Sendable, Encodable {
    /// Epochs finished, of `epochs`.
    public var epoch: Int
    public var epochs: Int
    /// Steps done in the epoch being trained (`trainingEpoch`), of `steps`.
    public var step: Int
    public var steps: Int
    public var trainingEpoch: Int?
    /// The running mean loss and accuracy of the epoch being trained.
    public var loss: Double?
    public var acc: Double?
    public var samplesPerSecond: Double?
    /// Seconds left in the whole run (training and maps).
    public var etaSeconds: Double?
    public var finished = false
    public var trustworthiness: Double?
    public var displacement: Double?
    public var history: [Epoch]
    public var workers: [Worker] = []
    public var liveWorkers: Int?
    /// The newest `fig/epoch_NNN.png`, relative to the run directory.
    public var latestMap: MapFigure?

    /// One finished epoch's metrics (a `metrics.csv` row without the timings).
    public struct Epoch: Sendable, Encodable {
        public var epoch: Int
        public var loss: Double
        public var acc: Double
        public var valLoss: Double
        public var valAcc: Double

        init(_ m: EpochMetrics) {
            epoch = m.epoch; loss = m.loss; acc = m.acc; valLoss = m.valLoss; valAcc = m.valAcc
        }

        enum CodingKeys: String, CodingKey {
            case epoch, loss, acc, valLoss = "val_loss", valAcc = "val_acc"
        }
    }

    /// One worker's traffic and answer times so far.
    public struct Worker: Sendable, Encodable {
        public var name: String
        public var sentBytes = 0
        public var receivedBytes = 0
        public var answers = 0
        public var answerSecondsSum = 0.0

        enum CodingKeys: String, CodingKey {
            case name, answers, sentBytes = "sent_bytes", receivedBytes = "received_bytes",
                 answerSecondsSum = "answer_seconds_sum"
        }
    }

    /// A map figure on disk.
    public struct MapFigure: Sendable, Encodable, Equatable {
        public var epoch: Int
        public var path: String
    }

    init(epoch: Int, epochs: Int, step: Int, steps: Int, history: [Epoch]) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps; self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, step, steps, loss, acc, finished, trustworthiness, displacement, history, workers
        case trainingEpoch = "training_epoch", samplesPerSecond = "samples_per_s", etaSeconds = "eta_s",
             liveWorkers = "live_workers", latestMap = "latest_map"
    }
}
