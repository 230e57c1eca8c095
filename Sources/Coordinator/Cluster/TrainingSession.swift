import Cluster
import Core
import Foundation
import Protocol

/// What `train` needs around its training loop: the backend (this process, or worker processes it
/// starts or waits for), the state to start from (fresh, or a checkpoint with `--resume`), a checkpoint
/// after every epoch, the event log, and an orderly end (workers told to stop, spawned ones reaped).
final class TrainingSession {
    let backend: ComputeBackend
    let initialState: TrainingState
    let events: EventLog
    private let cluster: ClusterBackend?
    private let pool: WorkerPool?
    private let localWorkers: LocalWorkers?
    private let run: RunDirectory
    private let settings: CheckpointSettings
    private let log: Log
    private var checkpointedEpochs: Int?
    private let checkpointEvery: Int
    private var finished = false
    /// Asked before each checkpoint whether the previous epoch's map (made in the background) is on disk,
    /// writing it if it is done; `epochEnd` (the epoch's own checkpoint) waits for it. Before a mid-epoch
    /// checkpoint while it is not, the epoch end's checkpoint is kept (`Checkpoint.keepEpochEnd`), so a
    /// crash loses neither the steps nor that map.
    var checkpointGate: ((_ epochEnd: Bool) throws -> Bool)?

    /// Sets up the backend and the starting state. `workerArguments` are passed to spawned workers (data set,
    /// log level); `local` makes the in-process backend when no workers are asked for, and with workers the
    /// one that recomputes steps whose gradient stayed on a lost worker. `poolObserver` is told each worker's
    /// traffic and answer times (`--metrics-listen`). `resumed` is the checkpoint of `--resume` if the caller
    /// has read it already (else it is read here). `kernels` is the `--kernels` choice: a path named there is the
    /// run's, which every worker is told at its welcome; with "auto" each computes with its widest.
    init(options: ClusterOptions, training: TrainingSettings, split: DatasetSplit, trainingImages: Int,
         choices: RunChoices? = nil, kernels: String = "auto", workerArguments: [String], run: RunDirectory,
         resumed: (TrainingState, CheckpointSettings)? = nil, log: Log,
         poolObserver: (any WorkerPoolObserver)? = nil,
         local: @escaping () -> LocalBackend) throws {
        self.run = run
        self.log = log
        checkpointEvery = options.checkpointEvery
        events = try EventLog(path: run.file("events.jsonl"))
        settings = CheckpointSettings(seed: training.seed, batchSize: training.batchSize,
                                      microBatchSize: training.microBatchSize,
                                      validationFraction: training.validationFraction, trainingImages: trainingImages,
                                      dataset: split.name, datasetFingerprint: split.fingerprint, run: choices)
        if options.resume != nil {
            let (state, saved) = try resumed ?? Checkpoint.read(in: run.path)
            if let difference = Checkpoint.difference(saved, settings) {
                throw RunError("cannot resume \(run.path) exactly: \(difference)")
            }
            initialState = state
            checkpointedEpochs = state.epochsDone
            let within = state.stepsDone > 0 ? ", step \(state.stepsDone) of epoch \(state.epochsDone + 1)" : ""
            log("resuming \(run.path) after epoch \(state.epochsDone)\(within) (Adam step \(state.adam.step))")
            run.removeUnfinishedWrites()
        } else {
            initialState = .initial(seed: training.seed)
        }
        guard options.isDistributed else {
            backend = local()
            cluster = nil
            pool = nil
            localWorkers = nil
            events.record("run_started", ["mode": "in-process", "epochs_done": initialState.epochsDone])
            return
        }
        let workerCount = options.spawnWorkers ?? options.workers ?? 1
        let sync = options.weightSync
        let adam = initialState.adam
        let pool = try WorkerPool(settings: PoolSettings(
            bind: options.bindEndpoint, curveKeysDirectory: options.curveKeys, heartbeatTimeout: options.heartbeatTimeout,
            stepDeadline: options.stepDeadline, minWorkers: options.minWorkers, workerTimeout: options.workerTimeout,
            datasetFingerprint: split.fingerprint, expectedBuildID: LocalWorkers.siblingBuildID(), seed: training.seed,
            welcomeSettings: ["microBatch": "\(training.microBatchSize)", "heartbeatSeconds": "1",
                              "learningRate": "\(adam.learningRate)", "beta1": "\(adam.beta1)",
                              "beta2": "\(adam.beta2)", "epsilon": "\(adam.epsilon)", "dataset": split.name,
                              "weightSync": sync.rawValue,
                              "kernels": kernels == "auto" ? "auto" : KernelPath.current.rawValue],
            datasetOffer: try DatasetOffer(split: split)), log: log, events: events)
        self.pool = pool
        pool.observer = poolObserver
        pool.start()
        events.record("run_started", ["mode": options.spawnWorkers != nil ? "spawned workers" : "external workers",
                                      "workers": workerCount, "endpoint": pool.endpoint,
                                      "weight_sync": sync.rawValue, "epochs_done": initialState.epochsDone])
        var spawned: LocalWorkers?
        do {
            if let n = options.spawnWorkers {
                var arguments = workerArguments + ["--coordinator-timeout", "\(Int(max(60, options.workerTimeout)))",
                                                   "--kernels", KernelPath.current.rawValue]
                if let keys = options.curveKeys { arguments += ["--curve-keys", keys] }
                spawned = try LocalWorkers(count: n, threads: options.threadsPerSpawnedWorker(n), endpoint: pool.endpoint,
                                           arguments: arguments, shareUpdates: sync == .gradient,
                                           batchSize: training.batchSize, log: log)
            }
            try pool.waitForWorkers(workerCount, abort: { spawned?.exitedEarly() })
            spawned?.releaseSharedFile()  // every worker has mapped it before it said hello
        } catch {
            pool.stop(reason: "the coordinator gave up: \(error)")
            spawned?.stop()
            throw error
        }
        localWorkers = spawned
        log("replicas kept in step by broadcasting the \(sync == .gradient ? "step gradient" : "weights") (--weight-sync)",
            .debug)
        let cluster = ClusterBackend(pool: pool, sync: sync, microBatchSize: training.microBatchSize, log: log,
                                     events: events, gradientParts: spawned?.gradientParts, recomputer: local)
        self.cluster = cluster
        backend = cluster
    }

    deinit { finish() }


    /// Live workers now; nil when training in this process.
    var liveWorkers: Int? { pool?.liveCount }

    /// A training-loop line with the number of live workers appended (distributed runs).
    func annotate(_ line: String) -> String {
        guard let pool else { return line }
        let n = pool.liveCount
        return line + ", \(n) worker\(n == 1 ? "" : "s")"
    }

    /// A training-loop progress line with the number of live workers (distributed runs).
    func annotate(_ progress: TrainingProgress) -> TrainingProgress {
        var progress = progress
        progress.workers = pool?.liveCount
        return progress
    }

    /// Runs `body` (training or evaluation on the backend). If the workers are lost, makes sure a
    /// checkpoint of the last whole epoch exists and says how to continue.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ClusterError {
            if checkpointedEpochs == nil { try Checkpoint.write(initialState, settings: settings, in: run) }
            let epochs = checkpointedEpochs ?? initialState.epochsDone
            events.record("run_failed", ["reason": error.description, "checkpoint_epochs_done": epochs])
            throw ClusterError("\(error.description). The checkpoint in \(run.path) holds \(epochs) epoch"
                               + "\(epochs == 1 ? "" : "s"); continue with `--resume \(run.path)`")
        }
    }

    /// Checkpoints the starting state of a new run, so that a crash before the first checkpoint of the
    /// training (during the first map, say) can be resumed with the run's settings too.
    func checkpointStart() throws {
        guard checkpointedEpochs == nil else { return }
        try Checkpoint.write(initialState, settings: settings, in: run)
        checkpointedEpochs = initialState.epochsDone
    }

    /// Runs one epoch and checkpoints it, and every `--checkpoint-every` steps within it (see `guarded`
    /// for lost workers).
    func runEpoch(_ loop: TrainingLoop) throws -> EpochMetrics {
        loop.checkpointEvery = checkpointEvery
        loop.checkpoint = { [self] state in
            if let gate = checkpointGate, try !gate(false) {
                // The previous epoch's map is not on disk yet: its weights stay on disk beside this checkpoint.
                try Checkpoint.keepEpochEnd(in: run)
            }
            let start = now()
            try Checkpoint.write(state, settings: settings, in: run)
            checkpointedEpochs = state.epochsDone
            log("checkpoint at step \(state.stepsDone) of epoch \(state.epochsDone + 1) written in "
                + "\(fmt(now() - start, 3)) s", .debug)
            CrashPoint.checkpoint.reached()
        }
        let metrics = try guarded { try loop.runEpoch() }
        _ = try checkpointGate?(true)
        try Checkpoint.write(loop.state, settings: settings, in: run)
        CrashPoint.checkpoint.reached()
        checkpointedEpochs = loop.epochsDone
        var fields: [String: Any] = ["epoch": metrics.epoch, "loss": metrics.loss, "acc": metrics.acc,
                                     "val_loss": metrics.valLoss, "val_acc": metrics.valAcc, "seconds": metrics.seconds,
                                     "samples_per_second": metrics.samplesPerSecond]
        if let pool { fields["workers"] = pool.liveCount }
        events.record("epoch_done", fields)
        return metrics
    }

    /// Stops the workers (spawned ones are reaped) and logs the traffic. Idempotent.
    func finish() {
        guard !finished else { return }
        finished = true
        if let pool {
            pool.stop()
            localWorkers?.stop()
            if let cluster, cluster.steps > 0 { logTraffic(pool.traffic, steps: cluster.steps) }
        }
        events.record("run_finished")
    }

    private func logTraffic(_ traffic: [MessageType: Traffic], steps: Int) {
        let perStep: (MessageType, Bool) -> Int = { type, sent in
            let t = traffic[type] ?? Traffic()
            return (sent ? t.sentBytes : t.receivedBytes) / steps
        }
        let sent = perStep(.stepAssignment, true) + perStep(.stepUpdate, true) + perStep(.weights, true)
        let received = perStep(.stepResult, false)
        log("traffic per training step, all workers together: \(sent) bytes sent (assignments "
            + "\(perStep(.stepAssignment, true)), updates \(perStep(.stepUpdate, true)), weights "
            + "\(perStep(.weights, true))), \(received) bytes received (results)")
        events.record("traffic", ["steps": steps, "sent_bytes_per_step": sent, "received_bytes_per_step": received,
                                  "by_type": Dictionary(uniqueKeysWithValues: traffic.map { type, t in
                                      ("\(type)", ["sent_bytes": t.sentBytes, "sent_messages": t.sentMessages,
                                                   "received_bytes": t.receivedBytes,
                                                   "received_messages": t.receivedMessages])
                                  })])
    }
}

/// The engine records worker events into the run's `events.jsonl`.
extension EventLog: EventRecording {}
