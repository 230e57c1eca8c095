// The payload's fields, in wire order: scalars are little-endian; strings are a u32 byte count and
// UTF-8; arrays ("tensor frames") are a u32 element count and the elements as one raw little-endian
// block; flags are one byte, 0 or 1; zero-suppressed floats are described at `writeZeroSuppressed`.
// The header in front of the payload is in WireFormat.swift.

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

    /// Appends a flag as one byte, 0 or 1.
    public mutating func writeFlag(_ flag: Bool) {
        write(UInt8(flag ? 1 : 0))
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
                // Branch-free: every value is stored at the next free slot, and the slot advances only
                // for a nonzero one (the room above makes the extra stores safe). Eight values make one
                // bitmap byte.
                for byte in 0..<(n + 7) / 8 {
                    let first = 8 * byte
                    var bits: UInt32 = 0
                    for lane in 0..<min(8, n - first) {
                        let bitPattern = v.load(fromByteOffset: 4 * (first + lane), as: UInt32.self)
                        let isKept: UInt32 = bitPattern != 0 ? 1 : 0
                        out.writeLittleEndian(bitPattern, at: valuesOffset + 4 * kept)
                        kept += Int(isKept)
                        bits |= isKept << UInt32(lane)
                    }
                    out[bitmapOffset + byte] = UInt8(bits)
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
    /// The minor protocol version the payload was written in: fields added in a later minor than this one are
    /// absent (a reader reads them only from payloads of that minor or newer).
    public let minorVersion: UInt16

    /// A reader over all of `bytes`, written in this build's minor version.
    public init(_ bytes: [UInt8], limits: WireLimits = .standard) {
        self.init(bytes, payloadStart: 0, limits: limits, fieldPrefix: "", minorVersion: ProtocolVersion.minor)
    }

    /// A reader over `bytes[payloadStart...]`, written in `minorVersion`; field names in errors are prefixed with
    /// `fieldPrefix`.
    init(_ bytes: [UInt8], payloadStart: Int, limits: WireLimits, fieldPrefix: String, minorVersion: UInt16) {
        self.minorVersion = minorVersion
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
        // Never `unsafeUninitializedCapacity: 0`: that writes a count into the runtime's one shared empty
        // array, which every thread reads: a data race, harmless (it writes the 0 already there) but reported
        // by ThreadSanitizer, which would hide real ones.
        if count == 0 {
            values = []
        } else if hasBitwiseWireLayout(T.self) {
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

    /// Reads a flag: a byte that must be 0 or 1.
    public mutating func readFlag(_ field: String) throws(WireError) -> Bool {
        let flagOffset = offset
        let flag = try read(UInt8.self, field)
        guard flag <= 1 else { throw invalid(field, "\(flag) is not 0 or 1", at: flagOffset) }
        return flag == 1
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
        let values = count == 0 ? [] : bytes.withUnsafeBytes { raw in  // see `readArray` on count 0
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                let o = out.baseAddress!
                var next = valuesStart
                var byte = 0
                // Branch-free while 8 values' bytes are left in the buffer: each lane reads the next value
                // (perhaps past the kept ones), keeps it or 0 through a mask, and `next` advances only for
                // a kept one. Twice the speed of visiting the set bits.
                while byte < count / 8 && next + 32 <= raw.count {
                    let bits = UInt32(raw[bitmap + byte])
                    let first = 8 * byte
                    var lane: UInt32 = 0
                    while lane < 8 {
                        let isKept = (bits >> lane) & 1
                        o[first + Int(lane)] = Float(bitPattern: raw.readLittleEndian(UInt32.self, at: next) & (0 &- isKept))
                        next &+= 4 &* Int(isKept)
                        lane += 1
                    }
                    byte += 1
                }
                while byte < bitmapBytes {  // the last bytes of the buffer
                    let bits = raw[bitmap + byte]
                    let first = 8 * byte
                    for lane in 0..<min(8, count - first) {
                        if (bits >> UInt8(lane)) & 1 != 0 {
                            o[first + lane] = Float(bitPattern: raw.readLittleEndian(UInt32.self, at: next))
                            next += 4
                        } else {
                            o[first + lane] = 0
                        }
                    }
                    byte += 1
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
