import Foundation
import XCTest

/// `--log-format json` on a real run: everything the coordinator and its spawned workers print is one
/// JSON object a line, for a log shipper to read without a parser of its own.
final class LogFormatTests: XCTestCase {
    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("LogFormatTests train real networks: run them in a release build")
        #endif
    }

    /// Every line of the run's output as a JSON object, failing on the first that is not one.
    private func jsonLines(of run: RunResult) throws -> [[String: Any]] {
        try run.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(object, "not a JSON object: \(line)\n\nthe whole output:\n\(run.output)")
        }
    }

    private func checkEveryLineIsJSON(_ extra: [String], name: String) throws -> [[String: Any]] {
        let root = try temporaryDirectory(self, name)
        let run = try train(["--data", try mnistDirectory(), "--limit-train", "2000", "--epochs", "1", "--no-maps",
                             "--log-format", "json"] + extra, in: root + "/run")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.hasSuffix("\n"), "the output ends with a whole line:\n\(run.output)")
        let lines = try jsonLines(of: run)
        for line in lines {
            for key in ["time", "level", "source", "message"] {
                XCTAssertNotNil(line[key] as? String, "\(key) missing in \(line)")
            }
            let time = line["time"] as? String ?? ""
            XCTAssertNotNil(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), time)
        }
        let progress = lines.filter { $0["step"] != nil }
        XCTAssertFalse(progress.isEmpty, "no progress lines in:\n\(run.output)")
        for line in progress {
            XCTAssertEqual(line["epoch"] as? Int, 1, "\(line)")
            XCTAssertEqual(line["epochs"] as? Int, 1, "\(line)")
            for key in ["step", "steps"] { XCTAssertNotNil(line[key] as? Int, "\(key) missing in \(line)") }
            for key in ["loss", "acc", "samples_per_s", "eta_s", "epoch_eta_s"] {
                XCTAssertNotNil(line[key] as? Double, "\(key) missing in \(line)")
            }
        }
        let last = try XCTUnwrap(progress.last)
        XCTAssertEqual(last["step"] as? Int, last["steps"] as? Int, "the epoch's last step is logged")
        XCTAssertEqual(last["epoch_eta_s"] as? Double, 0)
        XCTAssertTrue(lines.contains { ($0["message"] as? String)?.hasPrefix("epoch 1/1 done") == true }, run.output)
        return lines
    }

    func testInProcessRunPrintsOnlyJSONLines() throws {
        let lines = try checkEveryLineIsJSON([], name: "json-in-process")
        XCTAssertTrue(lines.filter { $0["step"] != nil }.allSatisfy { $0["workers"] == nil }, "no workers in-process")
    }

    func testRunWithASpawnedWorkerPrintsOnlyJSONLines() throws {
        let lines = try checkEveryLineIsJSON(["--spawn-workers", "1", "--bind", "tcp://127.0.0.1:*"], name: "json-worker")
        XCTAssertTrue(lines.contains { ($0["source"] as? String)?.hasPrefix("worker ") == true },
                      "the worker's lines are JSON too")
        XCTAssertTrue(lines.filter { $0["step"] != nil }.allSatisfy { $0["workers"] as? Int == 1 }, "\(lines)")
    }
}
