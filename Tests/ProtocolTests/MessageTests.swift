import XCTest
@testable import Protocol

final class MessageTests: XCTestCase {
    func testSamplesCoverEveryMessageType() {
        XCTAssertEqual(Set(sampleMessages.map(\.type)), Set(MessageType.allCases))
    }

    func testEveryMessageTypeRoundTripsWithItsEnvelope() throws {
        for (i, message) in sampleMessages.enumerated() {
            let envelope = Envelope(runNonce: 0x0123_4567_89AB_CDEF, epoch: UInt32(i), step: 600 + UInt32(i),
                                    chunkIndex: 1, chunkCount: 3, flags: 0x8001)
            let (header, decoded) = try decode(encode(message, envelope: envelope))
            XCTAssertEqual(decoded, message)
            XCTAssertEqual(header.envelope, envelope)
            XCTAssertEqual(header.type, message.type)
            XCTAssertEqual(header.majorVersion, ProtocolVersion.major)
            XCTAssertEqual(header.minorVersion, ProtocolVersion.minor)
        }
    }

    func testEverySampleEncodesToTheRecordedBytes() {
        // Length and CRC-32C of each sample's whole encoding, recorded from protocol 3.1 (every header carries the minor version, so every entry moved with it): a change to any
        // writer that moves a byte shows here, even where the reader moved with it.
        let recorded: [(count: Int, crc: UInt32)] = [
            (117, 0xF2E1_833D), (145, 0x1FC1_D2C8), (108, 0x07E3_F763), (216, 0x8266_BB6E), (819, 0xD25D_1E5C),
            (315, 0x2A79_9E72), (187, 0xE91F_BB7F), (200, 0x0F29_2691), (191, 0x9814_0745), (136, 0xC30C_057D),
            (124, 0x5BB6_2CA2), (70, 0x43E7_2887), (159, 0x6B3F_9124), (56, 0xD064_0807), (84, 0x2DA7_E557),
            (69, 0xEFD7_8777), (101, 0xF6A9_DA41), (97, 0xC1AD_F67D), (109, 0xFDE4_ED40), (139, 0xC8CD_3F65),
            (90, 0x8FAF_0AD6), (122, 0x7DB4_F688), (90, 0x7228_2B27), (147, 0x9B2D_5A34), (93, 0xAAC1_57B7),
            (201, 0xFD81_AE59), (128, 0x7E05_CC2C), (70, 0xA736_F71B), (138, 0x3FC4_FAEF), (288, 0xF419_5011),
            (119, 0xD700_7A9C), (121, 0x6FF6_49AF),
        ]
        XCTAssertEqual(recorded.count, sampleMessages.count)
        let envelope = Envelope(runNonce: 0x0123_4567_89AB_CDEF, epoch: 7, step: 600, chunkIndex: 1, chunkCount: 3,
                                flags: 0x8001)
        for (message, expected) in zip(sampleMessages, recorded) {
            let bytes = encode(message, envelope: envelope)
            XCTAssertEqual(bytes.count, expected.count, "\(message.type)")
            XCTAssertEqual(CRC32C.checksum(bytes), expected.crc,
                           "\(message.type): CRC-32C 0x\(String(CRC32C.checksum(bytes), radix: 16)), recorded "
                           + "0x\(String(expected.crc, radix: 16))")
        }
    }

    func testEmptyArraysAndStringsRoundTrip() throws {
        let messages: [Message] = [
            .refused(reason: ""),
            .welcome(Welcome(rank: 0, runNonce: 0, seed: 0, settings: [:])),
            .stepResult(StepResult(microBatches: [], lossSums: [], correctCounts: [], sampleCounts: [],
                                   gradient: GradientFactors(sums: [], rows: 0, flatWidth: 0, deltaWidth: 0,
                                                             flatRows: [], deltaRows: []))),
            .evalReply(EvalReply(lossSums: [], correctCounts: [], sampleCounts: [], predictions: [])),
            .weights(Weights(version: 1, adamStep: 0, parameters: [1, 2])),
        ]
        for message in messages {
            XCTAssertEqual(try decode(encode(message)).1, message)
        }
    }
}
