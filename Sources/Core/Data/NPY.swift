import Foundation

// NumPy's .npy format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte, a
// little-endian header length (UInt16 in version 1, UInt32 in versions 2 and 3), then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and ended
// by '\n' so the data starts on a multiple of 64 bytes, then the array's bytes.

/// An array read from or written to a .npy file, as Float values in C (row-major) order.
public struct NPYArray: Sendable, Equatable {
    /// Dimension sizes; [] is a scalar.
    public var shape: [Int]
    /// product(shape) values, row-major.
    public var values: [Float]

    /// An array; `values.count` should equal the product of `shape` (checked when written).
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// Reading and writing NumPy .npy files. Writes float32 (`<f4`) and int32 (`<i4`); reads `<f4`, `<f8`, `<i8`,
/// `<i4` and `|u1`, converting to Float, in C order only.
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    private static let readableTypes: [String: StoredElement] = [
        "<f4": .float32, "<f8": .float64, "<i8": .int64, "<i4": .int32, "|u1": .uint8,
        "<u1": .uint8,
    ]

    /// Writes `array` to `path` as float32, atomically.
    public static func write(_ array: NPYArray, to path: String) throws {
        try FileBytes.writeAtomically(encode(array, path: path), to: path)
    }

    /// Reads the .npy file at `path`.
    public static func read(from path: String) throws -> NPYArray {
        try decode(FileBytes.read(path), path: path)
    }

    /// Writes `values` to `path` as int32 (`<i4`, what NumPy reads as an integer array), atomically:
    /// class labels and predictions, which a float file would make awkward to index with.
    public static func writeInt32(_ values: [Int32], shape: [Int], to path: String) throws {
        guard let count = elementCount(shape), count == values.count else {
            throw DataError(
                .invalidArgument, path: path,
                "shape \(pythonTuple(shape)) does not hold \(values.count) values")
        }
        var bytes = preamble(descr: "<i4", shape: shape)
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values {
            let bits = UInt32(bitPattern: value)
            bytes += [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                      UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)]
        }
        try FileBytes.writeAtomically(bytes, to: path)
    }

    /// The bytes `write` puts in a file (version 1.0, or 2.0 if the header needs it). `path`
    /// only goes into error messages.
    public static func encode(_ array: NPYArray, path: String) throws -> [UInt8] {
        guard let count = elementCount(array.shape), count == array.values.count else {
            throw DataError(
                .invalidArgument, path: path,
                "shape \(pythonTuple(array.shape)) does not hold \(array.values.count) values")
        }
        var bytes = preamble(descr: "<f4", shape: array.shape)
        appendLittleEndianFloat32(array.values, to: &bytes)
        return bytes
    }

    /// Magic, version, header length and the padded header dict of an array of `descr` elements.
    private static func preamble(descr: String, shape: [Int]) -> [UInt8] {
        let dict = Array(
            "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(pythonTuple(shape)), }".utf8)
        // Version 1 stores the header length in 2 bytes; only a very long shape needs version 2.
        var version: UInt8 = 1
        var header = padded(dict, preambleByteCount: magic.count + 4)
        if header.count > Int(UInt16.max) {
            version = 2
            header = padded(dict, preambleByteCount: magic.count + 6)
        }
        var bytes = magic + [version, 0]
        bytes += (0..<(version == 1 ? 2 : 4)).map {
            UInt8(truncatingIfNeeded: header.count >> (8 * $0))
        }
        return bytes + header
    }

    /// Decodes the content of a .npy file. `path` only goes into error messages.
    public static func decode(_ bytes: [UInt8], path: String) throws -> NPYArray {
        guard bytes.count >= magic.count + 4 else {
            throw DataError(
                .truncated, path: path,
                "truncated: \(bytes.count) bytes, too short for a .npy header")
        }
        guard bytes.starts(with: magic) else {
            let found = bytes.prefix(6).map { String($0, radix: 16) }.joined(separator: " ")
            throw DataError(
                .badMagic, path: path,
                "bad magic (bytes \(found)), expected \\x93NUMPY: not a .npy file")
        }
        let major = bytes[6]
        guard (1...3).contains(major) else {
            throw DataError(
                .badHeader, path: path,
                "unsupported .npy version \(major).\(bytes[7]); versions 1 to 3 are read")
        }
        let lengthBytes = major == 1 ? 2 : 4
        let dictStart = magic.count + 2 + lengthBytes
        guard bytes.count >= dictStart else {
            throw DataError(
                .truncated, path: path,
                "truncated: \(bytes.count) bytes, too short for a .npy header")
        }
        let dictLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let dataStart = dictStart + dictLength
        guard dataStart <= bytes.count else {
            throw DataError(
                .truncated, path: path,
                "truncated: the header says it is \(dictLength) bytes long, "
                    + "the file has \(bytes.count - dictStart) after the length")
        }
        let header = try NPYHeader(bytes[dictStart..<dataStart], path: path)
        guard let element = readableTypes[header.descr] else {
            throw DataError(
                .unsupportedType, path: path,
                "unsupported dtype '\(header.descr)'; readable: <f4, <f8, <i8, <i4, |u1")
        }
        guard !header.fortranOrder else {
            throw DataError(
                .unsupportedType, path: path,
                "Fortran-order (column-major) arrays are not supported; save np.ascontiguousarray(a)"
            )
        }
        let shapeText = pythonTuple(header.shape)
        guard let needed = storedByteCount(header.shape, element) else {
            throw DataError(
                .badHeader, path: path, "shape \(shapeText) has more elements than can be addressed"
            )
        }
        let available = bytes.count - dataStart
        let claim =
            "shape \(shapeText) of \(header.descr) needs \(needed) bytes after the \(dataStart)-byte header"
        if available < needed {
            throw DataError(
                .truncated, path: path, "truncated data: \(claim), file has \(available)")
        }
        if available > needed {
            throw DataError(
                .trailingBytes, path: path, "trailing bytes: \(claim), file has \(available)")
        }
        return NPYArray(
            shape: header.shape,
            values: decodeLittleEndian(
                bytes, at: dataStart, count: needed / element.byteCount, as: element))
    }
}

/// `dict` padded with spaces and ended by a newline so that the data after it starts at a multiple
/// of 64 bytes.
private func padded(_ dict: [UInt8], preambleByteCount: Int) -> [UInt8] {
    let used = preambleByteCount + dict.count + 1
    return dict + [UInt8](repeating: UInt8(ascii: " "), count: (64 - used % 64) % 64) + [
        UInt8(ascii: "\n")
    ]
}

/// "()", "(3,)" or "(3, 4)": a shape as Python writes a tuple.
private func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// The three fields of a .npy header, parsed from its Python dict literal. Only the literals
/// numpy writes are understood: strings, True/False, integers and tuples of integers.
private struct NPYHeader {
    let descr: String
    let fortranOrder: Bool
    let shape: [Int]

    private enum Literal {
        case string(String)
        case bool(Bool)
        case int(Int)
        case tuple([Literal])
    }

    init(_ text: ArraySlice<UInt8>, path: String) throws {
        var scanner = Scanner(text: Array(text), path: path)
        let fields = try scanner.dictionary()
        func field(_ key: String) throws -> Literal {
            guard let value = fields[key] else {
                throw scanner.failure("the header has no '\(key)' key")
            }
            return value
        }
        if let extra = fields.keys.first(where: {
            !["descr", "fortran_order", "shape"].contains($0)
        }) {
            throw scanner.failure("the header has an unexpected key '\(extra)'")
        }
        guard case .string(let descr) = try field("descr") else {
            throw scanner.failure("'descr' is not a string")
        }
        guard case .bool(let fortranOrder) = try field("fortran_order") else {
            throw scanner.failure("'fortran_order' is not True or False")
        }
        guard case .tuple(let dims) = try field("shape") else {
            throw scanner.failure("'shape' is not a tuple")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let size) = dim, size >= 0 else {
                throw scanner.failure("'shape' holds something other than non-negative integers")
            }
            shape.append(size)
        }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    private struct Scanner {
        let text: [UInt8]
        let path: String
        var index = 0

        init(text: [UInt8], path: String) {
            self.text = text
            self.path = path
        }

        func failure(_ problem: String) -> DataError {
            let shown = String(decoding: text.prefix(200), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            return DataError(
                .badHeader, path: path, "bad .npy header: \(problem) (header: \(shown))")
        }

        mutating func dictionary() throws -> [String: Literal] {
            try expect("{")
            var fields: [String: Literal] = [:]
            while try peek() != UInt8(ascii: "}") {
                guard case .string(let key) = try literal() else {
                    throw failure("a key is not a string")
                }
                try expect(":")
                fields[key] = try literal()
                if try peek() == UInt8(ascii: ",") { index += 1 } else { break }
            }
            try expect("}")
            return fields
        }

        private mutating func literal() throws -> Literal {
            let first = try peek()
            switch first {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                index += 1
                guard let end = text[index...].firstIndex(of: first) else {
                    throw failure("a string is not closed")
                }
                defer { index = end + 1 }
                return .string(String(decoding: text[index..<end], as: UTF8.self))
            case UInt8(ascii: "("):
                index += 1
                var items: [Literal] = []
                while try peek() != UInt8(ascii: ")") {
                    items.append(try literal())
                    if try peek() == UInt8(ascii: ",") { index += 1 } else { break }
                }
                try expect(")")
                return .tuple(items)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digits = text[index...].prefix {
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                }
                index += digits.count
                if index < text.count, text[index] == UInt8(ascii: "L") { index += 1 }  // Python 2's long
                guard let value = Int(String(decoding: digits, as: UTF8.self)) else {
                    throw failure(
                        "the integer \(String(decoding: digits, as: UTF8.self)) is too large")
                }
                return .int(value)
            default:
                for (word, value) in [("True", true), ("False", false)]
                where text[index...].starts(with: word.utf8) {
                    index += word.utf8.count
                    return .bool(value)
                }
                throw failure(
                    "unexpected '\(String(decoding: [first], as: UTF8.self))' at header byte \(index)"
                )
            }
        }

        /// The next byte that is not a space, left unconsumed.
        private mutating func peek() throws -> UInt8 {
            while index < text.count, [UInt8(ascii: " "), UInt8(ascii: "\n")].contains(text[index])
            { index += 1 }
            guard index < text.count else { throw failure("it ends early") }
            return text[index]
        }

        private mutating func expect(_ character: Unicode.Scalar) throws {
            guard try peek() == UInt8(ascii: character) else {
                throw failure("expected '\(character)' at header byte \(index)")
            }
            index += 1
        }
    }
}
