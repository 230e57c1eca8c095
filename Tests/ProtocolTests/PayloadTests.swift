import XCTest
@testable import Protocol

final class PayloadTests: XCTestCase {
    func testPayloadWriterAndReaderRoundTripEveryPrimitive() throws {
        var w = PayloadWriter()
        w.write(UInt8(0xAB))
        w.write(UInt16(0xBEEF))
        w.write(UInt32(0xDEAD_BEEF))
        w.write(UInt64.max - 1)
        w.write(Int64.min)
        w.write(Float(-1.5))
        w.write(Double.pi)
        w.write("héllo")
        w.writeArray([Int32(-1), 2])
        w.writeArray([Int64(-3)])
        w.writeArray([Float(0.25)])
        w.writeArray([UInt8(9), 8])
        var r = PayloadReader(w.bytes)
        XCTAssertEqual(try r.read(UInt8.self, "a"), 0xAB)
        XCTAssertEqual(try r.read(UInt16.self, "b"), 0xBEEF)
        XCTAssertEqual(try r.read(UInt32.self, "c"), 0xDEAD_BEEF)
        XCTAssertEqual(try r.read(UInt64.self, "d"), .max - 1)
        XCTAssertEqual(try r.read(Int64.self, "e"), .min)
        XCTAssertEqual(try r.read(Float.self, "f"), -1.5)
        XCTAssertEqual(try r.read(Double.self, "g"), .pi)
        XCTAssertEqual(try r.readString("h"), "héllo")
        XCTAssertEqual(try r.readArray(of: Int32.self, "i"), [-1, 2])
        XCTAssertEqual(try r.readArray(of: Int64.self, "j"), [-3])
        XCTAssertEqual(try r.readArray(of: Float.self, "k"), [0.25])
        XCTAssertEqual(try r.readArray(of: UInt8.self, "l"), [9, 8])
        XCTAssertEqual(r.remaining, 0)
        XCTAssertThrowsError(try r.read(UInt8.self, "m")) {
            XCTAssertEqual($0 as? WireError, .truncatedField(field: "m", offset: w.bytes.count, needed: 1, available: 0))
        }
    }

    func testZeroSuppressedFloatsRoundTripBitForBit() throws {
        let specials: [Float] = [0, -0.0, 1, .nan, Float(bitPattern: 0x7FC0_1234), .infinity, -.leastNonzeroMagnitude, 0, 0]
        let mostlyNonzero: [Float] = (0..<1000).map { $0 % 3 == 0 ? 0 : Float($0) }
        let cases: [[Float]] = [[], [0], [2.5], [Float](repeating: 0, count: 17), specials, mostlyNonzero]
        for values in cases {
            var w = PayloadWriter()
            w.writeZeroSuppressed(values)
            w.write(UInt8(7))
            var r = PayloadReader(w.bytes)
            let back = try r.readZeroSuppressed("x")
            XCTAssertEqual(back.map(\.bitPattern), values.map(\.bitPattern))
            XCTAssertEqual(try r.read(UInt8.self, "after"), 7, "the reader stops right after the kept values")
            let kept: Int = values.filter { $0.bitPattern != 0 }.count
            let expectedBytes: Int = 1 + 8 + (values.count + 7) / 8 + 4 * kept
            XCTAssertEqual(w.bytes.count, expectedBytes)
        }
    }

    /// Random zero patterns of every length up to 70, with the values last in the buffer (the reader's
    /// careful tail) and followed by other bytes (its branch-free path reads ahead).
    func testZeroSuppressedRandomPatternsAtTheBufferEndAndBeforeMore() throws {
        var rng = TestRandom(seed: 5)
        for count in 0...70 {
            for density in [0.0, 0.3, 0.5, 0.9, 1.0] {
                let values: [Float] = (0..<count).map { _ in
                    Double(rng.below(1000)) / 1000 < density ? Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) | 1) : 0
                }
                for trailing in [0, 1, 40] {
                    var w = PayloadWriter()
                    w.writeZeroSuppressed(values)
                    for _ in 0..<trailing { w.write(UInt8(0xAB)) }
                    var r = PayloadReader(w.bytes)
                    XCTAssertEqual(try r.readZeroSuppressed("x").map(\.bitPattern), values.map(\.bitPattern),
                                   "\(count) values, density \(density), \(trailing) bytes after")
                    XCTAssertEqual(r.remaining, trailing)
                }
            }
        }
    }

    func testZeroSuppressedBitmapMustMatchItsKeptCount() {
        func read(_ build: (inout PayloadWriter) -> Void) -> WireError? {
            var w = PayloadWriter()
            build(&w)
            var r = PayloadReader(w.bytes)
            do { _ = try r.readZeroSuppressed("x"); return nil } catch { return error }
        }
        // 3 elements, 1 kept, but the bitmap marks two.
        XCTAssertEqual(read { $0.write(UInt32(3)); $0.write(UInt32(1)); $0.write(UInt8(0b011)); $0.write(Float(1)) },
                       .invalidField(field: "x", offset: 0, reason: "the bitmap marks 2 elements, the count says 1"))
        // A padding bit set.
        XCTAssertEqual(read { $0.write(UInt32(3)); $0.write(UInt32(1)); $0.write(UInt8(0b1000)); $0.write(Float(1)) },
                       .invalidField(field: "x", offset: 0, reason: "the bitmap marks elements beyond the 3 there are"))
        XCTAssertEqual(read { $0.write(UInt32(2)); $0.write(UInt32(3)) },
                       .invalidField(field: "x", offset: 0, reason: "3 kept elements of 2"))
        XCTAssertEqual(read { $0.write(UInt32.max); $0.write(UInt32(0)) },
                       .invalidField(field: "x", offset: 0, reason: "4294967295 elements exceed the limit of 268435456 bytes"))
        XCTAssertEqual(read { $0.write(UInt32(16)); $0.write(UInt32(2)); $0.write(UInt16(0b11)); $0.write(Float(1)) },
                       .truncatedField(field: "x", offset: 0, needed: 18, available: 14))
    }

    func testStringsMustBeValidUTF8AndWithinTheLimit() {
        let invalid: [UInt8] = [3, 0, 0, 0, 0x61, 0xC3, 0x28]
        XCTAssertEqual(decodeError(frame(.refused, payload: invalid)),
                       .invalidField(field: "refused.reason", offset: 0, reason: "not valid UTF-8"))
        let long = encode(.refused(reason: String(repeating: "x", count: 100)))
        XCTAssertEqual(decodeError(long, limits: WireLimits(maxStringBytes: 99)),
                       .invalidField(field: "refused.reason", offset: 0,
                                     reason: "a string of 100 bytes exceeds the limit of 99 bytes"))
    }

    func testHugeArrayCountIsRefusedWithoutAllocating() {
        var w = PayloadWriter()
        w.write(UInt64(1))
        w.write(UInt64(1))
        w.write(UInt32.max)
        XCTAssertEqual(decodeError(frame(.weights, payload: w.bytes)),
                       .truncatedField(field: "weights.parameters", offset: 16, needed: 4 + 4 * Int(UInt32.max),
                                       available: 4))
    }
}
