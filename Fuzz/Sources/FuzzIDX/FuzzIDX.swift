import Core
import FuzzSupport

// Fuzzes the IDX readers on file bytes as stored, raw or gzip'd: each input is read both as an image
// file and as a label file. Properties: no trap, no hang, and no allocation beyond what the input
// justifies — a header announcing huge dimensions is refused before anything is allocated for it, and
// a gzip stream stops at the byte limit (64 MiB here, so -rss_limit_mb catches a limit not kept).

private let inflatedByteLimit = 64 << 20

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(idxSeeds)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    if let images = try? IDX.decodeImageFile(bytes, path: "fuzz", byteLimit: inflatedByteLimit),
       images.pixels.count != images.count * images.rows * images.cols {
        fuzzFailure("\(images.count)x\(images.rows)x\(images.cols) images hold \(images.pixels.count) pixels")
    }
    if let labels = try? IDX.decodeLabelFile(bytes, path: "fuzz", byteLimit: inflatedByteLimit),
       let bad = labels.first(where: { $0 >= 10 }) {
        fuzzFailure("label \(bad) accepted")
    }
    return 0
}

/// The first images and labels of MNIST's test set (GLASSBOX_DATA), re-headed for their count, and
/// two tiny hand-made files; `scripts/fuzz_seeds.sh` adds a gzip'd copy of each.
private func idxSeeds() throws -> [(name: String, bytes: [UInt8])] {
    func bigEndian(_ values: [Int]) -> [UInt8] {
        values.flatMap { v in (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    }
    var seeds: [(name: String, bytes: [UInt8])] = [
        ("tiny-images", bigEndian([Int(IDX.imagesMagic), 2, 2, 2]) + [0, 255, 17, 3, 9, 8, 7, 6]),
        ("tiny-labels", bigEndian([Int(IDX.labelsMagic), 3]) + [0, 9, 5]),
    ]
    if let directory = mnistDirectory {
        let images = try IDX.readImages(at: directory + "/t10k-images-idx3-ubyte")
        let labels = try IDX.readLabels(at: directory + "/t10k-labels-idx1-ubyte")
        let count = 3
        let pixels = images.pixels.prefix(count * images.rows * images.cols)
        seeds.append(("mnist-images", bigEndian([Int(IDX.imagesMagic), count, images.rows, images.cols]) + pixels))
        seeds.append(("mnist-labels", bigEndian([Int(IDX.labelsMagic), 100]) + labels.prefix(100)))
    }
    return seeds
}
