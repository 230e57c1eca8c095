import XCTest

@testable import Core

final class TensorBytesTests: XCTestCase {
    func testElementCountRefusesNegativeAndOverflowingShapes() {
        XCTAssertEqual(elementCount([]), 1)
        XCTAssertEqual(elementCount([3, 0, 5]), 0)
        XCTAssertEqual(elementCount([60000, 28, 28]), 47_040_000)
        XCTAssertNil(elementCount([2, -1]))
        XCTAssertNil(elementCount([1 << 32, 1 << 32]))
        XCTAssertEqual(storedByteCount([3, 4], .float64), 96)
        XCTAssertNil(storedByteCount([1 << 61], .float32))
    }

    func testFloat32IsStoredLittleEndianBitForBit() {
        var bytes: [UInt8] = [0xaa]
        appendLittleEndianFloat32([1, -2, Float(bitPattern: 0x7fc0_0001)], to: &bytes)
        XCTAssertEqual(
            bytes, [0xaa, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x01, 0x00, 0xc0, 0x7f])
        let back = decodeLittleEndian(bytes, at: 1, count: 3, as: .float32)
        XCTAssertEqual(back.map(\.bitPattern), [0x3f80_0000, 0xc000_0000, 0x7fc0_0001])
    }

    func testEveryStoredElementDecodesFromUnalignedOffsets() {
        let offsetByOne: [UInt8] = [0xff]
        XCTAssertEqual(
            decodeLittleEndian(
                offsetByOne + [0, 0, 0, 0, 0, 0, 0xf8, 0x3f], at: 1, count: 1, as: .float64), [1.5])
        XCTAssertEqual(
            decodeLittleEndian(
                offsetByOne + [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], at: 1, count: 1,
                as: .int64), [-2])
        XCTAssertEqual(
            decodeLittleEndian(
                offsetByOne + [0x00, 0x01, 0x00, 0x00], at: 1, count: 1, as: .int32), [256])
        XCTAssertEqual(
            decodeLittleEndian(offsetByOne + [200, 7], at: 1, count: 2, as: .uint8), [200, 7])
    }
}
