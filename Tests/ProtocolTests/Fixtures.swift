@testable import Protocol

/// SplitMix64, so that "random" test inputs are the same on every run.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// One message of every type, with non-trivial field values.
let sampleMessages: [Message] = [
    .hello(Hello(buildID: "g1234567", datasetFingerprint: "sha256:ab12", hostName: "node-7.example",
                 processID: 4242, threadCount: 2)),
    .welcome(Welcome(rank: 2, runNonce: 0xDEAD_BEEF_0102_0304, seed: 1,
                     settings: ["epochs": "3", "batch": "100", "lr": "0.001", "name": "ünïcødé ✓"])),
    .refused(reason: "dataset fingerprint sha256:ab12 differs from sha256:cd34"),
    .stepAssignment(StepAssignment(weightsVersion: 17, microBatches: [0, 1, 5], sampleCounts: [10, 10, 10],
                                   sampleIndices: (0..<30).map { Int32($0 * 7) }, options: [.applyOwnGradient, .reportState])),
    .stepResult(StepResult(microBatches: [0, 1, 5], lossSums: [2.5, 1.25, -0.0], correctCounts: [9, 10, 3],
                           sampleCounts: [10, 10, 10], gradient: sampleGradient(rows: 30))),
    .stepResult(StepResult(microBatches: [2], lossSums: [0.75], correctCounts: [4], sampleCounts: [5],
                           gradient: sampleGradient(rows: 5),
                           state: Weights(version: 17, adamStep: 16, parameters: [0.5, -1], adamM: [1, 2], adamV: [3, 4]))),
    .stepResult(StepResult(microBatches: [0, 1, 2, 3], lossSums: [1, 2, 3, 4], correctCounts: [25, 24, 23, 22],
                           sampleCounts: [25, 25, 25, 25], gradient: nil,
                           state: Weights(version: 18, adamStep: 17, parameters: [0.25], adamM: [1], adamV: [2]))),
    .stepUpdate(StepUpdate(version: 18, samples: 100, gradient: sampleGradient(rows: 3))),
    .stepUpdate(StepUpdate(version: 19, samples: 100, gradient: sampleGradient(rows: 2),
                           ownRows: OwnRows(firstMicroBatch: 2, start: 1, count: 50))),
    .weights(Weights(version: 17, adamStep: 16, parameters: [1.5, -2.25, .infinity, 0, -.leastNonzeroMagnitude],
                     adamM: [0, 1, 2, 3, 4], adamV: [5, 6, 7, 8, 9])),
    .weightsDigest(WeightsDigest(version: 17, sha256: String(repeating: "ab", count: 32))),
    .evalRequest(EvalRequest(imageSet: .train, includeActivations: true, microBatchSize: 25,
                             sampleIndices: [59_999, 0, 12])),
    .evalReply(EvalReply(lossSums: [12.75, 0.5], correctCounts: [2, 0], sampleCounts: [2, 1], predictions: [7, 2, 1],
                         activations: (0..<12).map { Float($0) / 4 }, activationRows: 3, activationDimension: 4)),
    .heartbeat(timestampNanoseconds: 1_234_567_890_123),
    .error(code: 7, text: "weights version 16 is not 17"),
    .shutdown(reason: "training finished"),
    .umapRequest(.matrix(NeighbourMatrixRows(search: 3, totalRows: 60_000, dimension: 2, firstRow: 16_384,
                                             half: [0x3C00, 0xBC00, 0x7BFF, 0], single: [], projectionDimension: 1,
                                             projection: [0.5, -0.25]))),
    .umapRequest(.matrix(NeighbourMatrixRows(search: 3, totalRows: 3, dimension: 1, firstRow: 0, half: [],
                                             single: [1.5, -2, .infinity], projectionDimension: 0, projection: []))),
    .umapRequest(.cells(NeighbourCells(search: 3, dimension: 2, cellStart: [0, 2, 2, 5], centroids: [1, 2, 3, 4, 5, 6]))),
    .umapRequest(.graph(NeighbourGraphChunk(search: 3, pass: 2, totalRows: 1002, rows: sampleGraphRows))),
    .umapRequest(.work(NeighbourWork(stage: .cellStart, search: 3, firstRow: 1024, rowCount: 1024, k: 40, probes: 16,
                                     candidates: 80))),
    .umapRequest(.work(NeighbourWork(stage: .graphStart, search: 3, firstRow: 7, rowCount: 2, k: 3,
                                     neighbours: [1, 2, -1, 4, 5, 6, 8, 9]))),
    .umapRequest(.work(NeighbourWork(stage: .refine, search: 3, pass: 2, firstRow: 0, rowCount: 1024, k: 40, expansion: 15))),
    .umapReply(UMAPReply(search: 3, status: .done, rows: sampleGraphRows, changes: 17, cpuSeconds: 0.125)),
    .umapReply(UMAPReply(search: 4, status: .missingState)),
    .datasetManifest(DatasetManifest(fingerprint: String(repeating: "cd", count: 32), name: "mnist", files: [
        .init(name: "train-images-idx3-ubyte.gz", size: 9_912_422), .init(name: "t10k-labels-idx1-ubyte", size: 10_008),
    ])),
    .datasetChunkRequest(DatasetChunkRequest(fingerprint: String(repeating: "cd", count: 32), file: 1, offset: 1 << 20)),
    .datasetChunk(DatasetChunk(file: 1, offset: 1 << 20, bytes: [0, 0, 8, 3, 0xFF, 0x7F])),
    // 3.1: the kernel paths at hello, and step gradients left in the local workers' shared file.
    .hello(Hello(buildID: "g1234567", datasetFingerprint: "sha256:ab12", hostName: "node-7.example", processID: 4243,
                 threadCount: 1, kernels: "avx2", kernelsSupported: "reference,avx2", blasCore: "Zen")),
    .stepAssignment(StepAssignment(weightsVersion: 17, microBatches: [2, 3], sampleCounts: [25, 25],
                                   sampleIndices: (0..<50).map { Int32($0 * 3) }, options: [.gradientToSharedFile])),
    .stepResult(StepResult(microBatches: [2, 3], lossSums: [2.5, 1.25], correctCounts: [24, 25], sampleCounts: [25, 25],
                           gradient: nil, sharedPart: SharedPart(member: 1, firstMicroBatch: 2, rows: 50))),
    .stepUpdate(StepUpdate(version: 18, samples: 100, gradient: GradientFactors(sums: [], rows: 0, flatWidth: 1568,
                                                                                deltaWidth: 512, flatRows: [], deltaRows: []),
                           sharedParts: [SharedPart(member: 0, firstMicroBatch: 0, rows: 50),
                                         SharedPart(member: 1, firstMicroBatch: 2, rows: 50)])),
]

/// Two rows of a graph of k = 3.
let sampleGraphRows = NeighbourGraphRows(firstRow: 1000, k: 3, indices: [1000, 2, -1, 1001, 5, 6],
                                         distances: [0, 0.2, .infinity, 0, 0.5, 0.6], isNew: [0, 1, 0, 1, 1, 0])

/// Gradient factors of `rows` samples with small widths and distinct values.
func sampleGradient(rows: UInt32) -> GradientFactors {
    GradientFactors(sums: [Int64.min, -1, 0, 1, Int64.max], rows: rows, flatWidth: 3, deltaWidth: 2,
                    flatRows: (0..<(3 * Int(rows))).map { Float($0) - 0.5 },
                    deltaRows: (0..<(2 * Int(rows))).map { -Float($0) * 0.125 })
}

/// A framed message with a correct header (length, checksum) around arbitrary `payload` bytes.
func frame(_ type: MessageType, payload: [UInt8], minorVersion: UInt16 = ProtocolVersion.minor) -> [UInt8] {
    var header = MessageHeader(type: type, envelope: Envelope(runNonce: 9), payloadLength: payload.count,
                               payloadChecksum: CRC32C.checksum(payload))
    header.minorVersion = minorVersion
    var bytes = [UInt8](repeating: 0, count: MessageHeader.size) + payload
    bytes.withUnsafeMutableBytes { header.store(into: $0) }
    return bytes
}

/// The error `decode` throws for `bytes`, or nil if it decodes.
func decodeError(_ bytes: [UInt8], limits: WireLimits = .standard) -> WireError? {
    do {
        _ = try decode(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}
