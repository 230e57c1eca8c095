import Foundation
import XCTest

@testable import Core

/// Step gradients left in the shared-update file by the local workers and read back by the others and by
/// the coordinator (`SharedGradientParts`).
final class SharedGradientPartsTests: XCTestCase {
    private let images = Benchmark.syntheticImages(count: 60)

    /// The gradient of samples `first..<first + count` (micro-batches of 10), as a worker computes its part.
    private func part(_ first: Int, _ count: Int, epoch: Int = 1) -> StepGradient {
        let engine = CNNEngine(parameters: initialParameters(seed: 5), threads: 1, microBatchSize: 10)
        let mbs = stride(from: first, to: first + count, by: 10).map { Array($0..<min($0 + 10, first + count))[...] }
        return engine.microBatchGradients(mbs, data: images, epoch: epoch, seed: 9).0
    }

    /// A fresh file for `members` members of up to `capacity` rows: one view per member and the reader's.
    private func file(members: Int = 2, capacity: Int = 40) throws -> (writers: [SharedGradientParts], reader: SharedGradientParts) {
        let path = NSTemporaryDirectory() + "glassbox-parts-\(UUID().uuidString)"
        addTeardownBlock { unlink(path) }
        try SharedUpdate.create(path: path, members: members, rowsCapacity: capacity)
        let writers = try (0..<members).map { SharedGradientParts(file: try SharedFileMapping(path: path, members: members), rank: $0) }
        return (writers, SharedGradientParts(file: try SharedFileMapping(path: path, members: members), rank: nil))
    }

    func testPartsReadBackInOrderAreTheWholeStepsGradient() throws {
        let (writers, reader) = try file()
        let first = part(0, 30), second = part(30, 20)
        var whole = first
        whole.append(second)
        // The second member writes first: the order is the update's, not the writing's.
        let b = try XCTUnwrap(writers[1].write(second, weightsVersion: 7, firstMicroBatch: 3))
        let a = try XCTUnwrap(writers[0].write(first, weightsVersion: 7, firstMicroBatch: 0))
        XCTAssertEqual(a, .init(member: 0, weightsVersion: 7, firstMicroBatch: 0, rows: 30))
        XCTAssertEqual(try reader.read([a, b]).get(), whole)
        XCTAssertEqual(try writers[1].read([a, b]).get(), whole, "a member reads the others' parts too")
        // The whole gradient's mean is that of one process computing the 50 samples.
        XCTAssertEqual(try reader.read([a, b]).get().mean(samples: 50, threads: 1), part(0, 50).mean(samples: 50, threads: 1))
    }

    func testReadingStepAfterStepIntoOneValueGivesEachStepAsAFreshReadDoes() throws {
        // A worker reads every step's parts into the same value, to reuse its storage: each read must replace
        // the last one whole (sums, rows and their count), not add to it, whatever the sizes in turn.
        let (writers, reader) = try file()
        var reused = StepGradient.empty
        for (version, (sizeA, sizeB)) in [(7 as UInt64, (30, 20)), (8, (10, 10)), (9, (20, 40))] {
            let a = try XCTUnwrap(writers[0].write(part(0, sizeA, epoch: Int(version)), weightsVersion: version, firstMicroBatch: 0))
            let b = try XCTUnwrap(writers[1].write(part(sizeA, sizeB, epoch: Int(version)), weightsVersion: version,
                                                   firstMicroBatch: sizeA / 10))
            XCTAssertNoThrow(try reader.read([a, b], into: &reused).get())
            var whole = part(0, sizeA, epoch: Int(version))
            whole.append(part(sizeA, sizeB, epoch: Int(version)))
            XCTAssertEqual(reused, whole, "version \(version)")
            XCTAssertEqual(reused, try reader.read([a, b]).get(), "version \(version)")
        }
        // A part that is not there fails the read, naming it.
        let missing = SharedGradientParts.Location(member: 1, weightsVersion: 12, firstMicroBatch: 0, rows: 10)
        XCTAssertThrowsError(try reader.read([missing], into: &reused).get()) {
            XCTAssertTrue("\($0)".contains("not that of version 12 from micro-batch 0 (10 rows)"), "\($0)")
        }
    }

    func testTheNextVersionsPartsGoToTheOtherRegionAndTheOneAfterReplacesThem() throws {
        let (writers, reader) = try file()
        let v7 = try XCTUnwrap(writers[0].write(part(0, 20), weightsVersion: 7, firstMicroBatch: 0))
        let v8 = try XCTUnwrap(writers[0].write(part(20, 20, epoch: 2), weightsVersion: 8, firstMicroBatch: 0))
        XCTAssertEqual(try reader.read(v7).get(), part(0, 20), "version 8's part left version 7's alone")
        XCTAssertEqual(try reader.read(v8).get(), part(20, 20, epoch: 2))
        _ = try XCTUnwrap(writers[0].write(part(40, 20), weightsVersion: 9, firstMicroBatch: 0))
        XCTAssertThrowsError(try reader.read(v7).get()) {
            XCTAssertTrue("\($0)".contains("holds the part of version 9 from micro-batch 0 (20 rows), not that of version 7"), "\($0)")
        }
    }

    func testAPartThatIsNotThereOrNotTheOneExpectedIsRefusedNamingBoth() throws {
        let (writers, reader) = try file()
        let nothing = SharedGradientParts.Location(member: 1, weightsVersion: 3, firstMicroBatch: 2, rows: 20)
        XCTAssertThrowsError(try reader.read(nothing).get()) {
            XCTAssertTrue("\($0)".contains("local worker 1's region holds no part, not that of version 3 from micro-batch 2 (20 rows)"), "\($0)")
        }
        let written = try XCTUnwrap(writers[1].write(part(0, 20), weightsVersion: 3, firstMicroBatch: 2))
        for wrong in [SharedGradientParts.Location(member: 1, weightsVersion: 3, firstMicroBatch: 1, rows: 20),
                      SharedGradientParts.Location(member: 1, weightsVersion: 3, firstMicroBatch: 2, rows: 10),
                      SharedGradientParts.Location(member: 0, weightsVersion: 3, firstMicroBatch: 2, rows: 20)] {
            XCTAssertThrowsError(try reader.read(wrong).get(), "\(wrong)")
        }
        for impossible in [SharedGradientParts.Location(member: 2, weightsVersion: 3, firstMicroBatch: 2, rows: 20),
                           SharedGradientParts.Location(member: 1, weightsVersion: 3, firstMicroBatch: 2, rows: 41),
                           SharedGradientParts.Location(member: -1, weightsVersion: 3, firstMicroBatch: 2, rows: 20)] {
            XCTAssertThrowsError(try reader.read(impossible).get(), "\(impossible)") {
                XCTAssertTrue("\($0)".contains("can be in member"), "\($0)")
            }
        }
        XCTAssertEqual(try reader.read(written).get(), part(0, 20))
    }

    func testWhatCannotBeWrittenIsNotWrittenAndTravelsInTheResultInstead() throws {
        let (writers, reader) = try file(capacity: 20)
        XCTAssertNil(writers[0].write(part(0, 30), weightsVersion: 5, firstMicroBatch: 0), "more rows than the file holds")
        XCTAssertNil(reader.write(part(0, 10), weightsVersion: 5, firstMicroBatch: 0), "the coordinator writes no part")
        let first = try XCTUnwrap(writers[0].write(part(0, 10), weightsVersion: 5, firstMicroBatch: 0))
        // A second share of the same step (a lost worker's, handed on) must not replace the first.
        XCTAssertNil(writers[0].write(part(10, 10), weightsVersion: 5, firstMicroBatch: 1))
        XCTAssertEqual(try reader.read(first).get(), part(0, 10))
    }

    func testFilesMadeForOtherCapacitiesOrMembersAreRefused() throws {
        let path = NSTemporaryDirectory() + "glassbox-parts-\(UUID().uuidString)"
        addTeardownBlock { unlink(path) }
        XCTAssertThrowsError(try SharedUpdate.create(path: path, members: 2, rowsCapacity: 0)) {
            XCTAssertTrue("\($0)".contains("holds 1 to 65536 samples, not 0"), "\($0)")
        }
        try SharedUpdate.create(path: path, members: 2, rowsCapacity: 30)
        XCTAssertEqual(try SharedFileMapping(path: path, members: 2).rowsCapacity, 30)
        XCTAssertThrowsError(try SharedFileMapping(path: path, members: 3))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(SharedUpdate.fileBytes(members: 2, rowsCapacity: 30) - 64))
        try handle.close()
        XCTAssertThrowsError(try SharedFileMapping(path: path, members: 2)) {
            XCTAssertTrue("\($0)".contains("not a shared-update file for 2 members"), "\($0)")
        }
    }
}
