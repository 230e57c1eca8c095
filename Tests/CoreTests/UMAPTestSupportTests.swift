import XCTest
@testable import Core

/// Options for quick fits in tests: 15 neighbours, `nEpochs` SGD epochs.
func quickUMAPOptions(nEpochs: Int, seed: UInt64) -> UMAPOptions {
    var o = UMAPOptions()
    o.nNeighbors = 15
    o.nEpochs = nEpochs
    o.seed = seed
    return o
}

/// Real MNIST from the raw IDX files at $GLASSBOX_DATA (default /work/main/data/mnist): images have a
/// 16-byte header then rows x 784 bytes, labels an 8-byte header then one byte per row.
struct MNISTSample {
    enum Split { case train, test }
    let rows: Int
    /// (rows, 784) pixels scaled to [0, 1].
    let pixels: [Float]
    let labels: [Int32]

    static var directory: String {
        ProcessInfo.processInfo.environment["GLASSBOX_DATA"] ?? "/work/main/data/mnist"
    }

    static func load(split: Split, limit: Int? = nil) -> MNISTSample? {
        let prefix = split == .train ? "train" : "t10k"
        guard let images = FileManager.default.contents(atPath: "\(directory)/\(prefix)-images-idx3-ubyte"),
              let labels = FileManager.default.contents(atPath: "\(directory)/\(prefix)-labels-idx1-ubyte"),
              images.count > 16, labels.count > 8 else { return nil }
        let available = min((images.count - 16) / 784, labels.count - 8)
        let rows = min(limit ?? available, available)
        let pixels = images.withUnsafeBytes { (b: UnsafeRawBufferPointer) in (0..<(rows * 784)).map { Float(b[16 + $0]) / 255 } }
        let y = labels.withUnsafeBytes { (b: UnsafeRawBufferPointer) in (0..<rows).map { Int32(b[8 + $0]) } }
        return MNISTSample(rows: rows, pixels: pixels, labels: y)
    }
}

/// Well-separated Gaussian blobs: `clusters` centres drawn N(0, separation²) per coordinate, points
/// N(centre, 1). Rows are interleaved (row i belongs to cluster i % clusters).
func gaussianBlobs(clusters: Int, perCluster: Int, dim: Int, separation: Double = 10, seed: UInt64 = 1)
    -> (data: [Float], labels: [Int32]) {
    var g = SplitMix64(seed: seed, stream: .sampling, 1)
    let centres = (0..<(clusters * dim)).map { _ in g.nextGaussian() * separation }
    let rows = clusters * perCluster
    var data = [Float](repeating: 0, count: rows * dim)
    var labels = [Int32](repeating: 0, count: rows)
    for r in 0..<rows {
        let c = r % clusters
        labels[r] = Int32(c)
        for d in 0..<dim { data[r * dim + d] = Float(centres[c * dim + d] + g.nextGaussian()) }
    }
    return (data, labels)
}

final class UMAPTestSupportTests: XCTestCase {
    func testBlobGeneratorMakesSeparatedClusters() {
        let (data, labels) = gaussianBlobs(clusters: 3, perCluster: 20, dim: 10)
        XCTAssertEqual(data.count, 600)
        XCTAssertEqual(labels[4], 1)
    }
}
