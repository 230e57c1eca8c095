/// Lowercase hexadecimal digits of `bytes`, two per byte.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
}

/// The 8 hexadecimal digits of `value`, most significant first (as IDX magic numbers are written).
func hexString(_ value: UInt32) -> String {
    hexString([24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) })
}
