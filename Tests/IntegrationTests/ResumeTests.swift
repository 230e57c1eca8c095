import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A run that crashes (SIGKILL, at a named moment: `GLASSBOX_CRASH_AT`) and is continued with
/// `train --resume DIR` alone ends with the directory of an undisturbed run: the same weights bytes,
/// metrics rows (timing columns aside), maps/*.npy bytes and figures, in warm (deterministic) UMAP mode.
final class ResumeTests: XCTestCase {
    /// 800 training images: 8 steps an epoch, a checkpoint after steps 3 and 6 and at the epoch's end.
    static func runArguments() throws -> [String] {
        ["--data", try mnistDirectory(), "--limit-train", "1000", "--epochs", "3", "--seed", "5", "--n-neighbors", "10",
         "--threads", "2", "--checkpoint-every", "3"]
    }

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("ResumeTests train with maps: run them in a release build")
        #endif
    }

    private static let referenceLock = NSLock()
    nonisolated(unsafe) private static var referenceDirectory: String?

    /// The undisturbed run, trained once for all tests (removed when the test process ends).
    func reference() throws -> String {
        try Self.referenceLock.withLock {
            if let dir = Self.referenceDirectory { return dir }
            let root = NSTemporaryDirectory() + "glassbox-it-resume-reference-\(getpid())"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "glassbox-it-resume-reference-\(getpid())") }
            let run = try train(Self.runArguments(), in: root + "/run", timeout: 900)
            XCTAssertEqual(run.status, 0, run.output)
            Self.referenceDirectory = root + "/run"
            return root + "/run"
        }
    }

    /// Trains with the crash point `crashAt` armed, checks that the run died of it, then resumes with
    /// `--resume DIR` (plus `resumeArguments`) and returns the resumed run's output.
    func crashAndResume(_ crashAt: String, extra: [String] = [], resumeArguments: [String] = [],
                        environment: [String: String] = [:], in root: String) throws -> String {
        let dir = root + "/run"
        let crashed = try RunningProcess("glassbox-coordinator", ["train"] + Self.runArguments() + extra + ["--out", dir],
                                         outputPath: root + "/crashed.log",
                                         environment: environment.merging(["GLASSBOX_CRASH_AT": crashAt]) { _, b in b })
        let status = crashed.wait(timeout: 900)
        XCTAssertEqual(crashed.process.terminationReason, .uncaughtSignal, crashed.output)
        XCTAssertEqual(status, SIGKILL, crashed.output)
        let point = String(crashAt.prefix { $0 != ":" })
        XCTAssertTrue(crashed.output.contains("crash point \(point): SIGKILL"), crashed.output)
        let resumed = try RunningProcess("glassbox-coordinator", ["train", "--resume", dir] + resumeArguments,
                                         outputPath: root + "/resumed.log")
        XCTAssertEqual(resumed.wait(timeout: 900), 0, resumed.output)
        return resumed.output
    }

    /// Every output that must not depend on the crash: byte for byte, or row for row without timings.
    func assertSameOutputs(_ dir: String, as reference: String, _ what: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        func bytes(_ dir: String, _ name: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(name)))
        }
        func names(_ dir: String, _ folder: String, _ suffix: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: (dir as NSString).appendingPathComponent(folder))
                .filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }.sorted().map { folder + "/" + $0 }
        }
        let files = try names(reference, "maps", ".npy") + names(reference, "fig", ".png")
        XCTAssertEqual(files.count, 4 * 4 + 2 + 4, "\(what): the reference's maps and frames", file: file, line: line)
        XCTAssertEqual(try names(dir, "maps", ".npy") + names(dir, "fig", ".png"), files, "\(what): the files", file: file, line: line)
        for name in files + ["weights.safetensors", "mnist.gif", "train_test_dist.png", "acc_loss.png", "cnn_predict.png"] {
            XCTAssertEqual(try bytes(dir, name), try bytes(reference, name), "\(what): \(name) differs", file: file, line: line)
        }
        let csv = { (dir: String) in
            String(decoding: try bytes(dir, "metrics.csv"), as: UTF8.self).split(separator: "\n")
                .map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
        }
        XCTAssertEqual(try csv(dir), try csv(reference), "\(what): metrics.csv", file: file, line: line)
        let jsonl = { (dir: String) in
            try String(decoding: try bytes(dir, "metrics.jsonl"), as: UTF8.self).split(separator: "\n").map {
                try JSONDecoder().decode([String: Double].self, from: Data($0.utf8))
                    .filter { !$0.key.hasSuffix("seconds") && $0.key != "samples_per_second" }
            }
        }
        let rows = try jsonl(reference)
        XCTAssertEqual(rows.count, 4, "\(what): epoch 0's map row and three epochs", file: file, line: line)
        XCTAssertNotNil(rows.last?["umap_trustworthiness"], "\(what): the rows hold the map's figures", file: file, line: line)
        XCTAssertEqual(try jsonl(dir), rows, "\(what): metrics.jsonl without timings", file: file, line: line)
    }

    func testRunKilledMidEpochAfterACheckpointResumesToTheUndisturbedRunsFiles() throws {
        let reference = try reference()
        let root = try temporaryDirectory(self, "resume-mid-epoch")
        // Checkpoints: epoch 1 after steps 3, 6, 8; the 4th is epoch 2 after step 3.
        let output = try crashAndResume("checkpoint:4", in: root)
        XCTAssertTrue(output.contains("after epoch 1, step 3 of epoch 2"), output)
        try assertSameOutputs(root + "/run", as: reference, "killed in epoch 2's training")
    }

    func testRunKilledDuringAMapResumesToTheUndisturbedRunsFiles() throws {
        let reference = try reference()
        let root = try temporaryDirectory(self, "resume-map")
        // Maps: epoch 0's, 1's, then epoch 2's, killed after its activations, before its UMAP.
        let output = try crashAndResume("map:3", in: root)
        XCTAssertTrue(output.contains("resuming \(root)/run after epoch 2 (Adam step 16)"), output)
        XCTAssertTrue(output.contains("epoch 2 map: UMAP warm-started"), "the map starts from the saved one:\n\(output)")
        try assertSameOutputs(root + "/run", as: reference, "killed during epoch 2's map")
    }

    func testCheckpointCutShortByACrashIsNeverLoaded() throws {
        let reference = try reference()
        let root = try temporaryDirectory(self, "resume-write")
        // Writes: the start, epoch 1 after steps 3, 6, 8, epoch 2 after step 3, then the 6th (epoch 2 after
        // step 6) dies half-written: the 5th is loaded.
        let output = try crashAndResume("checkpoint-write:6", in: root)
        XCTAssertTrue(output.contains("after epoch 1, step 3 of epoch 2"), output)
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/run").filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [], "the half-written file is cleared")
        try assertSameOutputs(root + "/run", as: reference, "killed while writing a checkpoint")
    }

    func testTwoWorkerRunKilledMidEpochResumesToTheOneProcessRunsFiles() throws {
        let reference = try reference()
        let root = try temporaryDirectory(self, "resume-workers")
        let first = freePort(), second = freePort()
        defer { for port in [first, second] { killWorkers(connectedTo: port) } }
        // Maps made in turn, as without workers (with workers they are made in the background by default,
        // which the next test covers).
        let output = try crashAndResume("checkpoint:2", extra: ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:\(first)"],
                                        resumeArguments: ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:\(second)"],
                                        environment: ["GLASSBOX_MAPS_IN_BACKGROUND": "off"], in: root)
        XCTAssertTrue(output.contains("after epoch 0, step 6 of epoch 1"), output)
        try assertSameOutputs(root + "/run", as: reference, "two workers, killed in epoch 1")
    }

    /// With workers, an epoch's map is made on low-priority threads while the next epoch trains; a crash
    /// at any point leaves checkpoints from which the one-process run's files come back.
    func testTwoWorkerRunWithMapsInTheBackgroundKilledAnywhereResumesToTheOneProcessRunsFiles() throws {
        let reference = try reference()
        // checkpoint:1: epoch 1 after step 3, while epoch 0's map is (on 2 cores, surely) still being made:
        // epoch 0's weights are kept beside it, and the resumed run makes that map from them;
        // map:3: epoch 2's activations taken (epoch 1's map was written before epoch 2's checkpoint);
        // checkpoint:5: epoch 2 after step 6 (epoch 1 after steps 3, 6, 8, epoch 2 after step 3, then this).
        for (crashAt, resumedAfter) in [("checkpoint:1", "after epoch 0, step 3 of epoch 1"),
                                        ("map:3", "after epoch 2 (Adam step 16)"),
                                        ("checkpoint:5", "after epoch 1, step 6 of epoch 2")] {
            let root = try temporaryDirectory(self, "resume-background-\(crashAt.prefix { $0 != ":" })")
            let first = freePort(), second = freePort()
            defer { for port in [first, second] { killWorkers(connectedTo: port) } }
            let output = try crashAndResume(crashAt, extra: ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:\(first)"],
                                            resumeArguments: ["--spawn-workers", "2", "--bind", "tcp://127.0.0.1:\(second)"],
                                            in: root)
            let crashed = try String(contentsOfFile: root + "/crashed.log", encoding: .utf8)
            if crashAt != "checkpoint:1" {  // killed before any map was done
                XCTAssertTrue(crashed.contains("made in the background beside the training"), "maps made in the background:\n\(crashed)")
            }
            XCTAssertTrue(output.contains(resumedAfter), output)
            if crashAt == "checkpoint:1" {
                XCTAssertTrue(output.contains("making epoch 0's map from its weights (checkpoint-epoch.safetensors), "
                                              + "then training on from step 3 of epoch 1"), output)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/run/checkpoint-epoch.safetensors"),
                           "the kept epoch end is removed once its map is on disk")
            try assertSameOutputs(root + "/run", as: reference, "two workers, maps in the background, killed at \(crashAt)")
        }
    }

    func testResumeRefusesAChangedMapSettingInOneLine() throws {
        let root = try temporaryDirectory(self, "resume-refused")
        _ = try crashAndResume("checkpoint:1", in: root)
        let changed = try RunningProcess("glassbox-coordinator", ["train", "--resume", root + "/run", "--n-neighbors", "12"],
                                         outputPath: root + "/changed.log")
        XCTAssertNotEqual(changed.wait(timeout: 120), 0)
        XCTAssertTrue(changed.output.contains("--n-neighbors was 10 in the checkpoint, is 12 now"), changed.output)
        XCTAssertFalse(changed.output.contains("Fatal error"), changed.output)
    }

    /// SIGKILLs the workers a crashed coordinator left behind (they would give up on their own after
    /// --coordinator-timeout).
    func killWorkers(connectedTo port: Int) {
        let needle = "--connect\0tcp://127.0.0.1:\(port)\0"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline")),
                  String(decoding: cmdline, as: UTF8.self).contains(needle) else { continue }
            kill(pid, SIGKILL)
        }
    }
}
