import Foundation

/// Labelled greyscale images held in memory, one byte per pixel and per label (MNIST's layout).
public struct LabeledImages: Sendable {
    /// Number of images (and labels).
    public let count: Int
    /// Pixel rows per image.
    public let rows: Int
    /// Pixel columns per image.
    public let cols: Int
    /// count*rows*cols intensities 0...255, image after image, each row-major.
    public let pixels: [UInt8]
    /// One class label per image.
    public let labels: [UInt8]

    /// Pixels in one image.
    public var pixelsPerImage: Int { rows * cols }

    /// Images of rows x cols pixels; `pixels` must hold labels.count * rows * cols values.
    public init(rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(
            rows > 0 && cols > 0, "images must have at least one pixel, got \(rows)x\(cols)")
        precondition(
            pixels.count == labels.count * rows * cols,
            "\(pixels.count) pixels do not make \(labels.count) images of \(rows)x\(cols)")
        count = labels.count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
    }

    /// Writes image `sample`'s pixels scaled to [0, 1] (pixel / 255 in Float, as Keras scales
    /// MNIST) into the first `pixelsPerImage` elements of `destination`.
    public func writeScaledPixels(
        of sample: Int, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(sample >= 0 && sample < count, "sample \(sample) is outside 0..<\(count)")
        precondition(
            destination.count >= pixelsPerImage,
            "destination holds \(destination.count) floats, an image needs \(pixelsPerImage)")
        let start = sample * pixelsPerImage
        LabeledImages.scaledIntensity.withUnsafeBufferPointer { table in
            pixels.withUnsafeBufferPointer { source in
                for i in 0..<pixelsPerImage {
                    destination[i] = table[Int(source[start + i])]
                }
            }
        }
    }

    /// Image `sample`'s pixels scaled to [0, 1] (pixel / 255), row-major.
    public func scaledPixels(of sample: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: pixelsPerImage) { buffer, initialized in
            writeScaledPixels(of: sample, into: buffer)
            initialized = pixelsPerImage
        }
    }

    /// Float(v) / 255 for every byte v: dividing (not multiplying by 1/255) matches Keras's
    /// `x.astype("float32") / 255` to the last bit.
    private static let scaledIntensity: [Float] = (0...255).map { Float($0) / 255 }
}

/// A data set's training and test images, with a name and a fingerprint of its content.
public struct DatasetSplit: Sendable {
    /// The training images.
    public let train: LabeledImages
    /// The test images.
    public let test: LabeledImages
    /// A short name: "mnist", "fashion-mnist", or the directory's last path component.
    public let name: String
    /// SHA-256 (hex) of the four files' uncompressed contents, the same whether the files are
    /// stored raw or gzip'd: the hash of the text `sha256sum` prints for the uncompressed files
    /// in the order train images, train labels, test images, test labels — one line
    /// "<hex digest>  <file name without .gz>\n" per file.
    public let fingerprint: String
    /// The four files it was read from, in fingerprint order, as found on disk (raw or .gz); empty for a
    /// split built in memory. A coordinator sends these to workers that have no data.
    public let files: [String]

    /// A split from parts already in memory.
    public init(train: LabeledImages, test: LabeledImages, name: String, fingerprint: String, files: [String] = []) {
        self.train = train
        self.test = test
        self.name = name
        self.fingerprint = fingerprint
        self.files = files
    }
}

/// Where a data set's four IDX files are: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each raw or with a `.gz` suffix.
public enum DatasetSource: Sendable, Equatable {
    /// Any directory holding the four files.
    case directory(String)
    /// MNIST, as `make data` fetches it.
    case mnist(dataDir: String = "data/mnist")
    /// Fashion-MNIST, as the Debian package `dataset-fashion-mnist` installs it.
    case fashionMNIST

    /// Where the Debian package puts Fashion-MNIST's gzip'd files.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// The four file names (without `.gz`), in the order they enter the fingerprint.
    public static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]

    /// The number of classes every label must fall below.
    public static let classCount = 10

    /// The directory the files are read from.
    public var directory: String {
        switch self {
        case .directory(let path): return path
        case .mnist(let dataDir): return dataDir
        case .fashionMNIST: return DatasetSource.fashionMNISTDirectory
        }
    }

    /// The name the loaded split carries.
    public var name: String {
        switch self {
        case .directory(let path):
            return URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        case .mnist: return "mnist"
        case .fashionMNIST: return "fashion-mnist"
        }
    }

    /// What to do when the files are not there.
    private var installHint: String {
        switch self {
        case .directory:
            return "run `make data` to fetch MNIST, or name a directory that holds them"
        case .mnist: return "run `make data` to fetch MNIST"
        case .fashionMNIST:
            return "install the Debian package dataset-fashion-mnist (`make deps` does)"
        }
    }

    /// Reads, checks and fingerprints the data set. Throws a `DataError` naming the file and the
    /// problem when a file is missing, unreadable or malformed, a label is not below
    /// `classCount`, image and label counts differ, or train and test image sizes differ.
    public static func load(_ source: DatasetSource) throws -> DatasetSplit {
        let directory = source.directory
        let candidates = fileNames.map { name in
            [name, name + ".gz"].map { (directory as NSString).appendingPathComponent($0) }
        }
        let found = candidates.map { $0.first(where: FileManager.default.fileExists(atPath:)) }
        let missing = zip(fileNames, found).filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty else {
            let lookedFor = missing.map { "\($0)[.gz]" }.joined(separator: ", ")
            throw DataError(
                .missingFile, path: directory,
                "missing \(missing.count) of the 4 data set files: looked for \(lookedFor) "
                    + "in \(directory); \(source.installHint)")
        }
        let paths = found.compactMap { $0 }

        var listing = ""
        func readAndHash(_ index: Int) throws -> (bytes: [UInt8], wasGzip: Bool) {
            let content = try FileBytes.readInflatingGzip(paths[index])
            listing += "\(sha256Hex(content.bytes))  \(fileNames[index])\n"
            return content
        }
        func readPair(images imagesIndex: Int) throws -> LabeledImages {
            let imagesContent = try readAndHash(imagesIndex)
            let images = try IDX.decodeImages(
                imagesContent.bytes, path: paths[imagesIndex],
                inflated: imagesContent.wasGzip)
            let labelsContent = try readAndHash(imagesIndex + 1)
            let labels = try IDX.decodeLabels(
                labelsContent.bytes, classCount: classCount,
                path: paths[imagesIndex + 1], inflated: labelsContent.wasGzip)
            guard images.count == labels.count else {
                throw DataError(
                    .mismatch, path: paths[imagesIndex],
                    "image count \(images.count) does not match label count \(labels.count) "
                        + "(\(paths[imagesIndex + 1]))")
            }
            return LabeledImages(
                rows: images.rows, cols: images.cols, pixels: images.pixels, labels: labels)
        }
        let train = try readPair(images: 0)
        let test = try readPair(images: 2)
        guard (test.rows, test.cols) == (train.rows, train.cols) else {
            throw DataError(
                .mismatch, path: paths[2],
                "test images are \(test.rows)x\(test.cols) pixels but training images "
                    + "are \(train.rows)x\(train.cols) (\(paths[0]))")
        }
        return DatasetSplit(
            train: train, test: test, name: source.name, fingerprint: sha256Hex(Array(listing.utf8)),
            files: paths)
    }
}
