import Core
import Foundation

/// `launch --push TARBALL`: installs the release tarball (`make dist`) on every host that lacks it, through
/// the same remote shell that starts the workers, and names the worker program inside it.
///
/// A host "has the same build" when PUSH_DIR/DIGEST/…/bin/glassbox-worker is there, DIGEST being the first
/// 16 hex digits of the tarball's SHA-256, so a host with an older or newer build gets this one beside it
/// and a host that already has it is not sent a byte. Every remote command is a plain list of words
/// without spaces or shell syntax (`test`, `mkdir`, `tar` reading the tarball from its standard input,
/// `mv`), so it means the same through `ssh` (which hands the words to a remote shell) and through
/// `ip netns exec` or `docker exec` (which run them directly). A relative PUSH_DIR is relative to the
/// directory the remote shell starts in: the user's home for ssh.
struct DistPush {
    /// The tarball on this host.
    let tarball: String
    /// The first 16 hex digits of the tarball's SHA-256: the build's name on the hosts.
    let digest: String
    /// Path of glassbox-worker inside the tarball, e.g. `glassbox-1a2b3c4-linux-x86_64/bin/glassbox-worker`.
    let workerEntry: String
    /// Where builds are kept on each host.
    let directory: String

    /// The folder this build is unpacked into on each host.
    var installDirectory: String { "\(directory)/\(digest)" }
    /// The worker program on each host once pushed.
    var workerProgram: String { "\(installDirectory)/\(workerEntry)" }

    init(tarball: String, directory: String) throws {
        guard let bytes = FileManager.default.contents(atPath: tarball) else {
            throw LaunchError("--push \(tarball): cannot read the file (make it with `make dist`)")
        }
        let listing = try Self.run("/bin/tar", ["-tzf", tarball])
        guard listing.status == 0 else {
            throw LaunchError("--push \(tarball): not a gzip tar archive (tar says: \(listing.lastLine))")
        }
        let entries = listing.output.split(separator: "\n").map(String.init)
        guard let entry = entries.first(where: { $0.hasSuffix("/bin/glassbox-worker") }) else {
            throw LaunchError("--push \(tarball): no bin/glassbox-worker inside (a tarball from `make dist` has one)")
        }
        for path in [directory, entry] where path.contains(where: { " '\"$`\\;&|<>*?".contains($0) }) {
            throw LaunchError("--push: \(path) contains a space or shell character; use a plain path")
        }
        self.tarball = tarball
        digest = String(sha256Hex(bytes).prefix(16))
        workerEntry = entry
        self.directory = directory
    }

    /// Makes sure `host` has this build: does nothing when it has it, otherwise streams the tarball to it
    /// and unpacks it under a temporary name that is renamed into place only once complete, so a push cut
    /// off half way is never taken for the build. Throws with the remote side's last line when a step fails.
    func ensure(on host: String, rsh: String, log: Log) throws {
        let remote = { (words: [String]) in remoteCommand(template: rsh, host: host, arguments: words) }
        if try Self.shell(remote(["test", "-x", workerProgram])).status == 0 {
            log("\(host) has this build (\(digest)) already")
            return
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: tarball)[.size] as? Int) ?? 0
        log("pushing \(tarball) (\(size / 1_000_000) MB) to \(host): \(installDirectory)")
        let start = now()
        let partial = "\(installDirectory).partial-\(getpid())"
        let steps: [(what: String, words: [String], input: String?)] = [
            ("create \(partial)", ["mkdir", "-p", partial], nil),
            ("unpack the tarball into \(partial)", ["tar", "-xzf", "-", "-C", partial], tarball),
            ("move \(partial) to \(installDirectory)", ["mv", "-T", partial, installDirectory], nil),
        ]
        for step in steps {
            let result = try Self.shell(remote(step.words), input: step.input)
            // Another launcher (or a host sharing this disk) may have put the same build in place meanwhile.
            if result.status != 0, try Self.shell(remote(["test", "-x", workerProgram])).status == 0 {
                _ = try? Self.shell(remote(["rm", "-rf", partial]))
                break
            }
            guard result.status == 0 else {
                throw LaunchError("--push to \(host): cannot \(step.what) (status \(result.status)): \(result.lastLine)")
            }
        }
        guard try Self.shell(remote(["test", "-x", workerProgram])).status == 0 else {
            throw LaunchError("--push to \(host): \(workerProgram) is not there after unpacking")
        }
        log(String(format: "pushed to %@ in %.1f s", host, now() - start))
    }

    struct Result {
        var status: Int32
        var output: String
        var lastLine: String {
            output.split(separator: "\n").last.map(String.init) ?? "(no output)"
        }
    }

    private static func shell(_ command: String, input: String? = nil) throws -> Result {
        try run("/bin/sh", ["-c", command], input: input)
    }

    /// Runs a short command to its end, its output in a temporary file rather than a pipe (a remote shell
    /// may leave a helper holding a pipe open, and then a pipe's reader would wait for ever).
    private static func run(_ path: String, _ arguments: [String], input: String? = nil) throws -> Result {
        let outputPath = NSTemporaryDirectory() + "glassbox-push-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath) else {
            throw LaunchError("cannot create a temporary file \(outputPath)")
        }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        if let input {
            guard let handle = FileHandle(forReadingAtPath: input) else { throw LaunchError("cannot read \(input)") }
            process.standardInput = handle
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        do {
            try process.run()
        } catch {
            throw LaunchError("cannot run \(path): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Result(status: process.terminationStatus, output: text)
    }
}
