import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for one test (root only), unmounted when the test ends, also when it fails.
final class TmpfsMount {
    let path: String

    /// Mounts `megabytes` of tmpfs at `path`; a skip where this process may not mount.
    init(_ test: XCTestCase, at path: String, megabytes: Int) throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try runToEnd("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        guard mount.status == 0 else { throw XCTSkip("cannot mount a tmpfs here: \(mount.output)") }
        self.path = path
        test.addTeardownBlock { _ = try? runToEnd("/bin/umount", ["-l", path]) }
    }

    /// Makes `directory` (inside the mount) read-only from now on. The whole tmpfs cannot be remounted
    /// read-only while a file on it is open for writing (the run's events.jsonl), so a read-only bind mount
    /// of the directory goes over it: every later path lookup there finds a read-only file system.
    func makeReadOnly(_ test: XCTestCase, _ directory: String) throws {
        let bind = try runToEnd("/bin/mount", ["--bind", directory, directory])
        XCTAssertEqual(bind.status, 0, bind.output)
        test.addTeardownBlock { _ = try? runToEnd("/bin/umount", ["-l", directory]) }
        let remount = try runToEnd("/bin/mount", ["-o", "remount,bind,ro", directory])
        XCTAssertEqual(remount.status, 0, remount.output)
    }

    /// Fills the file system: a file grows until the disk refuses more.
    func fill() {
        let fd = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        let block = [UInt8](repeating: 0xAB, count: 1 << 16)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
    }
}

/// The run directory's disk fails under a run: full during a checkpoint, turned read-only between
/// epochs, full while the figures are drawn. Each time: one error line naming the path, a non-zero
/// exit, and the last checkpoint intact; resuming from it gives the undisturbed run's weights. A
/// checkpoint cut short or with a flipped byte is refused, never loaded.
final class DiskFaultTests: XCTestCase {
    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("these tests train real networks in several runs: run them in a release build "
                      + "(swift build --build-tests -c release -Xswiftc -enable-testing ...)")
        #endif
    }

    static func runArguments(limit: Int = 300) throws -> [String] {
        ["--data", try mnistDirectory(), "--limit-train", "\(limit)", "--epochs", "2", "--seed", "11", "--no-maps"]
    }

    func testAFullDiskAtACheckpointStopsWithOneLineAndTheLastCheckpointResumesToTheSameWeights() throws {
        let root = try temporaryDirectory(self, "disk-full")
        let reference = try train(Self.runArguments(), in: root + "/reference")
        XCTAssertEqual(reference.status, 0, reference.output)
        // A checkpoint is 10 MB and is written beside the previous one before replacing it: 16 MB hold one.
        let disk = try TmpfsMount(self, at: root + "/disk", megabytes: 16)
        let full = try train(Self.runArguments(), in: disk.path + "/run")
        try checkOneErrorLine(full, naming: disk.path + "/run/checkpoint.safetensors", reason: "No space left on device")

        let copy = root + "/copy"
        try FileManager.default.copyItem(atPath: disk.path + "/run", toPath: copy)
        let resumed = try train(Self.runArguments() + ["--resume", copy], in: root + "/unused")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(try RunResult(status: 0, output: "", directory: copy).weightsDigest(), try reference.weightsDigest(),
                       "resuming from the checkpoint left by the full disk did not give the undisturbed run's weights")

        // The same checkpoint cut short, and with one flipped byte in its values: refused by name.
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: reference.directory + "/checkpoint.safetensors"))
        var flipped = checkpoint
        flipped[flipped.count - 1000] ^= 0x10
        for (name, bytes, words) in [("truncated", checkpoint.prefix(checkpoint.count / 2), ["truncated"]),
                                     ("flipped", flipped, ["corrupted", "SHA-256"])] {
            let dir = root + "/" + name
            try FileManager.default.copyItem(atPath: reference.directory, toPath: dir)
            try bytes.write(to: URL(fileURLWithPath: dir + "/checkpoint.safetensors"))
            let refused = try train(Self.runArguments() + ["--resume", dir], in: root + "/unused")
            try checkOneErrorLine(refused, naming: dir + "/checkpoint.safetensors", reason: words[0])
            for word in words { XCTAssertTrue(refused.output.contains(word), "\(name): no \(word) in\n\(refused.output)") }
            XCTAssertFalse(refused.output.contains("epoch 1/"), "\(name): trained from a bad checkpoint:\n\(refused.output)")
        }
    }

    func testARunDirectoryTurnedReadOnlyStopsWithOneLineAndKeepsItsCheckpoint() throws {
        let root = try temporaryDirectory(self, "disk-read-only")
        let disk = try TmpfsMount(self, at: root + "/disk", megabytes: 64)
        let run = disk.path + "/run"
        // Its log goes outside the disk: a file open for writing would keep the disk from turning read-only.
        let process = try RunningProcess("glassbox-coordinator", ["train"] + Self.runArguments(limit: 2000) + ["--out", run],
                                         outputPath: root + "/run.log")
        // Once epoch 1's checkpoint is there, the run is frozen, its disk made read-only, and let go on.
        let deadline = Date().addingTimeInterval(300)
        while process.process.isRunning, Date() < deadline, try epochsDone(in: run) < 1 { Thread.sleep(forTimeInterval: 0.02) }
        kill(process.pid, SIGSTOP)
        let stillTraining = process.process.isRunning
        try disk.makeReadOnly(self, run)
        kill(process.pid, SIGCONT)
        let status = process.wait(timeout: 300)
        guard stillTraining else { throw XCTSkip("the run ended before its disk could be made read-only") }
        try checkOneErrorLine(RunResult(status: status, output: process.output, directory: run), naming: run,
                              reason: "Read-only file system")
        XCTAssertEqual(try epochsDone(in: run), 1)
        let copy = root + "/copy"
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        let resumed = try train(Self.runArguments(limit: 2000) + ["--resume", copy], in: root + "/unused")
        XCTAssertEqual(resumed.status, 0, "the checkpoint on the read-only disk does not resume:\n\(resumed.output)")
    }

    func testAFullDiskWhileTheFiguresAreDrawnStopsWithOneLineAndLeavesTheCheckpoint() throws {
        let root = try temporaryDirectory(self, "disk-figures")
        let disk = try TmpfsMount(self, at: root + "/disk", megabytes: 64)
        let run = try train(["--data", try mnistDirectory(), "--limit-train", "300", "--epochs", "1", "--n-neighbors", "15"],
                            in: disk.path + "/run")
        XCTAssertEqual(run.status, 0, run.output)
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: run.directory + "/checkpoint.safetensors"))
        disk.fill()
        let render = try RunningProcess("glassbox-coordinator", ["render", run.directory], outputPath: root + "/render.log")
        let status = render.wait(timeout: 300)
        try checkOneErrorLine(RunResult(status: status, output: render.output, directory: run.directory),
                              naming: run.directory, reason: "No space left on device")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run.directory + "/checkpoint.safetensors")), checkpoint,
                       "the checkpoint changed while the figures failed")
    }

    func testAFullDiskWhileARunDrawsItsFiguresStopsWithOneLineAndItsCheckpointResumesToTheSameWeights() throws {
        let root = try temporaryDirectory(self, "disk-figures-run")
        let arguments = ["--data", try mnistDirectory(), "--limit-train", "2000", "--epochs", "2", "--seed", "11",
                         "--n-neighbors", "15"]
        let reference = try train(arguments, in: root + "/reference")
        XCTAssertEqual(reference.status, 0, reference.output)
        let disk = try TmpfsMount(self, at: root + "/disk", megabytes: 96)
        let run = disk.path + "/run"
        let process = try RunningProcess("glassbox-coordinator", ["train"] + arguments + ["--out", run],
                                         outputPath: root + "/run.log")
        // Epoch 0's map files are written just before its figure and the report are queued: from then on the
        // figure thread draws while epoch 1 trains. The run is frozen there, its disk filled, and let go on.
        let deadline = Date().addingTimeInterval(300)
        while process.process.isRunning, Date() < deadline,
              !FileManager.default.fileExists(atPath: run + "/maps/epoch_000.npy") { Thread.sleep(forTimeInterval: 0.005) }
        kill(process.pid, SIGSTOP)
        let stillRunning = process.process.isRunning
        disk.fill()
        kill(process.pid, SIGCONT)
        let status = process.wait(timeout: 300)
        guard stillRunning else { throw XCTSkip("the run ended before its disk could be filled") }
        try checkOneErrorLine(RunResult(status: status, output: process.output, directory: run), naming: run,
                              reason: "No space left on device")
        // What the run left loads, and resuming from it gives the undisturbed run's weights.
        let copy = root + "/copy"
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        let resumed = try train(arguments + ["--resume", copy], in: root + "/unused")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(try RunResult(status: 0, output: "", directory: copy).weightsDigest(), try reference.weightsDigest(),
                       "resuming after the full disk did not give the undisturbed run's weights")
    }

    // MARK: helpers

    /// A non-zero exit with exactly one error line, which names `path` and says `reason`; no stack trace.
    private func checkOneErrorLine(_ run: RunResult, naming path: String, reason: String) throws {
        XCTAssertNotEqual(run.status, 0, run.output)
        let errors = run.output.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.contains("error]") }
        XCTAssertEqual(errors.count, 1, "not one error line:\n\(run.output)")
        let line = errors.first.map(String.init) ?? ""
        XCTAssertTrue(line.contains(path), "the error does not name \(path): \(line)")
        XCTAssertTrue(line.contains(reason), "the error does not say \(reason): \(line)")
        for noise in ["Fatal error", "Stack dump", "Backtrace", "NSCocoaErrorDomain"] {
            XCTAssertFalse(run.output.contains(noise), "\(noise) in:\n\(run.output)")
        }
    }

    /// The epochs the checkpoint in `run` holds (checkpoint.json, written last and atomically); 0 when none yet.
    private func epochsDone(in run: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: run + "/checkpoint.json"),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return object["epochs_done"] as? Int ?? 0
    }
}
