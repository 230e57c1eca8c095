import Foundation
import XCTest

@testable import Core

final class NPYTests: XCTestCase {
    /// A .npy file with a hand-written header dict (version 1.0, unpadded) and `data`.
    private func handMade(_ dict: String, data: [UInt8]) -> [UInt8] {
        let header = Array(dict.utf8)
        return [0x93] + Array("NUMPY".utf8) + [
            1, 0, UInt8(header.count & 0xff), UInt8(header.count >> 8),
        ] + header + data
    }

    private func decoded(_ bytes: [UInt8]) throws -> NPYArray {
        try NPY.decode(bytes, path: "a.npy")
    }

    func testRoundTripOfScalarVectorMatrixAndCube() throws {
        let directory = try makeScratchDirectory()
        let arrays = [
            NPYArray(shape: [], values: [42.5]),
            NPYArray(shape: [5], values: [1, -2, .infinity, -0.0, .leastNonzeroMagnitude]),
            NPYArray(shape: [3, 4], values: (0..<12).map { Float($0) / 3 }),
            NPYArray(shape: [2, 0], values: []),
            NPYArray(shape: [2, 3, 2], values: (0..<12).map { Float($0) - 6 }),
        ]
        for (i, array) in arrays.enumerated() {
            let path = directory + "/a\(i).npy"
            try NPY.write(array, to: path)
            let bytes = try readFile(path)
            XCTAssertEqual(bytes[6], 1, "version 1.0")
            let dataStart = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            XCTAssertEqual(dataStart % 64, 0, "data is 64-byte aligned")
            XCTAssertEqual(bytes[dataStart - 1], UInt8(ascii: "\n"))
            let read = try NPY.read(from: path)
            XCTAssertEqual(read.shape, array.shape)
            XCTAssertEqual(read.values.map(\.bitPattern), array.values.map(\.bitPattern))
        }
    }

    func testHeaderIsWhatNumpyWrites() throws {
        let bytes = try NPY.encode(NPYArray(shape: [3], values: [1, 2, 3]), path: "a")
        let dict = String(decoding: bytes[10..<(bytes.count - 12)], as: UTF8.self)
        XCTAssertEqual(
            dict.trimmingCharacters(in: .whitespacesAndNewlines),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }")
        XCTAssertEqual(
            Array(bytes.suffix(12)), [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40])
    }

    func testNumpyLoadsWhatWeWrite() throws {
        let directory = try makeScratchDirectory()
        try NPY.write(
            NPYArray(shape: [2, 3], values: [0.5, -1, 2.25, 1e30, -0.0, 3]),
            to: directory + "/m.npy")
        try NPY.write(NPYArray(shape: [4], values: [1, 2, 3, 4]), to: directory + "/v.npy")
        let output = try runPython(
            """
            import numpy as np
            m = np.load('\(directory)/m.npy')
            v = np.load('\(directory)/v.npy')
            print(m.dtype, m.shape, m.flags['C_CONTIGUOUS'], m.tolist())
            print(v.dtype, v.shape, v.tolist())
            """, needsNumpy: true)
        XCTAssertEqual(
            output.split(separator: "\n"),
            [
                "float32 (2, 3) True [[0.5, -1.0, 2.25], [1.0000000150474662e+30, -0.0, 3.0]]",
                "float32 (4,) [1.0, 2.0, 3.0, 4.0]",
            ])
    }

    func testInt32FilesRoundTripAndNumpyLoadsThemAsIntegers() throws {
        let directory = try makeScratchDirectory()
        try NPY.writeInt32([7, -2, 0, 2_147_483_647, -2_147_483_648, 9], shape: [3, 2], to: directory + "/c.npy")
        let back = try NPY.read(from: directory + "/c.npy")
        XCTAssertEqual(back.shape, [3, 2])
        XCTAssertEqual(back.values, [7, -2, 0, 2_147_483_647, -2_147_483_648, 9].map(Float.init))
        XCTAssertThrowsError(try NPY.writeInt32([1, 2, 3], shape: [2], to: directory + "/bad.npy"))
        let output = try runPython(
            """
            import numpy as np
            c = np.load('\(directory)/c.npy')
            print(c.dtype, c.shape, c.tolist())
            """, needsNumpy: true)
        XCTAssertEqual(output.split(separator: "\n"), ["int32 (3, 2) [[7, -2], [0, 2147483647], [-2147483648, 9]]"])
    }

    func testWeReadWhatNumpyWritesInEveryReadableDtype() throws {
        let directory = try makeScratchDirectory()
        _ = try runPython(
            """
            import numpy as np
            d = '\(directory)'
            np.save(d + '/f4.npy', np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
            np.save(d + '/f8.npy', np.array([0.1, -2.5, 1e300], dtype=np.float64))
            np.save(d + '/i8.npy', np.array([[-3, 2**40], [7, 0]], dtype=np.int64))
            np.save(d + '/i4.npy', np.array([-2147483648, 5], dtype=np.int32))
            np.save(d + '/u1.npy', np.array([0, 255, 128], dtype=np.uint8))
            np.save(d + '/scalar.npy', np.float32(2.5))
            with open(d + '/v2.npy', 'wb') as f:
                np.lib.format.write_array(f, np.array([1.5, 2.5], dtype=np.float32), version=(2, 0))
            """, needsNumpy: true)
        let expected: [String: NPYArray] = [
            "f4": NPYArray(shape: [2, 3], values: [0, 0.25, 0.5, 0.75, 1, 1.25]),
            "f8": NPYArray(shape: [3], values: [0.1, -2.5, .infinity]),
            "i8": NPYArray(shape: [2, 2], values: [-3, 1_099_511_627_776, 7, 0]),
            "i4": NPYArray(shape: [2], values: [-2_147_483_648, 5]),
            "u1": NPYArray(shape: [3], values: [0, 255, 128]),
            "scalar": NPYArray(shape: [], values: [2.5]),
            "v2": NPYArray(shape: [2], values: [1.5, 2.5]),
        ]
        for (name, array) in expected {
            XCTAssertEqual(try NPY.read(from: "\(directory)/\(name).npy"), array, name)
        }
    }

    func testFortranOrderAndOtherDtypesAreRefusedByName() throws {
        let directory = try makeScratchDirectory()
        _ = try runPython(
            """
            import numpy as np
            d = '\(directory)'
            np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
            np.save(d + '/big.npy', np.ones(3, dtype='>f4'))
            np.save(d + '/half.npy', np.ones(3, dtype=np.float16))
            """, needsNumpy: true)
        let cases = [
            ("fortran", "Fortran-order"), ("big", "unsupported dtype '>f4'"),
            ("half", "unsupported dtype '<f2'"),
        ]
        for (name, text) in cases {
            XCTAssertThrowsError(try NPY.read(from: "\(directory)/\(name).npy")) { error in
                XCTAssertEqual((error as? DataError)?.kind, .unsupportedType, "\(error)")
                XCTAssertTrue("\(error)".contains(text), "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("\(directory)/\(name).npy: "), "\(error)")
            }
        }
    }

    func testTruncatedAndOverlongDataGiveExpectedAndActualBytes() throws {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
        assertDataError(
            try decoded(handMade(dict, data: [UInt8](repeating: 0, count: 40))), .truncated,
            containing:
                "truncated data: shape (3, 4) of <f4 needs 48 bytes after the \(10 + dict.utf8.count)-byte header, file has 40"
        )
        assertDataError(
            try decoded(handMade(dict, data: [UInt8](repeating: 0, count: 52))), .trailingBytes,
            containing: "file has 52")
        let full = try NPY.encode(NPYArray(shape: [3], values: [1, 2, 3]), path: "a")
        assertDataError(
            try decoded(Array(full.prefix(20))), .truncated, containing: "the header says it is")
        assertDataError(try decoded(Array(full.prefix(5))), .truncated, containing: "too short")
    }

    func testBadMagicVersionAndHeadersAreRefused() {
        assertDataError(
            try decoded(Array("PK\u{3}\u{4}not an npy file".utf8)), .badMagic,
            containing: "expected \\x93NUMPY")
        var future = handMade(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])
        future[6] = 9
        assertDataError(try decoded(future), .badHeader, containing: "unsupported .npy version 9.0")
        let headers = [
            ("{'descr': '<f4', 'shape': (1,), }", "no 'fortran_order' key"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unexpected key 'x'"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "unexpected '['"),
            (
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
                "'fortran_order' is not True or False"
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': ('a',), }",
                "'shape' holds something other than"
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                "too large"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", "ends early"),
            ("{'descr: '<f4'}", "expected ':'"),
        ]
        for (dict, text) in headers {
            assertDataError(
                try decoded(handMade(dict, data: [0, 0, 0, 0])), .badHeader, containing: text)
        }
        assertDataError(
            try decoded(
                handMade(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                    data: [])), .badHeader, containing: "more elements than can be addressed")
    }

    func testPython2LongIntegersInTheShapeAreRead() throws {
        let array = try decoded(
            handMade(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
                data: [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]))
        XCTAssertEqual(array, NPYArray(shape: [2], values: [1, 2]))
    }

    func testWritingRefusesAShapeThatDoesNotHoldTheValues() throws {
        let path = try makeScratchDirectory() + "/a.npy"
        XCTAssertThrowsError(try NPY.write(NPYArray(shape: [2, 2], values: [1, 2, 3]), to: path)) {
            error in
            XCTAssertEqual("\(error)", "\(path): shape (2, 2) does not hold 3 values")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testMutatedFilesNeverCrash() throws {
        let valid = try NPY.encode(NPYArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), path: "a")
        let damaged = damagedCopies(of: valid, count: 3000, seed: 9, focusByteCount: 70)
        let refusals = try countRefusals(damaged) { bytes in
            let array = try decoded(bytes)
            XCTAssertEqual(array.values.count, array.shape.reduce(1, *))
        }
        XCTAssertGreaterThan(refusals, 1000)
    }
}
