import Core
import Foundation
import Protocol

/// The coordinator's side of the cluster: a ROUTER socket served by its own thread. The thread decodes
/// what workers send, passes it with the training thread's commands and the time to a `PoolDispatcher`
/// (which admits or refuses workers, hands out the ranges of the current job, takes work back from
/// workers that die, hang or leave, and keeps every replica at the current version), and carries out the
/// dispatcher's actions: encoding, sending, logging. The training thread talks to it only through the
/// public methods below.
public final class WorkerPool: @unchecked Sendable {
    let settings: PoolSettings
    let runNonce: UInt64
    /// The endpoint actually bound (a `*` port resolved).
    public let endpoint: String
    private let log: Log
    private let events: any EventRecording

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
    private let dispatcher: PoolDispatcher
    /// The published state, encoded once for every worker that needs it (nil after an update).
    private var encodedState: [UInt8]?
    /// The last update without rows left out, encoded once for every worker without a share of its step.
    private var encodedUpdate: (version: UInt64, inSharedParts: Bool, bytes: [UInt8])?
    private var stopping = false
    /// Until when the pool's thread waits for commands without sleeping (`serve`).
    private var awakeUntil = 0.0
    /// When each worker was last sent a piece of work, for `observer`'s answer times.
    private var workSentAt: [WorkerID: Double] = [:]

    /// Told about each worker's traffic and answer times; set before `start`.
    public var observer: (any WorkerPoolObserver)?
    /// Lines any peer can trigger at will (refused keys and hellos, malformed messages), shared with the
    /// ZAP thread: each kind is logged once per window, then counted.
    private let repeated = RepeatedLineLimiter()

    private enum Command {
        case run(PoolJob)
        case publish(ReplicaState)
        case advance(version: UInt64, update: StepUpdate?, appliedBy: String?, ownRows: [String: OwnRows],
                     inSharedParts: (update: StepUpdate, workers: Set<String>)?)
        case resend(workers: [String])
        case armMinimum
        case shutdown(String)
    }

    /// Binds the socket (and starts ZAP when `settings` names CURVE keys); `start` begins serving.
    public init(settings: PoolSettings, log: Log, events: any EventRecording) throws {
        self.settings = settings
        self.log = log
        self.events = events
        var rng = SystemRandomNumberGenerator()
        runNonce = rng.next() | 1
        dispatcher = PoolDispatcher(settings: settings, runNonce: runNonce)
        do {
            context = try ZMQContext()
            router = try ZMQSocket(context: context, type: .router)
            try router.setOption(.routerMandatory(true))
            try router.setOption(.routerHandover(true))
            try router.setOption(.sendHighWaterMark(100))
            try router.setOption(.receiveHighWaterMark(100))
            try router.setOption(.maxMessageSize(Int64(WireLimits.fromWorkers.maxPayloadBytes + MessageHeader.size)))
            try router.setOption(.heartbeatInterval(milliseconds: 1000))
            try router.setOption(.heartbeatTimeout(milliseconds: Int32(settings.heartbeatTimeout * 1000)))
            try router.setOption(.heartbeatTTL(milliseconds: Int32(settings.heartbeatTimeout * 1000)))
            if let dir = settings.curveKeysDirectory {
                let keys = try CurveKeyDirectory(path: dir)
                let log = self.log, events = self.events, repeated = self.repeated
                zap = try ZAPHandler(context: context, domain: CurveKeyDirectory.zapDomain,
                                     allowedClientKeys: keys.allowedWorkerKeys) { decision in
                    guard !decision.accepted else { return }
                    let lines = repeated.note("refused connections (\(decision.reason))",
                                              "refused a connection from \(decision.address): \(decision.reason) "
                                              + "(\(decision.clientKey.map { "key " + $0 } ?? decision.mechanism)); "
                                              + "only keys in \(dir) may join", at: now())
                    guard !lines.isEmpty else { return }
                    for line in lines { log(line, .warning) }
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
    public func start() {
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
    public func stop(reason: String = "the run is over") {
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
    public var liveCount: Int { lock.withLock { sharedLiveCount } }

    /// True when some worker waits for the full state of the current version, which only the training
    /// thread can provide (`publish`).
    var needsState: Bool { lock.withLock { sharedNeedsState && !statePending } }

    /// Waits until `count` workers have joined, printing progress; `abort` may stop the wait with an error.
    public func waitForWorkers(_ count: Int, abort: () -> ClusterError?) throws {
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
    /// and is only counted as holding `version`. The workers named in `inSharedParts` are sent its update
    /// instead (the same step, read from the file they share: see `SharedGradientParts`).
    func advance(to version: UInt64, update: StepUpdate?, appliedBy: String?, ownRows: [String: OwnRows] = [:],
                 inSharedParts: (update: StepUpdate, workers: Set<String>)? = nil) {
        post(.advance(version: version, update: update, appliedBy: appliedBy, ownRows: ownRows, inSharedParts: inSharedParts))
    }

    /// Sends the current full state again to the named workers (their weights were found to differ).
    func resend(to names: [String]) { post(.resend(workers: names)) }

    /// Bytes and messages each way so far, by message type.
    public var traffic: [MessageType: Traffic] { lock.withLock { sharedTraffic } }

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
            for line in repeated.flush() { log(line, .warning) }
        }
        while !stopping {
            // Just after a job finished, the training loop's next commands (the update, the next assignment)
            // come within a fraction of a millisecond: awake for them.
            let ready = (try? ZMQSocket.poll([router, wakeReceiver], awake: awakeUntil - now(),
                                             thenTimeoutMs: pollTimeoutMs())) ?? []
            awakeUntil = 0
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
            perform(dispatcher.tick(at: now()))
            for line in repeated.due(at: now()) { log(line, .warning) }
            lock.withLock {
                sharedLiveCount = dispatcher.liveCount
                sharedNeedsState = dispatcher.needsState
            }
        }
    }

    private func pollTimeoutMs() -> Int {
        var wait = settings.heartbeatInterval / 2
        if dispatcher.hasWorkInFlight { wait = min(wait, 0.1) }
        return Int(wait * 1000)
    }

    private func execute(_ command: Command) {
        switch command {
        case .run(let job):
            perform(dispatcher.submit(job))
        case .publish(let state):
            lock.withLock {
                statePending = false
                sharedNeedsState = false
            }
            let weights = Weights(version: state.version, adamStep: UInt64(state.adamStep), parameters: state.parameters,
                                  adamM: state.adamM, adamV: state.adamV)
            encodedState = encode(.weights(weights), envelope: Envelope(runNonce: runNonce))
            perform(dispatcher.publish(version: state.version))
        case .advance(let version, let update, let appliedBy, let ownRows, let inSharedParts):
            encodedState = nil
            perform(dispatcher.advance(to: version, update: update, appliedBy: appliedBy, ownRows: ownRows,
                                       inSharedParts: inSharedParts))
        case .resend(let names):
            perform(dispatcher.resend(to: names))
        case .armMinimum:
            dispatcher.armMinimum()
        case .shutdown(let reason):
            perform(dispatcher.shutdown(reason: reason))
            awaitGoodbyes()
            stopping = true
        }
    }

    /// Carries out the dispatcher's actions in order; a failed send drops its worker at once.
    private func perform(_ actions: [PoolAction]) {
        let ready = encodedUpdates(actions)
        for (index, action) in actions.enumerated() {
            switch action {
            case .send(let outgoing, let id):
                guard dispatcher.isLive(id), let bytes = ready[index] ?? encoded(outgoing) else { continue }
                do {
                    try router.send(frames: [id, bytes], dontWait: true)
                    dispatcher.sent(to: id, at: now())
                    count(bytes, sent: true)
                    if let observer, let name = dispatcher.name(of: id) {
                        observer.worker(name, transferred: bytes.count, sent: true)
                        if case .request = outgoing { workSentAt[id] = now() }
                    }
                } catch {
                    perform(dispatcher.sendFailed(to: id, because: error.isHostUnreachable ? "its connection closed"
                        : error.isWouldBlock ? "it stopped reading (send queue full)" : "sending failed: \(error)"))
                }
            case .reply(let message, let envelope, let id):
                try? router.send(frames: [id, encode(message, envelope: envelope)], dontWait: true)
            case .finish(let outcome):
                lock.withLock { jobOutcome = outcome }
                jobDone.signal()
                awakeUntil = now() + 0.001
            case .fail(let error):
                lock.withLock { failure = error }
            case .log(let line, let level):
                log(line, level)
            case .record(let name, let fields):
                events.record(name, fields)
            }
        }
    }

    /// The updates among `actions` that leave out a worker's own rows (one message per worker), encoded side
    /// by side before any is sent, by action index: every worker (with shared updates, all of them together)
    /// waits for the last to get its update, which would otherwise queue behind the others' encoding while
    /// the first ones already compete for the cores.
    private func encodedUpdates(_ actions: [PoolAction]) -> [Int: [UInt8]] {
        let jobs = actions.enumerated().compactMap { index, action -> (Int, StepUpdate, OwnRows)? in
            guard case .send(.update(let update, let own?), let id) = action, dispatcher.isLive(id) else { return nil }
            return (index, update, own)
        }
        guard jobs.count > 1 else { return [:] }
        let nonce = runNonce
        var results = [[UInt8]](repeating: [], count: jobs.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedResults(buffer: buffer)
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                out.buffer[j] = encode(.stepUpdate(jobs[j].1.leavingOut(jobs[j].2)), envelope: Envelope(runNonce: nonce))
            }
        }
        var byIndex: [Int: [UInt8]] = [:]
        for (j, job) in jobs.enumerated() { byIndex[job.0] = results[j] }
        return byIndex
    }

    /// The bytes of `outgoing`; the state and an update without rows left out are encoded once.
    private func encoded(_ outgoing: Outgoing) -> [UInt8]? {
        switch outgoing {
        case .state:
            return encodedState
        case .update(let update, let own?):
            return encode(.stepUpdate(update.leavingOut(own)), envelope: Envelope(runNonce: runNonce))
        case .update(let update, nil):
            if let cached = encodedUpdate, cached.version == update.version,
               cached.inSharedParts == !update.sharedParts.isEmpty { return cached.bytes }
            let bytes = encode(.stepUpdate(update), envelope: Envelope(runNonce: runNonce))
            encodedUpdate = (update.version, !update.sharedParts.isEmpty, bytes)
            return bytes
        case .request(let message, let envelope):
            return encode(message, envelope: envelope)
        case .heartbeat:
            return encode(.heartbeat(timestampNanoseconds: DispatchTime.now().uptimeNanoseconds),
                          envelope: Envelope(runNonce: runNonce))
        case .shutdown(let reason):
            return encode(.shutdown(reason: reason), envelope: Envelope(runNonce: runNonce))
        }
    }

    /// Waits up to two seconds for every worker to acknowledge the shutdown (closing the socket earlier
    /// could discard the message unsent).
    private func awaitGoodbyes() {
        let deadline = now() + 2
        var waiting = Set(dispatcher.workerIDs)
        while !waiting.isEmpty, now() < deadline {
            guard let frames = try? router.receive(timeoutMs: 50), frames.count == 2 else { continue }
            if let (header, message) = try? decode(frames[1]), header.envelope.runNonce == runNonce,
               case .shutdown = message {
                waiting.remove(frames[0])
            }
        }
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

    /// Tells `observer` about a message received from a joined worker, and its answer time if it answers work.
    private func observe(_ message: Message, of bytes: Int, from id: WorkerID) {
        guard let observer, let name = dispatcher.name(of: id) else { return }
        observer.worker(name, transferred: bytes, sent: false)
        switch message {
        case .stepResult, .evalReply, .umapReply:
            if let sentAt = workSentAt.removeValue(forKey: id) { observer.worker(name, answeredAfter: now() - sentAt) }
        default:
            break
        }
    }

    /// Decodes one message from the socket (identity frame, message frame) for the dispatcher.
    private func handle(_ frames: [[UInt8]]) {
        guard frames.count == 2 else { return }
        let id = frames[0]
        count(frames[1], sent: false)
        let header: MessageHeader, message: Message
        do {
            (header, message) = try decode(frames[1], limits: .fromWorkers)
        } catch {
            if case .unsupportedVersion(let major, let minor) = error {
                let reason = "this worker speaks protocol \(major).\(minor), the coordinator "
                    + "\(ProtocolVersion.major).\(ProtocolVersion.minor): run the same Glassbox release on both"
                perform(limitingRefusals(dispatcher.refuse(id, name: "a worker", reason: reason)))
            } else {
                let lines = repeated.note("ignored malformed messages", "ignored a malformed message from "
                                          + "\(dispatcher.name(of: id) ?? "an unknown peer"): \(error)", at: now())
                for line in lines { log(line, .warning) }
            }
            return
        }
        if case .hello(let hello) = message {
            perform(limitingRefusals(dispatcher.hello(hello, from: id, at: now())))
        } else {
            observe(message, of: frames[1].count, from: id)
            perform(dispatcher.received(message, header.envelope, from: id, at: now()))
        }
    }

    /// `actions` with the log line and event of a refusal passed through `repeated`: any peer can say hello
    /// as often as it likes, and each refusal would otherwise cost a warning and an event.
    private func limitingRefusals(_ actions: [PoolAction]) -> [PoolAction] {
        let reasons = actions.compactMap { action -> String? in
            if case .reply(.refused(let reason), _, _) = action { reason } else { nil }
        }
        guard let reason = reasons.first else { return actions }
        // The kind is the reason's opening words (a different data set, a name in use, another protocol),
        // without the names and numbers that follow.
        let kind = "refused hellos (" + reason.split(separator: " ").prefix(3).joined(separator: " ") + ")"
        var admitted = true
        return actions.filter { action in
            switch action {
            case .log(let line, let level):
                let lines = repeated.note(kind, line, at: now())
                for line in lines { log(line, level) }
                admitted = !lines.isEmpty
                return false
            case .record: return admitted
            default: return true
            }
        }
    }
}

extension WireLimits {
    /// What the coordinator accepts from a peer. The largest message a worker sends is a step result
    /// carrying its state (weights and Adam's moments, about 10 MB); evaluation replies are 2 MB, neighbour
    /// replies less. libzmq drops a peer whose frame announces more before reading it, so an unauthenticated
    /// peer cannot make the coordinator buffer hundreds of megabytes per message.
    static let fromWorkers = WireLimits(maxPayloadBytes: 64 << 20)
}


/// The results of `encodedUpdates`' concurrent loop: each index is written by one iteration only.
private struct UncheckedResults: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<[UInt8]>
}
