import ArgumentParser
import Cluster
import CommandLineOptions
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
            other secrets) and start it with --curve-keys DIR --curve-key-name NAME. Or let each worker host make \
            its own pair with `glassbox-worker keygen --out DIR --name NAME` (its secret never leaves that host) \
            and copy only its NAME.pub into DIR here.

            Example: glassbox-coordinator keygen --out keys --worker node1 --worker node2
            """)

    @Option(help: "Directory to write the keys to (created with mode 0700).")
    var out: String
    @Option(help: "Name of a worker key pair to write (repeatable).")
    var worker: [String] = ["worker"]
    @Flag(help: "Replace existing worker key files.")
    var force = false

    func validate() throws {
        for name in worker { try validateCurveKeyName(name, option: "--worker") }
    }

    func run() throws {
        var written: [String] = []
        do {
            let coordinatorKey = URL(fileURLWithPath: out).appendingPathComponent("coordinator.key").path
            if !FileManager.default.fileExists(atPath: coordinatorKey) {
                written += try writeCurveKeyPair(directory: out, name: "coordinator", replace: false)
            }
            for name in worker { written += try writeCurveKeyPair(directory: out, name: name, replace: force) }
        } catch let error as ClusterError {
            throw ClusterError("keygen: \(error.description)")
        }
        print("wrote \(written.isEmpty ? "nothing" : written.joined(separator: ", "))")
    }
}
