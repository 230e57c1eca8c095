import Cluster
@testable import Coordinator
import Core
import Foundation
import Protocol
import XCTest

/// `make test`'s fuzz smoke (issue 14): every reader of untrusted bytes gets a few thousand deterministic
/// mutations of real inputs (bits flipped, bytes changed, the input cut, bytes inserted or deleted,
/// 4- and 8-byte fields set to extreme values), without the separate fuzz build. A crash or a trap ends
/// the test process; what a reader accepts must be consistent. The coverage-guided, sanitized runs are
/// `make fuzz` (RELIABILITY.md). Checkpoints are here too: their reader lives in the coordinator.
final class MutationSmokeTests: XCTestCase {
    /// Mutated copies of the seeds, `count` in all, the same for every run (seeded).
    private func mutants(of seeds: [[UInt8]], count: Int, focus: Int? = nil, stream: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(seed: 0x5EED_F022 ^ stream, stream: .sampling)
        func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
        let extremes: [UInt64] = [0, 1, 0x7F, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 40, UInt64(Int64.max), .max]
        return (0..<count).map { i in
            var bytes = seeds[i % seeds.count]
            for _ in 0...below(4) {
                // Most edits land in the first `focus` bytes (headers) when asked.
                let span = focus.map { min($0, bytes.count) } ?? bytes.count
                let at = below(span)
                switch below(7) {
                case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1) << UInt8(below(8))
                case 1 where !bytes.isEmpty: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 2: bytes = Array(bytes.prefix(below(bytes.count + 1)))
                case 3: bytes.insert(contentsOf: (0...below(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
                case 4 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
                case 5, 6:
                    let width = below(2) == 0 ? 4 : 8
                    var value = extremes[below(extremes.count)]
                    if below(2) == 0 { value = width == 4 ? UInt64(UInt32(truncatingIfNeeded: value).byteSwapped) : value.byteSwapped }
                    for k in 0..<width where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
                default: break
                }
            }
            return bytes
        }
    }

    func testWireMessagesSurviveMutationAndWhatDecodesEncodesTheSame() {
        let factors = GradientFactors(sums: [5, -1, .min], rows: 1, flatWidth: 2, deltaWidth: 3, flatRows: [0, 2.5],
                                      deltaRows: [-1, 0, 0.125])
        let seeds = [
            Message.stepUpdate(StepUpdate(version: 9, samples: 1, gradient: factors)),
            .weights(Weights(version: 2, adamStep: 1, parameters: [1, 2], adamM: [0, 0], adamV: [3, 4])),
            .welcome(Welcome(rank: 2, runNonce: 77, seed: 1, settings: ["microBatch": "25"])),
            .evalRequest(EvalRequest(imageSet: .train, includeActivations: false, microBatchSize: 1, sampleIndices: [0, 7])),
        ].map { encode($0, envelope: Envelope(runNonce: 77, epoch: 3, step: 1, chunkIndex: 0, chunkCount: 1)) }
        var decoded = 0
        for bytes in mutants(of: seeds, count: 20_000, stream: 1) {
            // As sent, and with the framing (magic, version, checksum, length) repaired so that the payload
            // readers are reached.
            for candidate in [bytes, repairedFraming(bytes)] {
                guard let (header, message) = try? decode(candidate) else { continue }
                decoded += 1
                let again = encode(message, envelope: header.envelope)
                guard let (_, second) = try? decode(again) else {
                    return XCTFail("a decoded \(header.type) message, encoded again, does not decode")
                }
                // Compared as bytes: a mutant may carry NaNs, which are never equal to themselves.
                XCTAssertEqual(encode(second, envelope: header.envelope), again,
                               "a decoded \(header.type) message changed on encode -> decode")
            }
        }
        XCTAssertGreaterThan(decoded, 0, "no mutant decoded: the payload readers were never reached")
    }

    /// `bytes` with a well-formed header around whatever payload follows it.
    private func repairedFraming(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= MessageHeader.size else { return bytes }
        var framed = bytes
        let payload = UInt64(bytes.count - MessageHeader.size)
        let fields: [(offset: Int, value: UInt64, width: Int)] = [
            (0, UInt64(MessageHeader.magic), 4), (4, UInt64(ProtocolVersion.major), 2),
            (36, UInt64(CRC32C.checksum(bytes[MessageHeader.size...])), 4), (40, payload, 8),
        ]
        for field in fields {
            for k in 0..<field.width { framed[field.offset + k] = UInt8(truncatingIfNeeded: field.value >> (8 * k)) }
        }
        return framed
    }

    func testIDXFilesSurviveMutationAndWhatIsReadIsWhole() throws {
        func header(_ words: [UInt32]) -> [UInt8] { words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (24 - 8 * $0)) } } }
        var seeds = [header([IDX.imagesMagic, 3, 2, 2]) + (0..<12).map { UInt8($0 * 20) },
                     header([IDX.labelsMagic, 4]) + [3, 0, 9, 1]]
        if let directory = ProcessInfo.processInfo.environment["GLASSBOX_DATA"] {
            let images = try FileBytes.read(directory + "/t10k-images-idx3-ubyte")
            seeds.append(Array(header([IDX.imagesMagic, 2, 28, 28]) + images[16..<(16 + 2 * 784)]))
        }
        for bytes in mutants(of: seeds, count: 20_000, focus: 24, stream: 2) {
            if let images = try? IDX.decodeImageFile(bytes, path: "mutant", byteLimit: 1 << 20) {
                XCTAssertEqual(images.pixels.count, images.count * images.rows * images.cols)
            }
            if let labels = try? IDX.decodeLabelFile(bytes, path: "mutant", byteLimit: 1 << 20) {
                XCTAssertNil(labels.first { $0 >= 10 }, "a label of 10 or more was accepted")
            }
        }
    }

    func testSafetensorsAndNPYSurviveMutationAndWhatIsReadRoundTrips() throws {
        let tensors = [NamedTensor(name: "hidden/bias", shape: [3], values: [0.5, -1, 2]),
                       NamedTensor(name: "end/kernel", shape: [2, 2], values: [1, 0, 0, 1])]
        let safetensors = try Safetensors.encode(tensors, metadata: ["epochs": "3"], path: "seed")
        for bytes in mutants(of: [safetensors], count: 10_000, focus: 160, stream: 3) {
            guard let (read, metadata) = try? Safetensors.decode(bytes, path: "mutant") else { continue }
            for tensor in read { XCTAssertEqual(tensor.values.count, tensor.shape.reduce(1, *), tensor.name) }
            let again = try Safetensors.decode(Safetensors.encode(read, metadata: metadata, path: "again"), path: "again")
            XCTAssertEqual(again.tensors.map(\.name), read.map(\.name))
            XCTAssertEqual(again.metadata, metadata)
        }
        let npy = try NPY.encode(NPYArray(shape: [2, 3], values: [0, 1, 2, 3, 4, -5]), path: "seed")
        for bytes in mutants(of: [npy], count: 10_000, focus: 128, stream: 4) {
            guard let array = try? NPY.decode(bytes, path: "mutant") else { continue }
            XCTAssertEqual(array.values.count, array.shape.reduce(1, *), "shape \(array.shape)")
            XCTAssertEqual(try NPY.decode(NPY.encode(array, path: "again"), path: "again").shape, array.shape)
        }
    }

    /// A checkpoint mutated in its header and metadata (where the parsing is; a changed value anywhere is
    /// caught by the checkpoint's digest) is refused with an error, never loaded as something else.
    func testCheckpointsSurviveMutationOfTheirHeader() throws {
        let directory = NSTemporaryDirectory() + "glassbox-mutation-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try RunDirectory(path: directory)
        let state = TrainingState.initial(seed: 4)
        let settings = CheckpointSettings(seed: 4, batchSize: 100, microBatchSize: 25, validationFraction: 0.2,
                                          trainingImages: 500, dataset: "mnist", datasetFingerprint: "00ff00ff00ff00ff")
        try Checkpoint.write(state, settings: settings, in: run)
        let path = directory + "/" + Checkpoint.fileName
        let original = try FileBytes.read(path)
        let headerBytes = 8 + original.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var refused = 0
        for bytes in mutants(of: [original], count: 60, focus: headerBytes, stream: 5) {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let (loaded, loadedSettings) = try? Checkpoint.read(in: directory) else {
                refused += 1
                continue
            }
            // Accepted: then it must be the checkpoint that was written (e.g. the mutation changed nothing).
            XCTAssertEqual(loaded.model.parameters.map(\.bitPattern), state.model.parameters.map(\.bitPattern))
            XCTAssertNil(Checkpoint.difference(loadedSettings, settings))
        }
        XCTAssertGreaterThan(refused, 40, "most header mutations must be refused")
    }
}
