// Shared by the tensor file formats (safetensors, .npy): shape arithmetic that cannot overflow, and
// little-endian element encoding independent of the host's byte order.

/// How array elements are stored in a tensor file (always little-endian when wider than a byte).
enum StoredElement: Sendable {
    case float32, float64, int64, int32, uint8

    /// Bytes per element.
    var byteCount: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8: return 1
        }
    }
}

/// Elements in an array of `shape` (1 for the empty shape of a scalar), or nil when a dimension
/// is negative or the product does not fit in an Int.
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        count = product
    }
    return count
}

/// Bytes taken by an array of `shape` with `element`s, or nil as for `elementCount`.
func storedByteCount(_ shape: [Int], _ element: StoredElement) -> Int? {
    guard let count = elementCount(shape) else { return nil }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: element.byteCount)
    return overflow ? nil : bytes
}

/// Appends `values` as little-endian IEEE 754 binary32, bit patterns (NaN payloads too) intact.
func appendLittleEndianFloat32(_ values: [Float], to bytes: inout [UInt8]) {
    bytes.reserveCapacity(bytes.count + 4 * values.count)
    for value in values {
        let bits = value.bitPattern
        bytes.append(UInt8(truncatingIfNeeded: bits))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
    }
}

/// `count` little-endian `element`s starting at byte `offset` of `bytes`, converted to Float
/// (rounding to nearest where a value has more precision than Float). The caller has checked
/// that offset + count * element.byteCount <= bytes.count.
func decodeLittleEndian(
    _ bytes: [UInt8], at offset: Int, count: Int, as element: StoredElement
) -> [Float] {
    precondition(offset >= 0 && count >= 0 && offset + count * element.byteCount <= bytes.count)
    // Never `unsafeUninitializedCapacity: 0`: it writes a count into the runtime's shared empty array.
    guard count > 0 else { return [] }
    return bytes.withUnsafeBytes { raw in
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                let at = offset + i * element.byteCount
                switch element {
                case .float32:
                    out[i] = Float(
                        bitPattern: UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case .float64:
                    out[i] = Float(
                        Double(
                            bitPattern: UInt64(
                                littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                            )))
                case .int64:
                    out[i] = Float(
                        Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                case .int32:
                    out[i] = Float(
                        Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case .uint8:
                    out[i] = Float(raw[at])
                }
            }
            initialized = count
        }
    }
}
