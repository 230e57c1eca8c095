import Foundation
import XCTest

/// Wrong input where a user types: every case ends at once with a non-zero status and a short message
/// that names the problem, never a stack trace, a Foundation error dump or a hang.
final class BadInputTests: XCTestCase {
    func testEveryWrongValueGetsOneClearLineAndANonZeroExit() throws {
        let dir = try temporaryDirectory(self, "bad-input")
        let hosts = dir + "/hosts"
        try "node1:2\nnode2:two\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        let file = dir + "/plain-file"
        try "not a folder".write(toFile: file, atomically: true, encoding: .utf8)
        // (program, arguments, words the message must contain)
        let cases: [(String, [String], [String])] = [
            ("glassbox-coordinator", ["train", "--epochs", "-1"], ["--epochs", "-1"]),
            ("glassbox-coordinator", ["train", "--epochs", "ten"], ["--epochs", "ten"]),
            ("glassbox-coordinator", ["train", "--threads", "100000"], ["--threads", "100000"]),
            ("glassbox-coordinator", ["train", "--threads", "0"], ["--threads", "0"]),
            ("glassbox-coordinator", ["train", "--micro-batch", "0"], ["--micro-batch"]),
            ("glassbox-coordinator", ["train", "--dataset", "cifar"], ["--dataset", "cifar"]),
            ("glassbox-coordinator", ["train", "--log-level", "loud"], ["--log-level", "loud"]),
            ("glassbox-coordinator", ["train", "--data", dir + "/missing", "--out", dir + "/r1"], ["missing"]),
            ("glassbox-coordinator", ["train", "--data", file, "--out", dir + "/r2"], ["plain-file"]),
            ("glassbox-coordinator", ["train", "--resume", dir], ["checkpoint"]),
            ("glassbox-coordinator", ["train", "--data", try mnistDirectory(), "--out", dir + "/r3", "--tensorboard", file + "/tb"],
             ["--tensorboard", "plain-file/tb", "Not a directory"]),
            ("glassbox-coordinator", ["train", "--spawn-workers", "2", "--workers", "2"], ["--spawn-workers", "--workers"]),
            ("glassbox-coordinator", ["keygen", "--out", "/proc/glassbox-keys"], ["/proc/glassbox-keys"]),
            ("glassbox-coordinator", ["launch", "--hosts", hosts], ["line 2", "two"]),
            ("glassbox-coordinator", ["launch", "--hosts", dir + "/no-hosts"], ["no-hosts"]),
            ("glassbox-coordinator", ["launch", "--hosts", hosts, "--rsh", "ssh"], ["{host}"]),
            ("glassbox-worker", ["--threads", "0"], ["--threads", "0"]),
            ("glassbox-worker", ["--dataset", "bogus"], ["--dataset", "bogus"]),
            ("glassbox-worker", ["--data", dir + "/missing", "--coordinator-timeout", "1"], ["missing"]),
            ("glassbox-worker", ["--coordinator-timeout", "0"], ["--coordinator-timeout"]),
        ]
        for (index, (program, arguments, words)) in cases.enumerated() {
            let process = try RunningProcess(program, arguments, outputPath: "\(dir)/case-\(index).log")
            let status = process.wait(timeout: 30)
            let output = process.output
            let shown = "\(program) \(arguments.joined(separator: " ")) -> status \(status):\n\(output)"
            XCTAssertNotEqual(status, 0, shown)
            for word in words { XCTAssertTrue(output.contains(word), "the message does not name \(word): \(shown)") }
            for noise in ["NSCocoaErrorDomain", "Fatal error", "Stack dump", "Backtrace", "UserInfo="] {
                XCTAssertFalse(output.contains(noise), "\(noise) in: \(shown)")
            }
            let errorLines = output.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.contains("error]") }
            XCTAssertLessThanOrEqual(errorLines.count, 1, "more than one error line: \(shown)")
            XCTAssertFalse(output.isEmpty, shown)
        }
    }
}
