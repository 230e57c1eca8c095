import Foundation
import XCTest

@testable import Core

final class SafetensorsTests: XCTestCase {
    private let tensors = [
        NamedTensor(
            name: "conv1.weight", shape: [2, 1, 3, 3], values: (0..<18).map { Float($0) * 0.25 - 2 }
        ),
        NamedTensor(name: "conv1.bias", shape: [2], values: [-0.0, .infinity]),
        NamedTensor(name: "scalar", shape: [], values: [Float(bitPattern: 0x7fc0_1234)]),
        NamedTensor(name: "empty", shape: [0, 3], values: []),
        NamedTensor(
            name: "naïve \"quoted\"\n", shape: [1, 2],
            values: [.leastNonzeroMagnitude, -.greatestFiniteMagnitude]),
    ]
    private let metadata = ["format": "pt", "fingerprint": "abc\u{1}\"\\"]

    private func bits(_ tensors: [NamedTensor]) -> [[UInt32]] {
        tensors.map { $0.values.map(\.bitPattern) }
    }

    /// A file of `header` (padded) followed by `data`, as another writer could make it.
    private func handMade(header: String, data: [UInt8]) -> [UInt8] {
        var json = Array(header.utf8)
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        return (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) } + json + data
    }

    private func decoded(
        _ bytes: [UInt8]
    ) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        try Safetensors.decode(bytes, path: "w.safetensors")
    }

    func testRoundTripKeepsNamesShapesOrderBitPatternsAndMetadata() throws {
        let path = try makeScratchDirectory() + "/w.safetensors"
        try Safetensors.write(tensors, metadata: metadata, to: path)
        let (read, readMetadata) = try Safetensors.read(from: path)
        XCTAssertEqual(read.map(\.name), tensors.map(\.name))
        XCTAssertEqual(read.map(\.shape), tensors.map(\.shape))
        XCTAssertEqual(bits(read), bits(tensors))
        XCTAssertEqual(readMetadata, metadata)
        XCTAssertEqual(
            try readFile(path), try Safetensors.encode(tensors, metadata: metadata, path: path),
            "writing is deterministic")
    }

    func testLayoutIsLengthPaddedHeaderThenLittleEndianData() throws {
        let bytes = try Safetensors.encode(
            [NamedTensor(name: "a", shape: [2], values: [1, -2])], path: "x")
        // JSONEncoder with sorted keys: the fields in code-point order.
        let header = #"{"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        XCTAssertEqual(padded.utf8.count % 8, 0)
        XCTAssertEqual(Array(bytes[0..<8]), [UInt8(padded.utf8.count), 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(String(decoding: bytes[8..<(8 + padded.utf8.count)], as: UTF8.self), padded)
        XCTAssertEqual(Array(bytes.suffix(8)), [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0])
    }

    /// Python (struct + json only, no safetensors package) parses what we write.
    func testPythonParsesOurFile() throws {
        let path = try makeScratchDirectory() + "/w.safetensors"
        try Safetensors.write(Array(tensors.prefix(2)) + [tensors[3]], metadata: metadata, to: path)
        let output = try runPython(
            """
            import json, struct
            raw = open('\(path)', 'rb').read()
            (n,) = struct.unpack('<Q', raw[:8])
            header = json.loads(raw[8:8 + n])
            data = raw[8 + n:]
            out = {'meta': header.pop('__metadata__'), 'pad': n % 8, 'tensors': {}}
            for name, t in header.items():
                b, e = t['data_offsets']
                values = struct.unpack('<%df' % ((e - b) // 4), data[b:e])
                out['tensors'][name] = [t['dtype'], t['shape'], [repr(v) for v in values]]
            print(json.dumps(out, sort_keys=True))
            """)
        let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        XCTAssertEqual(parsed["meta"] as? [String: String], metadata)
        XCTAssertEqual(parsed["pad"] as? Int, 0)
        let python = parsed["tensors"] as! [String: [Any]]
        XCTAssertEqual(python.keys.sorted(), ["conv1.bias", "conv1.weight", "empty"])
        XCTAssertEqual(python["conv1.weight"]?[0] as? String, "F32")
        XCTAssertEqual(python["conv1.weight"]?[1] as? [Int], [2, 1, 3, 3])
        XCTAssertEqual(
            python["conv1.weight"]?[2] as? [String], tensors[0].values.map { "\(Double($0))" })
        XCTAssertEqual(python["conv1.bias"]?[2] as? [String], ["-0.0", "inf"])
        XCTAssertEqual(python["empty"]?[1] as? [Int], [0, 3])
    }

    /// A file laid out by another writer (Python, tensors out of name order, metadata last) reads.
    func testReadsAFileWrittenByPython() throws {
        let path = try makeScratchDirectory() + "/py.safetensors"
        _ = try runPython(
            """
            import json, struct
            b = struct.pack('<3f', 1.5, -2.0, 3.25)
            a = struct.pack('<4f', 0.5, 0.25, 0.125, 8.0)
            header = {'b': {'dtype': 'F32', 'shape': [3], 'data_offsets': [0, 12]},
                      'a': {'dtype': 'F32', 'shape': [2, 2], 'data_offsets': [12, 28]},
                      '__metadata__': {'epoch': '3'}}
            h = json.dumps(header).encode()
            h += b' ' * (-len(h) % 8)
            open('\(path)', 'wb').write(struct.pack('<Q', len(h)) + h + b + a)
            """)
        let (read, metadata) = try Safetensors.read(from: path)
        XCTAssertEqual(
            read,
            [
                NamedTensor(name: "b", shape: [3], values: [1.5, -2, 3.25]),
                NamedTensor(name: "a", shape: [2, 2], values: [0.5, 0.25, 0.125, 8]),
            ])
        XCTAssertEqual(metadata, ["epoch": "3"])
    }

    /// Headers that contradict themselves or the data: each is refused with the message given.
    func testInconsistentHeadersAreRefusedNamingTheProblem() {
        let f32 = #""dtype":"F32""#
        let cases: [(header: String, dataBytes: Int, kind: DataError.Kind, message: String)] = [
            (#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, 4, .unsupportedType,
             "tensor 'h' has dtype F16; only F32 is supported"),
            (#"{"t":{\#(f32),"shape":[2],"data_offsets":[4,12]}}"#, 8, .badHeader,
             "tensor 't' has data_offsets [4, 12] outside the 8 data bytes"),
            (#"{"t":{\#(f32),"shape":[0],"data_offsets":[8,4]}}"#, 8, .badHeader,
             "tensor 't' has data_offsets [8, 4] outside"),
            (#"{"t":{\#(f32),"shape":[2,3],"data_offsets":[0,20]}}"#, 20, .mismatch,
             "tensor 't' of shape [2, 3] needs 24 bytes (6 F32 values), its data_offsets [0, 20] span 20"),
            (#"{"t":{\#(f32),"shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, 4, .mismatch,
             "more bytes than can be addressed"),
            (#"{"x":{\#(f32),"shape":[2],"data_offsets":[0,8]},"y":{\#(f32),"shape":[2],"data_offsets":[4,12]}}"#,
             12, .badHeader, "tensors 'x' [0, 8] and 'y' [4, 12] overlap"),
            (#"{"a": [1, "#, 0, .badHeader, "header is not valid JSON"),
            ("[1, 2]", 0, .badHeader, "header is JSON but not an object"),
            (#"{"__metadata__":{"n":3}}"#, 0, .badHeader, "__metadata__ is not an object of strings to strings"),
            (#"{"t":{\#(f32),"shape":[-1],"data_offsets":[0,0]}}"#, 0, .badHeader,
             "tensor 't' has no \"shape\" list of non-negative integers"),
            (#"{"t":{\#(f32),"shape":[1.5],"data_offsets":[0,4]}}"#, 4, .badHeader, "\"shape\""),
            (#"{"t":{\#(f32),"shape":[1],"data_offsets":[0]}}"#, 4, .badHeader,
             "tensor 't' has no \"data_offsets\" pair"),
            (#"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, 4, .badHeader, "tensor 't' has no string \"dtype\""),
        ]
        for c in cases {
            let bytes = handMade(header: c.header, data: [UInt8](repeating: 0, count: c.dataBytes))
            assertDataError(try decoded(bytes), c.kind, containing: c.message)
        }
    }

    func testShortFilesAndImpossibleLengthsAreRefused() {
        assertDataError(
            try decoded([1, 2, 3]), .truncated,
            containing: "w.safetensors: truncated: 3 bytes, fewer than the 8-byte header length")
        assertDataError(
            try decoded([0x10, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)), .truncated,
            containing: "header length says 16 bytes, the file has 2 after the length")
        assertDataError(
            try decoded([0, 0, 0, 0, 0, 1, 0, 0]), .badHeader,
            containing: "header length 1099511627776 is over the 100000000-byte limit")
    }

    func testWritingRefusesInconsistentTensorsAndLeavesNoFile() throws {
        let directory = try makeScratchDirectory()
        let cases: [([NamedTensor], String)] = [
            (
                [NamedTensor(name: "t", shape: [2, 2], values: [1, 2, 3])],
                "tensor 't' has shape [2, 2] but 3 values"
            ),
            (
                [
                    NamedTensor(name: "t", shape: [1], values: [1]),
                    NamedTensor(name: "t", shape: [1], values: [2]),
                ],
                "tensor name 't' is reserved or used twice"
            ),
            ([NamedTensor(name: "__metadata__", shape: [1], values: [1])], "reserved"),
            ([NamedTensor(name: "t", shape: [-1], values: [])], "shape [-1]"),
        ]
        for (tensors, text) in cases {
            XCTAssertThrowsError(try Safetensors.write(tensors, to: directory + "/w.safetensors")) {
                error in
                XCTAssertEqual((error as? DataError)?.kind, .invalidArgument)
                XCTAssertTrue("\(error)".contains(text), "\(error)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testMutatedFilesNeverCrash() throws {
        let valid = try Safetensors.encode(
            Array(tensors.prefix(3)), metadata: ["k": "v"], path: "w")
        let refusals = try countRefusals(damagedCopies(of: valid, count: 1500, seed: 8)) { bytes in
            for tensor in try decoded(bytes).tensors {
                XCTAssertEqual(tensor.values.count, tensor.shape.reduce(1, *))
            }
        }
        XCTAssertGreaterThan(refusals, 300)
    }
}
