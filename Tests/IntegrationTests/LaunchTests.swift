import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `glassbox-coordinator launch` over emulated hosts: network namespaces joined by a bridge, each link
/// limited to 1 Gbit/s, the coordinator in one, three workers in three others started through
/// `--rsh 'ip netns exec {host}'`, given no data path (they receive the coordinator's). Needs root (CI runs as root); skipped elsewhere.
final class LaunchTests: XCTestCase {
    private let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/netns_hosts.sh").path

    @discardableResult
    private func shell(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToEnd("/bin/bash", arguments)
    }

    /// Namespaces `name-h0` (the coordinator's host) .. `name-h3`, removed when the test ends, also on failure.
    private func emulatedHosts() throws -> (name: String, subnet: String) {
        guard getuid() == 0 else { throw XCTSkip("network namespaces need root") }
        let name = "gbl\(getpid() % 10_000)"
        let subnet = "10.79.\(getpid() % 250)"
        addTeardownBlock { [script] in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [script, "down", name]
            try? process.run()
            process.waitUntilExit()
        }
        let up = try shell([script, "up", name, "3", subnet, "1gbit"])
        guard up.status == 0 else { throw XCTSkip("cannot create network namespaces here: \(up.output)") }
        return (name, subnet)
    }

    func testLaunchOnThreeEmulatedHostsGivesOneProcessWeightsAndSurvivesACutLink() throws {
        let data = try mnistDirectory()
        let (name, subnet) = try emulatedHosts()
        let dir = try temporaryDirectory(self, "launch")
        let common = ["--data", data, "--limit-train", "9000", "--epochs", "2", "--no-maps", "--seed", "5"]
        let reference = try train(common + ["--threads", "1"], in: dir + "/one")
        XCTAssertEqual(reference.status, 0, reference.output)

        let hosts = dir + "/hosts"
        try "# three emulated hosts, one single-threaded worker each\n\(name)-h1:1:1\n\(name)-h2:1:1\n\(name)-h3:1:1\n"
            .write(toFile: hosts, atomically: true, encoding: .utf8)
        func launch(_ run: String, _ extra: [String]) throws -> RunningProcess {
            try RunningProcess(path: "/usr/sbin/ip",
                               ["netns", "exec", "\(name)-h0", buildDirectory.appendingPathComponent("glassbox-coordinator").path,
                                "launch", "--hosts", hosts, "--rsh", "ip netns exec {host}", "--advertise", "\(subnet).1",
                                "--port", "5555", "--worker-cache", dir + "/cache"] + common + extra + ["--out", run],
                               outputPath: run + ".log")
        }

        // Undisturbed.
        let plain = try launch(dir + "/plain", ["--threads", "1"])
        XCTAssertEqual(plain.wait(timeout: 300), 0, plain.output)
        let plainResult = RunResult(status: 0, output: plain.output, directory: dir + "/plain")
        XCTAssertEqual(try plainResult.weightsDigest(), try reference.weightsDigest())
        for i in 1...3 {
            XCTAssertTrue(plain.output.contains("[\(name)-h\(i)-1] "), "no prefixed lines of host \(i):\n\(plain.output)")
            let log = try String(contentsOfFile: "\(dir)/plain/logs/\(name)-h\(i)-1.log", encoding: .utf8)
            XCTAssertTrue(log.contains("coordinator ended the run"), "worker log of host \(i):\n\(log)")
        }
        // The workers were given no data: they received the coordinator's files (or one of them reused
        // what another had just cached: the hosts share this machine's disk).
        XCTAssertTrue(plain.output.contains("receiving the data set"), plain.output)
        XCTAssertEqual(try plainResult.events("worker_joined").count, 3)

        // Host 2's link is cut in the middle of epoch 1 and restored later: same weights.
        let cut = try launch(dir + "/cut", ["--threads", "1", "--heartbeat-timeout", "3", "--step-deadline", "6"])
        XCTAssertTrue(cut.waitForOutput("epoch 1/2 step", timeout: 120), cut.output)
        XCTAssertEqual(try shell([script, "link", name, "2", "down"]).status, 0)
        XCTAssertTrue(cut.waitForOutput("left:", timeout: 60), "the cut worker was never dropped:\n\(cut.output)")
        XCTAssertEqual(try shell([script, "link", name, "2", "up"]).status, 0)
        XCTAssertEqual(cut.wait(timeout: 300), 0, cut.output)
        let cutResult = RunResult(status: 0, output: cut.output, directory: dir + "/cut")
        XCTAssertEqual(try cutResult.weightsDigest(), try reference.weightsDigest())
        XCTAssertGreaterThanOrEqual(try cutResult.events("worker_left").count, 1)
        XCTAssertTrue(cut.output.contains("reusing the cached data set"), cut.output)
        XCTAssertEqual(try shell(["-c", "ip netns pids \(name)-h2 | wc -l"]).output.trimmingCharacters(in: .whitespacesAndNewlines),
                       "0", "a worker process is left over on host 2")
    }
}
