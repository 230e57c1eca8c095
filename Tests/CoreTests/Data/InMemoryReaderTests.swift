import Foundation
import XCTest

@testable import Core

/// The readers that take bytes instead of a path (what the fuzz targets in Fuzz/ call) give what the
/// file readers give, and keep the same limits.
final class InMemoryReaderTests: XCTestCase {
    func testIDXFileBytesRawOrGzippedDecodeLikeTheFileReaders() throws {
        let directory = try makeScratchDirectory()
        var rng = SplitMix64(seed: 11, stream: .sampling)
        let pixels = (0..<(6 * 4 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        try writeFile(idxBytes(magic: IDX.imagesMagic, dimensions: [6, 4, 3], payload: pixels), to: directory + "/images")
        try writeFile(idxBytes(magic: IDX.labelsMagic, dimensions: [4], payload: [3, 9, 0, 1]), to: directory + "/labels")
        try gzipWithTool(directory + "/images")
        try gzipWithTool(directory + "/labels")
        for suffix in ["", ".gz"] {
            let images = try IDX.decodeImageFile(try readFile(directory + "/images" + suffix), path: "images")
            XCTAssertEqual(images, try IDX.readImages(at: directory + "/images" + suffix), suffix)
            XCTAssertEqual(images.pixels, pixels, suffix)
            XCTAssertEqual(try IDX.decodeLabelFile(try readFile(directory + "/labels" + suffix), path: "labels"),
                           [3, 9, 0, 1], suffix)
        }
    }

    func testGzipBytesInflatingPastTheLimitAreRefusedNamedByPath() throws {
        let directory = try makeScratchDirectory()
        try writeFile([UInt8](repeating: 0, count: 100_000), to: directory + "/zeros")
        try gzipWithTool(directory + "/zeros")
        let stored = try readFile(directory + "/zeros.gz")
        XCTAssertLessThan(stored.count, 1_000, "gzip of zeros")
        assertDataError(try FileBytes.inflatingGzip(stored, path: "zeros.gz", byteLimit: 10_000),
                        .tooLarge, containing: "more than the 10000-byte limit")
        XCTAssertEqual(try FileBytes.inflatingGzip(stored, path: "zeros.gz").bytes.count, 100_000)
        XCTAssertEqual(try FileBytes.inflatingGzip([1, 2, 3], path: "raw").bytes, [1, 2, 3])
    }

    func testUMAPModelLoadedFromBytesEqualsTheOneLoadedFromItsDirectory() throws {
        var options = quickUMAPOptions(nEpochs: 10, seed: 4)
        options.nNeighbors = 5
        // Five groups of 10 rows, 3 columns each.
        let data: [Float] = (0..<(50 * 3)).map { (i: Int) -> Float in
            let group = Float((i / 3) % 5)
            return 4 * group + Float(i % 7) / 7
        }
        let directory = try makeScratchDirectory() + "/model"
        try UMAP.fit(data: data, rows: 50, dim: 3, options: options).save(to: directory)
        var read: [String] = []
        let fromBytes = try UMAPModel.load(directory: directory, threads: 1) { path in
            read.append((path as NSString).lastPathComponent)
            return try readFile(path)
        }
        let fromFiles = try UMAPModel.load(from: directory, threads: 1)
        XCTAssertEqual(fromBytes.embedding, fromFiles.embedding)
        XCTAssertEqual(fromBytes.neighbors, fromFiles.neighbors)
        XCTAssertEqual(fromBytes.graph, fromFiles.graph)
        XCTAssertEqual(read.first, "umap-model.json")
        XCTAssertTrue(read.contains("data.npy"), "\(read)")
    }
}
