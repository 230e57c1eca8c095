@testable import Cluster
import Core
import Foundation
import Protocol
import XCTest

/// The coordinator's side of sending a data set (`PoolDispatcher` with a `DatasetOffer`) and the worker's
/// side of receiving it (`DatasetDownload`, `DatasetCache`), joined by hand without sockets.
final class DatasetTransferTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "glassbox-transfer-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/source", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// Four tiny IDX files (3 training and 2 test images of 2x2 pixels) written to `source`; the split loaded from them.
    private func writeSourceFiles() throws -> DatasetSplit {
        func idx(_ magic: UInt8, _ dims: [UInt32], _ body: [UInt8]) -> [UInt8] {
            [0, 0, 8, magic] + dims.flatMap { d in (0..<4).reversed().map { UInt8(truncatingIfNeeded: d >> (8 * $0)) } } + body
        }
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", idx(3, [3, 2, 2], (0..<12).map { UInt8($0 * 20) })),
            ("train-labels-idx1-ubyte", idx(1, [3], [1, 7, 9])),
            ("t10k-images-idx3-ubyte", idx(3, [2, 2, 2], (0..<8).map { UInt8(255 - $0) })),
            ("t10k-labels-idx1-ubyte", idx(1, [2], [0, 4])),
        ]
        for (name, bytes) in files {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(folder)/source/\(name)", contents: Data(bytes)))
        }
        return try DatasetSource.load(.directory(folder + "/source"))
    }

    private func dispatcher(offering offer: DatasetOffer?) -> PoolDispatcher {
        PoolDispatcher(settings: PoolSettings(
            bind: "inproc://test", curveKeysDirectory: nil, heartbeatTimeout: 10, stepDeadline: 60, minWorkers: 1,
            workerTimeout: 60, datasetFingerprint: offer?.manifest.fingerprint ?? "fingerprint", expectedBuildID: nil,
            seed: 1, welcomeSettings: [:], datasetOffer: offer), runNonce: 7)
    }

    private func replies(_ actions: [PoolAction]) -> [Message] {
        actions.compactMap { if case .reply(let m, _, _) = $0 { m } else { nil } }
    }

    private let noData = Hello(buildID: "test", datasetFingerprint: "", hostName: "bare", processID: 1, threadCount: 1)

    func testAHelloWithoutDataGetsTheManifestAndDoesNotJoin() throws {
        let offer = try XCTUnwrap(try DatasetOffer(split: try writeSourceFiles()))
        let pool = dispatcher(offering: offer)
        let id = Array("bare".utf8)
        XCTAssertEqual(replies(pool.hello(noData, from: id, at: 0)), [.datasetManifest(offer.manifest)])
        XCTAssertFalse(pool.isLive(id))
        XCTAssertEqual(offer.manifest.files.map(\.name), DatasetSource.fileNames)
        XCTAssertEqual(offer.manifest.files.map(\.size), [28, 11, 24, 10])
    }

    func testAHelloWithoutDataIsRefusedWhenNothingIsOffered() {
        let answer = replies(dispatcher(offering: nil).hello(noData, from: Array("bare".utf8), at: 0))
        guard case .refused? = answer.first, answer.count == 1 else { return XCTFail("got \(answer)") }
    }

    func testChunksPulledOneAtATimeReassembleTheFilesAndTheCacheReusesThem() throws {
        let split = try writeSourceFiles()
        var manifest = try XCTUnwrap(try DatasetOffer(split: split)).manifest
        // An offer reading from memory, under another name: the worker's split carries the coordinator's name.
        let sources = split.files.map { try! [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
        manifest.name = "tiny"
        let offer = DatasetOffer(manifest: manifest) { index, offset, count in
            Array(sources[index][Int(offset)..<Int(offset) + count])
        }
        let pool = dispatcher(offering: offer)
        let id = Array("bare".utf8)
        _ = pool.hello(noData, from: id, at: 0)
        let cache = DatasetCache(root: folder + "/cache")
        XCTAssertNil(try cache.cached(manifest))
        var download = try DatasetDownload(manifest, into: cache)
        var request: DatasetChunkRequest? = download.pending
        var exchanges = 0
        while let asked = request {
            let answer = replies(pool.received(.datasetChunkRequest(asked), Envelope(), from: id, at: 1))
            guard case .datasetChunk(let chunk)? = answer.first, answer.count == 1 else { return XCTFail("got \(answer)") }
            XCTAssertLessThanOrEqual(chunk.bytes.count, DatasetOffer.chunkBytes)
            request = try download.receive(chunk)
            exchanges += 1
        }
        XCTAssertEqual(exchanges, 4, "one chunk per small file")
        let received = try download.finish()
        XCTAssertEqual(received.fingerprint, split.fingerprint)
        XCTAssertEqual(received.name, "tiny")
        XCTAssertEqual(received.train.pixels, split.train.pixels)
        let cached = try FileManager.default.contentsOfDirectory(atPath: download.folder).sorted()
        XCTAssertEqual(cached, DatasetSource.fileNames.sorted(), "no partial files left")
        XCTAssertEqual(try cache.cached(manifest)?.fingerprint, split.fingerprint)
    }

    func testReceivedFilesThatMissTheFingerprintAreRemoved() throws {
        let split = try writeSourceFiles()
        var manifest = try XCTUnwrap(try DatasetOffer(split: split)).manifest
        manifest.fingerprint = String(repeating: "0", count: 64)
        let offer = try XCTUnwrap(try DatasetOffer(split: split))
        let cache = DatasetCache(root: folder + "/cache")
        var download = try DatasetDownload(manifest, into: cache)
        var request: DatasetChunkRequest? = download.pending
        while let asked = request {
            var real = asked
            real.fingerprint = split.fingerprint
            request = try download.receive(try offer.chunk(for: real).get())
        }
        XCTAssertThrowsError(try download.finish()) { error in
            XCTAssertTrue("\(error)".contains("fingerprint"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: download.folder))
        XCTAssertNil(try cache.cached(manifest))
    }

    func testAChunkOfAnotherDataSetOrPastAFileIsABadRequest() throws {
        let offer = try XCTUnwrap(try DatasetOffer(split: try writeSourceFiles()))
        let pool = dispatcher(offering: offer)
        let fp = offer.manifest.fingerprint
        for bad in [DatasetChunkRequest(fingerprint: "other", file: 0, offset: 0),
                    DatasetChunkRequest(fingerprint: fp, file: 4, offset: 0),
                    DatasetChunkRequest(fingerprint: fp, file: 1, offset: 12)] {
            let answer = replies(pool.received(.datasetChunkRequest(bad), Envelope(), from: Array("x".utf8), at: 0))
            guard case .error(let code, _)? = answer.first, answer.count == 1 else { return XCTFail("\(bad): \(answer)") }
            XCTAssertEqual(code, ErrorCode.badRequest.rawValue)
        }
    }
}
