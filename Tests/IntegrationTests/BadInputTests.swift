import Core
import Foundation
import XCTest

/// Wrong input where a user types: every case ends at once with a non-zero status and a short message
/// that names the problem, never a stack trace, a Foundation error dump or a hang.
final class BadInputTests: XCTestCase {
    /// One wrong input: the program, its arguments, the words the message must contain, and whether it
    /// runs as the unprivileged user `nobody` (for files root could read regardless of their mode).
    struct Case {
        let program: String
        let arguments: [String]
        let words: [String]
        var unprivileged = false

        init(_ program: String, _ arguments: [String], _ words: [String], unprivileged: Bool = false) {
            self.program = program
            self.arguments = arguments
            self.words = words
            self.unprivileged = unprivileged
        }
    }

    func testEveryWrongValueGetsOneClearLineAndANonZeroExit() throws {
        let dir = try temporaryDirectory(self, "bad-input")
        let files = try BadInputFiles(in: dir)
        let mnist = try mnistDirectory()
        let coordinator = "glassbox-coordinator", worker = "glassbox-worker"
        let checkpoint = try startedRun(in: dir + "/checkpointed", data: mnist)
        let fashion = "/usr/share/datasets/fashion-mnist"
        let cases: [Case] = [
            Case(coordinator, ["train", "--epochs", "-1"], ["--epochs", "-1"]),
            Case(coordinator, ["train", "--epochs", "ten"], ["--epochs", "ten"]),
            Case(coordinator, ["train", "--threads", "100000"], ["--threads", "100000"]),
            Case(coordinator, ["train", "--threads", "0"], ["--threads", "0"]),
            Case(coordinator, ["train", "--micro-batch", "0"], ["--micro-batch"]),
            Case(coordinator, ["train", "--dataset", "cifar"], ["--dataset", "cifar"]),
            Case(coordinator, ["train", "--log-level", "loud"], ["--log-level", "loud"]),
            Case(coordinator, ["train", "--data", dir + "/missing", "--out", dir + "/r1"], ["missing"]),
            Case(coordinator, ["train", "--data", files.plainFile, "--out", dir + "/r2"], ["plain-file"]),
            Case(coordinator, ["train", "--resume", dir], ["checkpoint"]),
            Case(coordinator, ["train", "--spawn-workers", "2", "--workers", "2"], ["--spawn-workers", "--workers"]),
            Case(coordinator, ["keygen", "--out", "/proc/glassbox-keys"], ["/proc/glassbox-keys"]),
            Case(coordinator, ["launch", "--hosts", files.badHosts], ["line 2", "two"]),
            Case(coordinator, ["launch", "--hosts", dir + "/no-hosts"], ["no-hosts"]),
            Case(coordinator, ["launch", "--hosts", files.badHosts, "--rsh", "ssh"], ["{host}"]),
            Case(worker, ["--threads", "0"], ["--threads", "0"]),
            Case(coordinator, ["train", "--kernels", "sse"], ["--kernels", "unknown kernels 'sse'"]),
            Case(worker, ["--kernels", "neon"], ["--kernels", "unknown kernels 'neon'"]),
            Case(coordinator, ["bench", "--kernels", "avx1024"], ["--kernels", "avx1024"]),
            Case(worker, ["--dataset", "bogus"], ["--dataset", "bogus"]),
            Case(worker, ["--data", dir + "/missing", "--coordinator-timeout", "1"], ["missing"]),
            Case(worker, ["--coordinator-timeout", "0"], ["--coordinator-timeout"]),

            // train: numbers out of range or not numbers
            Case(coordinator, ["train", "--epochs", "99999999999999999999"], ["--epochs", "99999999999999999999"]),
            Case(coordinator, ["train", "--seed", "-1"], ["--seed", "-1"]),
            Case(coordinator, ["train", "--seed", "abc"], ["--seed", "abc"]),
            Case(coordinator, ["train", "--threads", "-3"], ["--threads", "-3"]),
            Case(coordinator, ["train", "--threads", "x"], ["--threads", "x"]),
            Case(coordinator, ["train", "--micro-batch", "101"], ["--micro-batch", "101"]),
            Case(coordinator, ["train", "--micro-batch", "-5"], ["--micro-batch", "-5"]),
            Case(coordinator, ["train", "--limit-train", "0"], ["--limit-train", "0"]),
            Case(coordinator, ["train", "--limit-train", "-200"], ["--limit-train", "-200"]),
            Case(coordinator, ["train", "--data", mnist, "--limit-train", "10000000", "--out", dir + "/r3"],
                 ["--limit-train", "10000000", "60000"]),
            Case(coordinator, ["train", "--n-neighbors", "1"], ["--n-neighbors", "1"]),
            Case(coordinator, ["train", "--data", mnist, "--limit-train", "200", "--n-neighbors", "100000", "--out", dir + "/r4"],
                 ["--n-neighbors", "100000"]),
            Case(coordinator, ["train", "--save-umap-model", "--no-maps"], ["--save-umap-model", "--no-maps"]),
            Case(coordinator, ["train", "--umap-mode", "bogus"], ["--umap-mode", "bogus"]),
            Case(coordinator, ["train", "--umap-neighbors", "bogus"], ["--umap-neighbors", "bogus"]),
            Case(coordinator, ["train", "--data", mnist, "--umap-neighbors", "workers", "--limit-train", "200", "--epochs", "0",
                               "--out", dir + "/r5"], ["--umap-neighbors", "--spawn-workers"]),
            Case(coordinator, ["train", "--log-format", "xml"], ["--log-format", "xml"]),
            // train: files and folders
            Case(coordinator, ["train", "--data", files.emptyFolder, "--out", dir + "/r6"], ["empty", "train-images-idx3-ubyte"]),
            Case(coordinator, ["train", "--data", files.truncatedIDX, "--out", dir + "/r7"], ["train-images-idx3-ubyte", "truncated"]),
            Case(coordinator, ["train", "--data", files.wrongMagicIDX, "--out", dir + "/r8"], ["train-images-idx3-ubyte", "magic"]),
            Case(coordinator, ["train", "--data", files.unreadableIDX, "--out", dir + "/r9"],
                 ["train-images-idx3-ubyte", "Permission denied"], unprivileged: true),
            Case(coordinator, ["train", "--data", mnist, "--out", "/proc/glassbox-run"], ["/proc/glassbox-run"]),
            Case(coordinator, ["train", "--data", mnist, "--out", files.plainFile], ["plain-file"]),
            Case(coordinator, ["train", "--data", mnist, "--out", dir + "/r-tb", "--tensorboard", files.plainFile + "/tb"],
                 ["--tensorboard", "plain-file/tb", "Not a directory"]),
            Case(coordinator, ["train", "--data", mnist, "--out", files.lockedFolder + "/run"], ["locked"], unprivileged: true),
            Case(coordinator, ["train", "--resume", files.plainFile, "--data", mnist], ["plain-file"]),
            // train --resume with settings other than the checkpoint's (seed 1, 200 images, micro-batch 25, MNIST)
            Case(coordinator, ["train", "--resume", checkpoint, "--data", mnist, "--limit-train", "200", "--seed", "2"],
                 ["--seed was 1", "is 2"]),
            Case(coordinator, ["train", "--resume", checkpoint, "--data", mnist, "--limit-train", "300"],
                 ["--limit-train", "was 200", "is 300"]),
            Case(coordinator, ["train", "--resume", checkpoint, "--data", mnist, "--limit-train", "200", "--micro-batch", "20"],
                 ["--micro-batch was 25", "is 20"]),
        ] + (FileManager.default.fileExists(atPath: fashion) ? [
            Case(coordinator, ["train", "--resume", checkpoint, "--data", fashion, "--limit-train", "200"],
                 ["data set was mnist", "fashion"]),
        ] : []) + [
            // train: workers, sockets, keys
            Case(coordinator, ["train", "--spawn-workers", "0"], ["workers", "0"]),
            Case(coordinator, ["train", "--spawn-workers", "-2"], ["workers", "-2"]),
            Case(coordinator, ["train", "--spawn-workers", "100000"], ["--spawn-workers", "100000"]),
            Case(coordinator, ["train", "--workers", "0"], ["workers", "0"]),
            Case(coordinator, ["train", "--worker-threads", "0", "--spawn-workers", "1"], ["--worker-threads", "0"]),
            Case(coordinator, ["train", "--min-workers", "0"], ["--min-workers", "0"]),
            Case(coordinator, ["train", "--min-workers", "3", "--workers", "2"], ["--min-workers", "3"]),
            Case(coordinator, ["train", "--worker-timeout", "0"], ["--worker-timeout"]),
            Case(coordinator, ["train", "--worker-timeout", "-1"], ["--worker-timeout", "-1"]),
            Case(coordinator, ["train", "--worker-timeout", "nan"], ["--worker-timeout", "nan"]),
            Case(coordinator, ["train", "--worker-timeout", "1e300"], ["--worker-timeout", "1e+300"]),
            Case(coordinator, ["train", "--step-deadline", "0"], ["--step-deadline"]),
            Case(coordinator, ["train", "--heartbeat-timeout", "1e12", "--workers", "1"], ["--heartbeat-timeout"]),
            Case(coordinator, ["train", "--bind", "garbage", "--workers", "1"], ["--bind", "garbage"]),
            Case(coordinator, ["train", "--bind", "tcp://127.0.0.1:99999", "--workers", "1"], ["--bind", "99999"]),
            Case(coordinator, ["train", "--data", mnist, "--bind", "tcp://nohost.invalid:5555", "--workers", "1", "--out", dir + "/r10"],
                 ["nohost.invalid"]),
            Case(coordinator, ["train", "--weight-sync", "bogus"], ["--weight-sync", "bogus"]),
            Case(coordinator, ["train", "--data", mnist, "--curve-keys", dir + "/no-keys", "--workers", "1", "--out", dir + "/r11"],
                 ["no-keys"]),
            Case(coordinator, ["train", "--data", mnist, "--curve-keys", files.emptyFolder, "--workers", "1", "--out", dir + "/r12"],
                 ["coordinator.key"]),
            Case(coordinator, ["train", "--data", mnist, "--curve-keys", files.badKeys, "--workers", "1", "--out", dir + "/r13"],
                 ["coordinator.key", "Z85"]),
            Case(coordinator, ["train", "--data", mnist, "--curve-keys", files.truncatedKeys, "--workers", "1", "--out", dir + "/r14"],
                 ["coordinator.key", "Z85"]),
            Case(coordinator, ["train", "--data", mnist, "--curve-keys", files.folderKeys, "--workers", "1", "--out", dir + "/r15"],
                 ["coordinator.key", "directory"]),
            // launch
            Case(coordinator, ["launch", "--hosts", files.emptyHosts], ["no hosts"]),
            Case(coordinator, ["launch", "--hosts", files.emptyFolder], ["empty", "directory"]),
            Case(coordinator, ["launch", "--hosts", files.zeroWorkersHosts], ["line 1", "workers", "0"]),
            Case(coordinator, ["launch", "--hosts", files.negativeThreadsHosts], ["line 1", "threads", "-3"]),
            Case(coordinator, ["launch", "--hosts", files.unreadableHosts], ["hosts-unreadable", "Permission denied"],
                 unprivileged: true),
            Case(coordinator, ["launch", "--hosts", files.badHosts, "--port", "0"], ["--port", "0"]),
            Case(coordinator, ["launch", "--hosts", files.badHosts, "--port", "70000"], ["--port", "70000"]),
            // embed
            Case(coordinator, ["embed", "--input", files.badNPY], ["--out"]),
            Case(coordinator, ["embed", "--out", dir + "/o.npy"], ["--input", "--model"]),
            Case(coordinator, ["embed", "--input", dir + "/missing.npy", "--out", dir + "/o.npy"], ["missing.npy"]),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy"], ["bad.npy"]),
            Case(coordinator, ["embed", "--input", files.emptyFolder, "--out", dir + "/o.npy"], ["empty", "directory"]),
            Case(coordinator, ["embed", "--input", files.oneRowNPY, "--out", dir + "/o.npy"], ["one-row.npy", "rows"]),
            Case(coordinator, ["embed", "--input", files.unreadableNPY, "--out", dir + "/o.npy"],
                 ["unreadable.npy", "Permission denied"], unprivileged: true),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy", "--n-neighbors", "1"], ["--n-neighbors"]),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy", "--min-dist", "-1"], ["--min-dist"]),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy", "--epochs", "0"], ["--epochs"]),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy", "--threads", "0"], ["--threads", "0"]),
            Case(coordinator, ["embed", "--input", files.badNPY, "--out", dir + "/o.npy", "--threads", "100000"], ["--threads"]),
            Case(coordinator, ["embed", "--model", files.emptyFolder, "--transform", files.badNPY, "--out", dir + "/o.npy"],
                 ["umap-model.json"]),
            Case(coordinator, ["embed", "--model", files.emptyFolder, "--out", dir + "/o.npy"], ["--transform"]),
            // neighbors
            Case(coordinator, ["neighbors", "--input", dir + "/missing.npy"], ["missing.npy"]),
            Case(coordinator, ["neighbors", "--input", files.badNPY], ["bad.npy"]),
            Case(coordinator, ["neighbors", "--input", files.badNPY, "--n-neighbors", "0"], ["--n-neighbors"]),
            Case(coordinator, ["neighbors", "--input", files.badNPY, "--threads", "-1"], ["--threads", "-1"]),
            Case(coordinator, ["neighbors", "--input", files.badNPY, "--resume", dir], ["--resume"]),
            // bench
            Case(coordinator, ["bench", "--threads", "0"], ["--threads", "0"]),
            Case(coordinator, ["bench", "--threads", "100000"], ["--threads", "100000"]),
            Case(coordinator, ["bench", "--micro-batch", "0"], ["--micro-batch", "0"]),
            Case(coordinator, ["bench", "--steps", "0"], ["--steps", "0"]),
            Case(coordinator, ["bench", "--steps", "-1"], ["--steps", "-1"]),
            Case(coordinator, ["bench", "--forward-samples", "0"], ["--forward-samples", "0"]),
            Case(coordinator, ["bench", "--state", dir + "/no-run"], ["no-run", "checkpoint"]),
            Case(coordinator, ["bench", "--state", files.emptyFolder], ["empty", "checkpoint"]),
            Case(coordinator, ["bench", "umap", "--data", dir + "/missing"], ["missing"]),
            Case(coordinator, ["bench", "umap", "--rows", "0"], ["--rows", "0"]),
            Case(coordinator, ["bench", "umap", "--rows", "-5"], ["--rows", "-5"]),
            Case(coordinator, ["bench", "umap", "--drift", "nan"], ["--drift", "nan"]),
            Case(coordinator, ["bench", "umap", "--warm-epochs", "0"], ["--warm-epochs", "0"]),
            // render
            Case(coordinator, ["render", dir + "/no-run"], ["no-run"]),
            Case(coordinator, ["render", files.plainFile], ["plain-file"]),
            Case(coordinator, ["render", files.emptyFolder], ["empty"]),
            // keygen
            Case(coordinator, ["keygen", "--out", files.plainFile], ["plain-file"]),
            Case(coordinator, ["keygen", "--out", dir + "/k1", "--worker", "coordinator"], ["--worker", "coordinator"]),
            Case(coordinator, ["keygen", "--out", dir + "/k2", "--worker", "a/b"], ["--worker", "a/b"]),
            Case(coordinator, ["keygen", "--out", dir + "/k3", "--worker", ""], ["--worker"]),
            Case(coordinator, ["keygen", "--out", files.lockedFolder + "/keys"], ["locked", "Permission denied"], unprivileged: true),
            Case(coordinator, ["keygen"], ["--out"]),
            // worker
            Case(worker, ["--threads", "-1"], ["--threads", "-1"]),
            Case(worker, ["--threads", "100000"], ["--threads", "100000"]),
            Case(worker, ["--threads", "many"], ["--threads", "many"]),
            Case(worker, ["--coordinator-timeout", "-1"], ["--coordinator-timeout", "-1"]),
            Case(worker, ["--coordinator-timeout", "1e300"], ["--coordinator-timeout"]),
            Case(worker, ["--connect", "garbage", "--data", mnist], ["garbage"]),
            Case(worker, ["--connect", "tcp://127.0.0.1", "--data", mnist], ["tcp://127.0.0.1"]),
            Case(worker, ["--data", files.truncatedIDX], ["train-images-idx3-ubyte", "truncated"]),
            Case(worker, ["--data", files.emptyFolder], ["empty", "train-images-idx3-ubyte"]),
            Case(worker, ["--data", files.unreadableIDX], ["train-images-idx3-ubyte", "Permission denied"], unprivileged: true),
            Case(worker, ["--cache", files.plainFile], ["--cache", "plain-file"]),
            Case(worker, ["--curve-keys", dir + "/no-keys", "--data", mnist], ["no-keys"]),
            Case(worker, ["--curve-keys", files.badKeys, "--data", mnist], ["worker.key", "Z85"]),
            Case(worker, ["--curve-keys", files.truncatedKeys, "--data", mnist], ["worker.key", "Z85"]),
            Case(worker, ["--curve-keys", files.badKeys, "--curve-key-name", "../x", "--data", mnist], ["--curve-key-name", "../x"]),
            Case(worker, ["--curve-keys", files.goodKeys, "--curve-server-key", dir + "/missing.pub", "--data", mnist],
                 ["missing.pub"]),
            Case(worker, ["--curve-keys", files.goodKeys, "--curve-server-key", files.emptyFolder, "--data", mnist],
                 ["empty", "directory"]),
            Case(worker, ["--curve-server-key", files.badNPY], ["--curve-server-key", "--curve-keys"]),
            Case(worker, ["--log-level", "loud"], ["--log-level", "loud"]),
            Case(worker, ["--log-format", "xml"], ["--log-format", "xml"]),
            // worker keygen
            Case(worker, ["keygen", "--out", dir + "/wk1", "--name", "coordinator"], ["--name", "coordinator"]),
            Case(worker, ["keygen", "--out", dir + "/wk2", "--name", ""], ["--name"]),
            Case(worker, ["keygen", "--out", "/proc/glassbox-keys", "--name", "n1"], ["/proc/glassbox-keys"]),
            Case(worker, ["keygen", "--out", files.plainFile, "--name", "n1"], ["plain-file"]),
            Case(worker, ["keygen", "--name", "n1"], ["--out"]),
        ]
        var failing: [String] = []
        for (index, testCase) in cases.enumerated() {
            if let problem = try check(testCase, log: "\(dir)/case-\(index).log") { failing.append("case \(index): \(problem)") }
        }
        XCTAssertEqual(failing, [], "\(failing.count) of \(cases.count) cases answered badly:\n" + failing.joined(separator: "\n\n"))
    }

    /// A run directory with a real checkpoint (seed 1, 200 images): a run stopped once it wrote its first one.
    private func startedRun(in directory: String, data: String) throws -> String {
        let run = try startTraining(["--data", data, "--limit-train", "200", "--epochs", "1", "--no-maps"], in: directory)
        let deadline = Date().addingTimeInterval(120)
        while run.process.isRunning, Date() < deadline,
              !FileManager.default.fileExists(atPath: directory + "/checkpoint.json") {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(run.pid, SIGKILL)
        run.process.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/checkpoint.json"), run.output)
        return directory
    }

    /// Runs one case under a timeout; nil if it answered well, else what was wrong, with the command and its output.
    private func check(_ testCase: Case, log: String) throws -> String? {
        let program = buildDirectory.appendingPathComponent(testCase.program).path
        // Root reads and writes whatever the modes say; anyone else is already held back by them.
        let process = testCase.unprivileged && getuid() == 0
            ? try RunningProcess(path: "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", program]
                                 + testCase.arguments, outputPath: log)
            : try RunningProcess(path: program, testCase.arguments, outputPath: log)
        let deadline = Date().addingTimeInterval(60)
        while process.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let shown = "\(testCase.program) \(testCase.arguments.joined(separator: " "))"
        if process.process.isRunning {
            kill(process.pid, SIGKILL)
            process.process.waitUntilExit()
            return "\(shown): no answer within 60 s:\n\(process.output)"
        }
        let status = process.process.terminationStatus, output = process.output
        var problems: [String] = []
        if status == 0 { problems.append("exit status 0") }
        if output.isEmpty { problems.append("no message") }
        problems += testCase.words.filter { !output.contains($0) }.map { "the message does not name \($0)" }
        problems += ["NSCocoaErrorDomain", "Fatal error", "Precondition failed", "Stack dump", "Backtrace", "UserInfo="]
            .filter { output.contains($0) }.map { "\($0) in the output" }
        let errorLines = output.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.contains("error]") }
        if errorLines.count > 1 { problems.append("\(errorLines.count) error lines") }
        return problems.isEmpty ? nil : "\(shown) -> status \(status): \(problems.joined(separator: "; "))\n\(output)"
    }
}

/// The wrong files the table points at, made in a test's temporary folder.
struct BadInputFiles {
    let plainFile, emptyFolder, lockedFolder: String
    let badHosts, emptyHosts, zeroWorkersHosts, negativeThreadsHosts, unreadableHosts: String
    let badNPY, oneRowNPY, unreadableNPY: String
    let truncatedIDX, wrongMagicIDX, unreadableIDX: String
    let goodKeys, badKeys, truncatedKeys, folderKeys: String

    init(in dir: String) throws {
        let fm = FileManager.default
        func write(_ name: String, _ text: String, mode: Int? = nil) throws -> String {
            let path = dir + "/" + name
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            if let mode { try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: path) }
            return path
        }
        func folder(_ name: String, mode: Int = 0o755) throws -> String {
            let path = dir + "/" + name
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            return path
        }
        // The unprivileged cases run as nobody, who must be able to reach everything but the locked files.
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        plainFile = try write("plain-file", "not a folder")
        emptyFolder = try folder("empty")
        lockedFolder = try folder("locked", mode: 0o555)
        badHosts = try write("hosts", "node1:2\nnode2:two\n")
        emptyHosts = try write("hosts-empty", "")
        zeroWorkersHosts = try write("hosts-zero", "node1:0\n")
        negativeThreadsHosts = try write("hosts-threads", "node1:1:-3\n")
        unreadableHosts = try write("hosts-unreadable", "node1:2\n", mode: 0)
        badNPY = try write("bad.npy", "hello")
        oneRowNPY = dir + "/one-row.npy"
        try NPY.write(NPYArray(shape: [1, 3], values: [1, 2, 3]), to: oneRowNPY)
        unreadableNPY = dir + "/unreadable.npy"
        try NPY.write(NPYArray(shape: [4, 3], values: [Float](repeating: 1, count: 12)), to: unreadableNPY)
        try fm.setAttributes([.posixPermissions: 0], ofItemAtPath: unreadableNPY)

        // Copies of the data set's first kilobyte: the images file cut short, with a wrong magic, unreadable.
        let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        let mnist = try mnistDirectory()
        truncatedIDX = try folder("idx-truncated")
        wrongMagicIDX = try folder("idx-magic")
        unreadableIDX = try folder("idx-unreadable")
        for name in names {
            let source = fm.fileExists(atPath: mnist + "/" + name) ? mnist + "/" + name : mnist + "/" + name + ".gz"
            let head = Array(try FileBytes.readInflatingGzip(source).bytes.prefix(1024))
            var wrong = head
            if name.hasPrefix("train-images") { wrong[2] = 0x0d }
            try Data(head).write(to: URL(fileURLWithPath: truncatedIDX + "/" + name))
            try Data(wrong).write(to: URL(fileURLWithPath: wrongMagicIDX + "/" + name))
            try Data(head).write(to: URL(fileURLWithPath: unreadableIDX + "/" + name))
        }
        try fm.setAttributes([.posixPermissions: 0], ofItemAtPath: unreadableIDX + "/train-images-idx3-ubyte")

        // Key folders: a real pair, garbage, keys cut in half, and a key "file" that is a folder.
        goodKeys = try folder("keys-good")
        let z85 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        for name in ["coordinator", "worker"] {
            _ = try write("keys-good/\(name).key", z85 + "\n")
            _ = try write("keys-good/\(name).pub", z85 + "\n")
        }
        badKeys = try folder("keys-bad")
        truncatedKeys = try folder("keys-truncated")
        for name in ["coordinator", "worker"] {
            for ext in ["key", "pub"] {
                _ = try write("keys-bad/\(name).\(ext)", "this is not a key at all, not even close\n")
                _ = try write("keys-truncated/\(name).\(ext)", String(z85.prefix(20)))
            }
        }
        folderKeys = try folder("keys-folder")
        _ = try folder("keys-folder/coordinator.key")
        _ = try write("keys-folder/worker.pub", z85 + "\n")
    }
}
