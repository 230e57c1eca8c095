import XCTest
@testable import Protocol

final class WireFormatTests: XCTestCase {
    func testHeaderLayoutIsFixedAndLittleEndian() {
        let envelope = Envelope(runNonce: 0x1122_3344_5566_7788, epoch: 0x0A0B_0C0D, step: 0x0102_0304,
                                chunkIndex: 5, chunkCount: 6, flags: 0xBEEF)
        let bytes = encode(.heartbeat(timestampNanoseconds: 0x0807_0605_0403_0201), envelope: envelope)
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let crc = CRC32C.checksum(payload)
        let expected: [UInt8] = Array("GBX1".utf8) + [3, 0, 1, 0, 9, 0, 0xEF, 0xBE, 0x0D, 0x0C, 0x0B, 0x0A]
            + [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 4, 3, 2, 1, 5, 0, 0, 0, 6, 0, 0, 0]
            + [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
            + [8, 0, 0, 0, 0, 0, 0, 0] + payload
        XCTAssertEqual(bytes, expected)
    }

    func testShortMessageNamesItsLength() {
        let error = decodeError(Array(encode(.shutdown(reason: "x")).prefix(12)))
        XCTAssertEqual(error, .shortHeader(length: 12))
        XCTAssertEqual(error?.description, "message of 12 bytes is shorter than the 48-byte header")
    }

    func testBadMagicIsRefused() {
        var bytes = encode(.heartbeat(timestampNanoseconds: 1))
        bytes[0] = UInt8(ascii: "H")
        XCTAssertEqual(decodeError(bytes), .badMagic(found: 0x3158_4248))
    }

    func testUnknownMessageTypeIsRefused() {
        XCTAssertEqual(decodeError(frame(MessageType.heartbeat, payload: [0, 0, 0, 0, 0, 0, 0, 0]).patched(at: 8, 77)),
                       .unknownMessageType(rawValue: 77))
        XCTAssertEqual(decodeError(frame(.heartbeat, payload: []).patched(at: 8, 0)), .unknownMessageType(rawValue: 0))
        XCTAssertEqual(WireError.unknownMessageType(rawValue: 77).description,
                       "unknown message type 77 (this build knows 1 to 18)")
    }

    func testChunkIndexMustBeBelowChunkCount() {
        let bytes = encode(.heartbeat(timestampNanoseconds: 1), envelope: Envelope(chunkIndex: 3, chunkCount: 3))
        XCTAssertEqual(decodeError(bytes), .invalidChunk(index: 3, count: 3))
        let none = encode(.heartbeat(timestampNanoseconds: 1), envelope: Envelope(chunkIndex: 0, chunkCount: 0))
        XCTAssertEqual(decodeError(none), .invalidChunk(index: 0, count: 0))
    }

    func testOversizedLengthClaimIsRefusedBeforeAnythingIsRead() {
        var bytes = encode(.heartbeat(timestampNanoseconds: 1))
        for i in 40..<48 { bytes[i] = 0xFF }
        XCTAssertEqual(decodeError(bytes), .payloadTooLarge(declared: .max, limit: WireLimits.standard.maxPayloadBytes))
        let weights = encode(.weights(Weights(version: 1, adamStep: 1, parameters: [Float](repeating: 1, count: 100))))
        XCTAssertEqual(decodeError(weights, limits: WireLimits(maxPayloadBytes: 100)),
                       .payloadTooLarge(declared: 428, limit: 100))
    }

    func testPayloadLengthMustMatchTheBytesPresent() {
        let bytes = encode(.shutdown(reason: "done"))
        XCTAssertEqual(decodeError(bytes + [0]), .payloadLengthMismatch(declared: 8, actual: 9))
        XCTAssertEqual(decodeError(Array(bytes.dropLast(1))), .payloadLengthMismatch(declared: 8, actual: 7))
    }

    func testEveryFlippedPayloadBitIsAChecksumMismatch() {
        for message in sampleMessages {
            let bytes = encode(message)
            for i in MessageHeader.size..<bytes.count {
                for bit in [0, 7] {
                    var corrupted = bytes
                    corrupted[i] ^= 1 << bit
                    guard case .checksumMismatch(let expected, let actual) = decodeError(corrupted) else {
                        return XCTFail("\(message.type): flipping bit \(bit) of byte \(i) was not detected")
                    }
                    XCTAssertEqual(expected, CRC32C.checksum(bytes[MessageHeader.size...]))
                    XCTAssertNotEqual(expected, actual)
                }
            }
        }
    }

    func testEveryTruncatedPrefixIsShortOrMismatched() {
        for message in sampleMessages {
            let bytes = encode(message)
            for length in 0..<bytes.count {
                let expected: WireError = length < MessageHeader.size
                    ? .shortHeader(length: length)
                    : .payloadLengthMismatch(declared: UInt64(bytes.count - MessageHeader.size),
                                             actual: length - MessageHeader.size)
                XCTAssertEqual(decodeError(Array(bytes.prefix(length))), expected, "\(message.type) cut to \(length)")
            }
        }
    }

    func testTruncatedPayloadBehindAValidHeaderNamesTheField() {
        for message in sampleMessages {
            let payload = Array(encode(message).dropFirst(MessageHeader.size))
            for length in 0..<payload.count {
                guard case .truncatedField = decodeError(frame(message.type, payload: Array(payload.prefix(length))))
                else { return XCTFail("\(message.type) payload cut to \(length) was not a truncated field") }
            }
        }
        let assignment = StepAssignment(weightsVersion: 1, microBatches: [4], sampleCounts: [3], sampleIndices: [1, 2, 3])
        let payload = Array(encode(.stepAssignment(assignment)).dropFirst(MessageHeader.size))
        // The last 4 bytes are the options; 2 more cut into the sample indices.
        let error = decodeError(frame(.stepAssignment, payload: Array(payload.dropLast(6))))
        XCTAssertEqual(error, .truncatedField(field: "stepAssignment.sampleIndices", offset: 24, needed: 16, available: 14))
        XCTAssertEqual(error?.description,
                       "payload field stepAssignment.sampleIndices at byte 24 needs 16 bytes but only 14 remain")
    }

    func testRandomBytesNeverTrap() {
        for seed in 0..<3000 as Range<UInt64> {
            var rng = TestRandom(seed: seed)
            let length = rng.below(120)
            var bytes = rng.bytes(length)
            // Half of the inputs get a plausible header, so that checks past the magic are reached too.
            if seed % 2 == 0 && length >= MessageHeader.size {
                bytes.replaceSubrange(0..<6, with: Array("GBX1".utf8) + [UInt8(ProtocolVersion.major), 0])
            }
            XCTAssertNotNil(decodeError(bytes), "seed \(seed) decoded random bytes")
        }
    }

    func testRandomPayloadsBehindValidHeadersNeverTrap() {
        var decoded = 0
        for seed in 0..<4000 as Range<UInt64> {
            var rng = TestRandom(seed: seed)
            let type = MessageType.allCases[rng.below(MessageType.allCases.count)]
            var payload = rng.bytes(rng.below(64))
            // Small counts in the first bytes give the parsers a chance to get past the first field.
            for i in stride(from: 0, to: payload.count, by: 4) where rng.below(2) == 0 { payload[i] = UInt8(rng.below(4)) }
            for i in payload.indices where i % 4 != 0 && rng.below(2) == 0 { payload[i] = 0 }
            if decodeError(frame(type, payload: payload)) == nil { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 0, "no random payload was valid, so the parsers were not exercised to the end")
    }
}

private extension Array where Element == UInt8 {
    func patched(at index: Int, _ value: UInt8) -> [UInt8] {
        var copy = self
        copy[index] = value
        return copy
    }
}
