import ArgumentParser
import Cluster
import CommandLineOptions
import Core
import Foundation

// `WeightSync` lives in the Cluster library (the engine needs it); here it becomes an option value.
extension WeightSync: ExpressibleByArgument {}

/// Options of `train` for running on worker processes, and for checkpoints and resuming.
struct ClusterOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Start N local glassbox-worker processes (found next to this executable) and train on them.",
                               valueName: "n"))
    var spawnWorkers: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Wait for N external workers (glassbox-worker --connect ...) before training.",
                               valueName: "n"))
    var workers: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Threads per spawned worker (default: cores / workers).", valueName: "n"))
    var workerThreads: Int?
    @Option(help: ArgumentHelp("ZeroMQ endpoint workers connect to (default tcp://127.0.0.1:5555, with --spawn-workers "
                               + "a free loopback port; tcp://0.0.0.0:5555 for other hosts; port * picks one).",
                               valueName: "endpoint"))
    var bind: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Fewest live workers to keep training with.", valueName: "n"))
    var minWorkers: Int = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for the workers at the start, and with fewer than --min-workers before "
                               + "giving up.", valueName: "seconds"))
    var workerTimeout: Double = 60
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a worker may take for one piece of work (step share or evaluation chunk) before "
                               + "it is dropped and the work given to another.", valueName: "seconds"))
    var stepDeadline: Double = 60
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds an idle worker may stay silent before it is dropped.", valueName: "seconds"))
    var heartbeatTimeout: Double = 10
    @Option(help: ArgumentHelp("How replicas stay in step: gradient (broadcast the step gradient, 0.3-0.4 MB to "
                               + "each worker, nothing to a sole worker; each worker applies Adam) or weights (the "
                               + "coordinator applies Adam and broadcasts the 3.3 MB weights; for workers on "
                               + "differing CPUs).", valueName: "mode"))
    var weightSync: WeightSync = .gradient
    @Option(help: ArgumentHelp("Directory of CURVE keys from `glassbox-coordinator keygen`: encrypt, and admit only "
                               + "workers whose public key (NAME.pub) is there.", valueName: "dir"))
    var curveKeys: String?
    @Option(help: ArgumentHelp("Continue the run in this directory from its last checkpoint (written after every "
                               + "epoch and every --checkpoint-every steps); the run goes on writing there (--out is "
                               + "not used) with the checkpoint's seed, data set, sizes and map settings.",
                               valueName: "dir"))
    var resume: String?
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Also checkpoint every N training steps within an epoch, so that a crash costs at most N "
                               + "steps (0: only at the end of each epoch).", valueName: "steps"))
    var checkpointEvery = 100

    /// Whether training runs on worker processes.
    var isDistributed: Bool { spawnWorkers != nil || workers != nil }

    func validate() throws {
        if spawnWorkers != nil && workers != nil {
            throw ValidationError("give either --spawn-workers or --workers, not both")
        }
        if let n = spawnWorkers ?? workers, n < 1 {
            throw ValidationError("the number of workers must be at least 1, got \(n)")
        }
        if let n = spawnWorkers {
            try validateCount(n, in: 1...Self.maximumSpawnedWorkers, option: "--spawn-workers", because: "processes on this host")
        }
        guard checkpointEvery >= 0 else {
            throw ValidationError("--checkpoint-every must be >= 0 steps (0: only at epoch ends), got \(checkpointEvery)")
        }
        guard minWorkers >= 1 else { throw ValidationError("--min-workers must be at least 1, got \(minWorkers)") }
        if let n = spawnWorkers ?? workers, minWorkers > n {
            throw ValidationError("--min-workers \(minWorkers) is more than the \(n) workers asked for")
        }
        if let t = workerThreads { try validateThreadCount(t, option: "--worker-threads") }
        for (name, value) in [("--worker-timeout", workerTimeout), ("--step-deadline", stepDeadline),
                              ("--heartbeat-timeout", heartbeatTimeout)] {
            try validateSeconds(value, option: name)
        }
        if let bind, !(bind.hasPrefix("tcp://") || bind.hasPrefix("ipc://")) {
            throw ValidationError("--bind must be a ZeroMQ endpoint such as tcp://127.0.0.1:5555, got \(bind)")
        }
        if let bind, bind.hasPrefix("tcp://"), let port = bind.split(separator: ":").last, port != "*",
           !(Int(port).map { (1...65535).contains($0) } ?? false) {
            throw ValidationError("--bind \(bind): the port must be 1 to 65535 or *, got \(port)")
        }
    }

    /// The endpoint to bind: local workers need no fixed port, so that runs side by side do not collide.
    var bindEndpoint: String { bind ?? (spawnWorkers != nil ? "tcp://127.0.0.1:*" : "tcp://127.0.0.1:5555") }

    /// The most worker processes `--spawn-workers` starts on this one host.
    static let maximumSpawnedWorkers = 256

    /// Threads each spawned worker computes with, so that the host is not oversubscribed.
    func threadsPerSpawnedWorker(_ n: Int) -> Int { workerThreads ?? max(1, defaultThreadCount() / n) }
}
