import Protocol

/// TFRecord framing, the container of TensorBoard's event files: each record is
///
///     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
///
/// so a reader can tell a torn or corrupt record from a good one.
enum TFRecord {
    /// TFRecord's masked CRC-32C: the plain checksum rotated right by 15 bits plus a constant, so that the
    /// checksum of data that itself holds checksums does not degenerate.
    static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `data` as one framed record (16 bytes longer than `data`).
    static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndianBytes(UInt64(data.count))
        var record = length
        record.reserveCapacity(data.count + 16)
        record += littleEndianBytes(maskedCRC32C(length))
        record += data
        record += littleEndianBytes(maskedCRC32C(data))
        return record
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
