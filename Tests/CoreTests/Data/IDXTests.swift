import Foundation
import XCTest

@testable import Core

final class IDXTests: XCTestCase {
    private let path = "data/x/train-images-idx3-ubyte"

    func testDecodesHandBuiltImagesInRowMajorOrder() throws {
        // Two 2x3 images, written out byte by byte.
        let bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3] + Array(1...12)
        let images = try IDX.decodeImages(bytes, path: path)
        XCTAssertEqual([images.count, images.rows, images.cols], [2, 2, 3])
        XCTAssertEqual(images.pixels, Array(1...12))
        let labels = try IDX.decodeLabels([0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4], path: "labels")
        XCTAssertEqual(labels, [9, 0, 4])
    }

    func testGzippedAndRawFilesReadIdentically() throws {
        let directory = try makeScratchDirectory()
        var rng = SplitMix64(seed: 3, stream: .sampling)
        let pixels = (0..<(50 * 7 * 5)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<50).map { _ in UInt8(rng.next() % 10) }
        try writeFile(
            idxBytes(magic: 0x803, dimensions: [50, 7, 5], payload: pixels),
            to: directory + "/images")
        try writeFile(
            idxBytes(magic: 0x801, dimensions: [50], payload: labels), to: directory + "/labels")
        try gzipWithTool(directory + "/images")
        try gzipWithTool(directory + "/labels")
        for suffix in ["", ".gz"] {
            let images = try IDX.readImages(at: directory + "/images" + suffix)
            XCTAssertEqual([images.count, images.rows, images.cols], [50, 7, 5], suffix)
            XCTAssertEqual(images.pixels, pixels, suffix)
            XCTAssertEqual(try IDX.readLabels(at: directory + "/labels" + suffix), labels, suffix)
        }
    }

    func testBadMagicSaysWhatWasFoundAndExpected() {
        assertDataError(
            try IDX.decodeImages(
                idxBytes(magic: 0x802, dimensions: [1, 1], payload: [0]), path: path),
            .badMagic, containing:
            "\(path): bad magic 0x00000802 at byte 0, expected 0x00000803 (unsigned byte, 3 dimensions); "
                + "found means unsigned byte, 2 dimensions")
        assertDataError(
            try IDX.decodeLabels(Array("PK\u{3}\u{4}zipfile".utf8), path: "l"),
            .badMagic, containing:
            "l: bad magic 0x504b0304 at byte 0, expected 0x00000801 (unsigned byte, 1 dimension)")
    }

    func testTruncatedPixelsReportHeaderClaimAndActualSize() {
        let bytes = idxBytes(
            magic: 0x803, dimensions: [60000, 28, 28], payload: [UInt8](repeating: 0, count: 1200))
        assertDataError(
            try IDX.decodeImages(bytes, path: path), .truncated,
            containing:
                "\(path): truncated: header says 60000x28x28 = 47040000 pixel bytes after the 16-byte header, "
                + "file has 1200 (at byte 1216)")
        assertDataError(
            try IDX.decodeImages(bytes, path: path + ".gz", inflated: true), .truncated,
            containing:
                "\(path).gz: truncated: header says 60000x28x28 = 47040000 pixel bytes after the 16-byte header, "
                + "inflated file has 1200 (at byte 1216)")
        let labels = idxBytes(magic: 0x801, dimensions: [10], payload: [1, 2, 3])
        assertDataError(
            try IDX.decodeLabels(labels, path: "l"), .truncated,
            containing:
                "l: truncated: header says 10 label bytes after the 8-byte header, file has 3 (at byte 11)"
        )
    }

    func testShortHeadersAreTruncationsNotCrashes() {
        assertDataError(
            try IDX.decodeImages([], path: path), .truncated,
            containing:
                "\(path): truncated: file has 0 bytes, fewer than the 4-byte magic number")
        assertDataError(
            try IDX.decodeImages([0, 0, 8, 3, 0, 0, 0, 1, 0, 0], path: path), .truncated,
            containing:
                "\(path): truncated: a 3-dimension header needs 16 bytes, file has 10")
    }

    func testTrailingBytesAreRejected() {
        let bytes = idxBytes(magic: 0x803, dimensions: [1, 2, 2], payload: [1, 2, 3, 4, 5, 6])
        assertDataError(
            try IDX.decodeImages(bytes, path: path), .trailingBytes,
            containing:
                "\(path): trailing bytes: header says 1x2x2 = 4 pixel bytes after the 16-byte header, "
                + "file has 6 (2 extra from byte 20)")
    }

    func testZeroAndHugeDimensionsAreRejected() {
        assertDataError(
            try IDX.decodeImages(
                idxBytes(magic: 0x803, dimensions: [5, 28, 0], payload: []), path: path),
            .badHeader, containing: "\(path): dimension 2 (byte 12) is zero: header says 5x28x0")
        assertDataError(
            try IDX.decodeLabels(idxBytes(magic: 0x801, dimensions: [0], payload: []), path: "l"),
            .badHeader, containing: "l: dimension 0 (byte 4) is zero: header says 0")
        let huge = idxBytes(magic: 0x803, dimensions: [.max, .max, .max], payload: [1, 2, 3])
        assertDataError(
            try IDX.decodeImages(huge, path: path), .badHeader,
            containing:
                "\(path): header says 4294967295x4294967295x4294967295 pixels, more than can be addressed"
        )
    }

    func testLabelOutsideTheClassesNamesIndexAndByte() {
        let bytes = idxBytes(magic: 0x801, dimensions: [8], payload: [0, 1, 2, 3, 4, 11, 6, 7])
        assertDataError(
            try IDX.decodeLabels(bytes, path: "data/x/train-labels-idx1-ubyte"), .badValue,
            containing:
                "data/x/train-labels-idx1-ubyte: label 11 at index 5 (byte 13) is outside 0..9")
        XCTAssertEqual(try IDX.decodeLabels(bytes, classCount: 12, path: "l").count, 8)
    }

    /// Random truncations and byte changes of valid files must give either a result that agrees
    /// with its header or a DataError, never a crash.
    func testMutatedFilesNeverCrash() throws {
        let valid = idxBytes(
            magic: 0x803, dimensions: [3, 4, 5], payload: [UInt8](repeating: 7, count: 60))
        let refusals = try countRefusals(damagedCopies(of: valid, count: 3000, seed: 5)) { bytes in
            let images = try IDX.decodeImages(bytes, path: path)
            XCTAssertEqual(images.pixels.count, images.count * images.rows * images.cols)
        }
        XCTAssertGreaterThan(refusals, 1000, "most damage should be caught")
    }
}
