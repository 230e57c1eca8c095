/// One TensorBoard `Event` (tensorboard/compat/proto/event.proto) in protobuf's wire format, encoded by
/// hand: the few fields Glassbox writes need no protobuf library.
///
///     Event   { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5; } }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; oneof { float simple_value = 2; Image image = 4; } }
///     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
///
/// Fields are written in field-number order and proto3 defaults (step 0) are left out, as protobuf's
/// own serialiser does, so the bytes equal those of the reference implementation.
struct TensorBoardEvent: Equatable {
    /// An image summary: PNG bytes and what the PNG's header says about them.
    struct Image: Equatable {
        var height: Int
        var width: Int
        /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (summary.proto's numbering).
        var colorspace: Int
        var png: [UInt8]
    }

    /// One summary value under `tag`.
    enum Value: Equatable {
        case scalar(tag: String, value: Float)
        case image(tag: String, Image)
    }

    enum Content: Equatable {
        /// The first event of every file: names the format version ("brain.Event:2").
        case fileVersion(String)
        case summary([Value])
    }

    /// Seconds since 1970.
    var wallTime: Double
    var step: Int64
    var content: Content

    /// The event in protobuf's wire format.
    var encoded: [UInt8] {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.int64(2, step)
        switch content {
        case .fileVersion(let version):
            event.lengthDelimited(3, Array(version.utf8))
        case .summary(let values):
            var summary = ProtobufWriter()
            for value in values { summary.lengthDelimited(1, Self.encode(value)) }
            event.lengthDelimited(5, summary.bytes)
        }
        return event.bytes
    }

    private static func encode(_ value: Value) -> [UInt8] {
        var out = ProtobufWriter()
        switch value {
        case .scalar(let tag, let number):
            out.lengthDelimited(1, Array(tag.utf8))
            out.float(2, number)
        case .image(let tag, let image):
            var fields = ProtobufWriter()
            fields.int64(1, Int64(image.height))
            fields.int64(2, Int64(image.width))
            fields.int64(3, Int64(image.colorspace))
            fields.lengthDelimited(4, image.png)
            out.lengthDelimited(1, Array(tag.utf8))
            out.lengthDelimited(4, fields.bytes)
        }
        return out.bytes
    }
}

/// Appends protobuf fields: a key (field number << 3 | wire type) and the value. Zero integers and
/// doubles are left out (proto3's implicit presence); floats, strings, bytes and nested messages are
/// always written.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    private mutating func key(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | type.rawValue) }

    /// Base-128, least significant group first, high bit set on every byte but the last.
    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// int32 and int64 fields alike (a negative int32 is sign-extended to 64 bits, as protobuf does).
    mutating func int64(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func double(_ field: Int, _ value: Double) {
        guard value.bitPattern != 0 else { return }
        key(field, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    /// Always written, zero too: Glassbox's only float field, `simple_value`, sits in a oneof, where
    /// protobuf keeps presence.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    /// Strings (UTF-8), bytes and embedded messages: a varint length, then the bytes.
    mutating func lengthDelimited(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }
}
