import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// deploy/slurm/glassbox.sbatch on a real single-node Slurm cluster (slurmctld + slurmd + munged started
/// for the test by scripts/slurm_test_cluster.sh and stopped after it). Needs root and Debian's slurm-wlm
/// and munge (`make test` installs them); skipped elsewhere.
final class SlurmTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs a command to its end with posix_spawn and waitpid, its output in a file: the cluster script
    /// leaves daemons behind, and Foundation's Process was seen waiting for ever on such a child here.
    private func run(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil)
        throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "glassbox-slurm-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var command = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        if let directory { command = "cd '\(directory)' && " + command }
        let shell = ["/bin/sh", "-c", command + " < /dev/null > '\(outputPath)' 2>&1"]
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let argv = shell.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp)
        guard spawned == 0 else { throw XCTSkip("cannot start /bin/sh: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }

    func testSbatchJobTrainsWithOneWorkerPerTaskAndGivesTheOneProcessWeights() throws {
        guard getuid() == 0 else { throw XCTSkip("a Slurm cluster needs root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/munged") else {
            throw XCTSkip("slurm-wlm and munge are not installed (make test installs them)")
        }
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "slurm")
        let cluster = dir + "/cluster"
        let script = root.appendingPathComponent("scripts/slurm_test_cluster.sh").path
        addTeardownBlock { [self] in _ = try? run([script, "down", cluster]) }
        let up = try run([script, "up", cluster])
        XCTAssertEqual(up.status, 0, up.output)
        guard up.status == 0 else { return }
        let slurm = ["SLURM_CONF": cluster + "/slurm.conf", "GLASSBOX_BIN": buildDirectory.path, "GLASSBOX_DATA": data,
                     "GLASSBOX_PORT": "\(freePort())"]
        let options = ["--limit-train", "3000", "--epochs", "2", "--no-maps", "--seed", "9"]

        let job = try run(["timeout", "300", "sbatch", "--wait", "--ntasks", "2", "--output", dir + "/job.out",
                           root.appendingPathComponent("deploy/slurm/glassbox.sbatch").path] + options
                          + ["--out", dir + "/run"], environment: slurm, in: dir)
        let output = (try? String(contentsOfFile: dir + "/job.out", encoding: .utf8)) ?? ""
        XCTAssertEqual(job.status, 0, job.output + output)
        // sbatch --wait can return 0 when the launch itself failed: the job's own output must say it ran.
        XCTAssertTrue(output.contains("coordinator exited with status 0"), output)
        XCTAssertEqual(output.components(separatedBy: "coordinator ended the run").count - 1, 2,
                       "both workers should have run to the end:\n\(output)")
        let reference = try train(options + ["--data", data, "--threads", "1"], in: dir + "/one")
        XCTAssertEqual(reference.status, 0, reference.output)
        XCTAssertEqual(try RunResult(status: 0, output: output, directory: dir + "/run").weightsDigest(),
                       try reference.weightsDigest())

        XCTAssertEqual(try jobExitCode(job.output, slurm), "0:0")

        // A job whose run fails ends with the coordinator's status (64: a refused option), and says so.
        // `sbatch --wait` itself returned 0 for it here, so the controller is asked for the job's exit code.
        let failing = try run(["timeout", "120", "sbatch", "--wait", "--ntasks", "1", "--output", dir + "/fail.out",
                               root.appendingPathComponent("deploy/slurm/glassbox.sbatch").path, "--threads", "0",
                               "--out", dir + "/fail"], environment: slurm, in: dir)
        let failOutput = (try? String(contentsOfFile: dir + "/fail.out", encoding: .utf8)) ?? ""
        XCTAssertTrue(failOutput.contains("coordinator exited with status 64"), failOutput)
        XCTAssertEqual(try jobExitCode(failing.output, slurm), "64:0", failOutput)
    }

    /// `ExitCode=status:signal` of the job whose `sbatch` printed `output`, from `scontrol show job`.
    private func jobExitCode(_ output: String, _ environment: [String: String]) throws -> String? {
        guard let id = output.split(separator: "\n").first(where: { $0.hasPrefix("Submitted batch job ") })?
            .split(separator: " ").last else { return nil }
        let show = try run(["scontrol", "show", "job", String(id)], environment: environment)
        return show.output.split(whereSeparator: { $0 == " " || $0 == "\n" })
            .first { $0.hasPrefix("ExitCode=") }.map { String($0.dropFirst("ExitCode=".count)) }
    }
}
