import Core
import Foundation
import Protocol

/// Training on worker processes with exactly the numbers of `LocalBackend`.
///
/// A step's micro-batches are cut into one contiguous run per live worker; each worker returns the
/// gradient of its run (fixed-point sums plus the dense kernel's factors) and every micro-batch's
/// statistics, and the parts are appended in micro-batch order, so the result does not depend on how many
/// workers there are or on which of them computed what. Evaluations are cut into chunks of whole
/// micro-batches and their statistics added in micro-batch order too.
///
/// With `WeightSync.gradient` the workers own the optimiser step: the combined gradient is broadcast and
/// every worker applies Adam itself; a worker that computed the whole step applies its own gradient
/// without waiting for the broadcast. The coordinator does not repeat the update every step: it keeps the
/// state a worker reported (every `stateReportInterval` steps, inside a step result) and the updates
/// since, and replays them only when it needs the weights (an evaluation's replica check, a checkpoint, a
/// joining worker, the end). The next step's assignment is sent right behind the update, so a worker
/// never waits for the coordinator between steps. With `WeightSync.weights` the coordinator applies Adam
/// and sends the weights. A weights SHA-256 check before each evaluation (so once per epoch) catches a
/// replica that drifted and resends it the weights.
final class ClusterBackend: ComputeBackend {
    let pool: WorkerPool
    let sync: WeightSync
    let microBatchSize: Int
    /// Micro-batches per evaluation chunk.
    let evaluationChunk: Int
    let log: Log
    private let events: EventLog
    /// Steps between the worker-reported states the coordinator keeps (gradient sync): bounds the updates
    /// kept (about 1 MB each) and the work of replaying them.
    static let stateReportInterval = 32

    /// The replicas' target state, version `version`: `base` (version `version - pending.count`) followed by
    /// the updates in `pending`.
    private var base = ModelState(parameters: [], adam: AdamState(count: 0))
    private var pending: [(gradient: StepGradient, samples: Int)] = []
    private var version: UInt64 = 0
    private var checkedVersion: UInt64 = 0
    /// The step whose assignment was handed out ahead (its results are awaited by the next `step`).
    private var ahead: (microBatches: [ArraySlice<Int>], epoch: Int)?
    /// Training steps computed so far.
    private(set) var steps = 0

    init(pool: WorkerPool, sync: WeightSync, microBatchSize: Int, evaluationChunk: Int = 40, log: Log, events: EventLog) {
        self.pool = pool
        self.sync = sync
        self.microBatchSize = microBatchSize
        self.evaluationChunk = evaluationChunk
        self.log = log
        self.events = events
        // Replays of `applyAdam` must run here exactly as on the workers (and in a `CNNEngine` process): its
        // sgemm's result depends on OpenBLAS' thread count.
        BLAS.setThreads(1)
    }

    func load(_ model: ModelState) throws {
        precondition(ahead == nil, "ClusterBackend: load while a step is handed out")
        version += 1
        base = model
        pending = []
        pool.publish(replicaState())
        if let failure = pool.currentFailure { throw failure }
    }

    /// The current weights and Adam state: the kept state with the updates since replayed onto it.
    func model() -> ModelState {
        if !pending.isEmpty {
            for update in pending { base.applyAdam(update.gradient, samples: update.samples) }
            pending = []
        }
        return base
    }

    func replicaState() -> ReplicaState {
        let state = model()
        let withOptimizer = sync == .gradient
        return ReplicaState(version: version, parameters: state.parameters, adamStep: state.adam.step,
                            adamM: withOptimizer ? state.adam.m : [], adamV: withOptimizer ? state.adam.v : [])
    }

    func step(microBatches: [ArraySlice<Int>], epoch: Int, upcoming: [ArraySlice<Int>]?) throws -> BatchStats {
        if let ahead {
            precondition(ahead.epoch == epoch && ahead.microBatches == microBatches,
                         "ClusterBackend: the step handed out ahead is not the one asked for")
        } else {
            try pool.submit(trainingJob(microBatches, epoch: epoch))
        }
        ahead = nil
        let results = try pool.wait(provideState: replicaState)
        var gradient = StepGradient.empty
        var stats = BatchStats()
        var reported: Weights?
        for result in results {
            guard case .stepResult(let r) = result.message else {
                throw ClusterError("\(result.worker) answered a step with \(result.message.type)")
            }
            let g = r.gradient
            guard r.microBatches == result.range.map({ Int32($0) }),
                  r.sampleCounts == microBatches[result.range].map({ Int32($0.count) }),
                  g.sums.count == StepGradient.packedCount, g.flatWidth == SeedCNN.flatWidth,
                  g.deltaWidth == SeedCNN.hiddenWidth else {
                throw ClusterError("\(result.worker) answered micro-batches \(result.range) with a result that does not "
                                   + "fit them (micro-batches \(r.microBatches), \(g.sums.count) sums)")
            }
            gradient.append(StepGradient(sums: FixedPointGradient(values: g.sums), flatRows: g.flatRows,
                                         deltaRows: g.deltaRows, rows: Int(g.rows)))
            for j in r.lossSums.indices {
                stats = stats + BatchStats(lossSum: r.lossSums[j], correct: Int(r.correctCounts[j]),
                                           count: Int(r.sampleCounts[j]))
            }
            if let state = r.state { reported = try checkedReport(state, from: result.worker) }
        }
        steps += 1
        switch sync {
        case .gradient:
            if let reported { keep(reported) }
            version += 1
            pending.append((gradient, stats.count))
            // A worker that computed the whole step applied its own gradient already.
            let selfApplied = results.count == 1 ? results[0].worker : nil
            pool.broadcast(update: StepUpdate(version: version, samples: UInt32(stats.count), gradient: GradientFactors(
                sums: gradient.sums.values, rows: UInt32(gradient.rows), flatWidth: UInt32(SeedCNN.flatWidth),
                deltaWidth: UInt32(SeedCNN.hiddenWidth), flatRows: gradient.flatRows, deltaRows: gradient.deltaRows)),
                except: selfApplied)
        case .weights:
            version += 1
            pending.append((gradient, stats.count))
            pool.publish(replicaState())  // applies the update here, then sends the weights
        }
        if let failure = pool.currentFailure { throw failure }
        if let upcoming {
            try pool.submit(trainingJob(upcoming, epoch: epoch))
            ahead = (upcoming, epoch)
        }
        return stats
    }

    /// The job of one step at the current version. With gradient sync a worker given the whole step applies
    /// its own gradient, and the first micro-batches' worker reports its state when enough updates are kept.
    private func trainingJob(_ microBatches: [ArraySlice<Int>], epoch: Int) -> PoolJob {
        let version = self.version
        let gradientSync = sync == .gradient
        let report = gradientSync && pending.count >= Self.stateReportInterval
        return PoolJob(name: "micro-batches", epoch: UInt32(epoch), unitCount: microBatches.count,
                       split: .acrossWorkers) { range in
            let mbs = microBatches[range]
            var options: StepOptions = []
            if gradientSync && range.count == microBatches.count { options.insert(.applyOwnGradient) }
            if report && range.lowerBound == 0 { options.insert(.reportState) }
            return .stepAssignment(StepAssignment(
                weightsVersion: version, microBatches: range.map { Int32($0) }, sampleCounts: mbs.map { Int32($0.count) },
                sampleIndices: mbs.flatMap { $0.map { Int32($0) } }, options: options))
        }
    }

    /// A reported state that fits the model and the version the step was computed from.
    private func checkedReport(_ state: Weights, from worker: String) throws -> Weights {
        let count = SeedCNN.layout.count
        guard state.version == version, state.parameters.count == count, state.adamM.count == count,
              state.adamV.count == count else {
            throw ClusterError("\(worker) reported the state of version \(state.version) with \(state.parameters.count) "
                               + "parameters and \(state.adamM.count) moments; the step was computed from version \(version) "
                               + "of \(count) parameters")
        }
        return state
    }

    /// Keeps a worker's state of the current version in place of the kept state and updates.
    private func keep(_ state: Weights) {
        var adam = base.adam
        adam.m = state.adamM
        adam.v = state.adamV
        adam.step = Int(state.adamStep)
        base = ModelState(parameters: state.parameters, adam: adam)
        pending = []
    }

    func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        precondition(ahead == nil, "ClusterBackend: evaluation while a training step is handed out")
        if sync == .gradient && checkedVersion != version { try checkReplicas() }
        let mbs = microBatches(of: indices[...], size: microBatchSize)
        guard !mbs.isEmpty else { return (BatchStats(), [], []) }
        let size = UInt32(microBatchSize)
        let imageSet: EvalImageSet = set == .train ? .train : .test
        let job = PoolJob(name: "evaluation micro-batches", epoch: 0, unitCount: mbs.count,
                          split: .chunks(evaluationChunk)) { range in
            .evalRequest(EvalRequest(imageSet: imageSet, includeActivations: hidden, microBatchSize: size,
                                     sampleIndices: mbs[range].flatMap { $0.map { Int32($0) } }))
        }
        let results = try pool.run(job, provideState: replicaState)
        var stats = BatchStats()
        var predictions = [UInt8]()
        predictions.reserveCapacity(indices.count)
        var activations = [Float]()
        if hidden { activations.reserveCapacity(indices.count * SeedCNN.hiddenWidth) }
        for result in results {
            guard case .evalReply(let r) = result.message else {
                throw ClusterError("\(result.worker) answered an evaluation with \(result.message.type)")
            }
            let expectedCounts = mbs[result.range].map { Int32($0.count) }
            guard r.sampleCounts == expectedCounts,
                  !hidden || r.activationDimension == SeedCNN.hiddenWidth else {
                throw ClusterError("\(result.worker) answered evaluation micro-batches \(result.range) with "
                                   + "\(r.sampleCounts.count) micro-batches of \(r.activationDimension)-wide activations")
            }
            for j in r.lossSums.indices {
                stats = stats + BatchStats(lossSum: r.lossSums[j], correct: Int(r.correctCounts[j]),
                                           count: Int(r.sampleCounts[j]))
            }
            predictions += r.predictions
            if hidden { activations += r.activations }
        }
        return (stats, predictions, activations)
    }

    /// Asks every worker for the SHA-256 of its weights and resends the weights to any that differ.
    private func checkReplicas() throws {
        let expected = model().parameters.withUnsafeBytes { sha256Hex($0) }
        let version = self.version
        let job = PoolJob(name: "weights check", epoch: 0, unitCount: 1, split: .perWorker) { _ in
            .weightsDigest(WeightsDigest(version: version, sha256: expected))
        }
        var drifted: [String] = []
        for result in try pool.run(job, provideState: replicaState) {
            guard case .weightsDigest(let d) = result.message, d.version == version, d.sha256 == expected else {
                drifted.append(result.worker)
                continue
            }
        }
        checkedVersion = version
        if drifted.isEmpty {
            log("weights check: every replica holds version \(version) (SHA-256 \(expected.prefix(12)))", .debug)
            return
        }
        log("weights check: \(drifted.joined(separator: ", ")) drifted from version \(version) (SHA-256 "
            + "\(expected.prefix(12))); resending the weights (were they built for another CPU?)", .warning)
        events.record("weights_mismatch", ["workers": drifted, "version": Int(version), "sha256": expected])
        pool.publish(replicaState())
        pool.resend(to: drifted)
    }
}
