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
// The payload's own encoding (scalars, strings, arrays) is in Payload.swift.

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

/// Little-endian loads and stores at byte offsets, for the header and the payload.
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
