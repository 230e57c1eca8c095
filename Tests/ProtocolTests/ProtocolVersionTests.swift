import XCTest
@testable import Protocol

// 3.0: a step result's gradient is optional (StepOptions.omitGradient) behind a presence byte, an update
// may leave out the receiver's own rows (OwnRows), and a state reported with applyOwnGradient is the one
// after the step; a 2.x peer would misread results and updates, so it must be refused.
// (2.0 added the step options, the reported state and the UMAP stage messages.)
final class ProtocolVersionTests: XCTestCase {
    func testOtherMajorVersionIsRefusedNamingBothVersions() {
        var bytes = encode(.heartbeat(timestampNanoseconds: 1))
        bytes[4] = 1
        let error = decodeError(bytes)
        XCTAssertEqual(error, .unsupportedVersion(major: 1, minor: 0))
        XCTAssertEqual(error?.description, "peer speaks protocol 1.0, this build speaks 3.0")
    }

    func testEveryMessageFromAnotherMajorVersionIsRefusedWhateverItsMinor() {
        let others: [(major: UInt16, minor: UInt16)] = [
            (0, 0), (ProtocolVersion.major - 1, 9), (ProtocolVersion.major + 1, 0), (.max, .max),
        ]
        for message in sampleMessages {
            for (major, minor) in others {
                var bytes = encode(message)
                bytes.withUnsafeMutableBytes { raw in
                    raw.writeLittleEndian(major, at: 4)
                    raw.writeLittleEndian(minor, at: 6)
                }
                let error = decodeError(bytes)
                XCTAssertEqual(error, .unsupportedVersion(major: major, minor: minor), "\(message.type) from \(major).\(minor)")
                XCTAssertEqual(error?.description, "peer speaks protocol \(major).\(minor), this build speaks "
                               + "\(ProtocolVersion.major).\(ProtocolVersion.minor)")
            }
        }
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

    func testEveryMessageOfANewerMinorIsReadWithItsAppendedFieldsSkipped() throws {
        let appended: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        for message in sampleMessages {
            let payload = Array(encode(message).dropFirst(MessageHeader.size))
            for minor in [ProtocolVersion.minor + 1, .max] {
                let (header, decoded) = try decode(frame(message.type, payload: payload + appended, minorVersion: minor))
                XCTAssertEqual(decoded, message, "\(message.type) of minor \(minor)")
                XCTAssertEqual(header.minorVersion, minor)
                XCTAssertEqual(try decode(frame(message.type, payload: payload, minorVersion: minor)).1, message,
                               "\(message.type) of minor \(minor) without appended fields")
            }
            XCTAssertEqual(decodeError(frame(message.type, payload: payload + appended)),
                           .trailingBytes(type: message.type, count: appended.count, offset: payload.count),
                           "\(message.type) of this minor with bytes after its last field")
        }
    }
}
