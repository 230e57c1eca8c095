import ArgumentParser
import Core
import Foundation
import Monitoring

/// Options of `train` for watching a run while it runs.
struct MonitoringOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve /metrics (Prometheus' text format), a live page at / and the run's files (read-only) "
                               + "on this address, e.g. 127.0.0.1:9464 (port 0 picks a free one; 0.0.0.0:PORT for other hosts).",
                               valueName: "host:port"))
    var metricsListen: String?
    @Option(help: ArgumentHelp("With --metrics-listen: keep serving this many seconds after the run ends, for a last scrape.",
                               valueName: "seconds"))
    var metricsLinger: Double = 0

    func validate() throws {
        if let metricsListen {
            do { _ = try parseListenAddress(metricsListen) } catch let error as MonitorError {
                throw ValidationError(error.description)
            }
        }
        guard metricsLinger >= 0, metricsLinger.isFinite else {
            throw ValidationError("--metrics-linger must be a number of seconds >= 0, got \(metricsLinger)")
        }
        if metricsLinger > 0 && metricsListen == nil {
            throw ValidationError("--metrics-linger needs --metrics-listen HOST:PORT")
        }
    }

    /// The monitor and its server for a run of `epochs` epochs in `run`; nil without --metrics-listen.
    func start(run: RunDirectory, epochs: Int, log: Log) throws -> RunWatch? {
        guard let metricsListen else { return nil }
        let (host, port) = try parseListenAddress(metricsListen)
        let monitor = RunMonitor(runDirectory: run.path, epochs: epochs)
        let server = try MonitorServer(host: host, port: port, monitor: monitor)
        log("serving the live page on http://\(server.address)/ and Prometheus metrics on http://\(server.address)/metrics")
        if !(host.hasPrefix("127.") || host == "::1" || host == "localhost") {
            log("\(server.address) is reachable from other hosts and asks no password: anyone who can connect can read "
                + "the run's files (weights included)", .warning)
        }
        return RunWatch(monitor: monitor, server: server, linger: metricsLinger, log: log)
    }
}

/// `train --metrics-listen`: what the run reports to, and the server that shows it.
final class RunWatch {
    let monitor: RunMonitor
    private let server: MonitorServer
    private let linger: Double
    private let log: Log

    init(monitor: RunMonitor, server: MonitorServer, linger: Double, log: Log) {
        self.monitor = monitor
        self.server = server
        self.linger = linger
        self.log = log
    }

    /// `backend` with each training step reported to the monitor (the same results, bit for bit).
    func observing(_ backend: ComputeBackend) -> ComputeBackend { ObservedBackend(backend, monitor: monitor) }

    /// The run is done: shows it finished and keeps serving `--metrics-linger` seconds.
    func finish() {
        monitor.runFinished()
        guard linger > 0 else { return }
        log("run finished; serving http://\(server.address)/ for \(fmt(linger, 0)) more s (--metrics-linger)")
        Thread.sleep(forTimeInterval: linger)
    }

    /// Closes the server. Idempotent.
    func stop() { server.stop() }
}
