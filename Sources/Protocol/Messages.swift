/// The kind of a message, as carried in the header. Raw values are part of the wire format.
public enum MessageType: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case hello = 1
    case welcome = 2
    case refused = 3
    case stepAssignment = 4
    case stepResult = 5
    case weights = 6
    case evalRequest = 7
    case evalReply = 8
    case heartbeat = 9
    case error = 10
    case shutdown = 11
    case umapRequest = 12
    case umapReply = 13

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .refused: "refused"
        case .stepAssignment: "stepAssignment"
        case .stepResult: "stepResult"
        case .weights: "weights"
        case .evalRequest: "evalRequest"
        case .evalReply: "evalReply"
        case .heartbeat: "heartbeat"
        case .error: "error"
        case .shutdown: "shutdown"
        case .umapRequest: "umapRequest"
        case .umapReply: "umapReply"
        }
    }
}

/// Everything coordinator and workers say to each other. Run nonce, epoch, step and chunk travel in the
/// header (`Envelope`), not in these payloads.
public enum Message: Equatable, Sendable {
    /// Worker to coordinator, first message after connecting.
    case hello(Hello)
    /// Coordinator to worker: accepted, with rank and run settings.
    case welcome(Welcome)
    /// Coordinator to worker: not accepted, and why.
    case refused(reason: String)
    /// Coordinator to worker: the micro-batches to compute for the step in the envelope.
    case stepAssignment(StepAssignment)
    /// Worker to coordinator: the sums for an assignment.
    case stepResult(StepResult)
    /// Coordinator to worker: the current parameters.
    case weights(Weights)
    /// Coordinator to worker: evaluate a shard of samples.
    case evalRequest(EvalRequest)
    /// Worker to coordinator: the evaluation of a shard.
    case evalReply(EvalReply)
    /// Either way: still alive; the sender's clock in nanoseconds (for round-trip estimates, not ordering).
    case heartbeat(timestampNanoseconds: UInt64)
    /// Either way: something went wrong that the peer should know about.
    case error(code: UInt32, text: String)
    /// Either way: stop, and why.
    case shutdown(reason: String)
    /// Coordinator to worker: a piece of UMAP work over a range of rows.
    case umapRequest(UMAPRequest)
    /// Worker to coordinator: the neighbours found for a range of rows.
    case umapReply(UMAPReply)

    /// The header type of this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refused: .refused
        case .stepAssignment: .stepAssignment
        case .stepResult: .stepResult
        case .weights: .weights
        case .evalRequest: .evalRequest
        case .evalReply: .evalReply
        case .heartbeat: .heartbeat
        case .error: .error
        case .shutdown: .shutdown
        case .umapRequest: .umapRequest
        case .umapReply: .umapReply
        }
    }
}

/// A worker introducing itself; the coordinator refuses it if version or data set differ.
public struct Hello: Equatable, Sendable {
    /// The worker's major protocol version.
    public var protocolMajor: UInt16
    /// The worker's minor protocol version.
    public var protocolMinor: UInt16
    /// Identifies the worker's build (e.g. a git revision).
    public var buildID: String
    /// Identifies the worker's copy of the data set (e.g. a SHA-256 of the files).
    public var datasetFingerprint: String
    /// The worker's host name, for logs.
    public var hostName: String
    /// The worker's process id, for logs.
    public var processID: Int32
    /// Threads the worker computes with.
    public var threadCount: UInt32

    /// A hello; the version defaults to this build's.
    public init(protocolMajor: UInt16 = ProtocolVersion.major, protocolMinor: UInt16 = ProtocolVersion.minor,
                buildID: String, datasetFingerprint: String, hostName: String, processID: Int32, threadCount: UInt32) {
        self.protocolMajor = protocolMajor
        self.protocolMinor = protocolMinor
        self.buildID = buildID
        self.datasetFingerprint = datasetFingerprint
        self.hostName = hostName
        self.processID = processID
        self.threadCount = threadCount
    }
}

/// The coordinator accepting a worker.
public struct Welcome: Equatable, Sendable {
    /// The worker's rank among the live workers.
    public var rank: UInt32
    /// The run's nonce, to be put in every envelope.
    public var runNonce: UInt64
    /// The run's seed.
    public var seed: UInt64
    /// Run settings by name; sent in key order.
    public var settings: [String: String]

    /// A welcome.
    public init(rank: UInt32, runNonce: UInt64, seed: UInt64, settings: [String: String]) {
        self.rank = rank
        self.runNonce = runNonce
        self.seed = seed
        self.settings = settings
    }
}

/// The work of one worker in one step. The coordinator sends sample indices, never pixels.
public struct StepAssignment: Equatable, Sendable {
    /// The weights the worker must hold to compute this step.
    public var weightsVersion: UInt64
    /// Which micro-batches of the global batch this worker computes.
    public var microBatches: [Int32]
    /// The samples of those micro-batches, concatenated in the same order.
    public var sampleIndices: [Int32]

    /// An assignment.
    public init(weightsVersion: UInt64, microBatches: [Int32], sampleIndices: [Int32]) {
        self.weightsVersion = weightsVersion
        self.microBatches = microBatches
        self.sampleIndices = sampleIndices
    }
}

/// A worker's sums for its assignment. Per-micro-batch arrays follow the order of `microBatches`.
public struct StepResult: Equatable, Sendable {
    /// The assignment's micro-batch indices.
    public var microBatches: [Int32]
    /// Sum of the losses of each micro-batch's samples.
    public var lossSums: [Double]
    /// Correctly classified samples in each micro-batch.
    public var correctCounts: [Int32]
    /// Samples in each micro-batch.
    public var sampleCounts: [Int32]
    /// The sum of the micro-batch gradients in fixed point, so that the sum does not depend on grouping.
    public var gradient: [Int64]

    /// A result; the four per-micro-batch arrays must have the same length.
    public init(microBatches: [Int32], lossSums: [Double], correctCounts: [Int32], sampleCounts: [Int32],
                gradient: [Int64]) {
        self.microBatches = microBatches
        self.lossSums = lossSums
        self.correctCounts = correctCounts
        self.sampleCounts = sampleCounts
        self.gradient = gradient
    }
}

/// A full set of parameters.
public struct Weights: Equatable, Sendable {
    /// Increases with every update; assignments name the version they need.
    public var version: UInt64
    /// The optimiser's step count, so that a worker can check it is in step.
    public var adamStep: UInt64
    /// All parameters, flattened in the model's canonical order.
    public var parameters: [Float]

    /// Weights.
    public init(version: UInt64, adamStep: UInt64, parameters: [Float]) {
        self.version = version
        self.adamStep = adamStep
        self.parameters = parameters
    }
}

/// What an evaluation computes. Raw values are part of the wire format.
public enum EvalKind: UInt8, CaseIterable, Sendable {
    /// Loss and accuracy on validation samples.
    case validation = 1
    /// Loss and accuracy on test samples.
    case test = 2
    /// The hidden layer's activations of each sample.
    case hiddenActivations = 3
    /// The predicted class of each sample.
    case predictions = 4
}

/// A shard of an evaluation; the envelope's chunk says which shard.
public struct EvalRequest: Equatable, Sendable {
    /// What to compute.
    public var kind: EvalKind
    /// The samples of this shard.
    public var sampleIndices: [Int32]

    /// A request.
    public init(kind: EvalKind, sampleIndices: [Int32]) {
        self.kind = kind
        self.sampleIndices = sampleIndices
    }
}

/// The evaluation of one shard; fields a kind does not produce are zero or empty.
public struct EvalReply: Equatable, Sendable {
    /// What was computed.
    public var kind: EvalKind
    /// Sum of the samples' losses.
    public var lossSum: Double
    /// Correctly classified samples.
    public var correct: UInt32
    /// Samples evaluated.
    public var count: UInt32
    /// The predicted class of each sample.
    public var predictions: [UInt8]
    /// `activationRows` x `activationDimension` activations, row-major.
    public var activations: [Float]
    /// Rows of `activations`, one per sample.
    public var activationRows: UInt32
    /// Columns of `activations`.
    public var activationDimension: UInt32

    /// A reply; `activations.count` must equal `activationRows * activationDimension`.
    public init(kind: EvalKind, lossSum: Double = 0, correct: UInt32 = 0, count: UInt32,
                predictions: [UInt8] = [], activations: [Float] = [], activationRows: UInt32 = 0,
                activationDimension: UInt32 = 0) {
        self.kind = kind
        self.lossSum = lossSum
        self.correct = correct
        self.count = count
        self.predictions = predictions
        self.activations = activations
        self.activationRows = activationRows
        self.activationDimension = activationDimension
    }
}

/// Query rows `firstRow ..< firstRow + rowCount`, `k` neighbours each: the unit of UMAP work.
public struct NeighbourRows: Equatable, Sendable {
    /// First query row.
    public var firstRow: UInt32
    /// Number of query rows.
    public var rowCount: UInt32
    /// Neighbours per row.
    public var k: UInt32

    /// A range of rows.
    public init(firstRow: UInt32, rowCount: UInt32, k: UInt32) {
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.k = k
    }
}

/// A piece of UMAP work for a worker.
public struct UMAPRequest: Equatable, Sendable {
    /// The rows to work on.
    public var rows: NeighbourRows
    /// Stage-specific input (e.g. embedding coordinates); may be empty.
    public var values: [Float]

    /// A request.
    public init(rows: NeighbourRows, values: [Float] = []) {
        self.rows = rows
        self.values = values
    }
}

/// Neighbours found for a range of rows, row-major: `neighbourIndices[r * k + j]` is at `distances[r * k + j]`.
public struct UMAPReply: Equatable, Sendable {
    /// The rows worked on.
    public var rows: NeighbourRows
    /// Indices of the neighbours.
    public var neighbourIndices: [Int32]
    /// Distances to the neighbours; as many as `neighbourIndices`.
    public var distances: [Float]

    /// A reply.
    public init(rows: NeighbourRows, neighbourIndices: [Int32], distances: [Float]) {
        self.rows = rows
        self.neighbourIndices = neighbourIndices
        self.distances = distances
    }
}

/// The bytes of `message` in `envelope`: header, then payload.
public func encode(_ message: Message, envelope: Envelope = Envelope()) -> [UInt8] {
    encodeFrame(type: message.type, envelope: envelope) { message.writePayload(to: &$0) }
}

/// The header and message in `bytes`. Never traps: malformed input throws a `WireError` that names what
/// was wrong. Checks, in order: header, payload length, checksum, each payload field.
public func decode(_ bytes: [UInt8], limits: WireLimits = .standard) throws(WireError) -> (MessageHeader, Message) {
    let header = try MessageHeader(decoding: bytes, limits: limits)
    try verifyPayloadChecksum(of: bytes, against: header)
    var reader = PayloadReader(bytes, payloadStart: MessageHeader.size, limits: limits,
                               fieldPrefix: header.type.description)
    let message = try Message(type: header.type, reading: &reader)
    try reader.finish(type: header.type, allowingTrailingBytes: header.minorVersion > ProtocolVersion.minor)
    return (header, message)
}

extension Message {
    func writePayload(to w: inout PayloadWriter) {
        switch self {
        case .hello(let m):
            w.write(m.protocolMajor)
            w.write(m.protocolMinor)
            w.write(m.buildID)
            w.write(m.datasetFingerprint)
            w.write(m.hostName)
            w.write(m.processID)
            w.write(m.threadCount)
        case .welcome(let m):
            w.write(m.rank)
            w.write(m.runNonce)
            w.write(m.seed)
            w.write(UInt32(m.settings.count))
            for key in m.settings.keys.sorted() {
                w.write(key)
                w.write(m.settings[key]!)
            }
        case .refused(let reason), .shutdown(let reason):
            w.write(reason)
        case .stepAssignment(let m):
            w.write(m.weightsVersion)
            w.writeArray(m.microBatches)
            w.writeArray(m.sampleIndices)
        case .stepResult(let m):
            w.writeArray(m.microBatches)
            w.writeArray(m.lossSums)
            w.writeArray(m.correctCounts)
            w.writeArray(m.sampleCounts)
            w.writeArray(m.gradient)
        case .weights(let m):
            w.write(m.version)
            w.write(m.adamStep)
            w.writeArray(m.parameters)
        case .evalRequest(let m):
            w.write(m.kind.rawValue)
            w.writeArray(m.sampleIndices)
        case .evalReply(let m):
            w.write(m.kind.rawValue)
            w.write(m.lossSum)
            w.write(m.correct)
            w.write(m.count)
            w.writeArray(m.predictions)
            w.write(m.activationRows)
            w.write(m.activationDimension)
            w.writeArray(m.activations)
        case .heartbeat(let timestamp):
            w.write(timestamp)
        case .error(let code, let text):
            w.write(code)
            w.write(text)
        case .umapRequest(let m):
            writeNeighbourRows(m.rows, to: &w)
            w.writeArray(m.values)
        case .umapReply(let m):
            writeNeighbourRows(m.rows, to: &w)
            w.writeArray(m.neighbourIndices)
            w.writeArray(m.distances)
        }
    }

    init(type: MessageType, reading r: inout PayloadReader) throws(WireError) {
        switch type {
        case .hello:
            self = .hello(Hello(
                protocolMajor: try r.read(UInt16.self, "protocolMajor"),
                protocolMinor: try r.read(UInt16.self, "protocolMinor"),
                buildID: try r.readString("buildID"),
                datasetFingerprint: try r.readString("datasetFingerprint"),
                hostName: try r.readString("hostName"),
                processID: try r.read(Int32.self, "processID"),
                threadCount: try r.read(UInt32.self, "threadCount")))
        case .welcome:
            let rank = try r.read(UInt32.self, "rank")
            let runNonce = try r.read(UInt64.self, "runNonce")
            let seed = try r.read(UInt64.self, "seed")
            let count = try r.read(UInt32.self, "settings")
            var settings: [String: String] = [:]
            for _ in 0..<count {
                let keyOffset = r.offset
                let key = try r.readString("settings.key")
                let value = try r.readString("settings[\(key)]")
                guard settings.updateValue(value, forKey: key) == nil else {
                    throw r.invalid("settings.key", "duplicate setting \"\(key)\"", at: keyOffset)
                }
            }
            self = .welcome(Welcome(rank: rank, runNonce: runNonce, seed: seed, settings: settings))
        case .refused:
            self = .refused(reason: try r.readString("reason"))
        case .stepAssignment:
            self = .stepAssignment(StepAssignment(
                weightsVersion: try r.read(UInt64.self, "weightsVersion"),
                microBatches: try r.readArray(of: Int32.self, "microBatches"),
                sampleIndices: try r.readArray(of: Int32.self, "sampleIndices")))
        case .stepResult:
            let microBatches = try r.readArray(of: Int32.self, "microBatches")
            let lossSums = try readPerMicroBatch(Double.self, "lossSums", count: microBatches.count, &r)
            let correctCounts = try readPerMicroBatch(Int32.self, "correctCounts", count: microBatches.count, &r)
            let sampleCounts = try readPerMicroBatch(Int32.self, "sampleCounts", count: microBatches.count, &r)
            self = .stepResult(StepResult(
                microBatches: microBatches, lossSums: lossSums, correctCounts: correctCounts,
                sampleCounts: sampleCounts, gradient: try r.readArray(of: Int64.self, "gradient")))
        case .weights:
            self = .weights(Weights(
                version: try r.read(UInt64.self, "version"),
                adamStep: try r.read(UInt64.self, "adamStep"),
                parameters: try r.readArray(of: Float.self, "parameters")))
        case .evalRequest:
            self = .evalRequest(EvalRequest(
                kind: try readEvalKind(&r),
                sampleIndices: try r.readArray(of: Int32.self, "sampleIndices")))
        case .evalReply:
            let kind = try readEvalKind(&r)
            let lossSum = try r.read(Double.self, "lossSum")
            let correct = try r.read(UInt32.self, "correct")
            let count = try r.read(UInt32.self, "count")
            let predictions = try r.readArray(of: UInt8.self, "predictions")
            let rows = try r.read(UInt32.self, "activationRows")
            let dimension = try r.read(UInt32.self, "activationDimension")
            let activationsOffset = r.offset
            let activations = try r.readArray(of: Float.self, "activations")
            guard UInt64(activations.count) == UInt64(rows) * UInt64(dimension) else {
                throw r.invalid("activations", "\(activations.count) values do not fill "
                                + "\(rows) rows of \(dimension)", at: activationsOffset)
            }
            self = .evalReply(EvalReply(
                kind: kind, lossSum: lossSum, correct: correct, count: count, predictions: predictions,
                activations: activations, activationRows: rows, activationDimension: dimension))
        case .heartbeat:
            self = .heartbeat(timestampNanoseconds: try r.read(UInt64.self, "timestampNanoseconds"))
        case .error:
            self = .error(code: try r.read(UInt32.self, "code"), text: try r.readString("text"))
        case .shutdown:
            self = .shutdown(reason: try r.readString("reason"))
        case .umapRequest:
            self = .umapRequest(UMAPRequest(rows: try readNeighbourRows(&r),
                                            values: try r.readArray(of: Float.self, "values")))
        case .umapReply:
            let rows = try readNeighbourRows(&r)
            let neighbourIndices = try r.readArray(of: Int32.self, "neighbourIndices")
            let distancesOffset = r.offset
            let distances = try r.readArray(of: Float.self, "distances")
            guard distances.count == neighbourIndices.count else {
                throw r.invalid("distances", "\(distances.count) distances for "
                                + "\(neighbourIndices.count) neighbour indices", at: distancesOffset)
            }
            self = .umapReply(UMAPReply(rows: rows, neighbourIndices: neighbourIndices, distances: distances))
        }
    }
}

private func writeNeighbourRows(_ rows: NeighbourRows, to w: inout PayloadWriter) {
    w.write(rows.firstRow)
    w.write(rows.rowCount)
    w.write(rows.k)
}

private func readNeighbourRows(_ r: inout PayloadReader) throws(WireError) -> NeighbourRows {
    NeighbourRows(firstRow: try r.read(UInt32.self, "firstRow"), rowCount: try r.read(UInt32.self, "rowCount"),
                  k: try r.read(UInt32.self, "k"))
}

private func readEvalKind(_ r: inout PayloadReader) throws(WireError) -> EvalKind {
    let offset = r.offset
    let raw = try r.read(UInt8.self, "kind")
    guard let kind = EvalKind(rawValue: raw) else { throw r.invalid("kind", "unknown evaluation kind \(raw)", at: offset) }
    return kind
}

/// Reads an array that must have one element per micro-batch.
private func readPerMicroBatch<T: WireScalar>(_ type: T.Type, _ field: String, count: Int,
                                              _ r: inout PayloadReader) throws(WireError) -> [T] {
    let offset = r.offset
    let values = try r.readArray(of: type, field)
    guard values.count == count else {
        throw r.invalid(field, "\(values.count) values for \(count) micro-batches", at: offset)
    }
    return values
}
