// The training family: a step's assignment, its result and the broadcast update, the weights, and the
// evaluation of a shard. Each type's payload writer stands beside its reader; readers check every count
// against the others before the message is handed on.

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

extension StepAssignment {
    func write(to w: inout PayloadWriter) {
        w.write(weightsVersion)
        w.writeArray(microBatches)
        w.writeArray(sampleCounts)
        w.writeArray(sampleIndices)
        w.write(options.rawValue)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> StepAssignment {
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
        guard !options.contains(.gradientToSharedFile) || !options.contains(.applyOwnGradient) else {
            throw r.invalid("options", "gradientToSharedFile with applyOwnGradient: a whole step's gradient is not shared",
                            at: optionsOffset)
        }
        return StepAssignment(weightsVersion: weightsVersion, microBatches: microBatches, sampleCounts: sampleCounts,
                              sampleIndices: sampleIndices, options: options)
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

    /// A worker that shares a `SharedUpdate` file with the coordinator's other local workers leaves its
    /// gradient there and answers with where it is (`StepResult.sharedPart`) instead of the gradient; one
    /// without such a file, or whose part does not fit there, sends the gradient as usual. Not with
    /// `applyOwnGradient`. (3.1)
    public static let gradientToSharedFile = StepOptions(rawValue: 8)

    public static let known: StepOptions = [.applyOwnGradient, .reportState, .omitGradient, .gradientToSharedFile]
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

extension GradientFactors {
    /// The factor rows go zero-suppressed: after ReLU and dropout about half of them are zero.
    func write(to w: inout PayloadWriter) {
        w.writeArray(sums)
        w.write(rows)
        w.write(flatWidth)
        w.write(deltaWidth)
        w.writeZeroSuppressed(flatRows)
        w.writeZeroSuppressed(deltaRows)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> GradientFactors {
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
    /// With `StepOptions.gradientToSharedFile`, where the worker left its gradient (then `gradient` is nil).
    public var sharedPart: SharedPart?

    /// A result; the four per-micro-batch arrays must have the same length.
    public init(microBatches: [Int32], lossSums: [Double], correctCounts: [Int32], sampleCounts: [Int32],
                gradient: GradientFactors?, state: Weights? = nil, sharedPart: SharedPart? = nil) {
        self.microBatches = microBatches
        self.lossSums = lossSums
        self.correctCounts = correctCounts
        self.sampleCounts = sampleCounts
        self.gradient = gradient
        self.state = state
        self.sharedPart = sharedPart
    }
}

extension StepResult {
    /// The gradient and the state each follow a presence flag.
    func write(to w: inout PayloadWriter) {
        w.writeArray(microBatches)
        w.writeArray(lossSums)
        w.writeArray(correctCounts)
        w.writeArray(sampleCounts)
        w.writeFlag(gradient != nil)
        gradient?.write(to: &w)
        w.writeFlag(state != nil)
        state?.write(to: &w)
        w.writeFlag(sharedPart != nil)
        sharedPart?.write(to: &w)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> StepResult {
        let microBatches = try r.readArray(of: Int32.self, "microBatches")
        let lossSums = try readPerMicroBatch(Double.self, "lossSums", count: microBatches.count, &r)
        let correctCounts = try readPerMicroBatch(Int32.self, "correctCounts", count: microBatches.count, &r)
        let countsOffset = r.offset
        let sampleCounts = try readPerMicroBatch(Int32.self, "sampleCounts", count: microBatches.count, &r)
        var gradient: GradientFactors?
        if try r.readFlag("hasGradient") {
            let gradientOffset = r.offset
            let factors = try GradientFactors.read(from: &r)
            try checkSampleCounts(sampleCounts, total: Int(factors.rows), "gradient.rows", at: gradientOffset, &r)
            gradient = factors
        } else {
            try checkSampleCounts(sampleCounts, total: nil, "sampleCounts", at: countsOffset, &r)
        }
        let state = try r.readFlag("hasState") ? try Weights.read(from: &r) : nil
        var sharedPart: SharedPart?
        if r.minorVersion >= 1, try r.readFlag("hasSharedPart") {
            let partOffset = r.offset
            let part = try SharedPart.read(from: &r, "sharedPart")
            guard gradient == nil else {
                throw r.invalid("sharedPart", "a result carries its gradient or a shared part, not both", at: partOffset)
            }
            try checkSampleCounts(sampleCounts, total: Int(part.rows), "sharedPart.rows", at: partOffset + 8, &r)
            guard microBatches.first.map({ UInt32(bitPattern: $0) == part.firstMicroBatch }) ?? false else {
                throw r.invalid("sharedPart.firstMicroBatch", "the part begins at micro-batch \(part.firstMicroBatch), the "
                                + "result at \(microBatches.first.map(String.init) ?? "none")", at: partOffset + 4)
            }
            sharedPart = part
        }
        return StepResult(microBatches: microBatches, lossSums: lossSums, correctCounts: correctCounts,
                          sampleCounts: sampleCounts, gradient: gradient, state: state, sharedPart: sharedPart)
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
    /// When not empty, the step's gradient is these parts of the shared-update file, in micro-batch order, and
    /// `gradient` is empty (no sums, no rows) and `ownRows` nil. (3.1)
    public var sharedParts: [SharedPart]

    /// An update.
    public init(version: UInt64, samples: UInt32, gradient: GradientFactors, ownRows: OwnRows? = nil,
                sharedParts: [SharedPart] = []) {
        self.version = version
        self.samples = samples
        self.gradient = gradient
        self.ownRows = ownRows
        self.sharedParts = sharedParts
    }
}

extension StepUpdate {
    /// The own rows follow a presence flag.
    func write(to w: inout PayloadWriter) {
        w.write(version)
        w.write(samples)
        gradient.write(to: &w)
        w.writeFlag(ownRows != nil)
        if let ownRows {
            w.write(ownRows.firstMicroBatch)
            w.write(ownRows.start)
            w.write(ownRows.count)
        }
        w.write(UInt32(sharedParts.count))
        for part in sharedParts { part.write(to: &w) }
    }

    /// Own rows must be some, and start within (or right after) the rows sent.
    static func read(from r: inout PayloadReader) throws(WireError) -> StepUpdate {
        let version = try r.read(UInt64.self, "version")
        let samples = try r.read(UInt32.self, "samples")
        let gradient = try GradientFactors.read(from: &r)
        var ownRows: OwnRows?
        if try r.readFlag("hasOwnRows") {
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
        var sharedParts: [SharedPart] = []
        if r.minorVersion >= 1 {
            let countOffset = r.offset
            let count = try r.read(UInt32.self, "sharedParts")
            guard count <= 4096 else {
                throw r.invalid("sharedParts", "\(count) parts (a step has at most 4,096)", at: countOffset)
            }
            var total: UInt64 = 0
            for i in 0..<Int(count) {
                let part = try SharedPart.read(from: &r, "sharedParts[\(i)]")
                total += UInt64(part.rows)
                sharedParts.append(part)
            }
            guard count == 0 || (gradient.sums.isEmpty && gradient.rows == 0 && ownRows == nil && total == UInt64(samples))
            else {
                throw r.invalid("sharedParts", "an update in shared parts carries no sums, rows or own rows of its own and "
                                + "its parts hold its \(samples) samples (\(total) rows)", at: countOffset)
            }
        }
        return StepUpdate(version: version, samples: samples, gradient: gradient, ownRows: ownRows,
                          sharedParts: sharedParts)
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

/// Where a step gradient's part lies in the shared-update file of the coordinator's local workers: in the
/// region of member `member` for the weights version the step was computed from.
public struct SharedPart: Equatable, Sendable {
    /// The local worker (its member index in the file) that wrote the part.
    public var member: UInt32
    /// The part's first micro-batch, and its samples (rows).
    public var firstMicroBatch: UInt32
    public var rows: UInt32

    public init(member: UInt32, firstMicroBatch: UInt32, rows: UInt32) {
        self.member = member
        self.firstMicroBatch = firstMicroBatch
        self.rows = rows
    }
}

extension SharedPart {
    func write(to w: inout PayloadWriter) {
        w.write(member)
        w.write(firstMicroBatch)
        w.write(rows)
    }

    static func read(from r: inout PayloadReader, _ field: String) throws(WireError) -> SharedPart {
        let part = SharedPart(member: try r.read(UInt32.self, "\(field).member"),
                              firstMicroBatch: try r.read(UInt32.self, "\(field).firstMicroBatch"),
                              rows: try r.read(UInt32.self, "\(field).rows"))
        guard part.rows > 0 else { throw r.invalid("\(field).rows", "a shared part holds at least one row") }
        return part
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

extension Weights {
    func write(to w: inout PayloadWriter) {
        w.write(version)
        w.write(adamStep)
        w.writeArray(parameters)
        w.writeArray(adamM)
        w.writeArray(adamV)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> Weights {
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

extension EvalRequest {
    func write(to w: inout PayloadWriter) {
        w.write(imageSet.rawValue)
        w.writeFlag(includeActivations)
        w.write(microBatchSize)
        w.writeArray(sampleIndices)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> EvalRequest {
        let setOffset = r.offset
        let rawSet = try r.read(UInt8.self, "imageSet")
        guard let imageSet = EvalImageSet(rawValue: rawSet) else {
            throw r.invalid("imageSet", "unknown image set \(rawSet)", at: setOffset)
        }
        let includeActivations = try r.readFlag("includeActivations")
        let sizeOffset = r.offset
        let microBatchSize = try r.read(UInt32.self, "microBatchSize")
        guard microBatchSize >= 1 else { throw r.invalid("microBatchSize", "must be at least 1", at: sizeOffset) }
        return EvalRequest(imageSet: imageSet, includeActivations: includeActivations, microBatchSize: microBatchSize,
                           sampleIndices: try r.readArray(of: Int32.self, "sampleIndices"))
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

extension EvalReply {
    func write(to w: inout PayloadWriter) {
        w.writeArray(lossSums)
        w.writeArray(correctCounts)
        w.writeArray(sampleCounts)
        w.writeArray(predictions)
        w.write(activationRows)
        w.write(activationDimension)
        w.writeArray(activations)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> EvalReply {
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
        return EvalReply(lossSums: lossSums, correctCounts: correctCounts, sampleCounts: sampleCounts,
                         predictions: predictions, activations: activations, activationRows: rows,
                         activationDimension: dimension)
    }
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
