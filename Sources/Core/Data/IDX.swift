// IDX, the file format of MNIST (yann.lecun.com/exdb/mnist): a big-endian magic number — two zero
// bytes, a type byte (0x08 = unsigned byte), a dimension count — then one big-endian UInt32 size
// per dimension, then the values in row-major order. Images are (n, rows, cols), labels (n).

/// Readers for IDX files holding unsigned bytes, raw or gzip-compressed.
public enum IDX {
    /// The magic number of an image file: unsigned bytes, 3 dimensions (count, rows, cols).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// The magic number of a label file: unsigned bytes, 1 dimension (count).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// The contents of an image file.
    public struct Images: Sendable, Equatable {
        /// Number of images.
        public let count: Int
        /// Pixel rows per image.
        public let rows: Int
        /// Pixel columns per image.
        public let cols: Int
        /// count*rows*cols pixel intensities, image after image, each row-major.
        public let pixels: [UInt8]
    }

    /// Reads the image file at `path` (raw or gzip'd).
    public static func readImages(at path: String) throws -> Images {
        try decodeImageFile(FileBytes.read(path), path: path)
    }

    /// Reads the label file at `path` (raw or gzip'd); every label must lie in 0..<classCount.
    public static func readLabels(at path: String, classCount: Int = 10) throws -> [UInt8] {
        try decodeLabelFile(FileBytes.read(path), classCount: classCount, path: path)
    }

    /// Decodes the bytes of an image file as stored, raw or gzip'd (inflating to at most
    /// `byteLimit` bytes); `path` only goes into error messages.
    public static func decodeImageFile(
        _ stored: [UInt8], path: String, byteLimit: Int = FileBytes.defaultByteLimit
    ) throws -> Images {
        let (bytes, wasGzip) = try FileBytes.inflatingGzip(stored, path: path, byteLimit: byteLimit)
        return try decodeImages(bytes, path: path, inflated: wasGzip)
    }

    /// Decodes the bytes of a label file as stored, raw or gzip'd (inflating to at most
    /// `byteLimit` bytes); every label must lie in 0..<classCount.
    public static func decodeLabelFile(
        _ stored: [UInt8], classCount: Int = 10, path: String,
        byteLimit: Int = FileBytes.defaultByteLimit
    ) throws -> [UInt8] {
        let (bytes, wasGzip) = try FileBytes.inflatingGzip(stored, path: path, byteLimit: byteLimit)
        return try decodeLabels(bytes, classCount: classCount, path: path, inflated: wasGzip)
    }

    /// Decodes the content of an image file; `path` and `inflated` (whether the content came out
    /// of gzip) only go into error messages.
    public static func decodeImages(
        _ bytes: [UInt8], path: String, inflated: Bool = false
    ) throws -> Images {
        let layout = try Layout(
            bytes, magic: imagesMagic, path: path, inflated: inflated, unit: "pixel")
        let dims = layout.dimensions
        return Images(
            count: dims[0], rows: dims[1], cols: dims[2],
            pixels: Array(bytes[layout.headerByteCount...]))
    }

    /// Decodes the content of a label file and checks every label lies in 0..<classCount; `path`
    /// and `inflated` only go into error messages.
    public static func decodeLabels(
        _ bytes: [UInt8], classCount: Int = 10, path: String, inflated: Bool = false
    ) throws -> [UInt8] {
        let layout = try Layout(
            bytes, magic: labelsMagic, path: path, inflated: inflated, unit: "label")
        let labels = Array(bytes[layout.headerByteCount...])
        if let index = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError(
                .badValue, path: path,
                "label \(labels[index]) at index \(index) (byte \(layout.headerByteCount + index)) "
                    + "is outside 0..\(classCount - 1)")
        }
        return labels
    }

    /// A validated header: the magic is the expected one, no dimension is zero, and exactly
    /// product(dimensions) value bytes follow it.
    private struct Layout {
        let dimensions: [Int]
        let headerByteCount: Int

        init(_ bytes: [UInt8], magic: UInt32, path: String, inflated: Bool, unit: String) throws {
            let fileNoun = inflated ? "inflated file" : "file"
            guard bytes.count >= 4 else {
                throw DataError(
                    .truncated, path: path,
                    "truncated: \(fileNoun) has \(bytes.count) bytes, fewer than the 4-byte magic number"
                )
            }
            let found = bigEndianUInt32(bytes, at: 0)
            guard found == magic else {
                var message =
                    "bad magic 0x\(hexString(found)) at byte 0, expected 0x\(hexString(magic)) (\(describeMagic(magic)!))"
                if let meaning = describeMagic(found) {
                    message += "; found means \(meaning)"
                }
                throw DataError(.badMagic, path: path, message)
            }
            let rank = Int(magic & 0xff)
            headerByteCount = 4 + 4 * rank
            guard bytes.count >= headerByteCount else {
                throw DataError(
                    .truncated, path: path,
                    "truncated: a \(rank)-dimension header needs \(headerByteCount) bytes, "
                        + "\(fileNoun) has \(bytes.count)")
            }
            dimensions = (0..<rank).map { Int(bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
            let shape = dimensions.map(String.init).joined(separator: "x")
            if let zero = dimensions.firstIndex(of: 0) {
                throw DataError(
                    .badHeader, path: path,
                    "dimension \(zero) (byte \(4 + 4 * zero)) is zero: header says \(shape)")
            }
            // Dimensions are below 2^32 each, so the product can overflow Int only for rank >= 2.
            var valueCount = 1
            for d in dimensions {
                let (product, overflow) = valueCount.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw DataError(
                        .badHeader, path: path,
                        "header says \(shape) \(unit)s, more than can be addressed")
                }
                valueCount = product
            }
            let payload = bytes.count - headerByteCount
            let claim =
                rank == 1
                ? "header says \(valueCount) \(unit) bytes after the \(headerByteCount)-byte header"
                : "header says \(shape) = \(valueCount) \(unit) bytes after the \(headerByteCount)-byte header"
            if payload < valueCount {
                throw DataError(
                    .truncated, path: path,
                    "truncated: \(claim), \(fileNoun) has \(payload) (at byte \(bytes.count))")
            }
            if payload > valueCount {
                throw DataError(
                    .trailingBytes, path: path,
                    "trailing bytes: \(claim), \(fileNoun) has \(payload) "
                        + "(\(payload - valueCount) extra from byte \(headerByteCount + valueCount))"
                )
            }
        }
    }
}

private func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
}

/// "unsigned byte, 3 dimensions" for 0x00000803; nil for numbers that are not IDX magic numbers.
private func describeMagic(_ magic: UInt32) -> String? {
    let types: [UInt32: String] = [
        0x08: "unsigned byte", 0x09: "signed byte", 0x0b: "short", 0x0c: "int", 0x0d: "float",
        0x0e: "double",
    ]
    guard magic >> 16 == 0, let type = types[(magic >> 8) & 0xff] else { return nil }
    let rank = magic & 0xff
    return "\(type), \(rank) dimension" + (rank == 1 ? "" : "s")
}
