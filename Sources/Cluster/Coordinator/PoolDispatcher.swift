import Core
import Protocol

/// A worker's routing id on the coordinator's ROUTER socket.
typealias WorkerID = [UInt8]

/// Something the pool's socket owner must do, as `PoolDispatcher` decided it. Actions are carried out in
/// the order they are returned.
enum PoolAction {
    /// Send to a joined worker; if sending fails, tell the dispatcher (`sendFailed`), which drops it.
    case send(Outgoing, to: WorkerID)
    /// Answer a peer, joined or not; a failure is ignored.
    case reply(Message, Envelope, to: WorkerID)
    /// The submitted job is over: one result per range in range order, or why it cannot be done.
    case finish(Result<[PoolResult], ClusterError>)
    /// The pool gives up: every later job fails with this error.
    case fail(ClusterError)
    case log(String, LogLevel)
    /// An entry for the event log.
    case record(String, [String: Any])
}

/// A message for a joined worker, encoded by the socket owner (which caches the large ones).
enum Outgoing {
    /// The full state last published (`PoolDispatcher.publish`).
    case state
    /// A step's combined update, without the rows `leavingOut` names (the worker's own share).
    case update(StepUpdate, leavingOut: OwnRows?)
    /// A job's request for one range.
    case request(Message, Envelope)
    case heartbeat
    case shutdown(reason: String)
}

/// The pool's decisions, without sockets or clocks: which workers are in the run and at which weights
/// version, how a job is cut into ranges and handed to free workers, whose work goes to another when a
/// worker is lost, hangs or falls out of step, when a worker counts as gone, and when too few are left
/// for too long. It takes events (a worker's hello or message, a failed send, a command of the training
/// thread, time passing) with the time they happened, and returns what to send and report
/// (`PoolAction`); `WorkerPool` carries those out on its socket. Single-threaded: the pool's server
/// thread owns it.
final class PoolDispatcher {
    let settings: PoolSettings
    let runNonce: UInt64
    private var workers: [WorkerID: WorkerRecord] = [:]
    private var nextRank = 1
    private var job: ActiveJob?
    private var nextJobID: UInt32 = 1
    /// The version every worker should hold.
    private var currentVersion: UInt64 = 0
    /// The version of the full state last published, while it is current (nil after an update).
    private var stateVersion: UInt64?
    private var belowMinimumSince: Double?
    private var minimumArmed = false
    private var lostWorkers: [String] = []
    /// The names of peers that asked for the data set, by routing id, for the log lines of their transfer.
    private var datasetReceivers: [WorkerID: String] = [:]
    private(set) var failure: ClusterError?

    init(settings: PoolSettings, runNonce: UInt64) {
        self.settings = settings
        self.runNonce = runNonce
    }

    /// Live workers now.
    var liveCount: Int { workers.count }

    /// The ids of the live workers, in rank order.
    var workerIDs: [WorkerID] { ranked.map(\.id) }

    /// True when some worker needs the full state of the current version and none is published.
    var needsState: Bool { stateVersion == nil && workers.values.contains { $0.version != currentVersion } }

    /// True while a job has ranges on workers (the socket is then polled more often).
    var hasWorkInFlight: Bool { job.map { !$0.inFlight.isEmpty } ?? false }

    /// Whether `id` is a live worker.
    func isLive(_ id: WorkerID) -> Bool { workers[id] != nil }

    /// The name of a live worker.
    func name(of id: WorkerID) -> String? { workers[id]?.name }

    private var ranked: [WorkerRecord] { workers.values.sorted { $0.rank < $1.rank } }

    // MARK: commands of the training thread

    /// Starts `poolJob` (one at a time); it fails at once if the pool has given up.
    func submit(_ poolJob: PoolJob) -> [PoolAction] {
        if let failure { return [.finish(.failure(failure))] }
        job = ActiveJob(id: nextJobID, job: poolJob)
        nextJobID &+= 1
        return []
    }

    /// Makes the full state of `version` current (the socket owner holds it): workers without it are sent it.
    func publish(version: UInt64) -> [PoolAction] {
        currentVersion = version
        stateVersion = version
        return ranked.filter { $0.version != version }.flatMap { sendState(to: $0) }
    }

    /// Makes `version` current: workers holding `version - 1` are sent `update` without their own rows
    /// (`ownRows`); the worker named `appliedBy` applied the step itself and only counts as holding `version`.
    /// Without an update, the workers are out of step until the state is published. The workers named in
    /// `inSharedParts` are sent its update (the step's gradient left in the file they share) instead.
    func advance(to version: UInt64, update: StepUpdate?, appliedBy: String?, ownRows: [String: OwnRows],
                 inSharedParts: (update: StepUpdate, workers: Set<String>)? = nil) -> [PoolAction] {
        var actions: [PoolAction] = []
        for worker in ranked where worker.version == version - 1 {
            if worker.name == appliedBy {
                worker.version = version
                continue
            }
            if let inSharedParts, inSharedParts.workers.contains(worker.name) {
                actions.append(.send(.update(inSharedParts.update, leavingOut: nil), to: worker.id))
                worker.version = version
                continue
            }
            guard let update else { continue }
            actions.append(.send(.update(update, leavingOut: ownRows[worker.name]), to: worker.id))
            worker.version = version
        }
        currentVersion = version
        stateVersion = nil
        return actions
    }

    /// Marks the named workers as holding no weights, and sends them the state if one is published.
    func resend(to names: [String]) -> [PoolAction] {
        var actions: [PoolAction] = []
        for worker in ranked where names.contains(worker.name) {
            worker.version = 0
            actions += sendState(to: worker)
        }
        return actions
    }

    /// From now on, fewer than `settings.minWorkers` live workers for `settings.workerTimeout` fails the run.
    func armMinimum() { minimumArmed = true }

    /// Tells every worker that the run is over.
    func shutdown(reason: String) -> [PoolAction] {
        ranked.map { .send(.shutdown(reason: reason), to: $0.id) }
    }

    // MARK: events of the socket

    /// A peer said hello: it joins (with its old rank if it rejoins on the same id), or is refused.
    func hello(_ hello: Hello, from id: WorkerID, at t: Double) -> [PoolAction] {
        let name = "\(hello.hostName):\(hello.processID)"
        guard hello.protocolMajor == ProtocolVersion.major else {
            return refuse(id, name: name, reason: "it speaks protocol \(hello.protocolMajor).\(hello.protocolMinor), "
                          + "the coordinator \(ProtocolVersion.major).\(ProtocolVersion.minor)")
        }
        if hello.datasetFingerprint.isEmpty, let offer = settings.datasetOffer {
            return offerDataset(offer, to: id, name: name)
        }
        guard hello.datasetFingerprint == settings.datasetFingerprint else {
            return refuse(id, name: name, reason: "its data set has fingerprint \(hello.datasetFingerprint.prefix(16)), "
                          + "the coordinator's \(settings.datasetFingerprint.prefix(16)): give both the same --data/--dataset")
        }
        // The run's kernel path (welcome setting "kernels"): a worker whose CPU cannot run a path the run names
        // is refused; with "auto" each worker runs its widest, as every path gives the same bits.
        if let required = settings.welcomeSettings["kernels"], required != "auto", !hello.kernelsSupported.isEmpty,
           !hello.kernelsSupported.split(separator: ",").contains(Substring(required)) {
            return refuse(id, name: name, reason: "the run computes with --kernels \(required), which its CPU cannot run "
                          + "(it runs \(hello.kernelsSupported)): give the coordinator --kernels auto or a path every worker runs")
        }
        // Work shares and own rows are addressed by name, so a second peer under a live worker's name
        // (a copy of its hello) would take its place in them.
        if let holder = workers.values.first(where: { $0.name == name && $0.id != id }) {
            return refuse(id, name: name, reason: "live worker rank \(holder.rank) already has this name (host name "
                          + "and process id must be unique in a run)")
        }
        var rank = nextRank
        // A worker repeats its hello until the welcome arrives; under load a repeat can cross the welcome. It is
        // welcomed again (it then starts over from the state sent behind that welcome) but joined only once.
        var repeated = false
        if let previous = workers[id] {
            rank = previous.rank
            repeated = previous.name == name
            requeueTask(of: previous)
            workers[id] = nil
        } else {
            nextRank += 1
        }
        let worker = WorkerRecord(id: id, name: name, rank: rank, threads: max(1, Int(hello.threadCount)), joined: t)
        workers[id] = worker
        var actions: [PoolAction] = [
            .reply(.welcome(Welcome(rank: UInt32(rank), runNonce: runNonce, seed: settings.seed,
                                    settings: settings.welcomeSettings)), Envelope(runNonce: runNonce), to: id),
        ]
        if repeated {
            actions.append(.log("worker \(name) said hello again before its welcome arrived; welcomed again as rank \(rank)",
                                .debug))
        } else {
            let kernels = Self.kernels(of: hello, required: settings.welcomeSettings["kernels"])
            actions += [
                .log("worker \(name) joined as rank \(rank) (\(worker.threads) threads, build \(hello.buildID)\(kernels.line)); "
                     + "\(workers.count) live", .info),
                .record("worker_joined", ["worker": name, "rank": rank, "threads": worker.threads, "build": hello.buildID,
                                          "live": workers.count, "kernels": kernels.path, "kernels_supported": hello.kernelsSupported,
                                          "blas_core": hello.blasCore]),
            ]
        }
        worker.lastSent = t
        if !repeated, let expected = settings.expectedBuildID, expected != hello.buildID {
            actions.append(.log("worker \(name) runs build \(hello.buildID), not this coordinator's \(expected): its "
                                + "floating-point results may differ in the last bits (the per-epoch weights check "
                                + "will resync it)", .warning))
        }
        return actions + sendState(to: worker)
    }

    /// The kernel path a welcomed worker computes with (the run's, or with "auto" its own) and the words for
    /// its join line; a 3.0 worker does not say.
    static func kernels(of hello: Hello, required: String?) -> (path: String, line: String) {
        let path = required.flatMap { $0 == "auto" ? nil : $0 } ?? hello.kernels
        guard !path.isEmpty else { return ("", "") }
        return (path, ", kernels \(path) of \(hello.kernelsSupported.replacingOccurrences(of: ",", with: "/")), BLAS core "
                + "\(hello.blasCore.isEmpty ? "unknown" : hello.blasCore)")
    }

    /// Refuses a peer that cannot take part, saying why.
    func refuse(_ id: WorkerID, name: String, reason: String) -> [PoolAction] {
        [.log("refused worker \(name): \(reason)", .warning),
         .record("worker_refused", ["worker": name, "reason": reason]),
         .reply(.refused(reason: reason), Envelope(runNonce: runNonce), to: id)]
    }

    /// A decoded message other than a hello arrived from `id`.
    func received(_ message: Message, _ envelope: Envelope, from id: WorkerID, at t: Double) -> [PoolAction] {
        if case .datasetChunkRequest(let request) = message {  // from a worker that has not joined yet
            return serveDatasetChunk(request, envelope, to: id)
        }
        guard let worker = workers[id] else {
            var actions: [PoolAction] = []
            if case .heartbeat = message {} else {
                actions.append(.log("ignored \(message.type) from a peer that has not joined", .debug))
            }
            actions.append(.reply(.error(code: ErrorCode.notJoined.rawValue,
                                         text: "this worker is not part of the run; say hello"),
                                  Envelope(runNonce: envelope.runNonce), to: id))
            return actions
        }
        worker.lastHeard = t
        guard envelope.runNonce == runNonce else {
            return [.log("ignored \(message.type) of another run from \(worker.name)", .debug)]
        }
        switch message {
        case .stepResult, .evalReply, .weightsDigest, .umapReply:
            return accept(message, envelope, from: worker)
        case .error(let code, let text):
            guard code == ErrorCode.wrongWeightsVersion.rawValue else {
                return drop(worker, because: "it reported error \(code): \(text)")
            }
            worker.version = 0
            requeueTask(of: worker)
            return [.log("\(worker.name) is out of step (\(text)); sending it the current weights", .warning)]
                + sendState(to: worker)
        case .heartbeat:
            return []
        case .shutdown(let reason):
            return drop(worker, because: "it is shutting down (\(reason))")
        default:
            return [.log("ignored unexpected \(message.type) from \(worker.name)", .debug)]
        }
    }

    /// A message left for `id` (heartbeats are due a heartbeat interval after the last one).
    func sent(to id: WorkerID, at t: Double) { workers[id]?.lastSent = t }

    /// Sending to `id` failed: the worker is dropped.
    func sendFailed(to id: WorkerID, because reason: String) -> [PoolAction] {
        guard let worker = workers[id] else { return [] }
        return drop(worker, because: reason)
    }

    /// Time has passed: drops workers past their deadline or silent too long, sends the heartbeats that
    /// are due (`sent` records when a message left), hands pending ranges to free workers, checks the minimum of workers and ends a finished job.
    func tick(at t: Double) -> [PoolAction] {
        var actions = checkLiveness(t)
        for worker in ranked where t - worker.lastSent >= settings.heartbeatInterval {
            actions.append(.send(.heartbeat, to: worker.id))
        }
        actions += dispatch(t)
        actions += checkMinimum(t)
        actions += finishJobIfDone()
        return actions
    }

    // MARK: the data set, for workers without one

    /// A hello without a fingerprint: the worker has no data. It gets the manifest and does not join; it
    /// says hello again with the fingerprint once it holds the files (cached or pulled chunk by chunk).
    private func offerDataset(_ offer: DatasetOffer, to id: WorkerID, name: String) -> [PoolAction] {
        datasetReceivers[id] = name
        return [.log("worker \(name) has no data set: offering \(offer.manifest.name) (fingerprint "
                     + "\(offer.manifest.fingerprint.prefix(12)))", .info),
                .reply(.datasetManifest(offer.manifest), Envelope(runNonce: runNonce), to: id)]
    }

    /// One chunk for a worker pulling the data set; it asks for the next only when this one arrived, so
    /// a transfer never has more than one chunk queued ahead of training messages.
    private func serveDatasetChunk(_ request: DatasetChunkRequest, _ envelope: Envelope, to id: WorkerID) -> [PoolAction] {
        let name = datasetReceivers[id] ?? "a peer"
        guard let offer = settings.datasetOffer else {
            return [.reply(.error(code: ErrorCode.badRequest.rawValue, text: "this coordinator does not send its data set"),
                           envelope, to: id)]
        }
        switch offer.chunk(for: request) {
        case .failure(let error):
            return [.log("cannot send the data set to \(name): \(error)", .warning),
                    .reply(.error(code: ErrorCode.badRequest.rawValue, text: error.description), envelope, to: id)]
        case .success(let chunk):
            var actions: [PoolAction] = [.reply(.datasetChunk(chunk), envelope, to: id)]
            let files = offer.manifest.files
            if request.file == 0 && request.offset == 0 {
                let megabytes = Double(files.reduce(0) { $0 + $1.size }) / 1_048_576
                actions.append(.log("sending the data set to \(name): \(files.count) files, \(fmt(megabytes, 1)) MiB", .info))
            } else if Int(request.file) == files.count - 1, request.offset + UInt64(chunk.bytes.count) == files.last!.size {
                actions.append(.log("sent the data set to \(name)", .info))
            }
            return actions
        }
    }

    // MARK: jobs

    private func accept(_ message: Message, _ envelope: Envelope, from worker: WorkerRecord) -> [PoolAction] {
        guard let job, let task = worker.task, task.jobID == job.id, envelope.step == job.id,
              Int(envelope.chunkIndex) == task.range.lowerBound else {
            return [.log("ignored a late or duplicate \(message.type) from \(worker.name)", .debug)]
        }
        worker.task = nil
        job.inFlight[worker.id] = nil
        job.results.append(PoolResult(range: task.range, worker: worker.name, message: message))
        return []
    }

    /// Hands ranges to the workers that hold the current version and have no task, in rank order. A job's
    /// ranges are cut when it first finds free workers.
    private func dispatch(_ t: Double) -> [PoolAction] {
        guard let job else { return [] }
        let idle = ranked.filter { $0.version == currentVersion && $0.task == nil && $0.version > 0 }
        guard !idle.isEmpty else { return [] }
        if !job.started {
            job.started = true
            switch job.job.split {
            case .acrossWorkers:
                job.pending = proportionalRanges(job.job.unitCount, weights: idle.map(\.threads))
            case .chunks(let size):
                job.pending = stride(from: 0, to: job.job.unitCount, by: size).map {
                    $0..<min($0 + size, job.job.unitCount)
                }
            case .perWorker:
                job.job.unitCount = idle.count
                return idle.enumerated().map { slot, worker in assign(slot..<(slot + 1), of: job, to: worker, t) }
            }
        }
        var actions: [PoolAction] = []
        var free = idle[...]
        while !job.pending.isEmpty, let worker = free.popFirst() {
            actions.append(assign(job.pending.removeFirst(), of: job, to: worker, t))
        }
        return actions
    }

    /// The request for `range`; `sole` tells the job whether its worker is the only live one.
    private func assign(_ range: Range<Int>, of job: ActiveJob, to worker: WorkerRecord, _ t: Double) -> PoolAction {
        let envelope = Envelope(runNonce: runNonce, epoch: job.job.epoch, step: job.id,
                                chunkIndex: UInt32(range.lowerBound), chunkCount: UInt32(max(job.job.unitCount, 1)))
        worker.task = WorkerRecord.Task(jobID: job.id, range: range, deadline: t + settings.stepDeadline)
        job.inFlight[worker.id] = range
        return .send(.request(job.job.request(range, workers.count == 1), envelope), to: worker.id)
    }

    /// Puts a worker's range back in the queue (in range order), or for a per-worker job counts it as dropped.
    private func requeueTask(of worker: WorkerRecord) {
        guard let task = worker.task else { return }
        worker.task = nil
        guard let job, job.id == task.jobID else { return }
        job.inFlight[worker.id] = nil
        if case .perWorker = job.job.split {
            job.droppedUnits += task.range.count
        } else {
            job.pending.append(task.range)
            job.pending.sort { $0.lowerBound < $1.lowerBound }
        }
    }

    private func finishJobIfDone() -> [PoolAction] {
        guard let job, job.started else { return [] }
        let covered = job.results.reduce(0) { $0 + $1.range.count } + job.droppedUnits
        guard covered >= job.job.unitCount, job.inFlight.isEmpty else { return [] }
        self.job = nil
        return [.finish(.success(job.results.sorted { $0.range.lowerBound < $1.range.lowerBound }))]
    }

    private func fail(_ error: ClusterError) -> [PoolAction] {
        failure = error
        guard job != nil else { return [.fail(error)] }
        job = nil
        return [.fail(error), .finish(.failure(error))]
    }

    // MARK: liveness

    private func sendState(to worker: WorkerRecord) -> [PoolAction] {
        guard let stateVersion else { return [] }
        worker.version = stateVersion
        return [.send(.state, to: worker.id)]
    }

    private func checkLiveness(_ t: Double) -> [PoolAction] {
        var actions: [PoolAction] = []
        for worker in ranked {
            if let task = worker.task, t > task.deadline {
                actions += drop(worker, because: "no answer within \(fmt(settings.stepDeadline, 1)) s (--step-deadline)")
            } else if worker.task == nil, t - worker.lastHeard > settings.heartbeatTimeout {
                actions += drop(worker, because: "silent for \(fmt(t - worker.lastHeard, 1)) s (--heartbeat-timeout)")
            }
        }
        return actions
    }

    private func drop(_ worker: WorkerRecord, because reason: String) -> [PoolAction] {
        guard workers[worker.id] === worker else { return [] }
        workers[worker.id] = nil
        var work = ""
        if let task = worker.task, let job, job.id == task.jobID {
            if case .perWorker = job.job.split {} else {
                work = "; its \(job.job.name) \(task.range.lowerBound)..<\(task.range.upperBound) go to the others"
            }
        }
        requeueTask(of: worker)
        lostWorkers.append(worker.name)
        return [
            .log("worker \(worker.name) (rank \(worker.rank)) left: \(reason)\(work); \(workers.count) live", .warning),
            .record("worker_left", ["worker": worker.name, "rank": worker.rank, "reason": reason, "live": workers.count]),
            // If it is still running it will learn that it was dropped, and may join again.
            .reply(.error(code: ErrorCode.notJoined.rawValue, text: "dropped: \(reason)"), Envelope(runNonce: runNonce),
                   to: worker.id),
        ]
    }

    private func checkMinimum(_ t: Double) -> [PoolAction] {
        guard minimumArmed, failure == nil else { return [] }
        guard workers.count < settings.minWorkers else {
            belowMinimumSince = nil
            return []
        }
        let since = belowMinimumSince ?? t
        belowMinimumSince = since
        guard t - since > settings.workerTimeout else { return [] }
        let lost = lostWorkers.isEmpty ? "none" : lostWorkers.joined(separator: ", ")
        return fail(ClusterError("only \(workers.count) live worker\(workers.count == 1 ? "" : "s") (--min-workers "
                                 + "\(settings.minWorkers)) for \(fmt(settings.workerTimeout, 0)) s (--worker-timeout); "
                                 + "lost: \(lost)"))
    }
}

/// What the dispatcher knows about one worker.
private final class WorkerRecord {
    struct Task {
        let jobID: UInt32
        let range: Range<Int>
        let deadline: Double
    }

    let id: WorkerID
    let name: String
    let rank: Int
    let threads: Int
    var lastHeard: Double
    var lastSent = 0.0
    /// The weights version this worker holds (0: none), as far as sent messages go.
    var version: UInt64 = 0
    var task: Task?

    init(id: WorkerID, name: String, rank: Int, threads: Int, joined: Double) {
        self.id = id
        self.name = name
        self.rank = rank
        self.threads = threads
        lastHeard = joined
    }
}

/// A job being worked on.
private final class ActiveJob {
    let id: UInt32
    var job: PoolJob
    var started = false
    var pending: [Range<Int>] = []
    var inFlight: [WorkerID: Range<Int>] = [:]
    var results: [PoolResult] = []
    var droppedUnits = 0

    init(id: UInt32, job: PoolJob) {
        self.id = id
        self.job = job
    }
}
