import Foundation
import XCTest

@testable import Core

final class DatasetTests: XCTestCase {
    private func randomImages(_ count: Int, _ rows: Int, _ cols: Int, seed: UInt64) -> LabeledImages {
        var rng = SplitMix64(seed: seed, stream: .sampling)
        let pixels = (0..<(count * rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<count).map { _ in UInt8(rng.next() % 10) }
        return LabeledImages(rows: rows, cols: cols, pixels: pixels, labels: labels)
    }

    /// Writes the four IDX files of `train` and `test` to `directory`; the names in `gzipped` are
    /// then compressed with the gzip tool (the raw file removed).
    private func writeDataset(
        _ train: LabeledImages, _ test: LabeledImages, to directory: String,
        gzipped: Set<String> = []
    ) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        let files: [(String, [UInt8])] = [
            (
                "train-images-idx3-ubyte",
                idxBytes(
                    magic: 0x803,
                    dimensions: [train.count, train.rows, train.cols].map(UInt32.init),
                    payload: train.pixels)
            ),
            (
                "train-labels-idx1-ubyte",
                idxBytes(magic: 0x801, dimensions: [UInt32(train.count)], payload: train.labels)
            ),
            (
                "t10k-images-idx3-ubyte",
                idxBytes(
                    magic: 0x803, dimensions: [test.count, test.rows, test.cols].map(UInt32.init),
                    payload: test.pixels)
            ),
            (
                "t10k-labels-idx1-ubyte",
                idxBytes(magic: 0x801, dimensions: [UInt32(test.count)], payload: test.labels)
            ),
        ]
        for (name, bytes) in files {
            try writeFile(bytes, to: directory + "/" + name)
            if gzipped.contains(name) {
                try gzipWithTool(directory + "/" + name, keepOriginal: false)
            }
        }
    }

    private func assertSameImages(
        _ a: LabeledImages, _ b: LabeledImages, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(
            [a.count, a.rows, a.cols], [b.count, b.rows, b.cols], file: file, line: line)
        XCTAssertEqual(a.pixels, b.pixels, file: file, line: line)
        XCTAssertEqual(a.labels, b.labels, file: file, line: line)
    }

    func testRawGzippedAndMixedDirectoriesLoadTheSameDataAndFingerprint() throws {
        let root = try makeScratchDirectory()
        let train = randomImages(40, 6, 5, seed: 1)
        let test = randomImages(9, 6, 5, seed: 2)
        let allNames = Set(DatasetSource.fileNames)
        try writeDataset(train, test, to: root + "/raw")
        try writeDataset(train, test, to: root + "/gz", gzipped: allNames)
        try writeDataset(
            train, test, to: root + "/mixed",
            gzipped: ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"])
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: root + "/gz/t10k-labels-idx1-ubyte.gz"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/gz/t10k-labels-idx1-ubyte"))

        let splits = try ["raw", "gz", "mixed"].map {
            try DatasetSource.load(.directory(root + "/" + $0))
        }
        for split in splits {
            assertSameImages(split.train, train)
            assertSameImages(split.test, test)
            XCTAssertEqual(split.fingerprint, splits[0].fingerprint)
        }
        XCTAssertEqual(splits.map(\.name), ["raw", "gz", "mixed"])
        XCTAssertEqual(splits[0].fingerprint.count, 64)
    }

    /// The fingerprint is documented as the SHA-256 of `sha256sum`'s listing of the four files.
    func testFingerprintIsTheHashOfTheSha256sumListing() throws {
        let directory = try makeScratchDirectory() + "/set"
        try writeDataset(randomImages(12, 3, 4, seed: 3), randomImages(5, 3, 4, seed: 4), to: directory)
        let listing = try runTool(["sha256sum"] + DatasetSource.fileNames, in: directory)
        guard listing.status == 0 else {
            throw XCTSkip("sha256sum is not available: \(listing.stderr)")
        }
        XCTAssertEqual(
            try DatasetSource.load(.directory(directory)).fingerprint,
            sha256Hex(Array(listing.stdout.utf8)))
    }

    func testFingerprintChangesWhenOnePixelChanges() throws {
        let root = try makeScratchDirectory()
        let train = randomImages(10, 4, 4, seed: 5)
        let test = randomImages(3, 4, 4, seed: 6)
        var pixels = test.pixels
        pixels[17] ^= 1
        let changed = LabeledImages(rows: 4, cols: 4, pixels: pixels, labels: test.labels)
        try writeDataset(train, test, to: root + "/a")
        try writeDataset(train, changed, to: root + "/b")
        XCTAssertNotEqual(
            try DatasetSource.load(.directory(root + "/a")).fingerprint,
            try DatasetSource.load(.directory(root + "/b")).fingerprint)
    }

    func testMissingFilesAreListedWithTheFixToRun() throws {
        let directory = try makeScratchDirectory()
        try writeFile(
            idxBytes(magic: 0x801, dimensions: [1], payload: [0]),
            to: directory + "/train-labels-idx1-ubyte.gz")
        XCTAssertThrowsError(try DatasetSource.load(.mnist(dataDir: directory))) { error in
            XCTAssertEqual(
                error as? DataError,
                DataError(
                    .missingFile, path: directory,
                    "missing 3 of the 4 data set files: looked for train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                        + "t10k-labels-idx1-ubyte[.gz] in \(directory); run `make data` to fetch MNIST"
                ))
        }
        XCTAssertThrowsError(try DatasetSource.load(.directory(directory + "/absent"))) { error in
            XCTAssertTrue("\(error)".contains("missing 4 of the 4"), "\(error)")
            XCTAssertTrue("\(error)".contains("make data"), "\(error)")
        }
    }

    func testImageAndLabelCountsMustAgree() throws {
        let directory = try makeScratchDirectory() + "/set"
        let train = randomImages(6, 2, 2, seed: 7)
        try writeDataset(train, randomImages(2, 2, 2, seed: 8), to: directory)
        try writeFile(
            idxBytes(magic: 0x801, dimensions: [5], payload: Array(train.labels.prefix(5))),
            to: directory + "/train-labels-idx1-ubyte")
        XCTAssertThrowsError(try DatasetSource.load(.directory(directory))) { error in
            XCTAssertEqual(
                error as? DataError,
                DataError(
                    .mismatch, path: directory + "/train-images-idx3-ubyte",
                    "image count 6 does not match label count 5 (\(directory)/train-labels-idx1-ubyte)"
                ))
        }
    }

    func testBadLabelInAGzippedFileIsReportedWithItsPath() throws {
        let directory = try makeScratchDirectory() + "/set"
        let bad = LabeledImages(
            rows: 2, cols: 2, pixels: [UInt8](repeating: 1, count: 12), labels: [3, 10, 4])
        try writeDataset(
            randomImages(4, 2, 2, seed: 9), bad, to: directory,
            gzipped: ["t10k-labels-idx1-ubyte"])
        XCTAssertThrowsError(try DatasetSource.load(.directory(directory))) { error in
            XCTAssertEqual(
                "\(error)",
                "\(directory)/t10k-labels-idx1-ubyte.gz: label 10 at index 1 (byte 9) is outside 0..9"
            )
        }
    }

    func testTrainAndTestImageSizesMustAgree() throws {
        let directory = try makeScratchDirectory() + "/set"
        try writeDataset(randomImages(4, 3, 3, seed: 10), randomImages(2, 3, 2, seed: 11), to: directory)
        XCTAssertThrowsError(try DatasetSource.load(.directory(directory))) { error in
            XCTAssertEqual((error as? DataError)?.kind, .mismatch)
            XCTAssertTrue(
                "\(error)".contains("test images are 3x2 pixels but training images are 3x3"),
                "\(error)")
        }
    }

    func testScaledPixelsAreKerasScalingAndStayInsideTheImage() {
        let images = LabeledImages(
            rows: 2, cols: 2, pixels: [0, 1, 128, 255, 7, 8, 9, 10], labels: [1, 2])
        XCTAssertEqual(images.scaledPixels(of: 0), [0, Float(1) / 255, Float(128) / 255, 1])
        XCTAssertEqual(images.scaledPixels(of: 1), [7, 8, 9, 10].map { Float($0) / 255 })
        var buffer = [Float](repeating: -1, count: 6)
        buffer.withUnsafeMutableBufferPointer {
            images.writeScaledPixels(of: 1, into: UnsafeMutableBufferPointer(rebasing: $0[1...]))
        }
        XCTAssertEqual(
            buffer, [-1, Float(7) / 255, Float(8) / 255, Float(9) / 255, Float(10) / 255, -1])
    }

    func testSourcesNameTheirDirectories() {
        XCTAssertEqual(DatasetSource.mnist().directory, "data/mnist")
        XCTAssertEqual(DatasetSource.fashionMNIST.directory, "/usr/share/datasets/fashion-mnist")
        XCTAssertEqual(DatasetSource.directory("/tmp/some/set/").name, "set")
        XCTAssertEqual(DatasetSource.mnist(dataDir: "/x").name, "mnist")
    }

    /// The real MNIST, from the directory in GLASSBOX_DATA (`make test` sets it).
    func testRealMNISTHasKnownCountsHistogramMeanAndChecksum() throws {
        guard let directory = ProcessInfo.processInfo.environment["GLASSBOX_DATA"],
            FileManager.default.fileExists(atPath: directory)
        else { throw XCTSkip("GLASSBOX_DATA is not set or does not exist") }
        let split = try DatasetSource.load(.mnist(dataDir: directory))
        XCTAssertEqual([split.train.count, split.train.rows, split.train.cols], [60000, 28, 28])
        XCTAssertEqual([split.test.count, split.test.rows, split.test.cols], [10000, 28, 28])
        XCTAssertEqual(
            histogram(split.train.labels),
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        XCTAssertEqual(
            histogram(split.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let mean =
            Double(split.train.pixels.reduce(0) { $0 + Int($1) }) / Double(split.train.pixels.count)
        XCTAssertEqual(mean, 33.3184, accuracy: 0.00005)

        // The published checksums validate SHA256 on real data, and pin the fingerprint.
        let checksums = try checksumFile()
        let labelsPath = directory + "/train-labels-idx1-ubyte"
        if FileManager.default.fileExists(atPath: labelsPath) {
            XCTAssertEqual(
                sha256Hex(try readFile(labelsPath)), checksums["train-labels-idx1-ubyte"])
        }
        let listing = DatasetSource.fileNames.map { "\(checksums[$0]!)  \($0)\n" }.joined()
        XCTAssertEqual(split.fingerprint, sha256Hex(Array(listing.utf8)))
    }

    func testFashionMNISTLoadsFromTheDebianPackage() throws {
        guard FileManager.default.fileExists(atPath: DatasetSource.fashionMNISTDirectory) else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let split = try DatasetSource.load(.fashionMNIST)
        XCTAssertEqual(split.name, "fashion-mnist")
        XCTAssertEqual([split.train.count, split.train.rows, split.train.cols], [60000, 28, 28])
        XCTAssertEqual(split.test.count, 10000)
        XCTAssertEqual(histogram(split.train.labels), [Int](repeating: 6000, count: 10))
        XCTAssertEqual(histogram(split.test.labels), [Int](repeating: 1000, count: 10))
    }

    private func histogram(_ labels: [UInt8]) -> [Int] {
        labels.reduce(into: [Int](repeating: 0, count: 10)) { $0[Int($1)] += 1 }
    }

    /// data-checksums/MNIST-SHA256 of this repository: file name to SHA-256 hex.
    private func checksumFile() throws -> [String: String] {
        // The checkout's root: the nearest folder above this file that holds Package.swift.
        var repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: repository.appendingPathComponent("Package.swift").path),
              repository.path != "/" {
            repository.deleteLastPathComponent()
        }
        let text = try String(
            contentsOf: repository.appendingPathComponent("data-checksums/MNIST-SHA256"),
            encoding: .utf8)
        var sums: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields.count >= 2 { sums[String(fields[1])] = String(fields[0]) }
        }
        XCTAssertEqual(sums.count, 4, "checksum file should list the four MNIST files")
        return sums
    }
}
