import Core
import Foundation
import Protocol

/// The coordinator's side of the cluster: a ROUTER socket served by its own thread, which admits or refuses
/// workers, keeps them alive with heartbeats, hands out the ranges of the current job, takes work back
/// from workers that die, hang or leave, and keeps every replica's weights at the current version.
/// The training thread talks to it only through the methods below.
final class WorkerPool: @unchecked Sendable {
    let settings: PoolSettings
    let runNonce: UInt64
    /// The endpoint actually bound (a `*` port resolved).
    let endpoint: String
    private let log: Log
    private let events: EventLog

    // Shared between the threads; guarded by `lock`.
    private let lock = NSLock()
    private var commands: [Command] = []
    private var jobOutcome: Result<[PoolResult], ClusterError>?
    private var failure: ClusterError?
    private var sharedLiveCount = 0
    private var sharedNeedsState = false
    private var sharedTraffic: [MessageType: Traffic] = [:]
    private var statePending = false
    private let jobDone = DispatchSemaphore(value: 0)
    private let threadDone = DispatchSemaphore(value: 0)

    // Training thread only.
    private let wakeSender: ZMQSocket
    private var started = false

    // Server thread only (created by init before the thread starts).
    private let context: ZMQContext
    private let router: ZMQSocket
    private let wakeReceiver: ZMQSocket
    private var zap: ZAPHandler?
    private var workers: [[UInt8]: WorkerRecord] = [:]
    private var nextRank = 1
    private var job: ActiveJob?
    private var nextJobID: UInt32 = 1
    private var currentVersion: UInt64 = 0
    private var currentState: (state: ReplicaState, encoded: [UInt8])?
    private var belowMinimumSince: Double?
    private var minimumArmed = false
    private var lostWorkers: [String] = []
    private var stopping = false

    private enum Command {
        case run(PoolJob)
        case publish(ReplicaState)
        case advance(version: UInt64, update: StepUpdate?, appliedBy: String?, ownRows: [String: OwnRows])
        case resend(workers: [String])
        case armMinimum
        case shutdown(String)
    }

    init(settings: PoolSettings, log: Log, events: EventLog) throws {
        self.settings = settings
        self.log = log
        self.events = events
        var rng = SystemRandomNumberGenerator()
        runNonce = rng.next() | 1
        do {
            context = try ZMQContext()
            router = try ZMQSocket(context: context, type: .router)
            try router.setOption(.routerMandatory(true))
            try router.setOption(.routerHandover(true))
            try router.setOption(.sendHighWaterMark(100))
            try router.setOption(.receiveHighWaterMark(100))
            try router.setOption(.maxMessageSize(Int64(WireLimits.standard.maxPayloadBytes + MessageHeader.size)))
            try router.setOption(.heartbeatInterval(milliseconds: 1000))
            try router.setOption(.heartbeatTimeout(milliseconds: Int32(settings.heartbeatTimeout * 1000)))
            try router.setOption(.heartbeatTTL(milliseconds: Int32(settings.heartbeatTimeout * 1000)))
            if let dir = settings.curveKeysDirectory {
                let keys = try CurveKeyDirectory(path: dir)
                let log = self.log, events = self.events
                zap = try ZAPHandler(context: context, domain: CurveKeyDirectory.zapDomain,
                                     allowedClientKeys: keys.allowedWorkerKeys) { decision in
                    guard !decision.accepted else { return }
                    log("refused a connection from \(decision.address): \(decision.reason) "
                        + "(\(decision.clientKey.map { "key " + $0 } ?? decision.mechanism)); "
                        + "only keys in \(dir) may join", .warning)
                    events.record("connection_refused", ["address": decision.address, "reason": decision.reason,
                                                         "key": decision.clientKey ?? ""])
                }
                try router.configureCurveServer(secretKey: keys.coordinatorSecretKey, zapDomain: CurveKeyDirectory.zapDomain)
                log("CURVE on: \(keys.allowedWorkerKeys.count) worker key(s) allowed from \(dir)")
            }
            try router.bind(settings.bind)
            endpoint = try router.lastEndpoint()
            let wakeEndpoint = "inproc://glassbox.pool.\(runNonce)"
            wakeReceiver = try ZMQSocket(context: context, type: .pair)
            try wakeReceiver.bind(wakeEndpoint)
            wakeSender = try ZMQSocket(context: context, type: .pair)
            try wakeSender.connect(wakeEndpoint)
        } catch let error as ZMQError {
            throw ClusterError("cannot set up the coordinator socket on \(settings.bind): \(error)")
        }
        if settings.curveKeysDirectory == nil && !isLoopback(endpoint) {
            log("\(endpoint) is reachable from other hosts and CURVE is off: anyone who can connect can "
                + "join and read the weights; use --curve-keys DIR (see `glassbox-coordinator keygen`)", .warning)
        }
    }

    deinit { stop() }

    /// Starts serving on a thread of its own.
    func start() {
        guard !started else { return }
        started = true
        let thread = Thread { [self] in
            serve()
            threadDone.signal()
        }
        thread.name = "glassbox-pool"
        thread.start()
    }

    /// Tells every worker that the run is over and stops serving. Idempotent.
    func stop(reason: String = "the run is over") {
        guard started else { return }
        started = false
        post(.shutdown(reason))
        threadDone.wait()
        wakeSender.close()
    }

    // MARK: training-thread interface

    /// The endpoint for workers to connect to: a wildcard host replaced by this host's name.
    var advertisedEndpoint: String { replacingWildcardHost(of: endpoint, with: ProcessInfo.processInfo.hostName) }

    /// Live workers now.
    var liveCount: Int { lock.withLock { sharedLiveCount } }

    /// True when some worker waits for the full state of the current version, which only the training
    /// thread can provide (`publish`).
    var needsState: Bool { lock.withLock { sharedNeedsState && !statePending } }

    /// Waits until `count` workers have joined, printing progress; `abort` may stop the wait with an error.
    func waitForWorkers(_ count: Int, abort: () -> ClusterError?) throws {
        let start = now()
        var lastPrint = start
        log("waiting for \(count) worker\(count == 1 ? "" : "s") on \(endpoint) (glassbox-worker --connect \(advertisedEndpoint))")
        while true {
            let live = liveCount
            if live >= count { break }
            if let error = lock.withLock({ failure }) ?? abort() { throw error }
            let t = now()
            if t - start > settings.workerTimeout {
                throw ClusterError("only \(live) of \(count) workers joined within \(fmt(settings.workerTimeout, 0)) s "
                                   + "(--worker-timeout); start them with `glassbox-worker --connect \(advertisedEndpoint)`")
            }
            if t - lastPrint >= 2 {
                lastPrint = t
                log("waiting for workers: \(live)/\(count) joined (\(fmt(t - start, 0)) s)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        post(.armMinimum)
    }

    /// Runs `job` on the workers and returns one result per range, in range order. While it waits, it
    /// calls `provideState` whenever a joining or out-of-step worker needs the current weights.
    func run(_ job: PoolJob, provideState: () -> ReplicaState) throws -> [PoolResult] {
        try submit(job)
        return try wait(provideState: provideState)
    }

    /// Hands `job` to the workers without waiting for it (commands posted before it, such as an update,
    /// reach the workers first). One job at a time: `wait` for it before submitting the next.
    func submit(_ job: PoolJob) throws {
        if let failure = lock.withLock({ failure }) { throw failure }
        post(.run(job))
    }

    /// The results of the submitted job, one per range, in range order. While it waits, it calls
    /// `provideState` whenever a joining or out-of-step worker needs the current weights.
    func wait(provideState: () -> ReplicaState) throws -> [PoolResult] {
        while jobDone.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
            if needsState { publish(provideState()) }
        }
        let outcome = lock.withLock { () -> Result<[PoolResult], ClusterError>? in
            defer { jobOutcome = nil }
            return jobOutcome
        }
        switch outcome {
        case .success(let results): return results
        case .failure(let error): throw error
        case nil: throw ClusterError("internal error: a job ended without an outcome")
        }
    }

    /// Makes `state` the current weights: workers that do not hold its version receive it.
    func publish(_ state: ReplicaState) {
        lock.withLock { statePending = true }
        post(.publish(state))
    }

    /// Makes `version` current: workers holding `version - 1` are sent `update` (if there is none they are
    /// out of step and will need the state), without the rows `ownRows` names for them (their own share,
    /// which they hold); the worker named `appliedBy` applied the step itself (it computed the whole step)
    /// and is only counted as holding `version`.
    func advance(to version: UInt64, update: StepUpdate?, appliedBy: String?, ownRows: [String: OwnRows] = [:]) {
        post(.advance(version: version, update: update, appliedBy: appliedBy, ownRows: ownRows))
    }

    /// Sends the current full state again to the named workers (their weights were found to differ).
    func resend(to names: [String]) { post(.resend(workers: names)) }

    /// Bytes and messages each way so far, by message type.
    var traffic: [MessageType: Traffic] { lock.withLock { sharedTraffic } }

    /// The run's failure, if the pool has given up (e.g. too few workers for too long).
    var currentFailure: ClusterError? { lock.withLock { failure } }

    private func post(_ command: Command) {
        lock.withLock { commands.append(command) }
        try? wakeSender.send(frames: [[]], dontWait: true)
    }

    // MARK: server thread

    private func serve() {
        defer {
            zap?.stop()
            router.close()
            wakeReceiver.close()
        }
        while !stopping {
            let ready = (try? ZMQSocket.poll([router, wakeReceiver], timeoutMs: pollTimeoutMs())) ?? []
            if ready.contains(1) {
                while (try? wakeReceiver.receive(timeoutMs: 0)) != nil {}
            }
            for command in lock.withLock({ () -> [Command] in defer { commands = [] }; return commands }) {
                execute(command)
            }
            if stopping { break }
            if ready.contains(0) {
                var handled = 0
                while handled < 1000, let frames = try? router.receive(timeoutMs: 0) {
                    handle(frames)
                    handled += 1
                }
            }
            let t = now()
            checkLiveness(t)
            sendHeartbeats(t)
            dispatch(t)
            checkMinimum(t)
            finishJobIfDone()
            lock.withLock {
                sharedLiveCount = workers.count
                sharedNeedsState = currentState == nil && workers.values.contains { $0.version != currentVersion }
            }
        }
    }

    private func pollTimeoutMs() -> Int {
        var wait = settings.heartbeatInterval / 2
        if let job, !job.inFlight.isEmpty { wait = min(wait, 0.1) }
        return Int(wait * 1000)
    }

    private func execute(_ command: Command) {
        switch command {
        case .run(let poolJob):
            if let failure = lock.withLock({ self.failure }) {
                lock.withLock { jobOutcome = .failure(failure) }
                jobDone.signal()
                return
            }
            job = ActiveJob(id: nextJobID, job: poolJob)
            nextJobID &+= 1
        case .publish(let state):
            lock.withLock {
                statePending = false
                sharedNeedsState = false
            }
            currentVersion = state.version
            let weights = Weights(version: state.version, adamStep: UInt64(state.adamStep), parameters: state.parameters,
                                  adamM: state.adamM, adamV: state.adamV)
            currentState = (state, encode(.weights(weights), envelope: Envelope(runNonce: runNonce)))
            for worker in workers.values.sorted(by: { $0.rank < $1.rank }) where worker.version != state.version {
                sendState(to: worker)
            }
        case .advance(let version, let update, let appliedBy, let ownRows):
            var encoded: [UInt8]?  // the whole update, for workers without a share of the step
            for worker in workers.values.sorted(by: { $0.rank < $1.rank }) where worker.version == version - 1 {
                if worker.name == appliedBy {
                    worker.version = version
                    continue
                }
                guard let update else { continue }
                let bytes: [UInt8]
                if let own = ownRows[worker.name] {
                    bytes = encode(.stepUpdate(update.leavingOut(own)), envelope: Envelope(runNonce: runNonce))
                } else {
                    bytes = encoded ?? encode(.stepUpdate(update), envelope: Envelope(runNonce: runNonce))
                    encoded = bytes
                }
                if send(bytes, to: worker) { worker.version = version }
            }
            currentVersion = version
            currentState = nil
        case .resend(let names):
            for worker in workers.values where names.contains(worker.name) {
                worker.version = 0
                if currentState != nil { sendState(to: worker) }
            }
        case .armMinimum:
            minimumArmed = true
        case .shutdown(let reason):
            for worker in workers.values {
                _ = send(encode(.shutdown(reason: reason), envelope: Envelope(runNonce: runNonce)), to: worker)
            }
            awaitGoodbyes()
            stopping = true
        }
    }

    /// Waits up to two seconds for every worker to acknowledge the shutdown (closing the socket earlier
    /// could discard the message unsent).
    private func awaitGoodbyes() {
        let deadline = now() + 2
        var waiting = Set(workers.keys)
        while !waiting.isEmpty, now() < deadline {
            guard let frames = try? router.receive(timeoutMs: 50), frames.count == 2 else { continue }
            if let (header, message) = try? decode(frames[1]), header.envelope.runNonce == runNonce,
               case .shutdown = message {
                waiting.remove(frames[0])
            }
        }
        workers = [:]
    }

    private func sendState(to worker: WorkerRecord) {
        guard let currentState else { return }
        if send(currentState.encoded, to: worker) { worker.version = currentState.state.version }
    }

    /// Sends without blocking; on failure the worker is dropped (its connection is gone or it stopped reading).
    @discardableResult
    private func send(_ bytes: [UInt8], to worker: WorkerRecord) -> Bool {
        do {
            try router.send(frames: [worker.id, bytes], dontWait: true)
            worker.lastSent = now()
            count(bytes, sent: true)
            return true
        } catch {
            drop(worker, because: error.isHostUnreachable ? "its connection closed"
                 : error.isWouldBlock ? "it stopped reading (send queue full)" : "sending failed: \(error)")
            return false
        }
    }

    private func reply(to id: [UInt8], _ message: Message, _ envelope: Envelope = Envelope()) {
        try? router.send(frames: [id, encode(message, envelope: envelope)], dontWait: true)
    }

    private func count(_ bytes: [UInt8], sent: Bool) {
        guard bytes.count >= MessageHeader.size,
              let type = MessageType(rawValue: UInt16(bytes[8]) | UInt16(bytes[9]) << 8) else { return }
        lock.withLock {
            var t = sharedTraffic[type] ?? Traffic()
            if sent {
                t.sentBytes += bytes.count
                t.sentMessages += 1
            } else {
                t.receivedBytes += bytes.count
                t.receivedMessages += 1
            }
            sharedTraffic[type] = t
        }
    }

    // MARK: messages

    private func handle(_ frames: [[UInt8]]) {
        guard frames.count == 2 else { return }
        let id = frames[0]
        count(frames[1], sent: false)
        let header: MessageHeader, message: Message
        do {
            (header, message) = try decode(frames[1])
        } catch {
            if case .unsupportedVersion(let major, let minor) = error {
                let reason = "this worker speaks protocol \(major).\(minor), the coordinator "
                    + "\(ProtocolVersion.major).\(ProtocolVersion.minor): run the same Glassbox release on both"
                refuse(id, name: "a worker", reason: reason)
            } else {
                log("ignored a malformed message from \(workers[id]?.name ?? "an unknown peer"): \(error)", .warning)
            }
            return
        }
        if case .hello(let hello) = message {
            admit(id, hello)
            return
        }
        guard let worker = workers[id] else {
            if case .heartbeat = message {} else { log("ignored \(message.type) from a peer that has not joined", .debug) }
            reply(to: id, .error(code: ErrorCode.notJoined.rawValue, text: "this worker is not part of the run; say hello"),
                  Envelope(runNonce: header.envelope.runNonce))
            return
        }
        worker.lastHeard = now()
        guard header.envelope.runNonce == runNonce else {
            log("ignored \(message.type) of another run from \(worker.name)", .debug)
            return
        }
        switch message {
        case .stepResult, .evalReply, .weightsDigest, .umapReply:
            accept(message, header.envelope, from: worker)
        case .error(let code, let text):
            if code == ErrorCode.wrongWeightsVersion.rawValue {
                log("\(worker.name) is out of step (\(text)); sending it the current weights", .warning)
                worker.version = 0
                requeueTask(of: worker)
                sendState(to: worker)
            } else {
                drop(worker, because: "it reported error \(code): \(text)")
            }
        case .heartbeat:
            break
        case .shutdown(let reason):
            drop(worker, because: "it is shutting down (\(reason))")
        default:
            log("ignored unexpected \(message.type) from \(worker.name)", .debug)
        }
    }

    private func admit(_ id: [UInt8], _ hello: Hello) {
        let name = "\(hello.hostName):\(hello.processID)"
        guard hello.protocolMajor == ProtocolVersion.major else {
            refuse(id, name: name, reason: "it speaks protocol \(hello.protocolMajor).\(hello.protocolMinor), the "
                   + "coordinator \(ProtocolVersion.major).\(ProtocolVersion.minor)")
            return
        }
        guard hello.datasetFingerprint == settings.datasetFingerprint else {
            refuse(id, name: name, reason: "its data set has fingerprint \(hello.datasetFingerprint.prefix(16)), "
                   + "the coordinator's \(settings.datasetFingerprint.prefix(16)): give both the same --data/--dataset")
            return
        }
        var rank = nextRank
        if let previous = workers[id] {
            rank = previous.rank
            requeueTask(of: previous)
            workers[id] = nil
        } else {
            nextRank += 1
        }
        let worker = WorkerRecord(id: id, name: name, rank: rank, threads: max(1, Int(hello.threadCount)),
                                  buildID: hello.buildID)
        workers[id] = worker
        reply(to: id, .welcome(Welcome(rank: UInt32(rank), runNonce: runNonce, seed: settings.seed,
                                       settings: settings.welcomeSettings)), Envelope(runNonce: runNonce))
        worker.lastSent = now()
        log("worker \(name) joined as rank \(rank) (\(worker.threads) threads, build \(hello.buildID)); "
            + "\(workers.count) live")
        events.record("worker_joined", ["worker": name, "rank": rank, "threads": worker.threads, "build": hello.buildID,
                                        "live": workers.count])
        if let expected = settings.expectedBuildID, expected != hello.buildID {
            log("worker \(name) runs build \(hello.buildID), not this coordinator's \(expected): its floating-point "
                + "results may differ in the last bits (the per-epoch weights check will resync it)", .warning)
        }
        sendState(to: worker)
    }

    private func refuse(_ id: [UInt8], name: String, reason: String) {
        log("refused worker \(name): \(reason)", .warning)
        events.record("worker_refused", ["worker": name, "reason": reason])
        reply(to: id, .refused(reason: reason), Envelope(runNonce: runNonce))
    }

    // MARK: jobs

    private func accept(_ message: Message, _ envelope: Envelope, from worker: WorkerRecord) {
        guard let job, let task = worker.task, task.jobID == job.id, envelope.step == job.id,
              Int(envelope.chunkIndex) == task.range.lowerBound else {
            log("ignored a late or duplicate \(message.type) from \(worker.name)", .debug)
            return
        }
        worker.task = nil
        job.inFlight[worker.id] = nil
        job.results.append(PoolResult(range: task.range, worker: worker.name, message: message))
    }

    private func dispatch(_ t: Double) {
        guard let job else { return }
        let idle = workers.values.filter { $0.version == currentVersion && $0.task == nil && $0.version > 0 }
            .sorted { $0.rank < $1.rank }
        guard !idle.isEmpty else { return }
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
                for (slot, worker) in idle.enumerated() { assign(slot..<(slot + 1), of: job, to: worker, t) }
                return
            }
        }
        var free = idle[...]
        while !job.pending.isEmpty, let worker = free.popFirst() {
            assign(job.pending.removeFirst(), of: job, to: worker, t)
        }
    }

    private func assign(_ range: Range<Int>, of job: ActiveJob, to worker: WorkerRecord, _ t: Double) {
        let envelope = Envelope(runNonce: runNonce, epoch: job.job.epoch, step: job.id,
                                chunkIndex: UInt32(range.lowerBound), chunkCount: UInt32(max(job.job.unitCount, 1)))
        worker.task = WorkerRecord.Task(jobID: job.id, range: range, deadline: t + settings.stepDeadline)
        job.inFlight[worker.id] = range
        if !send(encode(job.job.request(range, workers.count == 1), envelope: envelope), to: worker) {
            return  // `drop` put the range back
        }
    }

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

    private func finishJobIfDone() {
        guard let job, job.started else { return }
        let covered = job.results.reduce(0) { $0 + $1.range.count } + job.droppedUnits
        guard covered >= job.job.unitCount, job.inFlight.isEmpty else { return }
        self.job = nil
        let results = job.results.sorted { $0.range.lowerBound < $1.range.lowerBound }
        lock.withLock { jobOutcome = .success(results) }
        jobDone.signal()
    }

    private func fail(_ error: ClusterError) {
        lock.withLock {
            failure = error
            if job != nil { jobOutcome = .failure(error) }
        }
        if job != nil {
            job = nil
            jobDone.signal()
        }
    }

    // MARK: liveness

    private func checkLiveness(_ t: Double) {
        for worker in workers.values.sorted(by: { $0.rank < $1.rank }) {
            if let task = worker.task, t > task.deadline {
                drop(worker, because: "no answer within \(fmt(settings.stepDeadline, 1)) s (--step-deadline)")
            } else if worker.task == nil, t - worker.lastHeard > settings.heartbeatTimeout {
                drop(worker, because: "silent for \(fmt(t - worker.lastHeard, 1)) s (--heartbeat-timeout)")
            }
        }
    }

    private func sendHeartbeats(_ t: Double) {
        let beat = encode(.heartbeat(timestampNanoseconds: DispatchTime.now().uptimeNanoseconds),
                          envelope: Envelope(runNonce: runNonce))
        for worker in workers.values.sorted(by: { $0.rank < $1.rank }) where t - worker.lastSent >= settings.heartbeatInterval {
            send(beat, to: worker)
        }
    }

    private func drop(_ worker: WorkerRecord, because reason: String) {
        guard workers[worker.id] === worker else { return }
        workers[worker.id] = nil
        var work = ""
        if let task = worker.task, let job, job.id == task.jobID {
            if case .perWorker = job.job.split {} else {
                work = "; its \(job.job.name) \(task.range.lowerBound)..<\(task.range.upperBound) go to the others"
            }
        }
        requeueTask(of: worker)
        lostWorkers.append(worker.name)
        log("worker \(worker.name) (rank \(worker.rank)) left: \(reason)\(work); \(workers.count) live", .warning)
        events.record("worker_left", ["worker": worker.name, "rank": worker.rank, "reason": reason, "live": workers.count])
        // If it is still running it will learn that it was dropped, and may join again.
        reply(to: worker.id, .error(code: ErrorCode.notJoined.rawValue, text: "dropped: \(reason)"),
              Envelope(runNonce: runNonce))
    }

    private func checkMinimum(_ t: Double) {
        guard minimumArmed, failure == nil else { return }
        guard workers.count < settings.minWorkers else {
            belowMinimumSince = nil
            return
        }
        let since = belowMinimumSince ?? t
        belowMinimumSince = since
        guard t - since > settings.workerTimeout else { return }
        let lost = lostWorkers.isEmpty ? "none" : lostWorkers.joined(separator: ", ")
        fail(ClusterError("only \(workers.count) live worker\(workers.count == 1 ? "" : "s") (--min-workers "
                          + "\(settings.minWorkers)) for \(fmt(settings.workerTimeout, 0)) s (--worker-timeout); "
                          + "lost: \(lost)"))
    }
}

/// What the pool knows about one worker (server thread only).
private final class WorkerRecord {
    struct Task {
        let jobID: UInt32
        let range: Range<Int>
        let deadline: Double
    }

    let id: [UInt8]
    let name: String
    let rank: Int
    let threads: Int
    let buildID: String
    var lastHeard = now()
    var lastSent = 0.0
    /// The weights version this worker holds (0: none), as far as sent messages go.
    var version: UInt64 = 0
    var task: Task?

    init(id: [UInt8], name: String, rank: Int, threads: Int, buildID: String) {
        self.id = id
        self.name = name
        self.rank = rank
        self.threads = threads
        self.buildID = buildID
    }
}

/// A job being worked on (server thread only).
private final class ActiveJob {
    let id: UInt32
    var job: PoolJob
    var started = false
    var pending: [Range<Int>] = []
    var inFlight: [[UInt8]: Range<Int>] = [:]
    var results: [PoolResult] = []
    var droppedUnits = 0

    init(id: UInt32, job: PoolJob) {
        self.id = id
        self.job = job
    }
}
