import Foundation
import Protocol

/// Settings of a `WorkerPool`.
struct PoolSettings: Sendable {
    var bind: String
    var curveKeysDirectory: String?
    /// Seconds between heartbeats each way.
    var heartbeatInterval = 1.0
    var heartbeatTimeout: Double
    var stepDeadline: Double
    var minWorkers: Int
    var workerTimeout: Double
    /// Workers must hold the data set with this fingerprint.
    var datasetFingerprint: String
    /// The build ID of the glassbox-worker next to the coordinator, if any: others get a warning.
    var expectedBuildID: String?
    /// What the welcome tells every worker.
    var seed: UInt64
    var welcomeSettings: [String: String]
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

/// Why a distributed run cannot go on.
struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Bytes and messages of one message type each way.
struct Traffic: Sendable {
    var sentBytes = 0
    var sentMessages = 0
    var receivedBytes = 0
    var receivedMessages = 0
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
