import ArgumentParser
import Cluster
import Foundation
import Protocol

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write CURVE key pairs (Z85, mode 0600) for encrypted, authenticated coordinator-worker links.",
        discussion: """
            Writes coordinator.key and coordinator.pub (unless present) and NAME.key / NAME.pub for each --worker \
            NAME. Start the coordinator with --curve-keys DIR: it admits only workers whose public key is a .pub \
            file in DIR. Give each worker host its NAME.key and coordinator.pub (e.g. a copy of DIR without the \
            other secrets) and start it with --curve-keys DIR --curve-key-name NAME.

            Example: glassbox-coordinator keygen --out keys --worker node1 --worker node2
            """)

    @Option(help: "Directory to write the keys to (created with mode 0700).")
    var out: String
    @Option(help: "Name of a worker key pair to write (repeatable).")
    var worker: [String] = ["worker"]
    @Flag(help: "Replace existing worker key files.")
    var force = false

    func validate() throws {
        for name in worker where name.isEmpty || name == "coordinator" || name.contains("/") {
            throw ValidationError("--worker \(name): a key name must be non-empty, not \"coordinator\", without /")
        }
    }

    func run() throws {
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClusterError("keygen: cannot create the folder \(out): \(posixReason(error))")
        }
        let dir = URL(fileURLWithPath: out)
        var written: [String] = []
        func writePair(_ name: String, replace: Bool) throws {
            let secretPath = dir.appendingPathComponent("\(name).key").path
            let publicPath = dir.appendingPathComponent("\(name).pub").path
            if !replace && FileManager.default.fileExists(atPath: secretPath) { return }
            let pair = try Curve.generateKeyPair()
            for (path, key) in [(secretPath, pair.secretKey), (publicPath, pair.publicKey)] {
                try writeKeyFile(path, key + "\n")
                written.append(path)
            }
        }
        try writePair("coordinator", replace: false)
        for name in worker {
            if !force && FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(name).key").path) {
                throw ClusterError("\(out)/\(name).key exists; use --force to replace it")
            }
            try writePair(name, replace: true)
        }
        print("wrote \(written.isEmpty ? "nothing" : written.joined(separator: ", "))")
    }

    /// Writes `text` to `path` with mode 0600 from the start (a secret key is never readable by others, not
    /// even briefly), replacing the file; a failure names the path and the system's reason.
    private func writeKeyFile(_ path: String, _ text: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClusterError("keygen: cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard count == bytes.count else {
            throw ClusterError("keygen: cannot write \(path): \(count < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }
}

/// The operating system's reason inside a Foundation file error ("Permission denied", "Read-only file
/// system", ...), rather than Foundation's generic text.
private func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey].flatMap({ $0 as? Error }).map({ $0 as NSError }),
       underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return ns.localizedDescription
}
