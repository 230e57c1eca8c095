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
/// every worker applies Adam itself; each worker's copy leaves out the factor rows of its own share, which
/// it keeps. A worker that computed the whole step applies its own gradient, and if it is the only live
/// worker it does not even send it: only the statistics travel. The coordinator does not repeat the
/// update every step: it keeps the state a worker reported (inside a step result, at the end of each
/// epoch and every so many steps, see `keptStepsBeforeReport`) and the steps since, and catches up only
/// when it needs the weights between reports (a joining worker, or the only worker lost mid-epoch): it
/// applies the kept updates, and recomputes in this process the steps whose gradient stayed on their
/// worker or in the spawned workers' shared file (`LocalBackend` gives the same bits). The next step's
/// assignment is sent right behind the update, so a worker never waits for the coordinator between steps.
/// With `WeightSync.weights` the coordinator applies Adam and sends the weights. A weights SHA-256 check before each evaluation (so once
/// per epoch) catches a replica that drifted and resends it the weights.
public final class ClusterBackend: ComputeBackend {
    let pool: WorkerPool
    let sync: WeightSync
    let microBatchSize: Int
    /// Micro-batches per evaluation chunk.
    let evaluationChunk: Int
    let log: Log
    private let events: any EventRecording
    /// The file the coordinator's spawned workers share, when they leave their step gradients there.
    private let gradientParts: SharedGradientParts?
    /// When a worker reports its state (gradient sync), besides each epoch's last step: once this many steps
    /// are kept. A report holds its step up 10-30 ms (10 MB encoded, sent and decoded while the other workers
    /// wait; the first in a process also maps its buffers), so reports every 128 steps cost under 1 % of the
    /// time (every 32, as before, cost 2-7 %: 24,000 images on 2 workers, AMD EPYC, 4 pairs of runs). The
    /// price is on the coordinator: up to 128 kept updates (about 1 MB each: 128 MB), and catching up with them
    /// when a worker joins mid-epoch (a few ms each), or recomputing up to 128 steps a lost sole worker kept
    /// back, or that spawned workers left in their shared file (2.5-5 s on 2 cores).
    static let keptStepsBeforeReport = 128

    /// A step since the kept state.
    private enum PendingStep {
        /// The combined gradient, applied with Adam over `samples` samples.
        case update(StepGradient, samples: Int)
        /// A step whose only worker applied its gradient without sending it: recomputed here if needed.
        case recompute(microBatches: [ArraySlice<Int>], epoch: Int)
        /// A step whose gradient was left in the spawned workers' shared file and not copied here: read from the
        /// file if it is still there when the weights are needed, recomputed here if not (`resolveSharedSteps`).
        case shared([SharedGradientParts.Location], samples: Int, microBatches: [ArraySlice<Int>], epoch: Int)
    }

    /// The replicas' target state, version `version`: `base` (version `version - pending.count`) followed by
    /// the steps in `pending`.
    private var base = ModelState(parameters: [], adam: AdamState(count: 0))
    private var pending: [PendingStep] = []
    /// Makes the in-process backend that recomputes steps (only when the only worker is lost mid-epoch
    /// or a worker joins between reports).
    private let makeRecomputer: () -> LocalBackend
    private var recomputer: LocalBackend?
    private var version: UInt64 = 0
    private var checkedVersion: UInt64 = 0
    /// The step whose assignment was handed out ahead (its results are awaited by the next `step`).
    private var ahead: (microBatches: [ArraySlice<Int>], epoch: Int, endsEpoch: Bool)?
    /// Training steps computed so far.
    public private(set) var steps = 0

    /// Trains on `pool`'s workers; `recomputer` makes the in-process backend that recomputes steps whose
    /// gradient stayed on their worker (needed only when the only worker is lost between reports, or a
    /// worker joins then). With `gradientParts` (the file of the spawned workers) a step split among them is
    /// combined in that file: each leaves its part there, and only where it is travels (`StepOptions.gradientToSharedFile`).
    public init(pool: WorkerPool, sync: WeightSync, microBatchSize: Int, evaluationChunk: Int = 40, log: Log,
                events: any EventRecording, gradientParts: SharedGradientParts? = nil,
                recomputer: @escaping () -> LocalBackend) {
        self.pool = pool
        self.gradientParts = sync == .gradient ? gradientParts : nil
        self.makeRecomputer = recomputer
        self.sync = sync
        self.microBatchSize = microBatchSize
        self.evaluationChunk = evaluationChunk
        self.log = log
        self.events = events
        // Replays of `applyAdam` must run here exactly as on the workers (and in a `CNNEngine` process): its
        // sgemm's result depends on OpenBLAS' thread count.
        BLAS.setThreads(1)
    }

    public func load(_ model: ModelState) throws {
        precondition(ahead == nil, "ClusterBackend: load while a step is handed out")
        version += 1
        base = model
        pending = []
        pool.publish(replicaState())
        if let failure = pool.currentFailure { throw failure }
    }

    /// The current weights and Adam state: the kept state with the steps since applied or recomputed.
    public func model() -> ModelState {
        guard !pending.isEmpty else { return base }
        resolveSharedSteps()
        let recomputed = pending.count(where: { if case .recompute = $0 { true } else { false } })
        let start = now()
        var local: LocalBackend?  // holds the state while consecutive steps are recomputed
        for step in pending {
            switch step {
            case .shared:
                preconditionFailure("ClusterBackend: a step in the shared file was not resolved")
            case .update(let gradient, let samples):
                if let holder = local {
                    base = holder.model()
                    local = nil
                }
                base.applyAdam(gradient, samples: samples, threads: defaultThreadCount())
            case .recompute(let microBatches, let epoch):
                if local == nil {
                    let holder = recomputer ?? makeRecomputer()
                    recomputer = holder
                    holder.load(base)
                    local = holder
                }
                _ = local!.step(microBatches: microBatches, epoch: epoch)
            }
        }
        if let local { base = local.model() }
        if recomputed > 0 {
            log("recomputed \(recomputed) step\(recomputed == 1 ? "" : "s") since the last reported state in "
                + "\(fmt(now() - start, 2)) s (their gradients stayed with the workers)")
        }
        pending = []
        return base
    }

    func replicaState() -> ReplicaState {
        let state = model()
        let withOptimizer = sync == .gradient
        return ReplicaState(version: version, parameters: state.parameters, adamStep: state.adam.step,
                            adamM: withOptimizer ? state.adam.m : [], adamV: withOptimizer ? state.adam.v : [])
    }

    public func step(microBatches: [ArraySlice<Int>], epoch: Int, upcoming: UpcomingStep?) throws -> BatchStats {
        if let ahead {
            precondition(ahead.epoch == epoch && ahead.microBatches == microBatches && ahead.endsEpoch == (upcoming == nil),
                         "ClusterBackend: the step handed out ahead is not the one asked for")
        } else {
            try pool.submit(trainingJob(microBatches, epoch: epoch, endsEpoch: upcoming == nil))
        }
        ahead = nil
        let results = try pool.wait(provideState: replicaState)
        // One worker computed the whole step; with gradient sync it applied the step itself.
        let selfApplied = sync == .gradient && results.count == 1 ? results[0].worker : nil
        // The step stays in the shared file (read after the next assignment is out) when every part is there and
        // no live worker needs it sent whole.
        let sharedOnly = gradientParts != nil && Set(results.map(\.worker)).count == pool.liveCount
            && results.allSatisfy { if case .stepResult(let r) = $0.message { r.sharedPart != nil } else { false } }
        let (gradient, stats, reported, parts) = try combine(results, of: microBatches, selfApplied: selfApplied != nil,
                                                             readingSharedParts: !sharedOnly)
        let entry: PendingStep = sharedOnly
            ? .shared(parts.map { location($0.part) }, samples: stats.count, microBatches: microBatches, epoch: epoch)
            : gradient.map { .update($0, samples: stats.count) } ?? .recompute(microBatches: microBatches, epoch: epoch)
        steps += 1
        version += 1
        if let reported, reported.version == version {
            keep(reported)  // the state after this step: nothing is pending
        } else {
            if let reported { keep(reported) }
            pending.append(entry)
        }
        switch sync {
        case .gradient:
            // When every part of the step is in the shared file, the workers that left them read the step there.
            let inSharedParts = parts.count == results.count && !parts.isEmpty
                ? (update: StepUpdate(version: version, samples: UInt32(stats.count), gradient: Self.noFactors,
                                      sharedParts: parts.map(\.part)),
                   workers: Set(parts.map(\.worker)))
                : nil
            pool.advance(to: version, update: sharedOnly ? nil : gradient.map {
                StepUpdate(version: version, samples: UInt32(stats.count), gradient: GradientFactors($0))
            }, appliedBy: selfApplied, ownRows: ownRows(of: results, in: microBatches), inSharedParts: inSharedParts)
        case .weights:
            pool.publish(replicaState())  // applies the update here, then sends the weights
        }
        if let failure = pool.currentFailure { throw failure }
        if let upcoming {
            // A worker reports its state after a step whose weights are read, so that reading them costs nothing.
            try pool.submit(trainingJob(upcoming.microBatches, epoch: epoch,
                                        endsEpoch: upcoming.endsEpoch || upcoming.readsWeights))
            ahead = (upcoming.microBatches, epoch, upcoming.endsEpoch)
        }
        // A step left in the shared file is not copied here: in a healthy run a worker reports its state before
        // the coordinator needs the weights (epoch ends, checkpoints), so a copy every step (about 1 MB, and a
        // fresh page of memory for each of its bytes until the next report) would only take the workers' CPU.
        return stats
    }

    /// Where a part a worker reported lies in the shared file, for the step computed from the current version.
    private func location(_ part: SharedPart) -> SharedGradientParts.Location {
        SharedGradientParts.Location(part, weightsVersion: version)
    }

    /// Turns the steps left in the shared file into kept steps: those whose parts are still there (the last
    /// one or two: a worker's region is rewritten two versions later) are read, the others are recomputed here
    /// (`model()`), as the steps a sole worker applied itself are.
    private func resolveSharedSteps() {
        guard let gradientParts else { return }
        for (i, step) in pending.enumerated() {
            guard case .shared(let locations, let samples, let microBatches, let epoch) = step else { continue }
            switch gradientParts.read(locations) {
            case .success(let gradient):
                pending[i] = .update(gradient, samples: samples)
            case .failure(let error):
                log("a step's gradient is no longer in the shared file (\(error)); it is recomputed here", .debug)
                pending[i] = .recompute(microBatches: microBatches, epoch: epoch)
            }
        }
    }

    /// The gradient of an update whose step is in the shared file: no sums, no rows.
    static let noFactors = GradientFactors(sums: [], rows: 0, flatWidth: UInt32(SeedCNN.flatWidth),
                                           deltaWidth: UInt32(SeedCNN.hiddenWidth), flatRows: [], deltaRows: [])

    /// The step's gradient (nil if its only worker kept it), statistics in micro-batch order, the state a
    /// worker reported, and the parts read from the shared file with their workers, from the workers' results
    /// in range order.
    private func combine(_ results: [PoolResult], of microBatches: [ArraySlice<Int>], selfApplied: Bool,
                         readingSharedParts: Bool) throws
        -> (gradient: StepGradient?, stats: BatchStats, reported: Weights?, parts: [(worker: String, part: SharedPart)]) {
        var gradient: StepGradient? = StepGradient.empty
        var stats = BatchStats()
        var reported: Weights?
        var parts: [(worker: String, part: SharedPart)] = []
        for result in results {
            guard case .stepResult(let r) = result.message else {
                throw ClusterError("\(result.worker) answered a step with \(result.message.type)")
            }
            guard r.microBatches == result.range.map({ Int32($0) }),
                  r.sampleCounts == microBatches[result.range].map({ Int32($0.count) }) else {
                throw ClusterError("\(result.worker) answered micro-batches \(result.range) with the result of "
                                   + "micro-batches \(r.microBatches)")
            }
            if let g = r.gradient {
                guard g.fitsModel else {
                    throw ClusterError("\(result.worker) answered micro-batches \(result.range) with a gradient that "
                                       + "does not fit the model (\(g.sums.count) sums, widths \(g.flatWidth)/\(g.deltaWidth))")
                }
                gradient?.append(StepGradient(g))
            } else if let part = r.sharedPart {
                guard let gradientParts else {
                    throw ClusterError("\(result.worker) answered micro-batches \(result.range) with a part in a shared file "
                                       + "the coordinator did not ask for")
                }
                // Checked now even when read later: the workers are told to read only parts that are there.
                let found: Result<StepGradient?, SharedUpdateError> = readingSharedParts
                    ? gradientParts.read(location(part)).map { Optional($0) }
                    : gradientParts.check(location(part)).map { nil }
                switch found {
                case .success(let g?): gradient?.append(g)
                case .success(nil): break
                case .failure(let error):
                    throw ClusterError("\(result.worker) answered micro-batches \(result.range) with a part the shared "
                                       + "file does not hold: \(error)")
                }
                parts.append((result.worker, part))
            } else if selfApplied {
                gradient = nil
            } else {
                throw ClusterError("\(result.worker) answered micro-batches \(result.range) without their gradient")
            }
            for j in r.lossSums.indices {
                stats = stats + BatchStats(lossSum: r.lossSums[j], correct: Int(r.correctCounts[j]),
                                           count: Int(r.sampleCounts[j]))
            }
            if let state = r.state {
                // A worker that applied the step reports the state after it.
                reported = try checkedReport(state, from: result.worker, version: version + (selfApplied ? 1 : 0))
            }
        }
        return (gradient, stats, reported, parts)
    }

    /// Where each worker's share of the step lies in its rows, for workers with one share (the update
    /// leaves those rows out: the worker holds them).
    private func ownRows(of results: [PoolResult], in microBatches: [ArraySlice<Int>]) -> [String: OwnRows] {
        var own: [String: OwnRows] = [:]
        var shares: [String: Int] = [:]
        for result in results {
            let start = microBatches[..<result.range.lowerBound].reduce(0) { $0 + $1.count }
            let count = microBatches[result.range].reduce(0) { $0 + $1.count }
            own[result.worker] = OwnRows(firstMicroBatch: UInt32(result.range.lowerBound), start: UInt32(start),
                                         count: UInt32(count))
            shares[result.worker, default: 0] += 1
        }
        return own.filter { shares[$0.key] == 1 && $0.value.count > 0 }
    }

    /// The job of one step at the current version (see `trainingJob(_:epoch:version:gradientSync:reportState:)`).
    private func trainingJob(_ microBatches: [ArraySlice<Int>], epoch: Int, endsEpoch: Bool) -> PoolJob {
        return Self.trainingJob(microBatches, epoch: epoch, version: version, gradientSync: sync == .gradient,
                                reportState: sync == .gradient && Self.reportsState(endsEpoch: endsEpoch,
                                                                                     keptSteps: pending.count),
                                sharedFile: gradientParts != nil)
    }

    /// Whether a step's first worker reports its state (gradient sync): at the end of the epoch (whose
    /// weights are read next), or when the coordinator keeps enough steps since the last report.
    static func reportsState(endsEpoch: Bool, keptSteps: Int) -> Bool {
        endsEpoch || keptSteps >= keptStepsBeforeReport
    }

    /// The job of one step from weights `version`. With gradient sync a worker given the whole step applies
    /// its own gradient, and keeps it (`omitGradient`) if it is the only live worker; with `reportState`
    /// the worker of the first micro-batches reports its state; with `sharedFile` a worker given part of the
    /// step leaves its gradient in the file it shares with the other spawned workers, if it has one.
    static func trainingJob(_ microBatches: [ArraySlice<Int>], epoch: Int, version: UInt64, gradientSync: Bool,
                            reportState: Bool, sharedFile: Bool = false) -> PoolJob {
        PoolJob(name: "micro-batches", epoch: UInt32(epoch), unitCount: microBatches.count,
                split: .acrossWorkers) { range, sole in
            let mbs = microBatches[range]
            var options: StepOptions = []
            if gradientSync && range.count == microBatches.count {
                options.insert(.applyOwnGradient)
                // Another worker (one joining, say) catches up with the update, so only the only one keeps it.
                if sole { options.insert(.omitGradient) }
            } else if gradientSync && sharedFile {
                options.insert(.gradientToSharedFile)
            }
            if reportState && range.lowerBound == 0 { options.insert(.reportState) }
            return .stepAssignment(StepAssignment(
                weightsVersion: version, microBatches: range.map { Int32($0) }, sampleCounts: mbs.map { Int32($0.count) },
                sampleIndices: mbs.flatMap { $0.map { Int32($0) } }, options: options))
        }
    }

    /// A reported state that fits the model and has the expected version.
    private func checkedReport(_ state: Weights, from worker: String, version expected: UInt64) throws -> Weights {
        let count = SeedCNN.layout.count
        guard state.version == expected, state.parameters.count == count, state.adamM.count == count,
              state.adamV.count == count else {
            throw ClusterError("\(worker) reported the state of version \(state.version) with \(state.parameters.count) "
                               + "parameters and \(state.adamM.count) moments; expected version \(expected) of \(count) "
                               + "parameters")
        }
        return state
    }

    /// Keeps a worker's state in place of the kept state and steps.
    private func keep(_ state: Weights) {
        var adam = base.adam
        adam.m = state.adamM
        adam.v = state.adamV
        adam.step = Int(state.adamStep)
        base = ModelState(parameters: state.parameters, adam: adam)
        pending = []
    }

    public func evaluate(_ set: ImageSetKind, indices: [Int], hidden: Bool) throws
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        precondition(ahead == nil, "ClusterBackend: evaluation while a training step is handed out")
        if sync == .gradient && checkedVersion != version { try checkReplicas() }
        let mbs = microBatches(of: indices[...], size: microBatchSize)
        guard !mbs.isEmpty else { return (BatchStats(), [], []) }
        let size = UInt32(microBatchSize)
        let imageSet: EvalImageSet = set == .train ? .train : .test
        let job = PoolJob(name: "evaluation micro-batches", epoch: 0, unitCount: mbs.count,
                          split: .chunks(evaluationChunk)) { range, _ in
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
        let job = PoolJob(name: "weights check", epoch: 0, unitCount: 1, split: .perWorker) { _, _ in
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
