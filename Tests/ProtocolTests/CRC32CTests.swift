import XCTest
@testable import Protocol

final class CRC32CTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum([UInt8](0..<32)), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testSlicingBy8MatchesBitwiseReferenceAtEveryLength() {
        var rng = TestRandom(seed: 1)
        for length in 0..<300 {
            let bytes = rng.bytes(length)
            XCTAssertEqual(CRC32C.checksum(bytes), CRC32C.bitwiseReference(bytes), "length \(length)")
        }
    }

    func testUnalignedSlicesAndNonContiguousSequencesMatchReference() {
        var rng = TestRandom(seed: 2)
        let bytes = rng.bytes(100)
        for start in 0..<9 {
            XCTAssertEqual(CRC32C.checksum(bytes[start...]), CRC32C.bitwiseReference(Array(bytes[start...])))
        }
        XCTAssertEqual(CRC32C.checksum(bytes.lazy.map { $0 }), CRC32C.bitwiseReference(bytes))
    }

    func testUpdatesSplitAnywhereEqualOneChecksum() {
        var rng = TestRandom(seed: 3)
        let bytes = rng.bytes(37)
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            var crc = CRC32C()
            crc.update(bytes[..<split])
            crc.update(bytes[split...])
            XCTAssertEqual(crc.value, whole, "split at \(split)")
        }
    }

    func testTablePathAgreesWithTheInstructionPath() {
        // Where the build uses SSE 4.2 (`-DGLASSBOX_SSE42`), `checksum` runs the instruction; the tables
        // remain the portable path, so both must agree on every length and alignment.
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for (start, length) in [(0, 0), (0, 1), (3, 7), (1, 8), (5, 9), (0, 1000), (7, 4093)] {
            let slice = Array(bytes[start..<(start + length)])
            var tables = CRC32C()
            slice.withUnsafeBytes { tables.updateWithTables($0) }
            XCTAssertEqual(tables.value, CRC32C.checksum(slice), "start \(start), length \(length)")
        }
    }
}
