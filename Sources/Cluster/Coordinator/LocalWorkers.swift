import Core
import Foundation

/// Worker processes started on this host by `--spawn-workers`, stopped at the end of the run. Each is
/// told the coordinator's pid, so that it exits if the coordinator dies first.
public final class LocalWorkers {
    private var processes: [Process] = []
    private let log: Log

    /// Starts `count` `glassbox-worker` processes from this executable's directory, connecting to `endpoint`.
    public init(count: Int, threads: Int, endpoint: String, arguments: [String], log: Log) throws {
        self.log = log
        let executable = LocalWorkers.workerExecutable()
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ClusterError("--spawn-workers needs glassbox-worker next to this executable, at \(executable.path); "
                               + "build it with `swift build -c release` (or `make build`)")
        }
        let connect = replacingWildcardHost(of: endpoint, with: "127.0.0.1")
        for _ in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--connect", connect, "--threads", "\(threads)",
                                 "--parent-pid", "\(ProcessInfo.processInfo.processIdentifier)"] + arguments
            do {
                try process.run()
            } catch {
                stop()
                throw ClusterError("cannot start \(executable.path): \(error.localizedDescription)")
            }
            processes.append(process)
        }
        log("started \(count) local worker\(count == 1 ? "" : "s") (\(threads) thread\(threads == 1 ? "" : "s") each): "
            + "pids \(processes.map { "\($0.processIdentifier)" }.joined(separator: ", "))")
    }

    /// An error if a worker process has already exited (e.g. it could not load the data).
    public func exitedEarly() -> ClusterError? {
        guard let gone = processes.first(where: { !$0.isRunning }) else { return nil }
        return ClusterError("local worker \(gone.processIdentifier) exited with status \(gone.terminationStatus) before "
                            + "the run could start (its log is above)")
    }

    /// Waits up to `grace` seconds for the workers to exit (they were told to), then terminates the rest.
    public func stop(grace: Double = 5) {
        let deadline = now() + grace
        while processes.contains(where: \.isRunning) && now() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        for process in processes where process.isRunning {
            log("local worker \(process.processIdentifier) did not exit; terminating it", .warning)
            process.terminate()
            process.waitUntilExit()
        }
        processes = []
    }

    /// `glassbox-worker` in the directory of the running executable.
    public static func workerExecutable() -> URL {
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                     ?? CommandLine.arguments[0])
        return me.deletingLastPathComponent().appendingPathComponent("glassbox-worker")
    }

    /// The build ID (see `glassbox-worker`) of the worker executable next to this one, if there is one.
    public static func siblingBuildID() -> String? {
        guard let bytes = try? FileBytes.read(workerExecutable().path) else { return nil }
        return String(sha256Hex(bytes).prefix(16))
    }
}
