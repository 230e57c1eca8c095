import ArgumentParser
import Cluster
import Core
import Foundation

struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Train on several hosts in one command: the coordinator here, the workers through a remote shell.",
        discussion: """
            HOSTS lists one host[:workers[:threads]] per line (`#` comments), like Horovod's host:slots. The \
            coordinator runs `train` on this host with --workers set to the total and --bind tcp://0.0.0.0:PORT; \
            every worker is started through the remote-shell template with {host} replaced, e.g. \
            `ssh -o BatchMode=yes {host}` (the default), `ip netns exec {host}` or `docker exec {host}`, and \
            told to connect to --advertise:PORT. Each worker's lines are printed with its host in front and \
            kept in RUN/logs/HOST-N.log; Ctrl-C or SIGTERM is passed on to every process. A worker that exits \
            before the run ends is named with its last log lines. The exit status is the coordinator's.

            Every option after the launch options goes to `train` (e.g. --epochs 10 --out runs/big --data DIR). \
            The workers receive the coordinator's data set over their connection and keep it in their cache \
            (--worker-cache, default ~/.cache/glassbox on each host), so a host needs no copy of the data; \
            --worker-data DIR makes them read DIR on their own disk instead. They get the coordinator's CURVE \
            key folder (--curve-keys, with --curve-key-name set to the host), which must exist at the same \
            path on every host, as must the worker program (--worker-program; default: glassbox-worker \
            beside this program), unless --push installs it.

            --push TARBALL (from `make dist`) first copies the release to every host that lacks this very \
            build, through the same remote shell, into --push-dir/DIGEST (DIGEST: the start of the \
            tarball's SHA-256; hosts that have it are skipped), and starts the workers from there. The \
            tarball carries the Swift runtime, so a host needs only the packages listed in \
            deploy/README.md, tar and gzip.

            Example:
              printf 'node1:2\\nnode2:2\\n' > hosts
              glassbox-coordinator launch --hosts hosts --advertise 10.0.0.1 --epochs 10 --out runs/ten
              glassbox-coordinator launch --hosts hosts --push dist/glassbox-1a2b3c4-linux-x86_64.tar.gz --epochs 10
            """)

    @Option(help: ArgumentHelp("File listing host[:workers[:threads]], one per line.", valueName: "file"))
    var hosts: String
    @Option(help: ArgumentHelp("Remote-shell command template; {host} becomes each host of --hosts.",
                               valueName: "template"))
    var rsh: String = "ssh -o BatchMode=yes {host}"
    @Option(help: ArgumentHelp("Address the workers connect to (default: this host's name).", valueName: "host"))
    var advertise: String?
    @Option(help: ArgumentHelp("TCP port the coordinator listens on, on every interface.", valueName: "port"))
    var port: Int = 5555
    @Option(help: ArgumentHelp("Path of glassbox-worker on the hosts (default: beside this program).",
                               valueName: "path"))
    var workerProgram: String?
    @Option(help: ArgumentHelp("Folder of the four IDX files on each host: workers read it instead of receiving the "
                               + "data set from the coordinator.", valueName: "dir"))
    var workerData: String?
    @Option(help: ArgumentHelp("Folder where each worker keeps the data set it receives (default: its "
                               + "$XDG_CACHE_HOME/glassbox or ~/.cache/glassbox).", valueName: "dir"))
    var workerCache: String?
    @Option(help: ArgumentHelp("Release tarball (`make dist`) to install on the hosts that lack this build; the workers "
                               + "then run from it.", valueName: "tarball"))
    var push: String?
    @Option(help: ArgumentHelp("Folder on each host for pushed builds; a relative path starts where the remote shell "
                               + "does (the home folder for ssh).", valueName: "dir"))
    var pushDir: String = ".cache/glassbox/dist"
    @Argument(parsing: .captureForPassthrough,
              help: ArgumentHelp("Options for `train` (see `glassbox-coordinator train --help`).", valueName: "train options"))
    var trainOptions: [String] = []

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1 to 65535, got \(port)") }
        guard rsh.contains("{host}") else {
            throw ValidationError("--rsh must contain {host} (e.g. \"ssh -o BatchMode=yes {host}\"), got \"\(rsh)\"")
        }
        if push != nil, workerProgram != nil {
            throw ValidationError("--push installs the worker program on the hosts; leave out --worker-program")
        }
        for reserved in ["--workers", "--spawn-workers", "--bind"] where trainOptions.contains(reserved) {
            throw ValidationError("\(reserved) is set by launch from --hosts and --port; leave it out")
        }
    }

    func run() throws {
        // Lines in the format `train` is given, so that one run's log reads alike.
        let format = LaunchPlan.value(of: "--log-format", in: trainOptions).flatMap(LogFormat.init(rawValue:)) ?? .text
        let log = Log(level: .info, prefix: "launch", format: format)
        let hostList: HostList
        do {
            let text = String(decoding: try FileBytes.read(hosts, byteLimit: 1 << 20), as: UTF8.self)
            hostList = try HostList(parsing: text, source: hosts)
        } catch let error as LaunchError {
            log("\(error)", .error)
            throw ExitCode(2)
        } catch {
            log("cannot read --hosts: \(error)", .error)
            throw ExitCode(2)
        }
        var program = workerProgram ?? LocalWorkers.workerExecutable().path
        if let push {
            do {
                let release = try DistPush(tarball: push, directory: pushDir)
                var pushed = Set<String>()
                for host in hostList.entries.map(\.host) where pushed.insert(host).inserted {
                    try release.ensure(on: host, rsh: rsh, log: log)
                }
                program = release.workerProgram
            } catch let error as LaunchError {
                log("\(error)", .error)
                throw ExitCode(1)
            }
        }
        let plan = LaunchPlan(hosts: hostList, trainOptions: trainOptions, port: port,
                              advertise: advertise ?? ProcessInfo.processInfo.hostName,
                              workerProgram: program, rsh: rsh,
                              workerData: workerData, workerCache: workerCache)
        let status = try Launcher(plan: plan, log: log).run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// What `launch` starts: the coordinator's arguments and each worker's shell command.
struct LaunchPlan {
    struct WorkerLaunch {
        var host: String
        var index: Int
        var command: String
        var name: String { "\(host)-\(index)" }
    }

    var coordinatorArguments: [String]
    var workers: [WorkerLaunch]
    var runDirectory: String

    init(hosts: HostList, trainOptions: [String], port: Int, advertise: String, workerProgram: String, rsh: String,
         workerData: String? = nil, workerCache: String? = nil) {
        coordinatorArguments = ["train", "--workers", "\(hosts.totalWorkers)", "--bind", "tcp://0.0.0.0:\(port)"]
            + trainOptions
        func value(of option: String) -> String? { LaunchPlan.value(of: option, in: trainOptions) }
        runDirectory = value(of: "--resume") ?? value(of: "--out") ?? "runs/default"
        // Without --worker-data a worker is given no data option: it receives the coordinator's data set.
        var shared: [String] = []
        if let workerData { shared += ["--data", workerData] }
        if let workerCache { shared += ["--cache", workerCache] }
        let keys = value(of: "--curve-keys").map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        workers = hosts.entries.flatMap { entry in
            (1...entry.workers).map { index in
                var arguments = [workerProgram, "--connect", "tcp://\(advertise):\(port)"] + shared
                if let threads = entry.threads { arguments += ["--threads", "\(threads)"] }
                if let keys { arguments += ["--curve-keys", keys, "--curve-key-name", entry.host] }
                if let format = value(of: "--log-format") { arguments += ["--log-format", format] }
                return WorkerLaunch(host: entry.host, index: index,
                                    command: remoteCommand(template: rsh, host: entry.host, arguments: arguments))
            }
        }
    }

    /// The value of `option` among `train`'s options (`--option VALUE` or `--option=VALUE`).
    static func value(of option: String, in trainOptions: [String]) -> String? {
        for (i, word) in trainOptions.enumerated() {
            if word == option, i + 1 < trainOptions.count { return trainOptions[i + 1] }
            if word.hasPrefix(option + "=") { return String(word.dropFirst(option.count + 1)) }
        }
        return nil
    }
}
