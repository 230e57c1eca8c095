import Foundation
import XCTest

@testable import Core

// Shared by the tests of Sources/Core/Data: scratch directories, external tools (gzip, python3,
// sha256sum) run as independent references, and IDX files built byte by byte.

extension XCTestCase {
    /// A fresh directory, removed when the test ends.
    func makeScratchDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "glassbox-data-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

/// The result of running an external program.
struct ProcessOutput {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `arguments` (the program is looked up on PATH) in `directory`.
func runTool(_ arguments: [String], in directory: String? = nil) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    // Standard error goes to a file so that neither pipe can fill up while the other is read.
    let errorPath = NSTemporaryDirectory() + "glassbox-tool-stderr-" + UUID().uuidString
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errorPath) }
    let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    let stdout = Pipe()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = stdout
    process.standardError = errorHandle
    try process.run()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorHandle.close()
    return ProcessOutput(
        status: process.terminationStatus,
        stdout: String(decoding: out, as: UTF8.self),
        stderr: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
}

/// Runs `script` with python3 and returns its standard output; skips the test when python3 (or
/// numpy, if `needsNumpy`) is not installed, fails it when the script fails.
func runPython(
    _ script: String, needsNumpy: Bool = false, file: StaticString = #filePath, line: UInt = #line
) throws -> String {
    let probe = try? runTool(["python3", "-c", needsNumpy ? "import numpy" : "pass"])
    guard probe?.status == 0 else {
        throw XCTSkip("python3\(needsNumpy ? " with numpy" : "") is not available")
    }
    let result = try runTool(["python3", "-c", script])
    XCTAssertEqual(result.status, 0, "python3 failed: \(result.stderr)", file: file, line: line)
    return result.stdout
}

/// Compresses the file at `path` with the gzip tool, leaving `path + ".gz"` beside it.
func gzipWithTool(_ path: String, keepOriginal: Bool = true) throws {
    let result = try runTool(["gzip", "-n", "-f"] + (keepOriginal ? ["-k"] : []) + [path])
    XCTAssertEqual(result.status, 0, "gzip failed: \(result.stderr)")
}

/// An IDX file: big-endian `magic`, one big-endian UInt32 per dimension, then `payload`.
func idxBytes(magic: UInt32, dimensions: [UInt32], payload: [UInt8]) -> [UInt8] {
    func bigEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
    }
    return bigEndian(magic) + dimensions.flatMap(bigEndian) + payload
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readFile(_ path: String) throws -> [UInt8] {
    try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Asserts that `expression` throws a DataError of `kind` whose description starts with its path
/// and contains `text`.
func assertDataError(
    _ expression: @autoclosure () throws -> some Any, _ kind: DataError.Kind,
    containing text: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        guard let error = error as? DataError else {
            return XCTFail("\(error) is not a DataError", file: file, line: line)
        }
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertTrue(
            error.description.hasPrefix(error.path + ": "), "\(error)", file: file, line: line)
        XCTAssertTrue(
            error.description.contains(text), "\(error) should contain \(text)", file: file,
            line: line)
    }
}

/// `count` damaged copies of `valid`: one to three bytes replaced at random (half of them inside
/// the first `focusByteCount` bytes, where headers are), and every third copy cut short.
func damagedCopies(
    of valid: [UInt8], count: Int, seed: UInt64, focusByteCount: Int? = nil
) -> [[UInt8]] {
    var rng = SplitMix64(seed: seed, stream: .sampling)
    return (0..<count).map { _ in
        var bytes = valid
        for _ in 0..<(1 + rng.next() % 3) {
            let range =
                focusByteCount.map { rng.next() % 2 == 0 ? min($0, bytes.count) : bytes.count }
                ?? bytes.count
            bytes[Int(rng.next() % UInt64(range))] = UInt8(truncatingIfNeeded: rng.next())
        }
        if rng.next() % 3 == 0 {
            bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
        }
        return bytes
    }
}

/// How many of `inputs` `decode` refuses with a DataError; any other error fails the test.
func countRefusals(_ inputs: [[UInt8]], _ decode: ([UInt8]) throws -> Void) throws -> Int {
    var refusals = 0
    for bytes in inputs {
        do {
            try decode(bytes)
        } catch is DataError {
            refusals += 1
        }
    }
    return refusals
}
