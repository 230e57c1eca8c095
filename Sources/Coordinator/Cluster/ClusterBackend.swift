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
/// With `WeightSync.gradient`, `gradients` broadcasts the combined gradient before returning and every
/// worker applies Adam itself; the caller must apply the same update (`applyAdam`, as `TrainingLoop`
/// does) and then call `setParameters`. A weights SHA-256 check before each evaluation (so once per
/// epoch) catches a replica that drifted and resends it the weights.
final class ClusterBackend: ComputeBackend {
    let pool: WorkerPool
    let sync: WeightSync
    let microBatchSize: Int
    /// Micro-batches per evaluation chunk.
    let evaluationChunk: Int
    let log: Log
    private let events: EventLog
    /// The training state the replicas must match; read only on this (the training) thread.
    private var trainingState: () -> TrainingState
    private var version: UInt64 = 0
    private var updateInFlight = false
    private var checkedVersion: UInt64 = 0
    /// Training steps computed so far.
    private(set) var steps = 0

    init(pool: WorkerPool, sync: WeightSync, microBatchSize: Int, evaluationChunk: Int = 40,
         initialState: TrainingState, log: Log, events: EventLog) {
        precondition(sync != .auto, "resolve WeightSync.auto before making a ClusterBackend")
        self.pool = pool
        self.sync = sync
        self.microBatchSize = microBatchSize
        self.evaluationChunk = evaluationChunk
        self.log = log
        self.events = events
        trainingState = { initialState }
        // `applyAdam` must run here exactly as on the workers (and in a `CNNEngine` process): its sgemm's
        // result depends on OpenBLAS' thread count.
        BLAS.setThreads(1)
    }

    /// Reads the replicas' target state from `loop` from now on.
    func attach(_ loop: TrainingLoop) {
        trainingState = { [unowned loop] in loop.state }
    }

    func replicaState() -> ReplicaState {
        let state = trainingState()
        let withOptimizer = sync == .gradient
        return ReplicaState(version: version, parameters: state.parameters, adamStep: state.adam.step,
                            adamM: withOptimizer ? state.adam.m : [], adamV: withOptimizer ? state.adam.v : [])
    }

    func gradients(microBatches: [ArraySlice<Int>], epoch: Int) throws -> (StepGradient, BatchStats) {
        precondition(!updateInFlight, "ClusterBackend: setParameters must follow each gradients call")
        let version = self.version
        let job = PoolJob(name: "micro-batches", epoch: UInt32(epoch), unitCount: microBatches.count,
                          split: .acrossWorkers) { range in
            let mbs = microBatches[range]
            return .stepAssignment(StepAssignment(
                weightsVersion: version, microBatches: range.map { Int32($0) }, sampleCounts: mbs.map { Int32($0.count) },
                sampleIndices: mbs.flatMap { $0.map { Int32($0) } }))
        }
        let results = try pool.run(job, provideState: replicaState)
        var gradient = StepGradient.empty
        var stats = BatchStats()
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
        }
        steps += 1
        if sync == .gradient {
            let update = StepUpdate(version: version + 1, samples: UInt32(stats.count), gradient: GradientFactors(
                sums: gradient.sums.values, rows: UInt32(gradient.rows), flatWidth: UInt32(SeedCNN.flatWidth),
                deltaWidth: UInt32(SeedCNN.hiddenWidth), flatRows: gradient.flatRows, deltaRows: gradient.deltaRows))
            pool.broadcast(update: update)
            updateInFlight = true
        }
        return (gradient, stats)
    }

    func setParameters(_ parameters: [Float]) throws {
        version += 1
        if updateInFlight {
            // The workers applied the broadcast update themselves; only a joining or out-of-step one needs
            // the full state.
            updateInFlight = false
            if pool.needsState { pool.publish(replicaState()) }
        } else {
            var state = replicaState()
            state.parameters = parameters
            pool.publish(state)
        }
        if let failure = pool.currentFailure { throw failure }
    }

    func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
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
        let expected = trainingState().parameters.withUnsafeBytes { sha256Hex($0) }
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
