import ArgumentParser
import Foundation
import Protocol

/// A directory of CURVE keys as `keygen` writes it: `coordinator.key` / `coordinator.pub` for the
/// coordinator, and `NAME.key` / `NAME.pub` for each worker. Every `.pub` other than the coordinator's is
/// an allowed worker key; to admit another worker, copy its `.pub` file in.
struct CurveKeyDirectory {
    /// The ZAP domain of the coordinator's socket.
    static let zapDomain = "glassbox"

    let coordinatorSecretKey: String
    let allowedWorkerKeys: Set<String>

    init(path: String) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw ClusterError("cannot read the CURVE key directory \(path): \(error.localizedDescription) "
                               + "(create it with `glassbox-coordinator keygen --out \(path)`)")
        }
        let dir = URL(fileURLWithPath: path)
        coordinatorSecretKey = try Self.readKey(dir.appendingPathComponent("coordinator.key").path)
        allowedWorkerKeys = Set(try files.filter { $0.hasSuffix(".pub") && $0 != "coordinator.pub" }.sorted()
            .map { try Self.readKey(dir.appendingPathComponent($0).path) })
        guard !allowedWorkerKeys.isEmpty else {
            throw ClusterError("\(path) holds no worker public key (NAME.pub): no worker could join")
        }
    }

    /// A Z85 key file (40 characters; surrounding whitespace ignored).
    static func readKey(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ClusterError("cannot read CURVE key \(path)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Curve.isValidKey(key) else { throw ClusterError("\(path) does not hold a 40-character Z85 CURVE key") }
        return key
    }
}

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
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let dir = URL(fileURLWithPath: out)
        var written: [String] = []
        func writePair(_ name: String, replace: Bool) throws {
            let secretPath = dir.appendingPathComponent("\(name).key").path
            let publicPath = dir.appendingPathComponent("\(name).pub").path
            if !replace && FileManager.default.fileExists(atPath: secretPath) { return }
            let pair = try Curve.generateKeyPair()
            for (path, key) in [(secretPath, pair.secretKey), (publicPath, pair.publicKey)] {
                try? FileManager.default.removeItem(atPath: path)
                guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8),
                                                     attributes: [.posixPermissions: 0o600]) else {
                    throw ClusterError("cannot write \(path)")
                }
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
}
