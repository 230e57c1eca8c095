import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The directory holding the built executables: the one this test bundle was built into.
let buildDirectory: URL = {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
    // Where the bundle is a directory (macOS) the test binary sits a few levels inside it.
    for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("glassbox-coordinator").path) {
        dir.deleteLastPathComponent()
    }
    return dir
}()

/// The MNIST directory the tests train on ($GLASSBOX_DATA, else data/mnist), or a skip.
func mnistDirectory() throws -> String {
    let dir = ProcessInfo.processInfo.environment["GLASSBOX_DATA"] ?? "data/mnist"
    let probe = (dir as NSString).appendingPathComponent("train-images-idx3-ubyte")
    guard FileManager.default.fileExists(atPath: probe) || FileManager.default.fileExists(atPath: probe + ".gz") else {
        throw XCTSkip("MNIST is not in \(dir): run `make data` or set GLASSBOX_DATA")
    }
    return dir
}

/// Runs `executable` with `arguments` to its end; its standard output and error together.
@discardableResult
func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase, _ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "glassbox-it-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let port = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int in
            guard bind(fd, raw, length) == 0, getsockname(fd, raw, &length) == 0 else { return 0 }
            return Int(UInt16(bigEndian: pointer.pointee.sin_port))
        }
    }
    precondition(port > 0, "no free port")
    return port
}

/// One of the project's executables running as a child process, its output (stdout and stderr
/// together) going to a file that can be read while it runs.
final class RunningProcess {
    let name: String
    let process = Process()
    let outputPath: String

    /// Starts `executable` from the build directory; its output goes to `outputPath`; `environment` is added
    /// to this process' environment.
    convenience init(_ executable: String, _ arguments: [String], outputPath: String,
                     environment: [String: String] = [:]) throws {
        try self.init(path: buildDirectory.appendingPathComponent(executable).path, arguments, outputPath: outputPath,
                      environment: environment)
    }

    /// Starts the program at `path`; its output goes to `outputPath`.
    init(path: String, _ arguments: [String], outputPath: String, environment: [String: String] = [:]) throws {
        name = (outputPath as NSString).lastPathComponent
        self.outputPath = outputPath
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
            .merging(environment) { $1 }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit (killing the process after `timeout` seconds) and returns the status.
    @discardableResult
    func wait(timeout: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTFail("\(name) was still running after \(timeout) s; its output:\n\(output)")
        }
        return process.terminationStatus
    }

    /// Waits until the output contains `text`; false after `timeout` seconds or if the process ended first.
    func waitForOutput(_ text: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

/// What a training run left in its run directory.
struct RunResult {
    let status: Int32
    let output: String
    let directory: String

    /// SHA-256 of the final weights' values (fp32, little-endian, in layout order).
    func weightsDigest() throws -> String {
        let (tensors, _) = try Safetensors.read(from: (directory as NSString).appendingPathComponent("weights.safetensors"))
        var hasher = SHA256()
        for spec in SeedCNN.layout.tensors {
            let tensor = try XCTUnwrap(tensors.first { $0.name == spec.name }, "no tensor \(spec.name)")
            tensor.values.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.hexDigest()
    }

    /// metrics.csv without the timing columns (seconds, samples/s), which differ between runs.
    func metricsWithoutTimings() throws -> [String] {
        let csv = try String(contentsOfFile: (directory as NSString).appendingPathComponent("metrics.csv"), encoding: .utf8)
        return csv.split(separator: "\n").map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
    }

    /// The lines of events.jsonl whose event is `name`.
    func events(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: (directory as NSString).appendingPathComponent("events.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["event"] as? String == name }
    }
}

/// Starts `glassbox-coordinator train` writing to the run directory `directory` (its output in
/// `directory.log`).
func startTraining(_ arguments: [String], in directory: String) throws -> RunningProcess {
    try RunningProcess("glassbox-coordinator", ["train"] + arguments + ["--out", directory], outputPath: directory + ".log")
}

/// Runs `glassbox-coordinator train` to the end.
func train(_ arguments: [String], in directory: String, timeout: Double = 240) throws -> RunResult {
    let process = try startTraining(arguments, in: directory)
    let status = process.wait(timeout: timeout)
    return RunResult(status: status, output: process.output, directory: directory)
}

/// Starts a `glassbox-worker` connecting to `endpoint`, its output in `logPath`; `environment` is added to this
/// process' environment.
func startWorker(_ endpoint: String, _ arguments: [String], logPath: String,
                 environment: [String: String] = [:]) throws -> RunningProcess {
    try RunningProcess("glassbox-worker", ["--connect", endpoint, "--data", try mnistDirectory(), "--threads", "1"] + arguments,
                       outputPath: logPath, environment: environment)
}
