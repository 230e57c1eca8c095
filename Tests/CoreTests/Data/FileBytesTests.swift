import Foundation
import XCTest

@testable import Core

final class FileBytesTests: XCTestCase {
    /// Compressible but not trivial bytes: a few MB so that both the 1 MiB input chunks and the
    /// 256 KiB inflate buffer wrap several times.
    private func sampleContent(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed, stream: .sampling)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next() % 16) }
    }

    /// Writes `content` to a scratch file, gzips it with the gzip tool, and returns the path
    /// of the .gz file and its bytes.
    private func gzippedScratchFile(
        _ content: [UInt8]
    ) throws -> (path: String, compressed: [UInt8]) {
        let path = try makeScratchDirectory() + "/content"
        try writeFile(content, to: path)
        try gzipWithTool(path)
        return (path + ".gz", try readFile(path + ".gz"))
    }

    func testReadReturnsTheFileExactlyEvenIfItLooksGzipped() throws {
        let directory = try makeScratchDirectory()
        let content: [UInt8] = [0x1f, 0x8b] + sampleContent(count: 3_000_000, seed: 1)
        try writeFile(content, to: directory + "/raw")
        XCTAssertEqual(try FileBytes.read(directory + "/raw"), content)
        let empty = directory + "/empty"
        try writeFile([], to: empty)
        XCTAssertEqual(try FileBytes.read(empty), [])
        let inflated = try FileBytes.readInflatingGzip(empty)
        XCTAssertEqual(inflated.bytes, [])
        XCTAssertFalse(inflated.wasGzip)
    }

    func testInflatesWhatTheGzipToolWrote() throws {
        let directory = try makeScratchDirectory()
        let content = sampleContent(count: 5_000_000, seed: 2)
        let path = directory + "/content"
        try writeFile(content, to: path)
        try gzipWithTool(path)
        let gz = try FileBytes.readInflatingGzip(path + ".gz")
        XCTAssertTrue(gz.wasGzip)
        XCTAssertEqual(gz.bytes.count, content.count)
        XCTAssertEqual(gz.bytes, content)
        let raw = try FileBytes.readInflatingGzip(path)
        XCTAssertFalse(raw.wasGzip)
        XCTAssertEqual(raw.bytes, content)
    }

    /// Every way of cutting the input into chunks and the output into buffer-fulls (down to one
    /// byte each, and across a member boundary) inflates to the same content.
    func testChunkAndBufferBoundariesNeverChangeTheContent() throws {
        let content = sampleContent(count: 3000, seed: 8)
        let (path, compressed) = try gzippedScratchFile(content)
        let twoMembers = compressed + compressed
        for chunkSize in [1, 2, 7, 64, 1000, twoMembers.count] {
            for scratchSize in [1, 3, 64, 1500, 3000, 4096] {
                let inflater = try GzipInflater(path: path, byteLimit: 1 << 20, scratchByteCount: scratchSize)
                for start in stride(from: 0, to: twoMembers.count, by: chunkSize) {
                    try inflater.consume(Array(twoMembers[start..<min(start + chunkSize, twoMembers.count)]))
                }
                XCTAssertEqual(try inflater.finish(), content + content, "chunks \(chunkSize), buffer \(scratchSize)")
            }
        }
    }

    func testConcatenatedGzipMembersInflateToTheConcatenation() throws {
        let directory = try makeScratchDirectory()
        let first = Array("first member\n".utf8)
        let second = sampleContent(count: 300_000, seed: 3)
        try writeFile(first, to: directory + "/a")
        try writeFile(second, to: directory + "/b")
        try gzipWithTool(directory + "/a")
        try gzipWithTool(directory + "/b")
        try writeFile(
            try readFile(directory + "/a.gz") + readFile(directory + "/b.gz"),
            to: directory + "/ab.gz")
        XCTAssertEqual(try FileBytes.readInflatingGzip(directory + "/ab.gz").bytes, first + second)
    }

    func testCorruptGzipNamesTheFileAndZlibsReason() throws {
        var (path, compressed) = try gzippedScratchFile(sampleContent(count: 100_000, seed: 4))
        // Flip bits in the CRC-32 of the trailer: the data inflates but fails its check.
        compressed[compressed.count - 6] ^= 0xff
        try writeFile(compressed, to: path)
        assertDataError(
            try FileBytes.readInflatingGzip(path), .corruptGzip,
            containing: path + ": corrupt gzip stream: incorrect data check")
    }

    func testTruncatedGzipIsReportedAsTruncated() throws {
        let (path, compressed) = try gzippedScratchFile(sampleContent(count: 100_000, seed: 5))
        try writeFile(Array(compressed.prefix(compressed.count / 2)), to: path)
        assertDataError(
            try FileBytes.readInflatingGzip(path), .truncated, containing: "gzip stream ends early")
    }

    func testGarbageAfterTheGzipStreamIsReported() throws {
        let (path, compressed) = try gzippedScratchFile(Array("hello".utf8))
        try writeFile(compressed + Array("junk".utf8), to: path)
        assertDataError(
            try FileBytes.readInflatingGzip(path), .trailingBytes,
            containing: "at compressed byte \(compressed.count)")
    }

    func testByteLimitStopsAGzipBomb() throws {
        let directory = try makeScratchDirectory()
        let path = directory + "/zeros"
        try writeFile([UInt8](repeating: 0, count: 4_000_000), to: path)
        try gzipWithTool(path)
        XCTAssertLessThan(try readFile(path + ".gz").count, 10_000)
        XCTAssertThrowsError(try FileBytes.readInflatingGzip(path + ".gz", byteLimit: 1_000_000)) {
            error in
            XCTAssertEqual((error as? DataError)?.kind, .tooLarge, "\(error)")
        }
        XCTAssertThrowsError(try FileBytes.read(path, byteLimit: 1_000_000)) { error in
            XCTAssertEqual((error as? DataError)?.kind, .tooLarge, "\(error)")
        }
    }

    func testMissingFileAndDirectoryAreErrorsNamingThePath() throws {
        let directory = try makeScratchDirectory()
        XCTAssertThrowsError(try FileBytes.read(directory + "/nope")) { error in
            XCTAssertEqual(
                error as? DataError,
                DataError(
                    .missingFile, path: directory + "/nope",
                    "cannot open: No such file or directory"))
        }
        XCTAssertThrowsError(try FileBytes.readInflatingGzip(directory)) { error in
            XCTAssertEqual((error as? DataError)?.kind, .io, "\(error)")
            XCTAssertEqual((error as? DataError)?.path, directory)
        }
    }

    func testWriteAtomicallyReplacesTheFileAndLeavesNoTemporaryFile() throws {
        let directory = try makeScratchDirectory()
        let path = directory + "/out.bin"
        try FileBytes.writeAtomically([1, 2, 3], to: path)
        try FileBytes.writeAtomically([4, 5], to: path)
        XCTAssertEqual(try readFile(path), [4, 5])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["out.bin"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o644)
        XCTAssertThrowsError(try FileBytes.writeAtomically([1], to: directory + "/missing/out.bin"))
        { error in
            XCTAssertEqual((error as? DataError)?.kind, .io, "\(error)")
        }
    }

    /// Damaged gzip files must inflate to something or throw a DataError, never crash or hang.
    func testMutatedGzipFilesNeverCrash() throws {
        let (path, compressed) = try gzippedScratchFile(sampleContent(count: 20_000, seed: 6))
        let refusals = try countRefusals(damagedCopies(of: compressed, count: 300, seed: 7)) {
            bytes in
            try writeFile(bytes, to: path)
            _ = try FileBytes.readInflatingGzip(path)
        }
        XCTAssertGreaterThan(refusals, 200, "the CRC-32 check should catch nearly all damage")
    }
}
