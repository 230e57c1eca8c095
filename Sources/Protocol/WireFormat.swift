// The Glassbox wire format: a fixed 48-byte little-endian header, then the payload.
//
//   offset  size  field
//        0     4  magic "GBX1"
//        4     2  major version      (a peer with another major is refused)
//        6     2  minor version      (a newer minor may append payload fields, which are skipped)
//        8     2  message type
//       10     2  flags              (carried, not interpreted by this version)
//       12     4  epoch
//       16     8  run nonce
//       24     4  step
//       28     4  chunk index        (< chunk count)
//       32     4  chunk count        (>= 1)
//       36     4  CRC-32C of the payload
//       40     8  payload length in bytes
//       48        payload
//
// Payload scalars are little-endian; strings are a u32 byte count and UTF-8; arrays ("tensor frames")
// are a u32 element count and the elements as one raw little-endian block.

/// A fixed-size value that travels as its little-endian bit pattern. Every conformer's in-memory size
/// equals its `WireBits`' size, so arrays of it can be copied as one block on little-endian hosts.
public protocol WireScalar: Sendable, Equatable {
    /// The unsigned integer with the same bits.
    associatedtype WireBits: FixedWidthInteger & UnsignedInteger
    /// The value's bit pattern.
    var wireBits: WireBits { get }
    /// The value with bit pattern `wireBits`.
    init(wireBits: WireBits)
}

extension UInt8: WireScalar {
    public var wireBits: UInt8 { self }
    public init(wireBits: UInt8) { self = wireBits }
}

extension UInt16: WireScalar {
    public var wireBits: UInt16 { self }
    public init(wireBits: UInt16) { self = wireBits }
}

extension UInt32: WireScalar {
    public var wireBits: UInt32 { self }
    public init(wireBits: UInt32) { self = wireBits }
}

extension UInt64: WireScalar {
    public var wireBits: UInt64 { self }
    public init(wireBits: UInt64) { self = wireBits }
}

extension Int32: WireScalar {
    public var wireBits: UInt32 { UInt32(bitPattern: self) }
    public init(wireBits: UInt32) { self.init(bitPattern: wireBits) }
}

extension Int64: WireScalar {
    public var wireBits: UInt64 { UInt64(bitPattern: self) }
    public init(wireBits: UInt64) { self.init(bitPattern: wireBits) }
}

extension Float: WireScalar {
    public var wireBits: UInt32 { bitPattern }
    public init(wireBits: UInt32) { self.init(bitPattern: wireBits) }
}

extension Double: WireScalar {
    public var wireBits: UInt64 { bitPattern }
    public init(wireBits: UInt64) { self.init(bitPattern: wireBits) }
}

/// Bounds the decoder checks before it allocates anything a peer asks for.
public struct WireLimits: Sendable, Equatable {
    /// The largest payload accepted, in bytes.
    public var maxPayloadBytes: Int
    /// The longest string field accepted, in UTF-8 bytes.
    public var maxStringBytes: Int

    /// Limits; the defaults fit a full set of weights or a 60,000 x 512 activation chunk of a few thousand rows.
    public init(maxPayloadBytes: Int = 256 << 20, maxStringBytes: Int = 64 << 10) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxStringBytes = maxStringBytes
    }

    /// The default limits.
    public static let standard = WireLimits()
}

/// Why bytes could not be decoded as a Glassbox message. Payload offsets count from the first payload byte.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a header.
    case shortHeader(length: Int)
    /// The first four bytes are not "GBX1".
    case badMagic(found: UInt32)
    /// The peer's major version differs from `ProtocolVersion.major`.
    case unsupportedVersion(major: UInt16, minor: UInt16)
    /// A message type this build does not know.
    case unknownMessageType(rawValue: UInt16)
    /// A chunk index not below the chunk count, or a chunk count of zero.
    case invalidChunk(index: UInt32, count: UInt32)
    /// The header claims a payload larger than `WireLimits.maxPayloadBytes`.
    case payloadTooLarge(declared: UInt64, limit: Int)
    /// The header's payload length differs from the bytes that follow it.
    case payloadLengthMismatch(declared: UInt64, actual: Int)
    /// The payload's CRC-32C differs from the header's.
    case checksumMismatch(expected: UInt32, actual: UInt32)
    /// A payload field runs past the end of the payload.
    case truncatedField(field: String, offset: Int, needed: Int, available: Int)
    /// A payload field is complete but its value is not acceptable.
    case invalidField(field: String, offset: Int, reason: String)
    /// Bytes left over after the last field of a message from a peer of the same minor version.
    case trailingBytes(type: MessageType, count: Int, offset: Int)

    public var description: String {
        switch self {
        case .shortHeader(let length):
            return "message of \(length) bytes is shorter than the \(MessageHeader.size)-byte header"
        case .badMagic(let found):
            return "bad magic \(hex(found)) (expected \(hex(MessageHeader.magic)), \"GBX1\"): not a Glassbox message"
        case .unsupportedVersion(let major, let minor):
            return "peer speaks protocol \(major).\(minor), this build speaks "
                + "\(ProtocolVersion.major).\(ProtocolVersion.minor)"
        case .unknownMessageType(let rawValue):
            let known = MessageType.allCases.map(\.rawValue)
            return "unknown message type \(rawValue) (this build knows \(known.min()!) to \(known.max()!))"
        case .invalidChunk(let index, let count):
            return "chunk index \(index) of a chunk count of \(count) is out of range"
        case .payloadTooLarge(let declared, let limit):
            return "header declares a payload of \(declared) bytes, more than the limit of \(limit) bytes"
        case .payloadLengthMismatch(let declared, let actual):
            return "header declares a payload of \(declared) bytes but \(actual) bytes follow the header"
        case .checksumMismatch(let expected, let actual):
            return "payload checksum mismatch: header says CRC-32C \(hex(expected)), payload has \(hex(actual))"
        case .truncatedField(let field, let offset, let needed, let available):
            return "payload field \(field) at byte \(offset) needs \(needed) bytes but only \(available) remain"
        case .invalidField(let field, let offset, let reason):
            return "payload field \(field) at byte \(offset): \(reason)"
        case .trailingBytes(let type, let count, let offset):
            return "\(type) payload has \(count) unread bytes after its last field, from byte \(offset)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// The header fields the sender chooses; the rest (version, type, length, checksum) follow from the message.
public struct Envelope: Equatable, Sendable {
    /// Identifies one training run, so that messages from an earlier run or a dropped worker are recognised.
    public var runNonce: UInt64
    /// The epoch the message belongs to.
    public var epoch: UInt32
    /// The step within the epoch the message belongs to.
    public var step: UInt32
    /// Which piece of a payload the caller split into `chunkCount` messages.
    public var chunkIndex: UInt32
    /// How many messages the caller split the payload into; 1 for an unsplit message.
    public var chunkCount: UInt32
    /// Reserved for later versions; carried unchanged.
    public var flags: UInt16

    /// An envelope; the defaults describe an unsplit message outside any step.
    public init(runNonce: UInt64 = 0, epoch: UInt32 = 0, step: UInt32 = 0,
                chunkIndex: UInt32 = 0, chunkCount: UInt32 = 1, flags: UInt16 = 0) {
        self.runNonce = runNonce
        self.epoch = epoch
        self.step = step
        self.chunkIndex = chunkIndex
        self.chunkCount = chunkCount
        self.flags = flags
    }
}

/// The fixed 48-byte header in front of every payload.
public struct MessageHeader: Equatable, Sendable {
    /// Header size in bytes.
    public static let size = 48
    /// "GBX1" read as a little-endian u32.
    public static let magic: UInt32 = 0x3158_4247

    /// The sender's major protocol version.
    public var majorVersion: UInt16
    /// The sender's minor protocol version.
    public var minorVersion: UInt16
    /// What the payload holds.
    public var type: MessageType
    /// Run, epoch, step and chunk of the message.
    public var envelope: Envelope
    /// Payload size in bytes.
    public var payloadLength: UInt64
    /// CRC-32C of the payload.
    public var payloadChecksum: UInt32

    /// Reads and checks the header of `bytes` (magic, version, type, chunk, payload length against `limits`
    /// and against the bytes present) without reading the payload: cheap enough to drop stale messages
    /// before `decode` checksums them.
    public init(decoding bytes: [UInt8], limits: WireLimits = .standard) throws(WireError) {
        guard bytes.count >= Self.size else { throw .shortHeader(length: bytes.count) }
        let header = bytes.withUnsafeBytes { raw in
            (magic: raw.readLittleEndian(UInt32.self, at: 0),
             major: raw.readLittleEndian(UInt16.self, at: 4),
             minor: raw.readLittleEndian(UInt16.self, at: 6),
             type: raw.readLittleEndian(UInt16.self, at: 8),
             flags: raw.readLittleEndian(UInt16.self, at: 10),
             epoch: raw.readLittleEndian(UInt32.self, at: 12),
             nonce: raw.readLittleEndian(UInt64.self, at: 16),
             step: raw.readLittleEndian(UInt32.self, at: 24),
             chunkIndex: raw.readLittleEndian(UInt32.self, at: 28),
             chunkCount: raw.readLittleEndian(UInt32.self, at: 32),
             checksum: raw.readLittleEndian(UInt32.self, at: 36),
             length: raw.readLittleEndian(UInt64.self, at: 40))
        }
        guard header.magic == Self.magic else { throw .badMagic(found: header.magic) }
        guard header.major == ProtocolVersion.major else {
            throw .unsupportedVersion(major: header.major, minor: header.minor)
        }
        guard let type = MessageType(rawValue: header.type) else { throw .unknownMessageType(rawValue: header.type) }
        guard header.chunkIndex < header.chunkCount else {
            throw .invalidChunk(index: header.chunkIndex, count: header.chunkCount)
        }
        guard header.length <= UInt64(limits.maxPayloadBytes) else {
            throw .payloadTooLarge(declared: header.length, limit: limits.maxPayloadBytes)
        }
        let actual = bytes.count - Self.size
        guard header.length == UInt64(actual) else {
            throw .payloadLengthMismatch(declared: header.length, actual: actual)
        }
        self.majorVersion = header.major
        self.minorVersion = header.minor
        self.type = type
        self.envelope = Envelope(runNonce: header.nonce, epoch: header.epoch, step: header.step,
                                 chunkIndex: header.chunkIndex, chunkCount: header.chunkCount, flags: header.flags)
        self.payloadLength = header.length
        self.payloadChecksum = header.checksum
    }

    init(type: MessageType, envelope: Envelope, payloadLength: Int, payloadChecksum: UInt32) {
        self.majorVersion = ProtocolVersion.major
        self.minorVersion = ProtocolVersion.minor
        self.type = type
        self.envelope = envelope
        self.payloadLength = UInt64(payloadLength)
        self.payloadChecksum = payloadChecksum
    }

    func store(into raw: UnsafeMutableRawBufferPointer) {
        raw.writeLittleEndian(Self.magic, at: 0)
        raw.writeLittleEndian(majorVersion, at: 4)
        raw.writeLittleEndian(minorVersion, at: 6)
        raw.writeLittleEndian(type.rawValue, at: 8)
        raw.writeLittleEndian(envelope.flags, at: 10)
        raw.writeLittleEndian(envelope.epoch, at: 12)
        raw.writeLittleEndian(envelope.runNonce, at: 16)
        raw.writeLittleEndian(envelope.step, at: 24)
        raw.writeLittleEndian(envelope.chunkIndex, at: 28)
        raw.writeLittleEndian(envelope.chunkCount, at: 32)
        raw.writeLittleEndian(payloadChecksum, at: 36)
        raw.writeLittleEndian(payloadLength, at: 40)
    }
}

/// Builds a header-framed message: `writePayload` appends the payload (about `capacity` bytes), then the
/// header is filled in.
func encodeFrame(type: MessageType, envelope: Envelope, capacity: Int = 256,
                 writePayload: (inout PayloadWriter) -> Void) -> [UInt8] {
    var writer = PayloadWriter(reservingPrefix: MessageHeader.size, capacity: capacity)
    writePayload(&writer)
    var bytes = writer.takeBytes()
    bytes.withUnsafeMutableBytes { raw in
        let payload = UnsafeRawBufferPointer(rebasing: raw[MessageHeader.size...])
        var crc = CRC32C()
        crc.update(payload)
        MessageHeader(type: type, envelope: envelope, payloadLength: payload.count, payloadChecksum: crc.value)
            .store(into: raw)
    }
    return bytes
}

/// Checks the payload of `bytes` against the checksum in `header`.
func verifyPayloadChecksum(of bytes: [UInt8], against header: MessageHeader) throws(WireError) {
    let actual = bytes.withUnsafeBytes { raw in
        var crc = CRC32C()
        crc.update(UnsafeRawBufferPointer(rebasing: raw[MessageHeader.size...]))
        return crc.value
    }
    guard actual == header.payloadChecksum else {
        throw .checksumMismatch(expected: header.payloadChecksum, actual: actual)
    }
}

/// Appends payload fields in wire order.
public struct PayloadWriter {
    private var storage: [UInt8]

    /// An empty payload.
    public init(capacity: Int = 256) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// A payload that starts after `prefix` zero bytes, where the header will go.
    init(reservingPrefix prefix: Int, capacity: Int = 256) {
        storage = []
        storage.reserveCapacity(prefix + max(capacity, 0))
        storage.append(contentsOf: repeatElement(0, count: prefix))
    }

    /// Everything written so far.
    public var bytes: [UInt8] { storage }

    /// Hands over the bytes without copying them.
    mutating func takeBytes() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &storage)
        return taken
    }

    /// Appends a scalar.
    public mutating func write<T: WireScalar>(_ value: T) {
        withUnsafeBytes(of: value.wireBits.littleEndian) { storage.append(contentsOf: $0) }
    }

    /// Appends a string as its UTF-8 byte count (u32) and bytes. Traps beyond `UInt32.max` bytes.
    public mutating func write(_ string: String) {
        let utf8 = Array(string.utf8)
        write(Self.count(utf8.count))
        storage.append(contentsOf: utf8)
    }

    /// Appends an array as its element count (u32) and one raw little-endian block. Traps beyond
    /// `UInt32.max` elements: split such a tensor into chunks.
    public mutating func writeArray<T: WireScalar>(_ values: [T]) {
        write(Self.count(values.count))
        if hasBitwiseWireLayout(T.self) {
            values.withUnsafeBytes { storage.append(contentsOf: $0) }
        } else {
            storage.reserveCapacity(storage.count + values.count * MemoryLayout<T.WireBits>.size)
            for value in values { write(value) }
        }
    }

    /// Appends floats with their zeros left out: the element count (u32), the count of kept elements
    /// (u32), a bitmap of which elements are kept (element i is bit i % 8 of byte i / 8), and the kept
    /// values as one raw little-endian block. Only the all-zero bit pattern (+0.0) is left out, so every
    /// value, -0.0 and NaN payloads included, comes back bit for bit. After ReLU and dropout about half of
    /// a layer's activations and gradients are zero.
    public mutating func writeZeroSuppressed(_ values: [Float]) {
        let n = values.count
        write(Self.count(n))
        let countOffset = storage.count
        write(UInt32(0))
        let bitmapOffset = storage.count
        let valuesOffset = bitmapOffset + (n + 7) / 8
        // Room for every value; what is not kept is cut off afterwards.
        storage.append(contentsOf: repeatElement(0, count: valuesOffset - bitmapOffset + 4 * n))
        var kept = 0
        values.withUnsafeBytes { v in
            storage.withUnsafeMutableBytes { out in
                // Eight elements per bitmap byte: a SIMD compare makes the byte, its set bits pick the
                // values to keep.
                let laneBits = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
                for byte in 0..<(n + 7) / 8 {
                    let first = 8 * byte
                    var bits: UInt32
                    var chunk = SIMD8<UInt32>(repeating: 0)
                    if first + 8 <= n {
                        chunk = v.loadUnaligned(fromByteOffset: 4 * first, as: SIMD8<UInt32>.self)
                        bits = SIMD8<UInt32>(repeating: 0).replacing(with: laneBits, where: chunk .!= 0).wrappedSum()
                    } else {
                        bits = 0
                        for lane in 0..<(n - first) {
                            chunk[lane] = v.load(fromByteOffset: 4 * (first + lane), as: UInt32.self)
                            if chunk[lane] != 0 { bits |= 1 << lane }
                        }
                    }
                    out[bitmapOffset + byte] = UInt8(bits)
                    while bits != 0 {
                        out.writeLittleEndian(chunk[bits.trailingZeroBitCount], at: valuesOffset + 4 * kept)
                        kept += 1
                        bits &= bits - 1
                    }
                }
            }
        }
        storage.removeLast(4 * (n - kept))
        storage.withUnsafeMutableBytes { $0.writeLittleEndian(UInt32(kept), at: countOffset) }
    }

    private static func count(_ n: Int) -> UInt32 {
        guard let count = UInt32(exactly: n) else {
            preconditionFailure("a field of \(n) elements does not fit the u32 count of the wire format")
        }
        return count
    }
}

/// Reads payload fields in wire order, checking every bound; errors name the field and its byte offset.
public struct PayloadReader {
    private let bytes: [UInt8]
    private let payloadStart: Int
    private var position: Int
    private let limits: WireLimits
    private let fieldPrefix: String

    /// A reader over all of `bytes`.
    public init(_ bytes: [UInt8], limits: WireLimits = .standard) {
        self.init(bytes, payloadStart: 0, limits: limits, fieldPrefix: "")
    }

    /// A reader over `bytes[payloadStart...]`; field names in errors are prefixed with `fieldPrefix`.
    init(_ bytes: [UInt8], payloadStart: Int, limits: WireLimits, fieldPrefix: String) {
        self.bytes = bytes
        self.payloadStart = payloadStart
        self.position = payloadStart
        self.limits = limits
        self.fieldPrefix = fieldPrefix.isEmpty ? "" : fieldPrefix + "."
    }

    /// Payload bytes not read yet.
    public var remaining: Int { bytes.count - position }

    /// Offset of the next field from the start of the payload.
    public var offset: Int { position - payloadStart }

    /// Reads a scalar.
    public mutating func read<T: WireScalar>(_ type: T.Type, _ field: String) throws(WireError) -> T {
        let size = MemoryLayout<T.WireBits>.size
        guard remaining >= size else { throw truncated(field, needed: size) }
        let bits = bytes.withUnsafeBytes { $0.readLittleEndian(T.WireBits.self, at: position) }
        position += size
        return T(wireBits: bits)
    }

    /// Reads a length-prefixed UTF-8 string no longer than `WireLimits.maxStringBytes`.
    public mutating func readString(_ field: String) throws(WireError) -> String {
        let start = position
        let count = Int(try read(UInt32.self, field))
        guard count <= limits.maxStringBytes else {
            position = start
            throw invalid(field, "a string of \(count) bytes exceeds the limit of \(limits.maxStringBytes) bytes")
        }
        guard count <= remaining else {
            position = start
            throw truncated(field, needed: 4 + count)
        }
        let utf8 = bytes[position..<position + count]
        let string = String(decoding: utf8, as: UTF8.self)
        guard string.utf8.elementsEqual(utf8) else {
            position = start
            throw invalid(field, "not valid UTF-8")
        }
        position += count
        return string
    }

    /// Reads a count-prefixed array; its size is checked against the bytes present before allocating.
    public mutating func readArray<T: WireScalar>(of type: T.Type, _ field: String) throws(WireError) -> [T] {
        let start = position
        let count = Int(try read(UInt32.self, field))
        let size = MemoryLayout<T.WireBits>.size
        guard count <= remaining / size else {
            position = start
            throw truncated(field, needed: 4 + count * size)
        }
        let byteCount = count * size
        let values: [T]
        if hasBitwiseWireLayout(T.self) {
            values = [T](unsafeUninitializedCapacity: count) { destination, initialized in
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(destination)
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<position + byteCount]))
                }
                initialized = count
            }
        } else {
            values = bytes.withUnsafeBytes { source in
                (0..<count).map { T(wireBits: source.readLittleEndian(T.WireBits.self, at: position + $0 * size)) }
            }
        }
        position += byteCount
        return values
    }

    /// Reads floats written by `PayloadWriter.writeZeroSuppressed`. The full array may be at most
    /// `WireLimits.maxPayloadBytes` large; the bitmap must mark exactly the kept count, with its padding
    /// bits clear.
    public mutating func readZeroSuppressed(_ field: String) throws(WireError) -> [Float] {
        let start = position
        let count = Int(try read(UInt32.self, field))
        let kept = Int(try read(UInt32.self, field))
        guard count <= limits.maxPayloadBytes / 4 else {
            position = start
            throw invalid(field, "\(count) elements exceed the limit of \(limits.maxPayloadBytes) bytes")
        }
        guard kept <= count else {
            position = start
            throw invalid(field, "\(kept) kept elements of \(count)")
        }
        let bitmapBytes = (count + 7) / 8
        guard bitmapBytes + 4 * kept <= remaining else {
            position = start
            throw truncated(field, needed: 8 + bitmapBytes + 4 * kept)
        }
        let bitmap = position
        let valuesStart = bitmap + bitmapBytes
        var marked = 0
        for b in bitmap..<valuesStart { marked += bytes[b].nonzeroBitCount }
        let padding = count % 8 == 0 ? UInt8(0) : ~UInt8(0) << UInt8(count % 8)
        guard bitmapBytes == 0 || bytes[valuesStart - 1] & padding == 0 else {
            position = start
            throw invalid(field, "the bitmap marks elements beyond the \(count) there are")
        }
        guard marked == kept else {
            position = start
            throw invalid(field, "the bitmap marks \(marked) elements, the count says \(kept)")
        }
        let values = bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                var next = valuesStart
                for byte in 0..<bitmapBytes {
                    var bits = raw[bitmap + byte]
                    let first = 8 * byte
                    for lane in 0..<min(8, count - first) { out[first + lane] = 0 }
                    while bits != 0 {
                        out[first + bits.trailingZeroBitCount] = Float(bitPattern: raw.readLittleEndian(UInt32.self, at: next))
                        next += 4
                        bits &= bits - 1
                    }
                }
                initialized = count
            }
        }
        position = valuesStart + 4 * kept
        return values
    }

    /// An `invalidField` error for the field that starts at `offset` (default: the next unread byte).
    public func invalid(_ field: String, _ reason: String, at offset: Int? = nil) -> WireError {
        .invalidField(field: fieldPrefix + field, offset: offset ?? self.offset, reason: reason)
    }

    /// Throws unless every byte was read; bytes a newer minor version appended are allowed when asked.
    func finish(type: MessageType, allowingTrailingBytes: Bool) throws(WireError) {
        guard remaining == 0 || allowingTrailingBytes else {
            throw .trailingBytes(type: type, count: remaining, offset: offset)
        }
    }

    private func truncated(_ field: String, needed: Int) -> WireError {
        .truncatedField(field: fieldPrefix + field, offset: offset, needed: needed, available: remaining)
    }
}

/// True where `[T]`'s memory is exactly its wire bytes, so arrays can be copied as one block.
private func hasBitwiseWireLayout<T: WireScalar>(_: T.Type) -> Bool {
    #if _endian(little)
    return MemoryLayout<T>.size == MemoryLayout<T.WireBits>.size
        && MemoryLayout<T>.stride == MemoryLayout<T.WireBits>.size
    #else
    return MemoryLayout<T>.size == 1 && MemoryLayout<T>.stride == 1
    #endif
}

extension UnsafeRawBufferPointer {
    func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    func writeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}
