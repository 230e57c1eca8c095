import FuzzSupport
import Protocol

// Fuzzes `decode`, the one reader of every wire message. Each input is decoded twice: as it is (the
// header checks), and with its header made valid — magic, major version, payload length and CRC-32C
// set to fit — so that most inputs reach the payload readers of the type they name. Properties:
// decoding never traps and allocates no more than the input justifies (libFuzzer's -malloc_limit_mb),
// and a message that decodes re-encodes to bytes that decode to the same message again.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(wireSeeds)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireMessage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    checkDecoding(bytes)
    if bytes.count >= MessageHeader.size {
        checkDecoding(withValidFraming(bytes))
    }
    return 0
}

/// Decodes `bytes`; what decodes must survive encode → decode → encode with the same bytes.
private func checkDecoding(_ bytes: [UInt8]) {
    guard let (header, message) = try? decode(bytes) else { return }
    let encoded = encode(message, envelope: header.envelope)
    guard let (_, again) = try? decode(encoded) else {
        fuzzFailure("a decoded \(header.type) message, encoded again, does not decode")
    }
    guard encode(again, envelope: header.envelope) == encoded else {
        fuzzFailure("a decoded \(header.type) message changes on encode → decode → encode")
    }
}

/// `bytes` with the header's magic, major version, payload length and checksum made to fit.
private func withValidFraming(_ bytes: [UInt8]) -> [UInt8] {
    var framed = bytes
    func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { framed[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
    store(MessageHeader.magic, at: 0)
    store(ProtocolVersion.major, at: 4)
    store(UInt64(bytes.count - MessageHeader.size), at: 40)
    store(CRC32C.checksum(bytes[MessageHeader.size...]), at: 36)
    return framed
}

/// One message of every type (and every variant of the UMAP requests), encoded.
private func wireSeeds() -> [(name: String, bytes: [UInt8])] {
    let gradient = GradientFactors(sums: [-3, 0, 7, Int64.max], rows: 2, flatWidth: 3, deltaWidth: 2,
                                   flatRows: [0, 1.5, 0, -2, 0, 0.25], deltaRows: [1, -1, 0, 0.5])
    let state = Weights(version: 4, adamStep: 3, parameters: [0.5, -0.5, 1], adamM: [0, 0.1, 0.2], adamV: [1, 2, 3])
    let graphRows = NeighbourGraphRows(firstRow: 10, k: 2, indices: [10, 3, 11, -1], distances: [0, 0.5, 0, .infinity],
                                       isNew: [0, 1, 0, 0])
    let fingerprint = String(repeating: "0f", count: 32)
    let messages: [Message] = [
        .hello(Hello(buildID: "fuzz", datasetFingerprint: fingerprint, hostName: "host-a", processID: 99,
                     threadCount: 4)),
        .hello(Hello(buildID: "fuzz", datasetFingerprint: "", hostName: "host-b", processID: 1, threadCount: 1)),
        .welcome(Welcome(rank: 1, runNonce: 0x1234_5678, seed: 7, settings: ["epochs": "2", "batch": "100"])),
        .refused(reason: "unknown data set"),
        .stepAssignment(StepAssignment(weightsVersion: 3, microBatches: [0, 1], sampleCounts: [2, 2],
                                       sampleIndices: [5, 9, 1, 0], options: [.applyOwnGradient])),
        .stepResult(StepResult(microBatches: [0, 1], lossSums: [1.5, 2], correctCounts: [1, 2], sampleCounts: [2, 2],
                               gradient: gradient)),
        .stepResult(StepResult(microBatches: [0], lossSums: [0.5], correctCounts: [2], sampleCounts: [2],
                               gradient: nil, state: state)),
        .stepUpdate(StepUpdate(version: 5, samples: 4, gradient: gradient)),
        .stepUpdate(StepUpdate(version: 5, samples: 4, gradient: gradient,
                               ownRows: OwnRows(firstMicroBatch: 1, start: 0, count: 1))),
        .weights(state),
        .weightsDigest(WeightsDigest(version: 4, sha256: String(repeating: "a5", count: 32))),
        .evalRequest(EvalRequest(imageSet: .test, includeActivations: true, microBatchSize: 2, sampleIndices: [3, 1, 4])),
        .evalReply(EvalReply(lossSums: [0.25, 0.5], correctCounts: [1, 1], sampleCounts: [2, 1], predictions: [3, 1, 4],
                             activations: [0, 1, 2, 3, 4, 5], activationRows: 3, activationDimension: 2)),
        .heartbeat(timestampNanoseconds: 123_456_789),
        .error(code: 2, text: "weights version 3 is not 4"),
        .shutdown(reason: "done"),
        .umapRequest(.matrix(NeighbourMatrixRows(search: 1, totalRows: 4, dimension: 2, firstRow: 0,
                                                 half: [0x3C00, 0, 0xBC00, 0x4000], single: [], projectionDimension: 1,
                                                 projection: [0.5, -0.5]))),
        .umapRequest(.cells(NeighbourCells(search: 1, dimension: 1, cellStart: [0, 1, 2], centroids: [0.5, -0.5]))),
        .umapRequest(.graph(NeighbourGraphChunk(search: 1, pass: 1, totalRows: 12, rows: graphRows))),
        .umapRequest(.work(NeighbourWork(stage: .cellStart, search: 1, firstRow: 0, rowCount: 2, k: 2, probes: 1,
                                         candidates: 2))),
        .umapRequest(.work(NeighbourWork(stage: .graphStart, search: 1, firstRow: 0, rowCount: 1, k: 2,
                                         neighbours: [1, -1]))),
        .umapRequest(.work(NeighbourWork(stage: .refine, search: 1, pass: 1, firstRow: 0, rowCount: 2, k: 2,
                                         expansion: 3))),
        .umapReply(UMAPReply(search: 1, status: .done, rows: graphRows, changes: 2, cpuSeconds: 0.5)),
        .umapReply(UMAPReply(search: 1, status: .missingState)),
        .datasetManifest(DatasetManifest(fingerprint: fingerprint, name: "mnist",
                                         files: [.init(name: "t10k-labels-idx1-ubyte", size: 10_008)])),
        .datasetChunkRequest(DatasetChunkRequest(fingerprint: fingerprint, file: 0, offset: 4096)),
        .datasetChunk(DatasetChunk(file: 0, offset: 0, bytes: [0, 0, 8, 1, 0, 0, 0, 2, 7, 3])),
    ]
    let envelope = Envelope(runNonce: 0x1234_5678, epoch: 1, step: 2, chunkIndex: 0, chunkCount: 1)
    return messages.enumerated().map { i, message in
        (name: "\(String(i + 100).dropFirst())-\(message.type)", bytes: encode(message, envelope: envelope))
    }
}
