import XCTest
@testable import Protocol

final class WireFormatTests: XCTestCase {
    func testHeaderLayoutIsFixedAndLittleEndian() {
        let envelope = Envelope(runNonce: 0x1122_3344_5566_7788, epoch: 0x0A0B_0C0D, step: 0x0102_0304,
                                chunkIndex: 5, chunkCount: 6, flags: 0xBEEF)
        let bytes = encode(.heartbeat(timestampNanoseconds: 0x0807_0605_0403_0201), envelope: envelope)
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let crc = CRC32C.checksum(payload)
        let expected: [UInt8] = Array("GBX1".utf8) + [3, 0, 0, 0, 9, 0, 0xEF, 0xBE, 0x0D, 0x0C, 0x0B, 0x0A]
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

    func testOtherMajorVersionIsRefusedNamingBothVersions() {
        var bytes = encode(.heartbeat(timestampNanoseconds: 1))
        bytes[4] = 1
        let error = decodeError(bytes)
        XCTAssertEqual(error, .unsupportedVersion(major: 1, minor: 0))
        XCTAssertEqual(error?.description, "peer speaks protocol 1.0, this build speaks 3.0")
    }

    func testNewerMinorVersionMayAppendFieldsButSameMinorMayNot() throws {
        var w = PayloadWriter()
        w.write("stop")
        w.write(UInt32(99))
        let newer = frame(.shutdown, payload: w.bytes, minorVersion: ProtocolVersion.minor + 1)
        XCTAssertEqual(try decode(newer).1, .shutdown(reason: "stop"))
        XCTAssertEqual(decodeError(frame(.shutdown, payload: w.bytes)),
                       .trailingBytes(type: .shutdown, count: 4, offset: 8))
    }

    func testUnknownMessageTypeIsRefused() {
        XCTAssertEqual(decodeError(frame(MessageType.heartbeat, payload: [0, 0, 0, 0, 0, 0, 0, 0]).patched(at: 8, 77)),
                       .unknownMessageType(rawValue: 77))
        XCTAssertEqual(decodeError(frame(.heartbeat, payload: []).patched(at: 8, 0)), .unknownMessageType(rawValue: 0))
        XCTAssertEqual(WireError.unknownMessageType(rawValue: 77).description,
                       "unknown message type 77 (this build knows 1 to 15)")
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

    func testHugeArrayCountIsRefusedWithoutAllocating() {
        var w = PayloadWriter()
        w.write(UInt64(1))
        w.write(UInt64(1))
        w.write(UInt32.max)
        XCTAssertEqual(decodeError(frame(.weights, payload: w.bytes)),
                       .truncatedField(field: "weights.parameters", offset: 16, needed: 4 + 4 * Int(UInt32.max),
                                       available: 4))
    }

    func testStringsMustBeValidUTF8AndWithinTheLimit() {
        let invalid: [UInt8] = [3, 0, 0, 0, 0x61, 0xC3, 0x28]
        XCTAssertEqual(decodeError(frame(.refused, payload: invalid)),
                       .invalidField(field: "refused.reason", offset: 0, reason: "not valid UTF-8"))
        let long = encode(.refused(reason: String(repeating: "x", count: 100)))
        XCTAssertEqual(decodeError(long, limits: WireLimits(maxStringBytes: 99)),
                       .invalidField(field: "refused.reason", offset: 0,
                                     reason: "a string of 100 bytes exceeds the limit of 99 bytes"))
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

    func testPayloadWriterAndReaderRoundTripEveryPrimitive() throws {
        var w = PayloadWriter()
        w.write(UInt8(0xAB))
        w.write(UInt16(0xBEEF))
        w.write(UInt32(0xDEAD_BEEF))
        w.write(UInt64.max - 1)
        w.write(Int64.min)
        w.write(Float(-1.5))
        w.write(Double.pi)
        w.write("héllo")
        w.writeArray([Int32(-1), 2])
        w.writeArray([Int64(-3)])
        w.writeArray([Float(0.25)])
        w.writeArray([UInt8(9), 8])
        var r = PayloadReader(w.bytes)
        XCTAssertEqual(try r.read(UInt8.self, "a"), 0xAB)
        XCTAssertEqual(try r.read(UInt16.self, "b"), 0xBEEF)
        XCTAssertEqual(try r.read(UInt32.self, "c"), 0xDEAD_BEEF)
        XCTAssertEqual(try r.read(UInt64.self, "d"), .max - 1)
        XCTAssertEqual(try r.read(Int64.self, "e"), .min)
        XCTAssertEqual(try r.read(Float.self, "f"), -1.5)
        XCTAssertEqual(try r.read(Double.self, "g"), .pi)
        XCTAssertEqual(try r.readString("h"), "héllo")
        XCTAssertEqual(try r.readArray(of: Int32.self, "i"), [-1, 2])
        XCTAssertEqual(try r.readArray(of: Int64.self, "j"), [-3])
        XCTAssertEqual(try r.readArray(of: Float.self, "k"), [0.25])
        XCTAssertEqual(try r.readArray(of: UInt8.self, "l"), [9, 8])
        XCTAssertEqual(r.remaining, 0)
        XCTAssertThrowsError(try r.read(UInt8.self, "m")) {
            XCTAssertEqual($0 as? WireError, .truncatedField(field: "m", offset: w.bytes.count, needed: 1, available: 0))
        }
    }
    func testZeroSuppressedFloatsRoundTripBitForBit() throws {
        let specials: [Float] = [0, -0.0, 1, .nan, Float(bitPattern: 0x7FC0_1234), .infinity, -.leastNonzeroMagnitude, 0, 0]
        let mostlyNonzero: [Float] = (0..<1000).map { $0 % 3 == 0 ? 0 : Float($0) }
        let cases: [[Float]] = [[], [0], [2.5], [Float](repeating: 0, count: 17), specials, mostlyNonzero]
        for values in cases {
            var w = PayloadWriter()
            w.writeZeroSuppressed(values)
            w.write(UInt8(7))
            var r = PayloadReader(w.bytes)
            let back = try r.readZeroSuppressed("x")
            XCTAssertEqual(back.map(\.bitPattern), values.map(\.bitPattern))
            XCTAssertEqual(try r.read(UInt8.self, "after"), 7, "the reader stops right after the kept values")
            let kept: Int = values.filter { $0.bitPattern != 0 }.count
            let expectedBytes: Int = 1 + 8 + (values.count + 7) / 8 + 4 * kept
            XCTAssertEqual(w.bytes.count, expectedBytes)
        }
    }

    func testZeroSuppressedBitmapMustMatchItsKeptCount() {
        func read(_ build: (inout PayloadWriter) -> Void) -> WireError? {
            var w = PayloadWriter()
            build(&w)
            var r = PayloadReader(w.bytes)
            do { _ = try r.readZeroSuppressed("x"); return nil } catch { return error }
        }
        // 3 elements, 1 kept, but the bitmap marks two.
        XCTAssertEqual(read { $0.write(UInt32(3)); $0.write(UInt32(1)); $0.write(UInt8(0b011)); $0.write(Float(1)) },
                       .invalidField(field: "x", offset: 0, reason: "the bitmap marks 2 elements, the count says 1"))
        // A padding bit set.
        XCTAssertEqual(read { $0.write(UInt32(3)); $0.write(UInt32(1)); $0.write(UInt8(0b1000)); $0.write(Float(1)) },
                       .invalidField(field: "x", offset: 0, reason: "the bitmap marks elements beyond the 3 there are"))
        XCTAssertEqual(read { $0.write(UInt32(2)); $0.write(UInt32(3)) },
                       .invalidField(field: "x", offset: 0, reason: "3 kept elements of 2"))
        XCTAssertEqual(read { $0.write(UInt32.max); $0.write(UInt32(0)) },
                       .invalidField(field: "x", offset: 0, reason: "4294967295 elements exceed the limit of 268435456 bytes"))
        XCTAssertEqual(read { $0.write(UInt32(16)); $0.write(UInt32(2)); $0.write(UInt16(0b11)); $0.write(Float(1)) },
                       .truncatedField(field: "x", offset: 0, needed: 18, available: 14))
    }
}

private extension Array where Element == UInt8 {
    func patched(at index: Int, _ value: UInt8) -> [UInt8] {
        var copy = self
        copy[index] = value
        return copy
    }
}
