import Core
import Foundation
import FuzzSupport

// Fuzzes `NPY.decode` (every .npy file Glassbox reads: maps, saved UMAP models, `embed` input).
// Properties: no trap, no allocation the file's size does not justify, the values fill the shape, and
// a float32 array read back re-encodes to bytes that decode to the same bits.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(npySeeds)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let array = try? NPY.decode(fuzzBytes(data, size), path: "fuzz") else { return 0 }
    guard array.values.count == array.shape.reduce(1, *) else {
        fuzzFailure("shape \(array.shape) read with \(array.values.count) values")
    }
    guard let again = try? NPY.decode(NPY.encode(array, path: "fuzz"), path: "fuzz"),
          again.shape == array.shape, again.values.map(\.bitPattern) == array.values.map(\.bitPattern) else {
        fuzzFailure("shape \(array.shape) does not survive encode → decode")
    }
    return 0
}

/// Arrays as Glassbox writes them (float32 and int32, 0 to 3 dimensions) and hand-written headers for
/// the other dtypes and versions it reads.
private func npySeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = [
        ("scalar-f4", try NPY.encode(NPYArray(shape: [], values: [1.5]), path: "seed")),
        ("vector-f4", try NPY.encode(NPYArray(shape: [3], values: [0, -1, .infinity]), path: "seed")),
        ("map-f4", try NPY.encode(NPYArray(shape: [4, 2], values: [0, 1, 2, 3, 4, 5, 6, 7]), path: "seed")),
        ("cube-f4", try NPY.encode(NPYArray(shape: [2, 1, 2], values: [1, 2, 3, 4]), path: "seed")),
        ("empty-f4", try NPY.encode(NPYArray(shape: [0, 2], values: []), path: "seed")),
    ]
    // int32 labels, as `MapFiles` writes them: through a file, the only way that writer goes.
    let path = NSTemporaryDirectory() + "/glassbox-fuzz-seed-\(getpid()).npy"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try NPY.writeInt32([7, 2, 1, 0], shape: [4], to: path)
    seeds.append(("labels-i4", try FileBytes.read(path)))
    for (descr, version, data) in [("<f8", 1, [UInt8](repeating: 0x3f, count: 16)), ("<i8", 2, [UInt8](repeating: 1, count: 16)),
                                   ("|u1", 3, [UInt8](1...2)), ("<u1", 1, [UInt8](1...2))] {
        // Two elements each: 16 bytes of 8-byte types, 2 of the byte types.
        let dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': (2,), }\n".utf8)
        let lengthBytes = version == 1 ? 2 : 4
        let length = (0..<lengthBytes).map { UInt8(truncatingIfNeeded: dict.count >> (8 * $0)) }
        seeds.append(("\(descr.dropFirst())-v\(version)", [0x93] + Array("NUMPY".utf8) + [UInt8(version), 0] + length + dict + data))
    }
    return seeds
}
