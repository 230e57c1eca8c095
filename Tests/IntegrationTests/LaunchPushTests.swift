import Core
import Foundation
import XCTest

/// `launch --push TARBALL` with the release tarball from `make dist` (GLASSBOX_DIST): two "hosts" reached
/// through `env --chdir=DISK-{host}`, so that each has a disk of its own as an ssh login would (a relative
/// --push-dir starts in the remote shell's folder). The tarball is installed where it is missing and not
/// sent again where it is there, and the workers run from it with the one-process weights.
final class LaunchPushTests: XCTestCase {
    private func shell(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToEnd("/bin/bash", arguments)
    }

    func testPushInstallsTheReleaseWhereItIsMissingAndOnlyThere() throws {
        guard let tarball = ProcessInfo.processInfo.environment["GLASSBOX_DIST"] else {
            throw XCTSkip("GLASSBOX_DIST is not set (make test builds the tarball with `make dist` and sets it)")
        }
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "push")
        // This host's copy of the release: its coordinator launches, and gives the one-process reference.
        XCTAssertEqual(try shell(["-c", "mkdir -p '\(dir)/local' && tar -C '\(dir)/local' -xzf '\(tarball)'"]).status, 0)
        let top = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir + "/local").first {
            $0.hasPrefix("glassbox-")
        })
        let coordinator = "\(dir)/local/\(top)/bin/glassbox-coordinator"
        let common = ["--data", data, "--limit-train", "2000", "--epochs", "1", "--no-maps", "--seed", "4", "--threads", "1"]
        let reference = try runToEnd(coordinator, ["train"] + common + ["--out", dir + "/one"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try RunResult(status: 0, output: "", directory: dir + "/one").weightsDigest()

        for host in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/disk-\(host)", withIntermediateDirectories: true)
        }
        let digest = String(sha256Hex(try XCTUnwrap(FileManager.default.contents(atPath: tarball))).prefix(16))
        func launch(_ hosts: String, _ run: String) throws -> (status: Int32, output: String) {
            try hosts.write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
            let process = try RunningProcess(path: coordinator,
                                             ["launch", "--hosts", dir + "/hosts", "--rsh", "env --chdir=\(dir)/disk-{host}",
                                              "--advertise", "127.0.0.1", "--port", "\(freePort())", "--push", tarball,
                                              "--worker-cache", dir + "/cache"] + common + ["--out", "\(dir)/\(run)"],
                                             outputPath: "\(dir)/\(run).log")
            let status = process.wait(timeout: 300)
            return (status, process.output)
        }

        // Host a lacks the build: it is pushed there, and its two workers run from the pushed copy.
        let first = try launch("a:2:1\n", "first")
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("pushing \(tarball)"), first.output)
        XCTAssertTrue(first.output.contains("pushed to a"), first.output)
        let installed = "\(dir)/disk-a/.cache/glassbox/dist/\(digest)/\(top)/bin/glassbox-worker"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: installed), "no worker program at \(installed)")
        XCTAssertEqual(try RunResult(status: 0, output: "", directory: dir + "/first").weightsDigest(), expected)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/disk-a/.cache/glassbox/dist")
        XCTAssertEqual(leftovers, [digest], "a partial unpacking was left behind")

        // Host a has it now and is skipped; host b gets it.
        let second = try launch("a:1:1\nb:1:1\n", "second")
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("a has this build (\(digest)) already"), second.output)
        XCTAssertFalse(second.output.contains("pushed to a"), second.output)
        XCTAssertTrue(second.output.contains("pushed to b"), second.output)
        XCTAssertTrue(FileManager.default.isExecutableFile(
            atPath: "\(dir)/disk-b/.cache/glassbox/dist/\(digest)/\(top)/bin/glassbox-worker"))
        XCTAssertEqual(try RunResult(status: 0, output: "", directory: dir + "/second").weightsDigest(), expected)
        for name in ["a-1", "b-1"] {
            let log = try String(contentsOfFile: "\(dir)/second/logs/\(name).log", encoding: .utf8)
            XCTAssertTrue(log.contains("coordinator ended the run"), "worker log \(name):\n\(log)")
        }
    }

    func testPushOfAFileThatIsNoReleaseIsRefusedBeforeAnythingStarts() throws {
        let dir = try temporaryDirectory(self, "pushbad")
        try "not a tarball".write(toFile: dir + "/fake.tar.gz", atomically: true, encoding: .utf8)
        try "a:1\n".write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
        let result = try runToEnd(buildDirectory.appendingPathComponent("glassbox-coordinator").path,
                                  ["launch", "--hosts", dir + "/hosts", "--rsh", "env --chdir=\(dir) {host}",
                                   "--push", dir + "/fake.tar.gz", "--out", dir + "/run"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("--push \(dir)/fake.tar.gz: not a gzip tar archive"), result.output)
        XCTAssertFalse(result.output.contains("coordinator started"), result.output)
    }

    /// Workers that cannot start (a wrong --worker-program) would leave the coordinator waiting for ever.
    func testLaunchStopsTheCoordinatorWhenEveryWorkerFailed() throws {
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "nobody")
        try "a:1\nb:1\n".write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
        let launch = try RunningProcess("glassbox-coordinator",
                                        ["launch", "--hosts", dir + "/hosts", "--rsh", "env GLASSBOX_HOST={host}",
                                         "--advertise", "127.0.0.1", "--port", "\(freePort())",
                                         "--worker-program", dir + "/missing/glassbox-worker",
                                         "--data", data, "--limit-train", "600", "--epochs", "1", "--no-maps",
                                         "--out", dir + "/run"], outputPath: dir + "/launch.log")
        XCTAssertEqual(launch.wait(timeout: 120), 1, launch.output)
        XCTAssertTrue(launch.output.contains("the worker a-1 on a exited with status 127"), launch.output)
        XCTAssertTrue(launch.output.contains("every worker exited with an error; stopping the coordinator"), launch.output)
    }
}
