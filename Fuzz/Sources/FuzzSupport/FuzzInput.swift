import Foundation

/// The bytes libFuzzer hands to `LLVMFuzzerTestOneInput`, copied into an array.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Stops the fuzzer with `problem`: a property of the reader failed (libFuzzer saves the input).
public func fuzzFailure(_ problem: String) -> Never {
    FileHandle.standardError.write(Data("fuzz property failed: \(problem)\n".utf8))
    abort()
}

/// `argv` of `LLVMFuzzerInitialize(int *argc, char ***argv)`.
public typealias FuzzArguments = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>

/// When GLASSBOX_FUZZ_SEEDS names a directory, writes `seeds()` there (one file per seed, named by
/// it) and exits: `scripts/fuzz_seeds.sh` builds each target's starting corpus this way, from the
/// library's own writers, so no binary seed is committed. Otherwise returns 0, what
/// `LLVMFuzzerInitialize` returns to go on fuzzing.
public func writeSeedsIfAsked(_ seeds: () throws -> [(name: String, bytes: [UInt8])]) -> Int32 {
    guard let directory = ProcessInfo.processInfo.environment["GLASSBOX_FUZZ_SEEDS"] else { return 0 }
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try seeds()
        for seed in made {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(seed.name))
        }
        print("wrote \(made.count) seeds to \(directory)")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("cannot write seeds to \(directory): \(error)\n".utf8))
        exit(1)
    }
}

/// The MNIST files' directory (GLASSBOX_DATA), for seeds cut from real files.
public var mnistDirectory: String? { ProcessInfo.processInfo.environment["GLASSBOX_DATA"] }

/// The system's directory for temporary files.
public func temporaryDirectory() -> String { NSTemporaryDirectory() }

/// Removes `path` and everything in it, if it exists.
public func removeDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }
