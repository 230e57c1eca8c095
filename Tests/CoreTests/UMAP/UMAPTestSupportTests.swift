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

/// Real MNIST from the raw IDX files in $GLASSBOX_DATA (`make test` sets it): images have a 16-byte
/// header then rows x 784 bytes, labels an 8-byte header then one byte per row. Tests skip without it.
struct MNISTSample {
    enum Split { case train, test }
    let rows: Int
    /// (rows, 784) pixels scaled to [0, 1].
    let pixels: [Float]
    let labels: [Int32]

    /// Where the files are looked for, for skip messages.
    static var directory: String {
        ProcessInfo.processInfo.environment["GLASSBOX_DATA"] ?? "$GLASSBOX_DATA (not set)"
    }

    /// The first `limit` rows of the split, or nil when GLASSBOX_DATA is not set or lacks the files.
    static func load(split: Split, limit: Int? = nil) -> MNISTSample? {
        guard let directory = ProcessInfo.processInfo.environment["GLASSBOX_DATA"] else { return nil }
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
        let dim = 10
        let (data, labels) = gaussianBlobs(clusters: 3, perCluster: 20, dim: dim)
        XCTAssertEqual(data.count, 3 * 20 * dim)
        XCTAssertEqual(labels[4], 1, "rows are interleaved: row i is in cluster i % 3")
        func distance(_ i: Int, _ j: Int) -> Float {
            (0..<dim).reduce(0) { $0 + (data[i * dim + $1] - data[j * dim + $1]) * (data[i * dim + $1] - data[j * dim + $1]) }
                .squareRoot()
        }
        // Separated: every point is nearer to every point of its own cluster than to any of another.
        var maxWithin: Float = 0, minBetween = Float.infinity
        for i in 0..<labels.count {
            for j in (i + 1)..<labels.count {
                if labels[i] == labels[j] { maxWithin = max(maxWithin, distance(i, j)) }
                else { minBetween = min(minBetween, distance(i, j)) }
            }
        }
        XCTAssertLessThan(maxWithin, minBetween, "largest within-cluster distance \(maxWithin), smallest between \(minBetween)")
    }
}
