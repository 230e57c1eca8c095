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
        var entries: [HeaderEntry] = []
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
            entries.append(HeaderEntry(name: tensor.name, shape: tensor.shape, begin: offset, end: offset + byteCount))
            offset += byteCount
        }
        // Keys sorted (the data keep the tensors' order, through their offsets): the same tensors and
        // metadata always give the same bytes.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var header = Array(try encoder.encode(Header(entries: entries, metadata: metadata)))
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

    /// One tensor's header entry (dtype F32): its data are bytes `begin..<end` after the header.
    private struct HeaderEntry: Encodable {
        let name: String
        let shape: [Int]
        let begin: Int
        let end: Int

        private enum Field: String, CodingKey { case dtype, shape, data_offsets }

        func encode(to encoder: Encoder) throws {
            var fields = encoder.container(keyedBy: Field.self)
            try fields.encode("F32", forKey: .dtype)
            try fields.encode(shape, forKey: .shape)
            try fields.encode([begin, end], forKey: .data_offsets)
        }
    }

    /// The JSON header: one object whose keys are tensor names (and `__metadata__`). Decoding checks
    /// every field and throws a `DataError` naming the file (`Header.pathKey` in the decoder's userInfo).
    private struct Header: Codable {
        static let pathKey = CodingUserInfoKey(rawValue: "glassbox.safetensors.path")!
        var entries: [HeaderEntry]
        var metadata: [String: String]

        init(entries: [HeaderEntry], metadata: [String: String]) {
            self.entries = entries
            self.metadata = metadata
        }

        func encode(to encoder: Encoder) throws {
            var object = encoder.container(keyedBy: NameKey.self)
            if !metadata.isEmpty { try object.encode(metadata, forKey: NameKey(metadataKey)) }
            for entry in entries { try object.encode(entry, forKey: NameKey(entry.name)) }
        }

        init(from decoder: Decoder) throws {
            let path = decoder.userInfo[Header.pathKey] as? String ?? ""
            let object: KeyedDecodingContainer<NameKey>
            do {
                object = try decoder.container(keyedBy: NameKey.self)
            } catch {
                throw DataError(.badHeader, path: path, "header is JSON but not an object")
            }
            metadata = [:]
            entries = []
            for key in object.allKeys {
                let name = key.stringValue
                if name == metadataKey {
                    guard let strings = try? object.decode([String: String].self, forKey: key) else {
                        throw DataError(.badHeader, path: path, "__metadata__ is not an object of strings to strings")
                    }
                    metadata = strings
                    continue
                }
                guard let fields = try? object.nestedContainer(keyedBy: NameKey.self, forKey: key) else {
                    throw DataError(.badHeader, path: path, "tensor '\(name)' is not described by a JSON object")
                }
                guard let dtype = try? fields.decode(String.self, forKey: NameKey("dtype")) else {
                    throw DataError(.badHeader, path: path, "tensor '\(name)' has no string \"dtype\"")
                }
                guard dtype == "F32" else {
                    throw DataError(.unsupportedType, path: path, "tensor '\(name)' has dtype \(dtype); only F32 is supported")
                }
                // Decoding as Int fails for fractions and for numbers beyond Int's range.
                guard let shape = try? fields.decode([Int].self, forKey: NameKey("shape")), shape.allSatisfy({ $0 >= 0 })
                else {
                    throw DataError(.badHeader, path: path,
                                    "tensor '\(name)' has no \"shape\" list of non-negative integers")
                }
                guard let offsets = try? fields.decode([Int].self, forKey: NameKey("data_offsets")), offsets.count == 2,
                      offsets.allSatisfy({ $0 >= 0 })
                else {
                    throw DataError(.badHeader, path: path,
                                    "tensor '\(name)' has no \"data_offsets\" pair of non-negative integers")
                }
                entries.append(HeaderEntry(name: name, shape: shape, begin: offsets[0], end: offsets[1]))
            }
        }
    }

    /// A JSON object key that is any string (tensor names are the keys).
    private struct NameKey: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    private static func parseHeader(
        _ header: ArraySlice<UInt8>, path: String
    ) throws -> (entries: [HeaderEntry], metadata: [String: String]) {
        let decoder = JSONDecoder()
        decoder.userInfo[Header.pathKey] = path
        do {
            let parsed = try decoder.decode(Header.self, from: Data(header))
            return (parsed.entries, parsed.metadata)
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(.badHeader, path: path, "header is not valid JSON: \(error.localizedDescription)")
        }
    }
}

/// "24 bytes (6 F32 values)", or a note that the shape is impossible.
private func describeF32Bytes(_ shape: [Int]) -> String {
    guard let count = elementCount(shape), let bytes = storedByteCount(shape, .float32) else {
        return "more bytes than can be addressed"
    }
    return "\(bytes) bytes (\(count) F32 values)"
}
