import Foundation

// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N
// bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the tensors' raw
// little-endian bytes, offsets counted from the end of the header.

/// A named array of Float values, row-major.
public struct NamedTensor: Sendable, Equatable {
    /// The tensor's name, unique within a file.
    public var name: String
    /// Dimension sizes; [] is a scalar.
    public var shape: [Int]
    /// product(shape) values, row-major.
    public var values: [Float]

    /// A tensor; `values.count` should equal the product of `shape` (checked when written).
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Reading and writing safetensors files of F32 tensors.
public enum Safetensors {
    /// Headers longer than this (the reference implementation's limit) are refused as corrupt.
    public static let maxHeaderByteCount = 100_000_000

    private static let metadataKey = "__metadata__"

    /// Writes `tensors` (data in the given order) and `metadata` to `path`, atomically.
    public static func write(
        _ tensors: [NamedTensor], metadata: [String: String] = [:], to path: String
    ) throws {
        try FileBytes.writeAtomically(encode(tensors, metadata: metadata, path: path), to: path)
    }

    /// Reads the tensors (in the order of their data in the file) and metadata at `path`.
    public static func read(
        from path: String
    ) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        try decode(FileBytes.read(path), path: path)
    }

    /// The bytes `write` puts in a file; the same tensors and metadata always give the same bytes.
    /// `path` only goes into error messages.
    public static func encode(
        _ tensors: [NamedTensor], metadata: [String: String] = [:], path: String
    ) throws -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map {
                "\(jsonString($0.key)):\(jsonString($0.value))"
            }
            entries.append("\(jsonString(metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var names = Set<String>()
        var offset = 0
        for tensor in tensors {
            guard tensor.name != metadataKey, names.insert(tensor.name).inserted else {
                throw DataError(
                    .invalidArgument, path: path,
                    "tensor name '\(tensor.name)' is reserved or used twice")
            }
            guard let byteCount = storedByteCount(tensor.shape, .float32),
                byteCount == 4 * tensor.values.count
            else {
                throw DataError(
                    .invalidArgument, path: path,
                    "tensor '\(tensor.name)' has shape \(tensor.shape) but \(tensor.values.count) values"
                )
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + byteCount)]}")
            offset += byteCount
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        bytes += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        bytes += header
        for tensor in tensors {
            appendLittleEndianFloat32(tensor.values, to: &bytes)
        }
        return bytes
    }

    /// Decodes the content of a safetensors file, checking the header against the data: the
    /// header length fits the file, the JSON is well formed, every dtype is F32, every tensor's
    /// offsets lie inside the data and span exactly its shape's bytes, and no two tensors overlap.
    /// `path` only goes into error messages.
    public static func decode(
        _ bytes: [UInt8], path: String
    ) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        guard bytes.count >= 8 else {
            throw DataError(
                .truncated, path: path,
                "truncated: \(bytes.count) bytes, fewer than the 8-byte header length")
        }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(maxHeaderByteCount) else {
            throw DataError(
                .badHeader, path: path,
                "header length \(headerLength) is over the \(maxHeaderByteCount)-byte limit: not a safetensors file?"
            )
        }
        let dataStart = 8 + Int(headerLength)
        guard dataStart <= bytes.count else {
            throw DataError(
                .truncated, path: path,
                "truncated: header length says \(headerLength) bytes, the file has \(bytes.count - 8) after the length"
            )
        }
        let header = try parseHeader(bytes[8..<dataStart], path: path)
        let dataByteCount = bytes.count - dataStart

        var entries = header.entries
        for entry in entries {
            guard entry.begin <= entry.end, entry.end <= dataByteCount else {
                throw DataError(
                    .badHeader, path: path,
                    "tensor '\(entry.name)' has data_offsets [\(entry.begin), \(entry.end)] outside the "
                        + "\(dataByteCount) data bytes (which start at byte \(dataStart))")
            }
            guard let needed = storedByteCount(entry.shape, .float32),
                needed == entry.end - entry.begin
            else {
                throw DataError(
                    .mismatch, path: path,
                    "tensor '\(entry.name)' of shape \(entry.shape) needs \(describeF32Bytes(entry.shape)), "
                        + "its data_offsets [\(entry.begin), \(entry.end)] span \(entry.end - entry.begin)"
                )
            }
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let nonEmpty = entries.filter { $0.end > $0.begin }
        for (a, b) in zip(nonEmpty, nonEmpty.dropFirst()) where a.end > b.begin {
            throw DataError(
                .badHeader, path: path,
                "tensors '\(a.name)' [\(a.begin), \(a.end)] and '\(b.name)' [\(b.begin), \(b.end)] overlap"
            )
        }
        let tensors = entries.map { entry in
            NamedTensor(
                name: entry.name, shape: entry.shape,
                values: decodeLittleEndian(
                    bytes, at: dataStart + entry.begin,
                    count: (entry.end - entry.begin) / 4, as: .float32))
        }
        return (tensors, header.metadata)
    }

    /// One tensor's header entry, its dtype already checked to be F32.
    private struct Entry {
        let name: String
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    private static func parseHeader(
        _ header: ArraySlice<UInt8>, path: String
    ) throws -> (entries: [Entry], metadata: [String: String]) {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header))
        } catch {
            throw DataError(
                .badHeader, path: path, "header is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = json as? [String: Any] else {
            throw DataError(.badHeader, path: path, "header is JSON but not an object")
        }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in object {
            if name == metadataKey {
                guard let strings = value as? [String: String] else {
                    throw DataError(
                        .badHeader, path: path,
                        "__metadata__ is not an object of strings to strings")
                }
                metadata = strings
                continue
            }
            guard let fields = value as? [String: Any] else {
                throw DataError(
                    .badHeader, path: path, "tensor '\(name)' is not described by a JSON object")
            }
            guard let dtype = fields["dtype"] as? String else {
                throw DataError(.badHeader, path: path, "tensor '\(name)' has no string \"dtype\"")
            }
            guard dtype == "F32" else {
                throw DataError(
                    .unsupportedType, path: path,
                    "tensor '\(name)' has dtype \(dtype); only F32 is supported")
            }
            guard let shape = nonNegativeInts(fields["shape"]) else {
                throw DataError(
                    .badHeader, path: path,
                    "tensor '\(name)' has no \"shape\" list of non-negative integers")
            }
            guard let offsets = nonNegativeInts(fields["data_offsets"]), offsets.count == 2 else {
                throw DataError(
                    .badHeader, path: path,
                    "tensor '\(name)' has no \"data_offsets\" pair of non-negative integers")
            }
            entries.append(Entry(name: name, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        return (entries, metadata)
    }
}

/// "24 bytes (6 F32 values)", or a note that the shape is impossible.
private func describeF32Bytes(_ shape: [Int]) -> String {
    guard let count = elementCount(shape), let bytes = storedByteCount(shape, .float32) else {
        return "more bytes than can be addressed"
    }
    return "\(bytes) bytes (\(count) F32 values)"
}

/// The JSON array `value` as Ints, or nil unless every element is an integer >= 0.
private func nonNegativeInts(_ value: Any?) -> [Int]? {
    guard let elements = value as? [Any] else { return nil }
    var ints: [Int] = []
    for element in elements {
        // Bridging to Int fails for fractions and for numbers beyond Int's range.
        guard let int = element as? Int, int >= 0 else { return nil }
        ints.append(int)
    }
    return ints
}

/// `text` as a JSON string literal.
private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case _ where scalar.value < 0x20:
            let digits = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
