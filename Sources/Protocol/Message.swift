// The message kinds and the one entry point each way: `encode` frames a `Message`, `decode` reads one
// back. Each payload's fields are written and read beside its type, by family: ControlMessages.swift
// (joining, liveness, errors, digests), TrainingMessages.swift (steps, weights, evaluations) and
// NeighbourMessages.swift (the UMAP neighbour search), DatasetMessages.swift (sending the data set).

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
    case stepUpdate = 14
    case weightsDigest = 15
    case datasetManifest = 16
    case datasetChunkRequest = 17
    case datasetChunk = 18

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
        case .stepUpdate: "stepUpdate"
        case .weightsDigest: "weightsDigest"
        case .datasetManifest: "datasetManifest"
        case .datasetChunkRequest: "datasetChunkRequest"
        case .datasetChunk: "datasetChunk"
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
    /// Coordinator to worker: a piece of the UMAP neighbour search (data to hold, or rows to work on).
    case umapRequest(UMAPRequest)
    /// Worker to coordinator: the answer to a `umapRequest`.
    case umapReply(UMAPReply)
    /// Coordinator to worker: the combined gradient of a step, which the worker applies to its weights itself.
    case stepUpdate(StepUpdate)
    /// Either way: the SHA-256 of the sender's weights of a version (coordinator: expected; worker: held).
    case weightsDigest(WeightsDigest)
    /// Coordinator to a worker whose hello carried no fingerprint: the data set it trains on, as files.
    case datasetManifest(DatasetManifest)
    /// Worker to coordinator: the next piece of a data set file (one outstanding at a time).
    case datasetChunkRequest(DatasetChunkRequest)
    /// Coordinator to worker: the piece asked for.
    case datasetChunk(DatasetChunk)

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
        case .stepUpdate: .stepUpdate
        case .weightsDigest: .weightsDigest
        case .datasetManifest: .datasetManifest
        case .datasetChunkRequest: .datasetChunkRequest
        case .datasetChunk: .datasetChunk
        }
    }
}

/// The bytes of `message` in `envelope`: header, then payload.
public func encode(_ message: Message, envelope: Envelope = Envelope()) -> [UInt8] {
    encodeFrame(type: message.type, envelope: envelope, capacity: message.payloadSizeHint) { message.writePayload(to: &$0) }
}

/// The header and message in `bytes`. Never traps: malformed input throws a `WireError` that names what
/// was wrong. Checks, in order: header, payload length, checksum, each payload field.
public func decode(_ bytes: [UInt8], limits: WireLimits = .standard) throws(WireError) -> (MessageHeader, Message) {
    let header = try MessageHeader(decoding: bytes, limits: limits)
    try verifyPayloadChecksum(of: bytes, against: header)
    var reader = PayloadReader(bytes, payloadStart: MessageHeader.size, limits: limits,
                               fieldPrefix: header.type.description, minorVersion: header.minorVersion)
    let message = try Message(type: header.type, reading: &reader)
    try reader.finish(type: header.type, allowingTrailingBytes: header.minorVersion > ProtocolVersion.minor)
    return (header, message)
}

extension Message {
    /// About the payload's size, at least that of its large arrays, so that encoding reserves its buffer
    /// once: growing a 10 MB state report by doubling copies it several times over.
    var payloadSizeHint: Int {
        func weights(_ w: Weights) -> Int { 64 + 4 * (w.parameters.count + w.adamM.count + w.adamV.count) }
        func gradient(_ g: GradientFactors) -> Int {
            let rows = g.flatRows.count + g.deltaRows.count
            return 64 + 8 * g.sums.count + 4 * rows + rows / 8  // zero suppression only shrinks the rows
        }
        switch self {
        case .weights(let w): return weights(w)
        case .stepResult(let r):
            return 256 + 24 * r.microBatches.count + (r.gradient.map(gradient) ?? 0) + (r.state.map(weights) ?? 0)
        case .stepUpdate(let u): return 64 + gradient(u.gradient)
        case .evalReply(let r): return 256 + 17 * r.sampleCounts.count + r.predictions.count + 4 * r.activations.count
        case .datasetChunk(let c): return 64 + c.bytes.count
        default: return 256
        }
    }

    /// Writes the payload; the messages without a type of their own (a string, a timestamp, an error code
    /// and text) are written here, beside their readers below.
    func writePayload(to w: inout PayloadWriter) {
        switch self {
        case .hello(let m): m.write(to: &w)
        case .welcome(let m): m.write(to: &w)
        case .refused(let reason), .shutdown(let reason): w.write(reason)
        case .stepAssignment(let m): m.write(to: &w)
        case .stepResult(let m): m.write(to: &w)
        case .stepUpdate(let m): m.write(to: &w)
        case .weights(let m): m.write(to: &w)
        case .weightsDigest(let m): m.write(to: &w)
        case .evalRequest(let m): m.write(to: &w)
        case .evalReply(let m): m.write(to: &w)
        case .heartbeat(let timestamp): w.write(timestamp)
        case .error(let code, let text):
            w.write(code)
            w.write(text)
        case .umapRequest(let m): m.write(to: &w)
        case .umapReply(let m): m.write(to: &w)
        case .datasetManifest(let m): m.write(to: &w)
        case .datasetChunkRequest(let m): m.write(to: &w)
        case .datasetChunk(let m): m.write(to: &w)
        }
    }

    /// Reads the payload of a message of `type`.
    init(type: MessageType, reading r: inout PayloadReader) throws(WireError) {
        switch type {
        case .hello: self = .hello(try Hello.read(from: &r))
        case .welcome: self = .welcome(try Welcome.read(from: &r))
        case .refused: self = .refused(reason: try r.readString("reason"))
        case .stepAssignment: self = .stepAssignment(try StepAssignment.read(from: &r))
        case .stepResult: self = .stepResult(try StepResult.read(from: &r))
        case .stepUpdate: self = .stepUpdate(try StepUpdate.read(from: &r))
        case .weights: self = .weights(try Weights.read(from: &r))
        case .weightsDigest: self = .weightsDigest(try WeightsDigest.read(from: &r))
        case .evalRequest: self = .evalRequest(try EvalRequest.read(from: &r))
        case .evalReply: self = .evalReply(try EvalReply.read(from: &r))
        case .heartbeat: self = .heartbeat(timestampNanoseconds: try r.read(UInt64.self, "timestampNanoseconds"))
        case .error: self = .error(code: try r.read(UInt32.self, "code"), text: try r.readString("text"))
        case .shutdown: self = .shutdown(reason: try r.readString("reason"))
        case .umapRequest: self = .umapRequest(try UMAPRequest.read(from: &r))
        case .umapReply: self = .umapReply(try UMAPReply.read(from: &r))
        case .datasetManifest: self = .datasetManifest(try DatasetManifest.read(from: &r))
        case .datasetChunkRequest: self = .datasetChunkRequest(try DatasetChunkRequest.read(from: &r))
        case .datasetChunk: self = .datasetChunk(try DatasetChunk.read(from: &r))
        }
    }
}
