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
    /// Which micro-batches of the global batch this worker computes (a contiguous run, ascending).
    public var microBatches: [Int32]
    /// Samples in each of those micro-batches: where `sampleIndices` is cut.
    public var sampleCounts: [Int32]
    /// The samples of those micro-batches, concatenated in the same order.
    public var sampleIndices: [Int32]
    /// What the worker does besides computing the gradient.
    public var options: StepOptions

    /// An assignment; `sampleCounts` has one entry per micro-batch and sums to `sampleIndices.count`.
    public init(weightsVersion: UInt64, microBatches: [Int32], sampleCounts: [Int32], sampleIndices: [Int32],
                options: StepOptions = []) {
        self.weightsVersion = weightsVersion
        self.microBatches = microBatches
        self.sampleCounts = sampleCounts
        self.sampleIndices = sampleIndices
        self.options = options
    }
}

/// Extra duties of a step assignment (a bit set on the wire; unknown bits are a decoding error).
public struct StepOptions: OptionSet, Equatable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The assignment is the whole step: the worker applies its own gradient with Adam (the update the
    /// coordinator would broadcast) and then holds `weightsVersion + 1`.
    public static let applyOwnGradient = StepOptions(rawValue: 1)
    /// The result carries the worker's weights and Adam state, which the coordinator keeps instead of
    /// applying every update itself: with `applyOwnGradient` those after the step (`weightsVersion + 1`; the
    /// worker applies the step before it answers), otherwise those the step was computed from.
    public static let reportState = StepOptions(rawValue: 2)
    /// The result carries no gradient, only the statistics (and a reported state): nobody else needs the
    /// gradient, and the coordinator can recompute it from a reported state if the worker is lost. Only
    /// with `applyOwnGradient`.
    public static let omitGradient = StepOptions(rawValue: 4)

    public static let known: StepOptions = [.applyOwnGradient, .reportState, .omitGradient]
}

/// A step gradient in a form whose combination is exact: every parameter except one dense kernel summed
/// in 64-bit fixed point, plus that kernel's sufficient factors (the rows of its input and of the loss
/// gradient at its output, in sample order), from which the receiver forms the kernel's gradient.
public struct GradientFactors: Equatable, Sendable {
    /// Fixed-point sums of the parameters other than the factored kernel, in layout order.
    public var sums: [Int64]
    /// Samples (rows) in `flatRows` and `deltaRows`.
    public var rows: UInt32
    /// Columns of `flatRows` (the kernel's input width).
    public var flatWidth: UInt32
    /// Columns of `deltaRows` (the kernel's output width).
    public var deltaWidth: UInt32
    /// `rows` x `flatWidth` kernel inputs, row-major.
    public var flatRows: [Float]
    /// `rows` x `deltaWidth` output gradients, row-major.
    public var deltaRows: [Float]

    /// Factors; `flatRows` and `deltaRows` must fill their shapes.
    public init(sums: [Int64], rows: UInt32, flatWidth: UInt32, deltaWidth: UInt32, flatRows: [Float],
                deltaRows: [Float]) {
        self.sums = sums
        self.rows = rows
        self.flatWidth = flatWidth
        self.deltaWidth = deltaWidth
        self.flatRows = flatRows
        self.deltaRows = deltaRows
    }

}

/// A worker's gradient for its assignment. Per-micro-batch arrays follow the order of `microBatches`, so
/// that the coordinator can add statistics in the same order as one process would.
public struct StepResult: Equatable, Sendable {
    /// The assignment's micro-batch indices.
    public var microBatches: [Int32]
    /// Sum of the losses of each micro-batch's samples.
    public var lossSums: [Double]
    /// Correctly classified samples in each micro-batch.
    public var correctCounts: [Int32]
    /// Samples in each micro-batch.
    public var sampleCounts: [Int32]
    /// The gradient of all the assignment's micro-batches together (nil with `StepOptions.omitGradient`).
    public var gradient: GradientFactors?
    /// With `StepOptions.reportState`: the worker's weights and Adam state (see there for which version).
    public var state: Weights?

    /// A result; the four per-micro-batch arrays must have the same length.
    public init(microBatches: [Int32], lossSums: [Double], correctCounts: [Int32], sampleCounts: [Int32],
                gradient: GradientFactors?, state: Weights? = nil) {
        self.microBatches = microBatches
        self.lossSums = lossSums
        self.correctCounts = correctCounts
        self.sampleCounts = sampleCounts
        self.gradient = gradient
        self.state = state
    }
}

/// The combined gradient of one step, broadcast so that every replica applies the same update itself
/// (about 1 MB at batch 100, against 3.3 MB for the weights).
public struct StepUpdate: Equatable, Sendable {
    /// The weights version the update produces; the receiver must hold `version - 1`.
    public var version: UInt64
    /// Samples in the step: the gradient is divided by this.
    public var samples: UInt32
    /// The step's gradient; without the factor rows in `ownRows`, if any.
    public var gradient: GradientFactors
    /// Factor rows the receiver computed itself and holds, left out of `gradient`: it puts them back.
    public var ownRows: OwnRows?

    /// An update.
    public init(version: UInt64, samples: UInt32, gradient: GradientFactors, ownRows: OwnRows? = nil) {
        self.version = version
        self.samples = samples
        self.gradient = gradient
        self.ownRows = ownRows
    }
}

extension StepUpdate {
    /// This update without the factor rows that `own` names (the receiver's own share, which it holds).
    /// The rows must lie within the gradient's.
    public func leavingOut(_ own: OwnRows) -> StepUpdate {
        let start = Int(own.start), end = start + Int(own.count)
        precondition(ownRows == nil && end <= Int(gradient.rows), "StepUpdate.leavingOut: rows \(start)..<\(end) of \(gradient.rows)")
        var update = self
        let flat = Int(gradient.flatWidth), delta = Int(gradient.deltaWidth)
        update.gradient.flatRows.removeSubrange(start * flat..<end * flat)
        update.gradient.deltaRows.removeSubrange(start * delta..<end * delta)
        update.gradient.rows -= own.count
        update.ownRows = own
        return update
    }

    /// The whole step's gradient: `gradient` with the receiver's own rows (`ownRows.count` rows of each
    /// width) put back where `ownRows` says; `gradient` itself if no rows were left out.
    public func restoringOwnRows(flatRows: [Float], deltaRows: [Float]) -> GradientFactors {
        guard let own = ownRows else { return gradient }
        precondition(flatRows.count == Int(own.count) * Int(gradient.flatWidth)
                     && deltaRows.count == Int(own.count) * Int(gradient.deltaWidth),
                     "StepUpdate.restoringOwnRows: the rows do not fill \(own.count) rows")
        var whole = gradient
        whole.flatRows.insert(contentsOf: flatRows, at: Int(own.start) * Int(gradient.flatWidth))
        whole.deltaRows.insert(contentsOf: deltaRows, at: Int(own.start) * Int(gradient.deltaWidth))
        whole.rows += own.count
        return whole
    }
}

/// Where the factor rows of the receiver's own share of a step go back into an update's rows.
public struct OwnRows: Equatable, Sendable {
    /// The first micro-batch of the share (the receiver's assignment began with it).
    public var firstMicroBatch: UInt32
    /// The row (sample) of the whole step at which the share's rows start, and how many there are.
    public var start: UInt32
    public var count: UInt32

    public init(firstMicroBatch: UInt32, start: UInt32, count: UInt32) {
        self.firstMicroBatch = firstMicroBatch
        self.start = start
        self.count = count
    }
}

/// A full set of parameters, and the optimiser's state when the receiver is to apply updates itself.
public struct Weights: Equatable, Sendable {
    /// Increases with every update; assignments name the version they need.
    public var version: UInt64
    /// The optimiser's step count, so that a worker can check it is in step.
    public var adamStep: UInt64
    /// All parameters, flattened in the model's canonical order.
    public var parameters: [Float]
    /// Adam's first moments, one per parameter; empty when the receiver only computes gradients.
    public var adamM: [Float]
    /// Adam's second moments, one per parameter; empty when `adamM` is.
    public var adamV: [Float]

    /// Weights; `adamM` and `adamV` are both empty or both as long as `parameters`.
    public init(version: UInt64, adamStep: UInt64, parameters: [Float], adamM: [Float] = [], adamV: [Float] = []) {
        self.version = version
        self.adamStep = adamStep
        self.parameters = parameters
        self.adamM = adamM
        self.adamV = adamV
    }
}

/// The SHA-256 of a weights version, to check that replicas agree.
public struct WeightsDigest: Equatable, Sendable {
    /// The weights version hashed.
    public var version: UInt64
    /// SHA-256 (64 hex digits) of the parameters as little-endian fp32.
    public var sha256: String

    /// A digest.
    public init(version: UInt64, sha256: String) {
        self.version = version
        self.sha256 = sha256
    }
}

/// Which images an evaluation reads. Raw values are part of the wire format.
public enum EvalImageSet: UInt8, CaseIterable, Sendable {
    /// The training file (validation samples are a part of it).
    case train = 0
    /// The test file.
    case test = 1
}

/// A shard of an evaluation: statistics and predictions of some samples, and optionally their hidden-layer
/// activations. The envelope's chunk says where the shard starts in the whole evaluation.
public struct EvalRequest: Equatable, Sendable {
    /// Which images `sampleIndices` index.
    public var imageSet: EvalImageSet
    /// Whether to return hidden-layer activations.
    public var includeActivations: Bool
    /// The samples are cut into micro-batches of this size (the last may be shorter); statistics are
    /// returned per micro-batch.
    public var microBatchSize: UInt32
    /// The samples of this shard.
    public var sampleIndices: [Int32]

    /// A request.
    public init(imageSet: EvalImageSet, includeActivations: Bool, microBatchSize: UInt32, sampleIndices: [Int32]) {
        self.imageSet = imageSet
        self.includeActivations = includeActivations
        self.microBatchSize = microBatchSize
        self.sampleIndices = sampleIndices
    }
}

/// The evaluation of one shard. Statistics are per micro-batch, so that the coordinator adds them in the
/// same order as one process would.
public struct EvalReply: Equatable, Sendable {
    /// Sum of the losses of each micro-batch's samples.
    public var lossSums: [Double]
    /// Correctly classified samples in each micro-batch.
    public var correctCounts: [Int32]
    /// Samples in each micro-batch.
    public var sampleCounts: [Int32]
    /// The predicted class of each sample.
    public var predictions: [UInt8]
    /// `activationRows` x `activationDimension` activations, row-major.
    public var activations: [Float]
    /// Rows of `activations`, one per sample (0 when not asked for).
    public var activationRows: UInt32
    /// Columns of `activations`.
    public var activationDimension: UInt32

    /// A reply; the per-micro-batch arrays have equal lengths and `activations.count` equals
    /// `activationRows * activationDimension`.
    public init(lossSums: [Double], correctCounts: [Int32], sampleCounts: [Int32], predictions: [UInt8],
                activations: [Float] = [], activationRows: UInt32 = 0, activationDimension: UInt32 = 0) {
        self.lossSums = lossSums
        self.correctCounts = correctCounts
        self.sampleCounts = sampleCounts
        self.predictions = predictions
        self.activations = activations
        self.activationRows = activationRows
        self.activationDimension = activationDimension
    }
}

/// Codes of `Message.error`. Raw values are part of the wire format.
public enum ErrorCode: UInt32, Sendable {
    /// The coordinator does not know the sender (never joined, or dropped): say hello again.
    case notJoined = 1
    /// The worker does not hold the weights version the message needs: send the full weights.
    case wrongWeightsVersion = 2
    /// The request cannot be carried out (e.g. a sample index outside the data set).
    case badRequest = 3
}

/// A piece of the UMAP neighbour search for a worker (see docs/DISTRIBUTED.md, "UMAP neighbour search on
/// the workers"). Rows and neighbour indices are the search's own row order (locality positions).
public enum UMAPRequest: Equatable, Sendable {
    /// Rows of a search's matrix; the chunk at row 0 starts the search.
    case matrix(NeighbourMatrixRows)
    /// The cells of a fresh search, for `cellStart` work.
    case cells(NeighbourCells)
    /// Rows of the graph that a refinement pass reads.
    case graph(NeighbourGraphChunk)
    /// A start or a refinement pass for a block of query rows.
    case work(NeighbourWork)
}

/// Rows `firstRow ..< firstRow + rowCount` of search `search`'s matrix (`totalRows` x `dimension`): Float16
/// bit patterns in `half` or float32 in `single` (the other empty), and their projections.
public struct NeighbourMatrixRows: Equatable, Sendable {
    /// Identifies the search (a coordinator counter).
    public var search: UInt64
    public var totalRows: UInt32
    public var dimension: UInt32
    public var firstRow: UInt32
    /// rowCount x dimension Float16 bit patterns, or empty.
    public var half: [UInt16]
    /// rowCount x dimension float32 values, or empty.
    public var single: [Float]
    public var projectionDimension: UInt32
    /// rowCount x projectionDimension.
    public var projection: [Float]

    /// Rows in this chunk.
    public var rowCount: Int { dimension == 0 ? 0 : max(half.count, single.count) / Int(dimension) }

    /// A chunk.
    public init(search: UInt64, totalRows: UInt32, dimension: UInt32, firstRow: UInt32, half: [UInt16], single: [Float],
                projectionDimension: UInt32, projection: [Float]) {
        self.search = search
        self.totalRows = totalRows
        self.dimension = dimension
        self.firstRow = firstRow
        self.half = half
        self.single = single
        self.projectionDimension = projectionDimension
        self.projection = projection
    }
}

/// The cells of search `search`: cell c holds rows cellStart[c] ..< cellStart[c + 1]; its centroid is
/// centroids[c * dimension ..< (c + 1) * dimension] (in the projection).
public struct NeighbourCells: Equatable, Sendable {
    public var search: UInt64
    public var dimension: UInt32
    public var cellStart: [UInt32]
    public var centroids: [Float]

    /// The cells.
    public init(search: UInt64, dimension: UInt32, cellStart: [UInt32], centroids: [Float]) {
        self.search = search
        self.dimension = dimension
        self.cellStart = cellStart
        self.centroids = centroids
    }
}

/// Rows of a kNN graph, row-major: row `firstRow + r` has neighbours `indices[r * k ..< (r + 1) * k]` at
/// `distances` of the same places; `isNew` (0 or 1) marks the entries new since the previous pass.
public struct NeighbourGraphRows: Equatable, Sendable {
    public var firstRow: UInt32
    public var k: UInt32
    public var indices: [Int32]
    public var distances: [Float]
    public var isNew: [UInt8]

    /// Rows held.
    public var rowCount: Int { k == 0 ? 0 : indices.count / Int(k) }

    /// Rows of a graph.
    public init(firstRow: UInt32, k: UInt32, indices: [Int32], distances: [Float], isNew: [UInt8]) {
        self.firstRow = firstRow
        self.k = k
        self.indices = indices
        self.distances = distances
        self.isNew = isNew
    }

    /// No rows.
    public static let empty = NeighbourGraphRows(firstRow: 0, k: 0, indices: [], distances: [], isNew: [])
}

/// Rows of the graph (`totalRows` in all) that refinement pass `pass` of search `search` reads.
public struct NeighbourGraphChunk: Equatable, Sendable {
    public var search: UInt64
    public var pass: UInt32
    public var totalRows: UInt32
    public var rows: NeighbourGraphRows

    /// A chunk of a graph.
    public init(search: UInt64, pass: UInt32, totalRows: UInt32, rows: NeighbourGraphRows) {
        self.search = search
        self.pass = pass
        self.totalRows = totalRows
        self.rows = rows
    }
}

/// The per-row stages of the neighbour search. Raw values are part of the wire format.
public enum NeighbourStage: UInt8, Sendable {
    /// Each row's `candidates` nearest projections in its `probes` nearest cells, re-measured, cut to k.
    case cellStart = 1
    /// The given neighbours of each row (`NeighbourWork.neighbours`), re-measured, cut to k.
    case graphStart = 2
    /// One refinement pass over the rows, reading the graph of pass `pass`.
    case refine = 3
}

/// A stage for query rows `firstRow ..< firstRow + rowCount` of search `search`, k neighbours each.
public struct NeighbourWork: Equatable, Sendable {
    public var stage: NeighbourStage
    public var search: UInt64
    /// `refine`: the pass whose graph the worker must hold.
    public var pass: UInt32
    public var firstRow: UInt32
    public var rowCount: UInt32
    public var k: UInt32
    /// `cellStart`: cells searched per row, and candidates re-measured.
    public var probes: UInt32
    public var candidates: UInt32
    /// `refine`: how many of a row's nearest neighbours have their lists searched.
    public var expansion: UInt32
    /// `graphStart`: the rows' input neighbours (rowCount x any width, -1 for none); else empty.
    public var neighbours: [Int32]

    /// A piece of work; the fields a stage does not use stay 0 or empty.
    public init(stage: NeighbourStage, search: UInt64, pass: UInt32 = 0, firstRow: UInt32, rowCount: UInt32, k: UInt32,
                probes: UInt32 = 0, candidates: UInt32 = 0, expansion: UInt32 = 0, neighbours: [Int32] = []) {
        self.stage = stage
        self.search = search
        self.pass = pass
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.k = k
        self.probes = probes
        self.candidates = candidates
        self.expansion = expansion
        self.neighbours = neighbours
    }
}

/// How a worker answered a `UMAPRequest`. Raw values are part of the wire format.
public enum NeighbourStatus: UInt8, Sendable {
    /// Stored (uploads) or computed (work).
    case done = 1
    /// The worker does not hold the search's matrix, cells or graph the request needs (e.g. it joined after
    /// the upload): the coordinator uploads again.
    case missingState = 2
}

/// A worker's answer to a `UMAPRequest`: for work, the rows' lists and how many entries changed.
public struct UMAPReply: Equatable, Sendable {
    public var search: UInt64
    public var status: NeighbourStatus
    /// The rows computed (empty for uploads).
    public var rows: NeighbourGraphRows
    /// Refinement: entries inserted into the rows' lists.
    public var changes: UInt64
    /// CPU seconds the worker process spent on the request.
    public var cpuSeconds: Double

    /// A reply.
    public init(search: UInt64, status: NeighbourStatus, rows: NeighbourGraphRows = .empty, changes: UInt64 = 0,
                cpuSeconds: Double = 0) {
        self.search = search
        self.status = status
        self.rows = rows
        self.changes = changes
        self.cpuSeconds = cpuSeconds
    }
}

/// The bytes of `message` in `envelope`: header, then payload.
public func encode(_ message: Message, envelope: Envelope = Envelope()) -> [UInt8] {
    encodeFrame(type: message.type, envelope: envelope, capacity: message.payloadSizeHint) { message.writePayload(to: &$0) }
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
        default: return 256
        }
    }
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
            w.writeArray(m.sampleCounts)
            w.writeArray(m.sampleIndices)
            w.write(m.options.rawValue)
        case .stepResult(let m):
            w.writeArray(m.microBatches)
            w.writeArray(m.lossSums)
            w.writeArray(m.correctCounts)
            w.writeArray(m.sampleCounts)
            writeFlag(m.gradient != nil, to: &w)
            if let gradient = m.gradient { writeGradientFactors(gradient, to: &w) }
            writeFlag(m.state != nil, to: &w)
            if let state = m.state { writeWeights(state, to: &w) }
        case .stepUpdate(let m):
            w.write(m.version)
            w.write(m.samples)
            writeGradientFactors(m.gradient, to: &w)
            writeFlag(m.ownRows != nil, to: &w)
            if let own = m.ownRows {
                w.write(own.firstMicroBatch)
                w.write(own.start)
                w.write(own.count)
            }
        case .weights(let m):
            writeWeights(m, to: &w)
        case .weightsDigest(let m):
            w.write(m.version)
            w.write(m.sha256)
        case .evalRequest(let m):
            w.write(m.imageSet.rawValue)
            writeFlag(m.includeActivations, to: &w)
            w.write(m.microBatchSize)
            w.writeArray(m.sampleIndices)
        case .evalReply(let m):
            w.writeArray(m.lossSums)
            w.writeArray(m.correctCounts)
            w.writeArray(m.sampleCounts)
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
            writeUMAPRequest(m, to: &w)
        case .umapReply(let m):
            w.write(m.search)
            w.write(m.status.rawValue)
            writeNeighbourGraphRows(m.rows, to: &w)
            w.write(m.changes)
            w.write(m.cpuSeconds)
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
            let weightsVersion = try r.read(UInt64.self, "weightsVersion")
            let microBatches = try r.readArray(of: Int32.self, "microBatches")
            let sampleCounts = try readPerMicroBatch(Int32.self, "sampleCounts", count: microBatches.count, &r)
            let indicesOffset = r.offset
            let sampleIndices = try r.readArray(of: Int32.self, "sampleIndices")
            try checkSampleCounts(sampleCounts, total: sampleIndices.count, "sampleIndices", at: indicesOffset, &r)
            let optionsOffset = r.offset
            let options = StepOptions(rawValue: try r.read(UInt32.self, "options"))
            guard StepOptions.known.isSuperset(of: options) else {
                throw r.invalid("options", "unknown option bits 0x\(String(options.subtracting(.known).rawValue, radix: 16))",
                                at: optionsOffset)
            }
            guard !options.contains(.omitGradient) || options.contains(.applyOwnGradient) else {
                throw r.invalid("options", "omitGradient without applyOwnGradient would lose the step's gradient",
                                at: optionsOffset)
            }
            self = .stepAssignment(StepAssignment(weightsVersion: weightsVersion, microBatches: microBatches,
                                                  sampleCounts: sampleCounts, sampleIndices: sampleIndices,
                                                  options: options))
        case .stepResult:
            let microBatches = try r.readArray(of: Int32.self, "microBatches")
            let lossSums = try readPerMicroBatch(Double.self, "lossSums", count: microBatches.count, &r)
            let correctCounts = try readPerMicroBatch(Int32.self, "correctCounts", count: microBatches.count, &r)
            let countsOffset = r.offset
            let sampleCounts = try readPerMicroBatch(Int32.self, "sampleCounts", count: microBatches.count, &r)
            var gradient: GradientFactors?
            if try readFlag("hasGradient", &r) {
                let gradientOffset = r.offset
                let factors = try readGradientFactors(&r)
                try checkSampleCounts(sampleCounts, total: Int(factors.rows), "gradient.rows", at: gradientOffset, &r)
                gradient = factors
            } else {
                try checkSampleCounts(sampleCounts, total: nil, "sampleCounts", at: countsOffset, &r)
            }
            let state = try readFlag("hasState", &r) ? try readWeights(&r) : nil
            self = .stepResult(StepResult(microBatches: microBatches, lossSums: lossSums, correctCounts: correctCounts,
                                          sampleCounts: sampleCounts, gradient: gradient, state: state))
        case .stepUpdate:
            let version = try r.read(UInt64.self, "version")
            let samples = try r.read(UInt32.self, "samples")
            let gradient = try readGradientFactors(&r)
            var ownRows: OwnRows?
            if try readFlag("hasOwnRows", &r) {
                let firstMicroBatch = try r.read(UInt32.self, "ownRows.firstMicroBatch")
                let start = try r.read(UInt32.self, "ownRows.start")
                let countOffset = r.offset
                let count = try r.read(UInt32.self, "ownRows.count")
                guard count > 0, UInt64(start) <= UInt64(gradient.rows) else {
                    throw r.invalid("ownRows.count", "\(count) own rows at row \(start) of an update with \(gradient.rows) "
                                    + "other rows", at: countOffset)
                }
                ownRows = OwnRows(firstMicroBatch: firstMicroBatch, start: start, count: count)
            }
            self = .stepUpdate(StepUpdate(version: version, samples: samples, gradient: gradient, ownRows: ownRows))
        case .weights:
            self = .weights(try readWeights(&r))
        case .weightsDigest:
            self = .weightsDigest(WeightsDigest(version: try r.read(UInt64.self, "version"),
                                                sha256: try r.readString("sha256")))
        case .evalRequest:
            let imageSet = try readEvalImageSet(&r)
            let includeActivations = try readFlag("includeActivations", &r)
            let sizeOffset = r.offset
            let microBatchSize = try r.read(UInt32.self, "microBatchSize")
            guard microBatchSize >= 1 else { throw r.invalid("microBatchSize", "must be at least 1", at: sizeOffset) }
            self = .evalRequest(EvalRequest(imageSet: imageSet, includeActivations: includeActivations,
                                            microBatchSize: microBatchSize,
                                            sampleIndices: try r.readArray(of: Int32.self, "sampleIndices")))
        case .evalReply:
            let lossSums = try r.readArray(of: Double.self, "lossSums")
            let correctCounts = try readPerMicroBatch(Int32.self, "correctCounts", count: lossSums.count, &r)
            let sampleCounts = try readPerMicroBatch(Int32.self, "sampleCounts", count: lossSums.count, &r)
            let predictionsOffset = r.offset
            let predictions = try r.readArray(of: UInt8.self, "predictions")
            try checkSampleCounts(sampleCounts, total: predictions.count, "predictions", at: predictionsOffset, &r)
            let rowsOffset = r.offset
            let rows = try r.read(UInt32.self, "activationRows")
            let dimension = try r.read(UInt32.self, "activationDimension")
            let activationsOffset = r.offset
            let activations = try r.readArray(of: Float.self, "activations")
            guard UInt64(activations.count) == UInt64(rows) * UInt64(dimension) else {
                throw r.invalid("activations", "\(activations.count) values do not fill "
                                + "\(rows) rows of \(dimension)", at: activationsOffset)
            }
            guard rows == 0 || Int(rows) == predictions.count else {
                throw r.invalid("activationRows", "\(rows) rows for \(predictions.count) samples", at: rowsOffset)
            }
            self = .evalReply(EvalReply(
                lossSums: lossSums, correctCounts: correctCounts, sampleCounts: sampleCounts,
                predictions: predictions, activations: activations, activationRows: rows,
                activationDimension: dimension))
        case .heartbeat:
            self = .heartbeat(timestampNanoseconds: try r.read(UInt64.self, "timestampNanoseconds"))
        case .error:
            self = .error(code: try r.read(UInt32.self, "code"), text: try r.readString("text"))
        case .shutdown:
            self = .shutdown(reason: try r.readString("reason"))
        case .umapRequest:
            self = .umapRequest(try readUMAPRequest(&r))
        case .umapReply:
            let search = try r.read(UInt64.self, "search")
            let statusOffset = r.offset
            let raw = try r.read(UInt8.self, "status")
            guard let status = NeighbourStatus(rawValue: raw) else {
                throw r.invalid("status", "unknown status \(raw)", at: statusOffset)
            }
            self = .umapReply(UMAPReply(search: search, status: status, rows: try readNeighbourGraphRows(&r),
                                        changes: try r.read(UInt64.self, "changes"),
                                        cpuSeconds: try r.read(Double.self, "cpuSeconds")))
        }
    }
}

/// UMAP request kinds on the wire (the first payload byte).
private enum UMAPRequestKind: UInt8 {
    case matrix = 1, cells = 2, graph = 3, work = 4
}

private func writeUMAPRequest(_ request: UMAPRequest, to w: inout PayloadWriter) {
    switch request {
    case .matrix(let m):
        w.write(UMAPRequestKind.matrix.rawValue)
        w.write(m.search)
        w.write(m.totalRows)
        w.write(m.dimension)
        w.write(m.firstRow)
        w.writeArray(m.half)
        w.writeArray(m.single)
        w.write(m.projectionDimension)
        w.writeArray(m.projection)
    case .cells(let m):
        w.write(UMAPRequestKind.cells.rawValue)
        w.write(m.search)
        w.write(m.dimension)
        w.writeArray(m.cellStart)
        w.writeArray(m.centroids)
    case .graph(let m):
        w.write(UMAPRequestKind.graph.rawValue)
        w.write(m.search)
        w.write(m.pass)
        w.write(m.totalRows)
        writeNeighbourGraphRows(m.rows, to: &w)
    case .work(let m):
        w.write(UMAPRequestKind.work.rawValue)
        w.write(m.stage.rawValue)
        w.write(m.search)
        w.write(m.pass)
        w.write(m.firstRow)
        w.write(m.rowCount)
        w.write(m.k)
        w.write(m.probes)
        w.write(m.candidates)
        w.write(m.expansion)
        w.writeArray(m.neighbours)
    }
}

private func readUMAPRequest(_ r: inout PayloadReader) throws(WireError) -> UMAPRequest {
    let kindOffset = r.offset
    let raw = try r.read(UInt8.self, "kind")
    guard let kind = UMAPRequestKind(rawValue: raw) else {
        throw r.invalid("kind", "unknown UMAP request kind \(raw)", at: kindOffset)
    }
    switch kind {
    case .matrix:
        let search = try r.read(UInt64.self, "search")
        let totalRows = try r.read(UInt32.self, "totalRows")
        let dimensionOffset = r.offset
        let dimension = try r.read(UInt32.self, "dimension")
        guard dimension >= 1 else { throw r.invalid("dimension", "must be at least 1", at: dimensionOffset) }
        let firstRow = try r.read(UInt32.self, "firstRow")
        let valuesOffset = r.offset
        let half = try r.readArray(of: UInt16.self, "half")
        let single = try r.readArray(of: Float.self, "single")
        let values = max(half.count, single.count)
        guard half.isEmpty != single.isEmpty, values % Int(dimension) == 0 else {
            throw r.invalid("half", "\(half.count) Float16 and \(single.count) float32 values: expected whole rows "
                            + "of \(dimension) in exactly one of them", at: valuesOffset)
        }
        guard UInt64(firstRow) + UInt64(values / Int(dimension)) <= UInt64(totalRows) else {
            throw r.invalid("firstRow", "rows \(firstRow) + \(values / Int(dimension)) exceed the \(totalRows) rows",
                            at: valuesOffset)
        }
        let projectionDimension = try r.read(UInt32.self, "projectionDimension")
        let projectionOffset = r.offset
        let projection = try r.readArray(of: Float.self, "projection")
        guard UInt64(projection.count) == UInt64(values / Int(dimension)) * UInt64(projectionDimension) else {
            throw r.invalid("projection", "\(projection.count) values for \(values / Int(dimension)) rows of "
                            + "\(projectionDimension)", at: projectionOffset)
        }
        return .matrix(NeighbourMatrixRows(search: search, totalRows: totalRows, dimension: dimension, firstRow: firstRow,
                                           half: half, single: single, projectionDimension: projectionDimension,
                                           projection: projection))
    case .cells:
        let search = try r.read(UInt64.self, "search")
        let dimension = try r.read(UInt32.self, "dimension")
        let startOffset = r.offset
        let cellStart = try r.readArray(of: UInt32.self, "cellStart")
        guard cellStart.count >= 2, cellStart.first == 0, zip(cellStart, cellStart.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw r.invalid("cellStart", "expected at least 2 non-decreasing row numbers from 0", at: startOffset)
        }
        let centroidsOffset = r.offset
        let centroids = try r.readArray(of: Float.self, "centroids")
        guard UInt64(centroids.count) == UInt64(cellStart.count - 1) * UInt64(dimension) else {
            throw r.invalid("centroids", "\(centroids.count) values for \(cellStart.count - 1) cells of \(dimension)",
                            at: centroidsOffset)
        }
        return .cells(NeighbourCells(search: search, dimension: dimension, cellStart: cellStart, centroids: centroids))
    case .graph:
        let search = try r.read(UInt64.self, "search")
        let pass = try r.read(UInt32.self, "pass")
        let totalRows = try r.read(UInt32.self, "totalRows")
        let rowsOffset = r.offset
        let rows = try readNeighbourGraphRows(&r)
        guard UInt64(rows.firstRow) + UInt64(rows.rowCount) <= UInt64(totalRows) else {
            throw r.invalid("rows", "rows \(rows.firstRow) + \(rows.rowCount) exceed the \(totalRows) rows", at: rowsOffset)
        }
        return .graph(NeighbourGraphChunk(search: search, pass: pass, totalRows: totalRows, rows: rows))
    case .work:
        let stageOffset = r.offset
        let rawStage = try r.read(UInt8.self, "stage")
        guard let stage = NeighbourStage(rawValue: rawStage) else {
            throw r.invalid("stage", "unknown stage \(rawStage)", at: stageOffset)
        }
        let search = try r.read(UInt64.self, "search")
        let pass = try r.read(UInt32.self, "pass")
        let firstRow = try r.read(UInt32.self, "firstRow")
        let rowCount = try r.read(UInt32.self, "rowCount")
        let kOffset = r.offset
        let k = try r.read(UInt32.self, "k")
        guard k >= 1 else { throw r.invalid("k", "must be at least 1", at: kOffset) }
        let probes = try r.read(UInt32.self, "probes")
        let candidates = try r.read(UInt32.self, "candidates")
        let expansion = try r.read(UInt32.self, "expansion")
        let neighboursOffset = r.offset
        let neighbours = try r.readArray(of: Int32.self, "neighbours")
        let fits = stage == .graphStart
            ? rowCount > 0 && !neighbours.isEmpty && neighbours.count % Int(rowCount) == 0
            : neighbours.isEmpty
        guard fits else {
            throw r.invalid("neighbours", "\(neighbours.count) input neighbours for \(rowCount) rows of \(stage) work",
                            at: neighboursOffset)
        }
        return .work(NeighbourWork(stage: stage, search: search, pass: pass, firstRow: firstRow, rowCount: rowCount, k: k,
                                   probes: probes, candidates: candidates, expansion: expansion, neighbours: neighbours))
    }
}

private func writeNeighbourGraphRows(_ rows: NeighbourGraphRows, to w: inout PayloadWriter) {
    w.write(rows.firstRow)
    w.write(rows.k)
    w.writeArray(rows.indices)
    w.writeArray(rows.distances)
    w.writeArray(rows.isNew)
}

private func readNeighbourGraphRows(_ r: inout PayloadReader) throws(WireError) -> NeighbourGraphRows {
    let firstRow = try r.read(UInt32.self, "rows.firstRow")
    let k = try r.read(UInt32.self, "rows.k")
    let indicesOffset = r.offset
    let indices = try r.readArray(of: Int32.self, "rows.indices")
    guard indices.isEmpty || (k > 0 && indices.count % Int(k) == 0) else {
        throw r.invalid("rows.indices", "\(indices.count) neighbours are not whole rows of \(k)", at: indicesOffset)
    }
    let distancesOffset = r.offset
    let distances = try r.readArray(of: Float.self, "rows.distances")
    guard distances.count == indices.count else {
        throw r.invalid("rows.distances", "\(distances.count) distances for \(indices.count) neighbours", at: distancesOffset)
    }
    let isNewOffset = r.offset
    let isNew = try r.readArray(of: UInt8.self, "rows.isNew")
    guard isNew.count == indices.count, isNew.allSatisfy({ $0 <= 1 }) else {
        throw r.invalid("rows.isNew", "expected one flag of 0 or 1 for each of \(indices.count) neighbours", at: isNewOffset)
    }
    return NeighbourGraphRows(firstRow: firstRow, k: k, indices: indices, distances: distances, isNew: isNew)
}

private func readEvalImageSet(_ r: inout PayloadReader) throws(WireError) -> EvalImageSet {
    let offset = r.offset
    let raw = try r.read(UInt8.self, "imageSet")
    guard let set = EvalImageSet(rawValue: raw) else {
        throw r.invalid("imageSet", "unknown image set \(raw)", at: offset)
    }
    return set
}

private func writeWeights(_ m: Weights, to w: inout PayloadWriter) {
    w.write(m.version)
    w.write(m.adamStep)
    w.writeArray(m.parameters)
    w.writeArray(m.adamM)
    w.writeArray(m.adamV)
}

private func readWeights(_ r: inout PayloadReader) throws(WireError) -> Weights {
    let version = try r.read(UInt64.self, "version")
    let adamStep = try r.read(UInt64.self, "adamStep")
    let parameters = try r.readArray(of: Float.self, "parameters")
    let momentsOffset = r.offset
    let adamM = try r.readArray(of: Float.self, "adamM")
    let adamV = try r.readArray(of: Float.self, "adamV")
    guard (adamM.isEmpty && adamV.isEmpty) || (adamM.count == parameters.count && adamV.count == parameters.count) else {
        throw r.invalid("adamM", "\(adamM.count) first and \(adamV.count) second moments for "
                        + "\(parameters.count) parameters (expected none or one each)", at: momentsOffset)
    }
    return Weights(version: version, adamStep: adamStep, parameters: parameters, adamM: adamM, adamV: adamV)
}

private func writeGradientFactors(_ g: GradientFactors, to w: inout PayloadWriter) {
    w.writeArray(g.sums)
    w.write(g.rows)
    w.write(g.flatWidth)
    w.write(g.deltaWidth)
    w.writeZeroSuppressed(g.flatRows)
    w.writeZeroSuppressed(g.deltaRows)
}

private func readGradientFactors(_ r: inout PayloadReader) throws(WireError) -> GradientFactors {
    let sums = try r.readArray(of: Int64.self, "gradient.sums")
    let rows = try r.read(UInt32.self, "gradient.rows")
    let flatWidth = try r.read(UInt32.self, "gradient.flatWidth")
    let deltaWidth = try r.read(UInt32.self, "gradient.deltaWidth")
    let flatOffset = r.offset
    let flatRows = try r.readZeroSuppressed("gradient.flatRows")
    guard UInt64(flatRows.count) == UInt64(rows) * UInt64(flatWidth) else {
        throw r.invalid("gradient.flatRows", "\(flatRows.count) values do not fill \(rows) rows of \(flatWidth)",
                        at: flatOffset)
    }
    let deltaOffset = r.offset
    let deltaRows = try r.readZeroSuppressed("gradient.deltaRows")
    guard UInt64(deltaRows.count) == UInt64(rows) * UInt64(deltaWidth) else {
        throw r.invalid("gradient.deltaRows", "\(deltaRows.count) values do not fill \(rows) rows of \(deltaWidth)",
                        at: deltaOffset)
    }
    return GradientFactors(sums: sums, rows: rows, flatWidth: flatWidth, deltaWidth: deltaWidth,
                           flatRows: flatRows, deltaRows: deltaRows)
}

/// Checks that per-micro-batch sample counts are positive and add up to `total`, if given (the field at `offset`).
private func checkSampleCounts(_ counts: [Int32], total: Int?, _ field: String, at offset: Int,
                               _ r: inout PayloadReader) throws(WireError) {
    var sum = 0
    for count in counts {
        guard count > 0 else { throw r.invalid(field, "a micro-batch of \(count) samples", at: offset) }
        sum += Int(count)
    }
    if let total, sum != total {
        throw r.invalid(field, "\(total) samples, but the micro-batches hold \(sum)", at: offset)
    }
}

/// Writes a flag as one byte, 0 or 1.
private func writeFlag(_ flag: Bool, to w: inout PayloadWriter) { w.write(UInt8(flag ? 1 : 0)) }

/// Reads a flag: a byte that must be 0 or 1.
private func readFlag(_ field: String, _ r: inout PayloadReader) throws(WireError) -> Bool {
    let offset = r.offset
    let flag = try r.read(UInt8.self, field)
    guard flag <= 1 else { throw r.invalid(field, "\(flag) is not 0 or 1", at: offset) }
    return flag == 1
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
