import Core
import Foundation

/// Worker processes started on this host by `--spawn-workers`, stopped at the end of the run. Each is
/// told the coordinator's pid, so that it exits if the coordinator dies first.
public final class LocalWorkers {
    private var processes: [Process] = []
    private let log: Log
    /// The file the workers split each update through (`SharedUpdate`), until `releaseSharedFile`.
    private var sharedFile: String?
    /// The coordinator's view of the step gradients the workers leave in that file (for as long as it lives).
    public private(set) var gradientParts: SharedGradientParts?

    /// Starts `count` `glassbox-worker` processes from this executable's directory, connecting to `endpoint`.
    /// With `shareUpdates` (workers that apply the updates themselves) and two or more workers, they split
    /// each update through a file in /dev/shm (or the temporary folder), removed by `releaseSharedFile`, and
    /// leave their step gradients (of up to `batchSize` samples) there for each other and the coordinator.
    public init(count: Int, threads: Int, endpoint: String, arguments: [String], shareUpdates: Bool = false,
                batchSize: Int = 100, log: Log) throws {
        self.log = log
        let executable = LocalWorkers.workerExecutable()
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ClusterError("--spawn-workers needs glassbox-worker next to this executable, at \(executable.path); "
                               + "build it with `swift build -c release` (or `make build`)")
        }
        let connect = replacingWildcardHost(of: endpoint, with: "127.0.0.1")
        // GLASSBOX_SHARED_UPDATES=off: every worker applies whole updates (for benchmarks side by side).
        let sharingOff = ProcessInfo.processInfo.environment["GLASSBOX_SHARED_UPDATES"] == "off"
        if shareUpdates && !sharingOff && count >= 2 && count <= ParameterShare.maxMembers {
            let folder = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            let path = URL(fileURLWithPath: folder).appendingPathComponent(
                "glassbox-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))").path
            do {
                try SharedUpdate.create(path: path, members: count, rowsCapacity: batchSize)
                sharedFile = path
            } catch {
                log("the spawned workers apply whole updates: \(error)", .warning)
            }
            // GLASSBOX_SHARED_GRADIENTS=off: the step gradients travel through the coordinator (for benchmarks).
            do {
                if let path = sharedFile, ProcessInfo.processInfo.environment["GLASSBOX_SHARED_GRADIENTS"] != "off" {
                    gradientParts = SharedGradientParts(file: try SharedFileMapping(path: path, members: count), rank: nil)
                }
            } catch {
                log("the spawned workers send their step gradients through the coordinator: \(error)", .warning)
            }
        }
        for rank in 0..<count {
            let process = Process()
            process.executableURL = executable
            let sharing = sharedFile.map { ["--share-updates", $0, "--share-rank", "\(rank)", "--share-members", "\(count)"] }
            process.arguments = ["--connect", connect, "--threads", "\(threads)",
                                 "--parent-pid", "\(ProcessInfo.processInfo.processIdentifier)"] + arguments + (sharing ?? [])
            do {
                try process.run()
            } catch {
                stop()
                releaseSharedFile()
                throw ClusterError("cannot start \(executable.path): \(error.localizedDescription)")
            }
            processes.append(process)
        }
        log("started \(count) local worker\(count == 1 ? "" : "s") (\(threads) thread\(threads == 1 ? "" : "s") each): "
            + "pids \(processes.map { "\($0.processIdentifier)" }.joined(separator: ", "))")
    }

    /// Removes the shared-update file's name (the workers, which have mapped it by the time they joined,
    /// keep it until they exit). Idempotent.
    public func releaseSharedFile() {
        if let sharedFile { unlink(sharedFile) }
        sharedFile = nil
    }

    deinit { releaseSharedFile() }

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
        releaseSharedFile()
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
