import Foundation
import Protocol

/// Settings of a `WorkerPool`.
public struct PoolSettings: Sendable {
    /// The endpoint to bind (`--bind`).
    public var bind: String
    /// CURVE keys from `keygen` (`--curve-keys`); nil: no encryption.
    public var curveKeysDirectory: String?
    /// Seconds between heartbeats each way.
    public var heartbeatInterval = 1.0
    /// Seconds an idle worker may stay silent before it is dropped.
    public var heartbeatTimeout: Double
    /// Seconds a worker may take for one range before it is dropped and the range given to another.
    public var stepDeadline: Double
    /// Fewest live workers to go on with (after `waitForWorkers`)...
    public var minWorkers: Int
    /// ...for longer than this many seconds; also the longest wait for the first workers.
    public var workerTimeout: Double
    /// Workers must hold the data set with this fingerprint.
    public var datasetFingerprint: String
    /// The build ID of the glassbox-worker next to the coordinator, if any: others get a warning.
    public var expectedBuildID: String?
    /// What the welcome tells every worker.
    public var seed: UInt64
    public var welcomeSettings: [String: String]
    /// The data set's files, sent to workers whose hello carries no fingerprint; nil: such workers are refused.
    public var datasetOffer: DatasetOffer?

    public init(bind: String, curveKeysDirectory: String?, heartbeatInterval: Double = 1.0, heartbeatTimeout: Double,
                stepDeadline: Double, minWorkers: Int, workerTimeout: Double, datasetFingerprint: String,
                expectedBuildID: String?, seed: UInt64, welcomeSettings: [String: String],
                datasetOffer: DatasetOffer? = nil) {
        self.bind = bind
        self.curveKeysDirectory = curveKeysDirectory
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.stepDeadline = stepDeadline
        self.minWorkers = minWorkers
        self.workerTimeout = workerTimeout
        self.datasetFingerprint = datasetFingerprint
        self.expectedBuildID = expectedBuildID
        self.seed = seed
        self.welcomeSettings = welcomeSettings
        self.datasetOffer = datasetOffer
    }
}

/// A piece of distributed work: `unitCount` units (micro-batches, or one per worker) cut into ranges, each
/// sent to one worker as the message `request(range, sole)` builds, `sole` telling whether that worker is
/// the only live one (no other is computing or catching up). A range whose worker is lost goes to another.
struct PoolJob: Sendable {
    enum Split: Sendable {
        /// One contiguous range per ready worker, sized by its threads, in rank order (a training step).
        case acrossWorkers
        /// Ranges of at most this many units, handed to workers as they become free (an evaluation).
        case chunks(Int)
        /// One unit per ready worker, addressed to it; a lost worker's unit is dropped (a weights check).
        case perWorker
    }

    var name: String
    var epoch: UInt32
    var unitCount: Int
    var split: Split
    var request: @Sendable (_ range: Range<Int>, _ sole: Bool) -> Message
}

/// One range's answer.
struct PoolResult: Sendable {
    let range: Range<Int>
    let worker: String
    let message: Message
}

/// The state a replica needs to join: weights, and (for `WeightSync.gradient`) Adam's moments.
struct ReplicaState: Sendable {
    var version: UInt64
    var parameters: [Float]
    var adamStep: Int
    var adamM: [Float]
    var adamV: [Float]
}

/// Bytes and messages of one message type each way.
public struct Traffic: Sendable {
    public var sentBytes = 0
    public var sentMessages = 0
    public var receivedBytes = 0
    public var receivedMessages = 0

    public init() {}
}

/// `count` units cut into contiguous ranges sized in proportion to `weights` (empty ranges left out).
func proportionalRanges(_ count: Int, weights: [Int]) -> [Range<Int>] {
    let total = weights.reduce(0, +)
    var ranges: [Range<Int>] = []
    var start = 0, cumulative = 0
    for w in weights {
        cumulative += w
        let end = (count * cumulative + total / 2) / total
        if end > start { ranges.append(start..<end) }
        start = max(start, end)
    }
    return ranges
}

/// `endpoint` with a wildcard host (`0.0.0.0` or `*`) replaced by `host`.
func replacingWildcardHost(of endpoint: String, with host: String) -> String {
    for wildcard in ["tcp://0.0.0.0:", "tcp://*:"] where endpoint.hasPrefix(wildcard) {
        return "tcp://\(host):" + endpoint.dropFirst(wildcard.count)
    }
    return endpoint
}

/// True for loopback and inproc/ipc endpoints.
func isLoopback(_ endpoint: String) -> Bool {
    guard endpoint.hasPrefix("tcp://") else { return true }
    let host = endpoint.dropFirst(6).split(separator: ":").dropLast().joined(separator: ":")
    return host.hasPrefix("127.") || host == "localhost" || host == "[::1]" || host == "::1"
}
