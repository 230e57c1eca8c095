import XCTest
@testable import Protocol

final class DatasetMessagesTests: XCTestCase {
    private let fingerprint = String(repeating: "ab", count: 32)

    func testAManifestWithoutFilesAndAnEmptyChunkRoundTrip() throws {
        for message: Message in [.datasetManifest(DatasetManifest(fingerprint: fingerprint, name: "", files: [])),
                                 .datasetChunk(DatasetChunk(file: 3, offset: 10_008, bytes: []))] {
            XCTAssertEqual(try decode(encode(message)).1, message)
        }
    }

    func testAMegabyteChunkRoundTripsByteForByte() throws {
        var random = TestRandom(seed: 12)
        let chunk = DatasetChunk(file: 0, offset: 47 << 20, bytes: random.bytes(1 << 20))
        XCTAssertEqual(try decode(encode(.datasetChunk(chunk))).1, .datasetChunk(chunk))
    }

    /// A manifest whose fingerprint and file entries are written by hand.
    private func manifestPayload(fingerprint: String, fileCount: UInt32, names: [String]) -> [UInt8] {
        var w = PayloadWriter()
        w.write(fingerprint)
        w.write("mnist")
        w.write(fileCount)
        for name in names {
            w.write(name)
            w.write(UInt64(16))
        }
        return w.bytes
    }

    func testAFileNameThatIsAPathIsInvalid() {
        for name in ["../evil", "a/b", "", "..", "."] {
            let error = decodeError(frame(.datasetManifest, payload: manifestPayload(fingerprint: fingerprint, fileCount: 1,
                                                                                     names: [name])))
            guard case .invalidField(let field, _, let reason)? = error else {
                return XCTFail("\"\(name)\": expected invalidField, got \(String(describing: error))")
            }
            XCTAssertEqual(field, "datasetManifest.files[0].name")
            XCTAssertTrue(reason.contains("not a plain file name"), reason)
        }
    }

    func testAnEmptyFingerprintIsInvalid() {
        let error = decodeError(frame(.datasetManifest, payload: manifestPayload(fingerprint: "", fileCount: 0, names: [])))
        XCTAssertEqual(error, .invalidField(field: "datasetManifest.fingerprint", offset: 4, reason: "empty"))
    }

    func testAFileCountBeyondThePayloadStopsAtTheFirstMissingEntry() {
        let error = decodeError(frame(.datasetManifest, payload: manifestPayload(fingerprint: fingerprint,
                                                                                 fileCount: .max, names: ["a"])))
        guard case .truncatedField(let field, _, _, _)? = error else {
            return XCTFail("expected truncatedField, got \(String(describing: error))")
        }
        XCTAssertEqual(field, "datasetManifest.files[1].name")
    }

    func testTruncatedChunkAndRequestThrowTruncatedField() {
        let chunk = encode(.datasetChunk(DatasetChunk(file: 0, offset: 0, bytes: [1, 2, 3, 4])))
        let chunkPayload = Array(chunk[MessageHeader.size..<(chunk.count - 2)])
        guard case .truncatedField(let field, _, _, _)? = decodeError(frame(.datasetChunk, payload: chunkPayload)) else {
            return XCTFail("a chunk short of its bytes decoded")
        }
        XCTAssertEqual(field, "datasetChunk.bytes")
        let request = encode(.datasetChunkRequest(DatasetChunkRequest(fingerprint: fingerprint, file: 0, offset: 0)))
        let requestPayload = Array(request[MessageHeader.size..<(request.count - 3)])
        guard case .truncatedField(let requestField, _, _, _)? = decodeError(frame(.datasetChunkRequest,
                                                                                    payload: requestPayload)) else {
            return XCTFail("a request short of its offset decoded")
        }
        XCTAssertEqual(requestField, "datasetChunkRequest.offset")
    }
}
