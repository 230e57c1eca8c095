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
        // Length and CRC-32C of each sample's whole encoding, recorded from protocol 3.0: a change to any
        // writer that moves a byte shows here, even where the reader moved with it.
        let recorded: [(count: Int, crc: UInt32)] = [
            (105, 0x06E6_B394), (145, 0xFBA0_6D44), (108, 0xD606_D97D), (216, 0xDB6C_8668), (818, 0xEF6D_2E31),
            (314, 0xD1EA_94CD), (186, 0x6439_72D7), (196, 0x4ED4_1424), (187, 0x97B3_829D), (136, 0x0FF4_DC19),
            (124, 0x1957_A784), (70, 0x37E9_C785), (159, 0x1D39_CAFB), (56, 0x3198_FE4E), (84, 0x6C66_AF72),
            (69, 0x6B31_2532), (101, 0xFD45_3956), (97, 0x49E4_B65E), (109, 0x4113_7026), (139, 0xBC22_4177),
            (90, 0x93ED_D095), (122, 0x6B20_843E), (90, 0x6E6A_F164), (147, 0x5F76_A825), (93, 0xA68A_4460),
            (201, 0x9350_4B94), (128, 0xFC80_69E3), (70, 0xD338_1819),  // the data set family, added in 3.0 too
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
