import Foundation
import XCTest

/// The systemd units in deploy/systemd: valid for systemd, and their restart policy matches the exit
/// statuses the real executables use.
final class DeployTests: XCTestCase {
    private let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/systemd")

    private func unit(_ name: String) throws -> String {
        try String(contentsOf: unitDirectory.appendingPathComponent(name), encoding: .utf8)
    }

    /// `Key=value` lines of a unit (continuation lines joined), in order.
    private func settings(_ text: String, _ key: String) -> [String] {
        text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
            .filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    func testUnitsPassSystemdAnalyzeVerifyWithoutWarnings() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else { throw XCTSkip("systemd-analyze is not installed") }
        let dir = try temporaryDirectory(self, "units")
        // The units name the installed programs; point them at this build's so that verify can check them.
        for name in ["glassbox-coordinator.service", "glassbox-worker@.service"] {
            let text = try unit(name)
                .replacingOccurrences(of: "/usr/local/bin/", with: buildDirectory.path + "/")
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        let result = try runToEnd(analyze, ["verify", "--man=no", dir + "/glassbox-coordinator.service",
                                       dir + "/glassbox-worker@node1.service"])
        XCTAssertEqual(result.status, 0, result.output)
        // Unknown keys and bad values are only warnings for verify: any output is a failure here.
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "")
    }

    func testWorkerUnitRestartsAfterAFinishedRunButNotAfterConfigurationErrors() throws {
        let text = try unit("glassbox-worker@.service")
        // A worker exits 0 when a coordinator ends its run: only Restart=always restarts it then.
        XCTAssertEqual(settings(text, "Restart"), ["always"])
        let prevented = Set(settings(text, "RestartPreventExitStatus").joined(separator: " ")
            .split(separator: " ").compactMap { Int32($0) })
        // The statuses the real worker gives for configuration errors must all be in the list.
        let worker = buildDirectory.appendingPathComponent("glassbox-worker").path
        let missingData = try runToEnd(worker, ["--data", "/nonexistent/glassbox-data", "--coordinator-timeout", "1"])
        let badOption = try runToEnd(worker, ["--threads", "0"])
        XCTAssertNotEqual(missingData.status, 0)
        XCTAssertNotEqual(badOption.status, 0)
        XCTAssertTrue(prevented.contains(missingData.status), "exit \(missingData.status) for missing data is retried")
        XCTAssertTrue(prevented.contains(badOption.status), "exit \(badOption.status) for a bad option is retried")
        // ... and the statuses of a finished run (0) and of no coordinator (4) are not.
        XCTAssertFalse(prevented.contains(0))
        XCTAssertFalse(prevented.contains(4))
    }

    func testCoordinatorUnitResumesOnlyWhereACheckpointExists() throws {
        let text = try unit("glassbox-coordinator.service")
        guard let exec = settings(text, "ExecStart").first, exec.hasPrefix("/bin/sh -c '"), exec.hasSuffix("'") else {
            return XCTFail("ExecStart is not a /bin/sh -c '...' line")
        }
        // systemd turns `$$` into `$`; the program is replaced by printf to see its arguments.
        let script = String(exec.dropFirst("/bin/sh -c '".count).dropLast())
            .replacingOccurrences(of: "$$", with: "$")
            .replacingOccurrences(of: "exec /usr/local/bin/glassbox-coordinator", with: "printf '%s\\n'")
        let dir = try temporaryDirectory(self, "coordinator-unit")
        let environment = ["GLASSBOX_RUN_DIR": dir, "GLASSBOX_WORKERS": "4", "GLASSBOX_BIND": "tcp://0.0.0.0:5555",
                           "GLASSBOX_DATA": "/var/lib/glassbox/mnist", "GLASSBOX_EPOCHS": "100"]
        let fresh = try runToEnd("/bin/sh", ["-c", script], environment: environment)
        XCTAssertEqual(fresh.status, 0, fresh.output)
        XCTAssertTrue(fresh.output.contains("--out\n\(dir)\n"), fresh.output)
        XCTAssertFalse(fresh.output.contains("--resume"), fresh.output)
        FileManager.default.createFile(atPath: dir + "/checkpoint.safetensors", contents: Data())
        let again = try runToEnd("/bin/sh", ["-c", script], environment: environment)
        XCTAssertTrue(again.output.contains("--resume\n\(dir)\n"), again.output)
        XCTAssertTrue(again.output.contains("--workers\n4\n"), again.output)
        XCTAssertFalse(again.output.contains("--out"), again.output)
    }
}
