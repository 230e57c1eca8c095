import ArgumentParser
import Cluster
import CommandLineOptions

/// `glassbox-worker keygen`: a worker host makes its own key pair, so that its secret key never leaves it.
struct WorkerKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox-worker keygen",
        abstract: "Make this worker host's own CURVE key pair (Z85, mode 0600); the secret key stays on this host.",
        discussion: """
            Writes NAME.key and NAME.pub into --out. Copy NAME.pub (only the public key) into the coordinator's \
            --curve-keys folder, which admits the workers whose .pub files are there, like authorized_keys; \
            copy the coordinator's coordinator.pub into --out. Then start the worker with \
            --curve-keys DIR --curve-key-name NAME.

            Example: glassbox-worker keygen --out /etc/glassbox/keys --name node1
            """)

    @Option(help: ArgumentHelp("Folder for the keys (created with mode 0700); the worker's --curve-keys.", valueName: "dir"))
    var out: String
    @Option(help: ArgumentHelp("Name of the key pair (NAME.key, NAME.pub); the worker's --curve-key-name.",
                               valueName: "name"))
    var name: String
    @Flag(help: "Replace an existing key pair of that name.")
    var force = false

    func validate() throws { try validateCurveKeyName(name, option: "--name") }

    func run() throws {
        let written: [String]
        do {
            written = try writeCurveKeyPair(directory: out, name: name, replace: force)
        } catch let error as ClusterError {
            throw ClusterError("keygen: \(error.description)")
        }
        print("wrote \(written.joined(separator: ", "))")
        print("next: copy \(written[1]) into the coordinator's --curve-keys folder, and the coordinator's "
              + "coordinator.pub into \(out); start this worker with --curve-keys \(out) --curve-key-name \(name)")
    }
}
