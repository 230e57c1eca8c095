import XCTest
@testable import Protocol

// 3.1: fields appended (read only from 3.1 payloads, see MinorVersionFieldTests): the kernel paths at hello,
// step gradients left in the local workers' shared file (StepOptions.gradientToSharedFile, StepResult.sharedPart,
// StepUpdate.sharedParts).
// 3.0: a step result's gradient is optional (StepOptions.omitGradient) behind a presence byte, an update
// may leave out the receiver's own rows (OwnRows), and a state reported with applyOwnGradient is the one
// after the step; a 2.x peer would misread results and updates, so it must be refused.
// (2.0 added the step options, the reported state and the UMAP stage messages.)
final class ProtocolVersionTests: XCTestCase {
    func testOtherMajorVersionIsRefusedNamingBothVersions() {
        var bytes = encode(.heartbeat(timestampNanoseconds: 1))
        bytes[4] = 1
        let error = decodeError(bytes)
        XCTAssertEqual(error, .unsupportedVersion(major: 1, minor: ProtocolVersion.minor))
        XCTAssertEqual(error?.description, "peer speaks protocol 1.\(ProtocolVersion.minor), this build speaks 3.1")
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

/// Fields added in 3.1 are read only from 3.1 payloads: a 3.0 peer's messages, which end before them, read
/// with their defaults, and a 3.1 message cut short before them is an error.
final class MinorVersionFieldTests: XCTestCase {
    /// The payload of `message` without its last `cut` bytes, framed as written in minor `minor`.
    private func older(_ message: Message, cut: Int, minor: UInt16 = 0) -> [UInt8] {
        let payload = Array(encode(message).dropFirst(MessageHeader.size))
        return frame(message.type, payload: Array(payload.dropLast(cut)), minorVersion: minor)
    }

    func testA30HelloReadsWithoutItsKernelPaths() throws {
        let hello = Hello(buildID: "b", datasetFingerprint: "f", hostName: "h", processID: 1, threadCount: 2)
        // The three 3.1 strings are empty: three 4-byte lengths.
        let (header, decoded) = try decode(older(.hello(hello), cut: 12))
        XCTAssertEqual(header.minorVersion, 0)
        XCTAssertEqual(decoded, .hello(hello))
        XCTAssertNotNil(decodeError(older(.hello(hello), cut: 12, minor: ProtocolVersion.minor)), "3.1 without the fields")
    }

    func testA30StepResultAndUpdateReadWithoutSharedParts() throws {
        let result = StepResult(microBatches: [0], lossSums: [1], correctCounts: [1], sampleCounts: [3],
                                gradient: sampleGradient(rows: 3))
        XCTAssertEqual(try decode(older(.stepResult(result), cut: 1)).1, .stepResult(result))
        let update = StepUpdate(version: 2, samples: 3, gradient: sampleGradient(rows: 3))
        XCTAssertEqual(try decode(older(.stepUpdate(update), cut: 4)).1, .stepUpdate(update))
        XCTAssertNotNil(decodeError(older(.stepUpdate(update), cut: 4, minor: ProtocolVersion.minor)))
    }

    func testSharedPartsThatContradictTheMessageAreRefused() {
        // A result with its gradient and a shared part.
        let both = StepResult(microBatches: [0], lossSums: [1], correctCounts: [1], sampleCounts: [3],
                              gradient: sampleGradient(rows: 3), sharedPart: SharedPart(member: 0, firstMicroBatch: 0, rows: 3))
        XCTAssertTrue("\(decodeError(encode(.stepResult(both)))!)".contains("its gradient or a shared part, not both"))
        // A part whose rows are not the result's samples, or that begins at another micro-batch.
        for part in [SharedPart(member: 0, firstMicroBatch: 4, rows: 4), SharedPart(member: 0, firstMicroBatch: 5, rows: 3)] {
            let wrong = StepResult(microBatches: [4], lossSums: [1], correctCounts: [1], sampleCounts: [3], gradient: nil,
                                   sharedPart: part)
            XCTAssertNotNil(decodeError(encode(.stepResult(wrong))), "\(part)")
        }
        // An update in shared parts that also carries rows, or whose parts do not hold its samples.
        let empty = GradientFactors(sums: [], rows: 0, flatWidth: 3, deltaWidth: 2, flatRows: [], deltaRows: [])
        for update in [StepUpdate(version: 2, samples: 3, gradient: sampleGradient(rows: 3),
                                  sharedParts: [SharedPart(member: 0, firstMicroBatch: 0, rows: 3)]),
                       StepUpdate(version: 2, samples: 4, gradient: empty,
                                  sharedParts: [SharedPart(member: 0, firstMicroBatch: 0, rows: 3)])] {
            XCTAssertTrue("\(decodeError(encode(.stepUpdate(update)))!)".contains("an update in shared parts"), "\(update)")
        }
        // Leaving the gradient in the file is for a share of a step, not for a whole step applied by its worker.
        let assignment = StepAssignment(weightsVersion: 1, microBatches: [0], sampleCounts: [1], sampleIndices: [0],
                                        options: [.applyOwnGradient, .gradientToSharedFile])
        XCTAssertTrue("\(decodeError(encode(.stepAssignment(assignment)))!)".contains("gradientToSharedFile with applyOwnGradient"))
    }
}
