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
