import Core
import Foundation

/// Runs a `LaunchPlan`: the coordinator as a child process of this one, each worker as `/bin/sh -c` of
/// its remote-shell command, every line of a worker printed with its name in front and appended to
/// RUN/logs/NAME.log. SIGINT and SIGTERM are passed on to every child. Returns the coordinator's status.
final class Launcher {
    private let plan: LaunchPlan
    private let log: Log
    private let output = NSLock()  // one line at a time on stdout
    private var signalSources: [DispatchSourceSignal] = []

    init(plan: LaunchPlan, log: Log) {
        self.plan = plan
        self.log = log
    }

    func run() throws -> Int32 {
        let logs = (plan.runDirectory as NSString).appendingPathComponent("logs")
        do {
            try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        } catch {
            throw LaunchError("cannot create \(logs) for the workers' logs: \(error.localizedDescription)")
        }
        let coordinator = Process()
        coordinator.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        coordinator.arguments = plan.coordinatorArguments
        do {
            try coordinator.run()
        } catch {
            throw LaunchError("cannot start the coordinator: \(error.localizedDescription)")
        }
        log("coordinator started (pid \(coordinator.processIdentifier)): train \(plan.coordinatorArguments.dropFirst().joined(separator: " "))")
        var workers: [(launch: LaunchPlan.WorkerLaunch, process: Process, lines: LineForwarder)] = []
        for launch in plan.workers {
            let path = (logs as NSString).appendingPathComponent(launch.name + ".log")
            // A JSON line names its worker in "source" and must stay one object.
            let lines = try LineForwarder(prefix: log.format == .json ? "" : "[\(launch.name)] ", logPath: path, output: output)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec " + launch.command]
            process.standardOutput = lines.pipe
            process.standardError = lines.pipe
            do {
                try process.run()
            } catch {
                log("cannot start the worker on \(launch.host): \(error.localizedDescription)", .error)
                continue
            }
            workers.append((launch, process, lines))
        }
        log("started \(workers.count) worker\(workers.count == 1 ? "" : "s") on \(Set(plan.workers.map(\.host)).count) "
            + "host(s); their logs are in \(logs)")
        forwardSignals(to: [coordinator] + workers.map(\.process))

        // Name a worker that ends while the coordinator still runs (a host that could not start it, a
        // crash); the coordinator itself decides whether the run can go on without it.
        var reported = Set<Int>()
        var stoppedForLackOfWorkers = false
        while coordinator.isRunning {
            for (i, worker) in workers.enumerated() where !reported.contains(i) && !worker.process.isRunning {
                reported.insert(i)
                let status = worker.process.terminationStatus
                let last = worker.lines.lastLines(5)
                log("the worker \(worker.launch.name) on \(worker.launch.host) exited with status \(status) while the "
                    + "run goes on" + (last.isEmpty ? " (it printed nothing; check the remote shell: "
                    + "\(worker.launch.command))" : "; its last lines:\n  " + last.joined(separator: "\n  ")),
                    .warning)
            }
            // With every worker gone on an error (none was told that the run is over), the coordinator
            // would wait for workers that never come: stop it rather than hang.
            if !workers.isEmpty, reported.count == workers.count, coordinator.isRunning,
               !workers.contains(where: { $0.process.terminationStatus == 0 }) {
                log("every worker exited with an error; stopping the coordinator", .error)
                coordinator.terminate()
                coordinator.waitUntilExit()
                stoppedForLackOfWorkers = true
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let status = stoppedForLackOfWorkers ? 1 : coordinator.terminationStatus
        // The coordinator told its workers the run is over; give them a moment, then stop what is left.
        let deadline = now() + 10
        while workers.contains(where: { $0.process.isRunning }) && now() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        for worker in workers where worker.process.isRunning {
            log("the worker \(worker.launch.name) is still running; terminating it", .warning)
            worker.process.terminate()
        }
        for worker in workers {
            worker.process.waitUntilExit()
            worker.lines.finish()
        }
        log("coordinator exited with status \(status)")
        return status
    }

    private func forwardSignals(to processes: [Process]) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [log] in
                log("passing signal \(number) on to the coordinator and the workers", .warning)
                for process in processes where process.isRunning { kill(process.processIdentifier, number) }
            }
            source.resume()
            signalSources.append(source)
        }
    }
}

/// Reads a child's output, prints each line with a prefix and appends it to a log file; keeps the last
/// lines for error messages.
final class LineForwarder: @unchecked Sendable {
    let pipe = Pipe()
    private let prefix: String
    private let file: FileHandle
    private let output: NSLock
    private let lock = NSLock()
    private var pending = Data()
    private var recent: [String] = []
    private let done = DispatchSemaphore(value: 0)

    init(prefix: String, logPath: String, output: NSLock) throws {
        self.prefix = prefix
        self.output = output
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw LaunchError("cannot create the log file \(logPath)")
        }
        file = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                flush(final: true)
                done.signal()
            } else {
                lock.lock()
                pending.append(chunk)
                lock.unlock()
                flush(final: false)
            }
        }
    }

    /// The last `n` lines the child printed.
    func lastLines(_ n: Int) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(recent.suffix(n))
    }

    /// Waits (up to 5 s) until the child's output has been read to its end.
    func finish() {
        _ = done.wait(timeout: .now() + 5)
        try? file.close()
    }

    private func flush(final: Bool) {
        lock.lock()
        var lines: [Data] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(pending[pending.startIndex..<newline])
            pending.removeSubrange(pending.startIndex...newline)
        }
        if final && !pending.isEmpty {
            lines.append(pending)
            pending.removeAll()
        }
        let text = lines.map { String(decoding: $0, as: UTF8.self) }
        recent = Array((recent + text).suffix(20))
        lock.unlock()
        guard !text.isEmpty else { return }
        file.write(Data(text.map { $0 + "\n" }.joined().utf8))
        output.lock()
        FileHandle.standardOutput.write(Data(text.map { prefix + $0 + "\n" }.joined().utf8))
        output.unlock()
    }
}
