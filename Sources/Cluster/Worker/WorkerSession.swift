import Core
import Foundation
import Protocol

/// What a worker tells the coordinator about itself.
public struct WorkerIdentity: Sendable {
    let host: String
    let pid: Int32
    let threads: Int
    /// The fingerprint of the data set the worker loaded (the coordinator refuses a different one); empty
    /// when it has none yet and asks the coordinator for it.
    let fingerprint: String
    /// Equal build IDs mean the same code, so floating-point results that agree to the bit.
    let buildID: String

    public init(host: String, pid: Int32, threads: Int, fingerprint: String, buildID: String) {
        self.host = host
        self.pid = pid
        self.threads = threads
        self.fingerprint = fingerprint
        self.buildID = buildID
    }

    /// The same worker holding the data set with `fingerprint`.
    func withFingerprint(_ fingerprint: String) -> WorkerIdentity {
        WorkerIdentity(host: host, pid: pid, threads: threads, fingerprint: fingerprint, buildID: buildID)
    }
}

/// This worker's CURVE credentials: its key pair and the coordinator's public key.
public struct WorkerCurve {
    let keyPair: CurveKeyPair
    let serverKey: String

    /// Reads `keyName`.key from `directory`, and the coordinator's public key from `serverKeyFile` or
    /// else `coordinator.pub` in `directory`.
    public init(directory: String, keyName: String, serverKeyFile: String?) throws {
        let dir = URL(fileURLWithPath: directory)
        let secret = try readCurveKey(dir.appendingPathComponent("\(keyName).key").path)
        keyPair = CurveKeyPair(publicKey: try Curve.publicKey(forSecretKey: secret), secretKey: secret)
        serverKey = try readCurveKey(serverKeyFile ?? dir.appendingPathComponent("coordinator.pub").path)
    }
}

/// How a worker's session with its coordinator ended.
public enum SessionOutcome {
    /// The coordinator ended the run, for this reason.
    case finished(String)
    /// The coordinator refused this worker (data set, protocol version or CURVE key), or its welcome was unusable.
    case refused(String)
    /// No coordinator was heard for too long, or the one that started this worker is gone.
    case noCoordinator(String)
    /// The data set could not be received or cached, or what arrived does not match its fingerprint.
    case badDataset(String)
}

/// The settings a coordinator's welcome carries, parsed.
private struct RunSettings {
    let rank: UInt32
    let runNonce: UInt64
    let seed: UInt64
    let microBatchSize: Int
    let heartbeatInterval: Double
    let adam: AdamState
    /// The kernel path the run computes with; nil ("auto", or a 3.0 coordinator): this worker's own.
    let kernels: KernelPath?

    init(_ w: Welcome) throws {
        rank = w.rank
        runNonce = w.runNonce
        seed = w.seed
        func value<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
            guard let text = w.settings[key], let v = T(text) else {
                throw ClusterError("the coordinator's welcome lacks a valid setting \"\(key)\" (got \(w.settings[key] ?? "none"))")
            }
            return v
        }
        microBatchSize = try value("microBatch", Int.self)
        heartbeatInterval = try value("heartbeatSeconds", Double.self)
        var adam = AdamState(count: 0)
        adam.learningRate = try value("learningRate", Float.self)
        adam.beta1 = try value("beta1", Float.self)
        adam.beta2 = try value("beta2", Float.self)
        adam.epsilon = try value("epsilon", Float.self)
        self.adam = adam
        switch w.settings["kernels"] {
        case nil, "auto":
            kernels = nil
        case let name?:
            guard let path = KernelPath(rawValue: name) else {
                throw ClusterError("the coordinator's welcome names kernels \"\(name)\", which this build does not know")
            }
            guard path.runs(on: .current) else {
                throw ClusterError("the run computes with --kernels \(name), which this CPU cannot run (it lacks "
                                   + "\(path.requirements))")
            }
            kernels = path
        }
        guard microBatchSize >= 1, heartbeatInterval > 0 else {
            throw ClusterError("the coordinator's welcome has microBatch \(microBatchSize), heartbeat \(heartbeatInterval) s")
        }
    }
}

/// One worker's conversation with a coordinator over a DEALER socket: hello until welcomed, then the
/// coordinator's requests in order. Everything runs on the calling thread, which owns the socket.
public final class WorkerSession {
    private let endpoint: String
    private var identity: WorkerIdentity
    /// The data set; nil until received when the worker was started without one (`cache` is then set).
    private var data: DatasetSplit?
    private let cache: DatasetCache?
    private var download: DatasetDownload?
    private var chunkAskedAt = 0.0
    private let coordinatorTimeout: Double
    private let parentPid: Int32?
    private var log: Log
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let monitor: ZMQMonitor

    private var settings: RunSettings?
    private var runner: CNNEngine?
    /// The weights this worker holds (valid when `weightsVersion > 0`) and, when the coordinator lets
    /// workers apply updates themselves, the optimiser's state.
    private var parameters: [Float] = []
    private var adam: AdamState?
    private var weightsVersion: UInt64 = 0
    /// This worker's last share of a step that it did not apply itself: the version it was computed from,
    /// its first micro-batch and its gradient, whose factor rows the update may leave out (`OwnRows`).
    private var keptShare: (version: UInt64, firstMicroBatch: UInt32, gradient: StepGradient)?

    private var started = now()
    private var lastHeard: Double?
    private var lastSent = 0.0
    /// Until when the session waits for the coordinator's next message without sleeping (`run`).
    private var awakeUntil = 0.0
    private var nextHello = 0.0
    private var helloBackoff = 0.25
    private var connected = false
    private var throughput = EpochThroughput()
    private lazy var umapRows = UMAPRowWorker(threads: identity.threads)
    /// How long a worker that left its share of a step in the shared file waits awake for the update.
    static let awakeForUpdate = 0.003
    /// Set when this worker was spawned beside others on this host: they split each update (`SharedUpdate`),
    /// and leave their step gradients in the same file (`SharedGradientParts`).
    private let sharedUpdate: SharedUpdate?
    private let gradientParts: SharedGradientParts?
    /// The last step read from `gradientParts`; its storage is reused for the next (about 1 MB a step).
    private var partsRead = StepGradient.empty
    /// Shares of split steps whose gradient this worker left in the shared file, and those it sent.
    private var partsLeft = 0
    private var partsSent = 0

    /// The log prefix, naming this worker's rank once it has joined.
    public var logPrefix: String { log.prefix }

    /// Connects (without waiting) a DEALER socket to the coordinator at `endpoint`; `parentPid`, if given,
    /// is the coordinator process that started this worker: the session ends when it is gone. Without
    /// `data` the worker asks the coordinator for its data set and keeps it in `cache` (which must then be
    /// given); `identity`'s fingerprint is then ignored. With `sharedUpdate` the updates the coordinator
    /// broadcasts are split with the other workers of that file.
    public init(endpoint: String, identity: WorkerIdentity, data: DatasetSplit?, cache: DatasetCache? = nil,
                curve: WorkerCurve?, coordinatorTimeout: Double, parentPid: Int32?, sharedUpdate: SharedUpdate? = nil,
                log: Log) throws {
        precondition(data != nil || cache != nil, "a worker without a data set needs a cache to receive it into")
        self.endpoint = endpoint
        self.parentPid = parentPid
        self.identity = data == nil ? identity.withFingerprint("") : identity
        self.data = data
        self.cache = cache
        self.coordinatorTimeout = coordinatorTimeout
        self.sharedUpdate = sharedUpdate
        gradientParts = sharedUpdate.map { SharedGradientParts(file: $0.file, rank: $0.rank) }
        self.log = log
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: .dealer)
        // A stable routing id lets the coordinator recognise this worker across reconnections.
        var rng = SplitMix64(seed: UInt64(UInt32(bitPattern: identity.pid)) << 32 ^ UInt64(Date().timeIntervalSince1970 * 1e6),
                             stream: .sampling)
        try socket.setOption(.routingID(Array("w\(identity.pid)-\(String(rng.next(), radix: 36))".utf8)))
        try socket.setOption(.immediate(true))
        try socket.setOption(.maxMessageSize(Int64(WireLimits.standard.maxPayloadBytes + MessageHeader.size)))
        try socket.setOption(.sendHighWaterMark(64))
        try socket.setOption(.receiveHighWaterMark(64))
        try socket.setOption(.heartbeatInterval(milliseconds: 1000))
        try socket.setOption(.heartbeatTimeout(milliseconds: 5000))
        try socket.setOption(.heartbeatTTL(milliseconds: 10_000))
        try socket.setOption(.reconnectInterval(milliseconds: 100))
        try socket.setOption(.reconnectIntervalMax(milliseconds: 5000))
        if let curve { try socket.configureCurveClient(serverKey: curve.serverKey, keyPair: curve.keyPair) }
        monitor = try ZMQMonitor(context: context, monitoring: socket,
                                 events: [.connected, .disconnected, .handshakeFailedAuthentication,
                                          .handshakeFailedProtocol])
        try socket.connect(endpoint)
    }

    deinit {
        monitor.socket.close()
        // Give a last message (e.g. the shutdown acknowledgement) time to leave; nothing else is queued
        // because the socket queues only to a live connection.
        try? socket.setOption(.linger(milliseconds: 1000))
        socket.close()
    }

    /// Serves coordinators until one ends the run, refuses this worker, or none is heard for too long.
    public func run() -> SessionOutcome {
        started = now()
        while true {
            let t = now()
            let silentSince = lastHeard ?? started
            if t - silentSince > coordinatorTimeout {
                throughput.report(log: log)
                reportSharing()
                download?.abandon()
                return .noCoordinator(lastHeard == nil
                    ? "no coordinator answered at \(endpoint) within \(fmt(coordinatorTimeout, 0)) s (--coordinator-timeout); "
                      + "is it running, and is the address reachable from this host?"
                    : "lost the coordinator at \(endpoint): nothing heard for \(fmt(coordinatorTimeout, 0)) s "
                      + "(--coordinator-timeout)")
            }
            if let parentPid, getppid() != parentPid {
                return .noCoordinator("the coordinator process \(parentPid) that started this worker is gone")
            }
            if settings == nil && download == nil && t >= nextHello { sendHello() }
            if let download, t - chunkAskedAt > 10 {  // the chunk or its request was lost: ask again
                chunkAskedAt = t
                send(.datasetChunkRequest(download.pending), Envelope())
            }
            if let run = settings, t - lastSent >= run.heartbeatInterval {
                send(.heartbeat(timestampNanoseconds: DispatchTime.now().uptimeNanoseconds), Envelope(runNonce: run.runNonce))
            }
            let wait = settings.map { max(0, $0.heartbeatInterval - (t - lastSent)) } ?? max(0, nextHello - t)
            let ready: [Int]
            do {
                // Just after a share of a split step the update comes within a millisecond or two: awake for it.
                ready = try ZMQSocket.poll([socket, monitor.socket], awake: awakeUntil - t,
                                           thenTimeoutMs: Int(min(wait, 0.5) * 1000) + 1)
                awakeUntil = 0
            } catch {
                return .noCoordinator("cannot poll the coordinator socket: \(error)")
            }
            if ready.contains(1), let outcome = handleMonitorEvents() { return outcome }
            if ready.contains(0), let outcome = handleMessages() { return outcome }
        }
    }

    // MARK: connection

    private func sendHello() {
        let hello = Hello(buildID: identity.buildID, datasetFingerprint: identity.fingerprint, hostName: identity.host,
                          processID: identity.pid, threadCount: UInt32(identity.threads),
                          kernels: KernelPath.current.rawValue,
                          kernelsSupported: KernelPath.supported.map(\.rawValue).joined(separator: ","),
                          blasCore: BLASCore.current)
        if send(.hello(hello), Envelope()) {
            log("hello sent to \(endpoint)", .debug)
        } else {
            log("coordinator at \(endpoint) not reachable yet; retrying in \(fmt(helloBackoff, 2)) s", .debug)
        }
        nextHello = now() + helloBackoff
        helloBackoff = min(helloBackoff * 2, 5)
    }

    /// Sends without blocking; false when there is no connection to send on.
    @discardableResult
    private func send(_ message: Message, _ envelope: Envelope) -> Bool {
        do {
            try socket.send(frames: [encode(message, envelope: envelope)], dontWait: true)
            lastSent = now()
            return true
        } catch {
            if !error.isWouldBlock { log("send failed: \(error)", .warning) }
            return false
        }
    }

    private func handleMonitorEvents() -> SessionOutcome? {
        while let event = try? monitor.next(timeoutMs: 0) {
            switch event.kind {
            case .handshakeFailedAuthentication:
                return .refused("the coordinator at \(endpoint) refused this worker's CURVE key (ZAP status "
                                + "\(event.value)): add its public key to the coordinator's --curve-keys directory")
            case .handshakeFailedProtocol:
                log("handshake with \(endpoint) failed (protocol error \(event.value)): "
                    + "is the coordinator using CURVE and are the keys right?", .warning)
            case .connected:
                log("connected to \(endpoint)", .debug)
                connected = true
            case .disconnected:
                if connected { log("lost the connection to \(endpoint); reconnecting", .warning) }
                connected = false
            default:
                break
            }
        }
        return nil
    }

    // MARK: messages

    private func handleMessages() -> SessionOutcome? {
        while let frames = try? socket.receive(timeoutMs: 0) {
            guard let bytes = frames.last else { continue }
            let header: MessageHeader, message: Message
            do {
                (header, message) = try decode(bytes)
            } catch {
                if case .unsupportedVersion = error {
                    return .refused("the coordinator speaks another protocol version: \(error)")
                }
                log("ignored a malformed message from the coordinator: \(error)", .warning)
                continue
            }
            lastHeard = now()
            if let outcome = handle(message, header.envelope) { return outcome }
        }
        return nil
    }

    private func handle(_ message: Message, _ envelope: Envelope) -> SessionOutcome? {
        if case .welcome(let welcome) = message { return accept(welcome) }
        if case .refused(let reason) = message { return .refused(reason) }
        switch message {
        case .datasetManifest(let manifest): return receive(manifest)
        case .datasetChunk(let chunk): return receive(chunk)
        case .error(_, let text) where download != nil:
            download?.abandon()
            return .badDataset("the coordinator could not send its data set: \(text)")
        default: break
        }
        guard let run = settings else {
            log("ignored \(message.type) before being welcomed", .debug)
            return nil
        }
        if envelope.runNonce != run.runNonce {
            log("ignored \(message.type) of another run (nonce \(String(envelope.runNonce, radix: 16)))", .debug)
            return nil
        }
        switch message {
        case .weights(let w): receive(w)
        case .stepUpdate(let u): apply(u, envelope)
        case .stepAssignment(let a): compute(a, envelope, run)
        case .evalRequest(let r): evaluate(r, envelope)
        case .weightsDigest(let d): answerDigest(d, envelope)
        case .umapRequest(let r):
            switch umapRows.handle(r) {
            case .success(let reply): send(.umapReply(reply), envelope)
            case .failure(let error): reportError(.badRequest, error.text, envelope)
            }
        case .heartbeat: break
        case .shutdown(let reason):
            send(.shutdown(reason: "acknowledged"), envelope)
            throughput.report(log: log)
            reportSharing()
            return .finished(reason)
        case .error(let code, let text):
            if code == ErrorCode.notJoined.rawValue {
                log("the coordinator no longer knows this worker (\(text)); joining again", .warning)
                settings = nil
                nextHello = 0
                helloBackoff = 0.25
            } else {
                log("coordinator reports error \(code): \(text)", .warning)
            }
        default:
            log("ignored unexpected \(message.type) from the coordinator", .warning)
        }
        return nil
    }

    private func accept(_ welcome: Welcome) -> SessionOutcome? {
        do {
            let settings = try RunSettings(welcome)
            // A repeated hello that crossed the first welcome is welcomed again: the same join, logged once.
            let again = self.settings.map { $0.runNonce == settings.runNonce && $0.rank == settings.rank } ?? false
            self.settings = settings
            weightsVersion = 0
            adam = nil
            if let path = settings.kernels, path != KernelPath.current {
                log("kernels: \(path.rawValue) (the run's --kernels; this worker chose \(KernelPath.current.rawValue))")
                KernelPath.current = path
                runner = nil
            }
            if runner?.microBatchSize != settings.microBatchSize {
                runner = CNNEngine(parameters: initialParameters(seed: settings.seed), threads: identity.threads,
                                   microBatchSize: settings.microBatchSize)
            }
            log.prefix = "worker \(identity.host):\(identity.pid) rank \(settings.rank)"
            log("joined the coordinator at \(endpoint) as rank \(settings.rank) (run \(String(settings.runNonce, radix: 16)), "
                + "\(identity.threads) threads, build \(identity.buildID))", again ? .debug : .info)
            return nil
        } catch {
            return .refused("\(error)")
        }
    }

    // MARK: the data set, when started without one

    /// The coordinator's answer to a hello without a fingerprint: use the cached copy, or start pulling.
    private func receive(_ manifest: DatasetManifest) -> SessionOutcome? {
        guard data == nil, download == nil, let cache else { return nil }
        do {
            if let split = try cache.cached(manifest) {
                log("reusing the cached data set \(manifest.name) (fingerprint \(manifest.fingerprint.prefix(12))) from "
                    + "\(try cache.folder(for: manifest)): no transfer")
                adopt(split)
                return nil
            }
            let transfer = try DatasetDownload(manifest, into: cache)
            log("receiving the data set \(manifest.name) (fingerprint \(manifest.fingerprint.prefix(12)), "
                + "\(manifest.files.count) files, \(fmt(Double(transfer.totalBytes) / 1_048_576, 1)) MiB) from the "
                + "coordinator into \(transfer.folder)")
            download = transfer
            chunkAskedAt = now()
            send(.datasetChunkRequest(transfer.pending), Envelope())
            return nil
        } catch {
            return .badDataset("\(error)")
        }
    }

    /// A chunk of the data set: written, then the next one asked for, or the whole set checked and used.
    private func receive(_ chunk: DatasetChunk) -> SessionOutcome? {
        guard var transfer = download else { return nil }
        do {
            let asked = transfer.pending
            if let next = try transfer.receive(chunk) {
                download = transfer
                if next != asked {
                    chunkAskedAt = now()
                    send(.datasetChunkRequest(next), Envelope())
                }
                return nil
            }
            download = nil
            let split = try transfer.finish()
            log("received the data set \(split.name) (\(fmt(Double(transfer.receivedBytes) / 1_048_576, 1)) MiB in "
                + "\(fmt(now() - transfer.started, 1)) s); fingerprint checked, cached in \(transfer.folder)")
            adopt(split)
            return nil
        } catch {
            transfer.abandon()
            download = nil
            return .badDataset("\(error)")
        }
    }

    /// Takes `split` as this worker's data set and says hello again, now with its fingerprint.
    private func adopt(_ split: DatasetSplit) {
        data = split
        identity = identity.withFingerprint(split.fingerprint)
        nextHello = 0
        helloBackoff = 0.25
    }

    private func receive(_ w: Weights) {
        guard w.parameters.count == SeedCNN.layout.count else {
            reportError(.badRequest, "weights of \(w.parameters.count) parameters, the model has \(SeedCNN.layout.count)",
                        Envelope(runNonce: settings!.runNonce))
            return
        }
        parameters = w.parameters
        if w.adamM.isEmpty {
            adam = nil
        } else {
            var state = settings!.adam
            state.m = w.adamM
            state.v = w.adamV
            state.step = Int(w.adamStep)
            adam = state
            sharedUpdate?.seed(version: w.version, parameters: w.parameters, adam: state)
        }
        weightsVersion = w.version
        runner?.setParameters(parameters)
        log("received weights version \(w.version) (Adam step \(w.adamStep))", .debug)
    }

    private func apply(_ u: StepUpdate, _ envelope: Envelope) {
        guard weightsVersion > 0, weightsVersion + 1 == u.version, adam != nil else {
            reportError(.wrongWeightsVersion, "holds weights version \(weightsVersion)"
                        + (adam == nil ? " without optimiser state" : "") + ", the update is for version \(u.version - 1)",
                        envelope)
            weightsVersion = 0
            return
        }
        guard let whole = combinedGradient(of: u, envelope) else {
            weightsVersion = 0
            return
        }
        keptShare = nil
        guard let sharedUpdate else {
            advance(by: whole, samples: Int(u.samples))
            return
        }
        runner?.releaseParameters()  // so that the weights are updated in place
        switch sharedUpdate.apply(whole, samples: Int(u.samples), version: u.version, threads: identity.threads,
                                  parameters: &parameters, adam: &adam!) {
        case .shared, .whole:
            break
        case .alone(let missing):
            log("local worker\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) did not "
                + "publish \(missing.count == 1 ? "its share" : "their shares") of version \(u.version) within "
                + "\(fmt(sharedUpdate.timeout, 1)) s; this worker applies whole updates from now on", .warning)
        case .lost(let reason):
            log("cannot complete the shared update of version \(u.version): \(reason); asking the coordinator for the "
                + "weights and applying whole updates from now on", .warning)
            reportError(.wrongWeightsVersion, "lost its weights at version \(u.version) (\(reason))", envelope)
            weightsVersion = 0
            return
        }
        runner?.setParameters(parameters)
        weightsVersion += 1
    }

    /// The step's whole gradient from an update: read from the shared file's parts, or the update's sums and
    /// rows with this worker's own rows put back. Nil, with the error reported, if it cannot be had.
    private func combinedGradient(of u: StepUpdate, _ envelope: Envelope) -> StepGradient? {
        if !u.sharedParts.isEmpty {
            guard let gradientParts else {
                reportError(.badRequest, "an update in shared parts, but this worker shares no file with other local workers",
                            envelope)
                return nil
            }
            let locations = u.sharedParts.map { SharedGradientParts.Location($0, weightsVersion: u.version - 1) }
            switch gradientParts.read(locations, into: &partsRead) {
            case .success:
                return partsRead
            case .failure(let error):
                reportError(.wrongWeightsVersion, "cannot read the update of version \(u.version) from the shared file: "
                            + "\(error)", envelope)
                return nil
            }
        }
        let g = u.gradient
        guard g.fitsModel, u.samples > 0 else {
            reportError(.badRequest, "an update of \(g.sums.count) sums and widths \(g.flatWidth)/\(g.deltaWidth) "
                        + "does not fit the model", envelope)
            return nil
        }
        guard let own = u.ownRows else { return StepGradient(g) }
        guard let kept = keptShare, kept.version == u.version - 1, kept.firstMicroBatch == own.firstMicroBatch,
              kept.gradient.rows == Int(own.count) else {
            reportError(.wrongWeightsVersion, "holds no share of \(own.count) rows from micro-batch "
                        + "\(own.firstMicroBatch) at version \(u.version - 1), which the update leaves out", envelope)
            return nil
        }
        return StepGradient(u.restoringOwnRows(flatRows: kept.gradient.flatRows, deltaRows: kept.gradient.deltaRows))
    }

    /// One line on how the updates were split with the other local workers, if they were.
    private func reportSharing() {
        guard let s = sharedUpdate, s.sharedSteps + s.aloneSteps > 0 else { return }
        log("updates split with the other \(s.members - 1) local worker\(s.members == 2 ? "" : "s") (member \(s.rank), "
            + "\(s.share)): \(s.sharedSteps) shared, \(s.aloneSteps) applied whole here; step gradients: \(partsLeft) left in "
            + "the shared file, \(partsSent) sent through the coordinator")
    }

    /// Applies a step's combined gradient with Adam (the optimiser state must be held): the next version.
    private func advance(by gradient: StepGradient, samples: Int) {
        runner?.releaseParameters()  // so that the weights are updated in place
        applyAdam(gradient, samples: samples, threads: identity.threads, parameters: &parameters, adam: &adam!)
        runner?.setParameters(parameters)
        weightsVersion += 1
    }

    private func compute(_ a: StepAssignment, _ envelope: Envelope, _ run: RunSettings) {
        guard a.weightsVersion == weightsVersion, weightsVersion > 0, let runner else {
            reportError(.wrongWeightsVersion, "holds weights version \(weightsVersion), the step needs \(a.weightsVersion)",
                        envelope)
            return
        }
        if !a.options.isEmpty && adam == nil {  // both options need the optimiser state
            reportError(.wrongWeightsVersion, "holds weights version \(weightsVersion) without optimiser state, which the "
                        + "step needs", envelope)
            weightsVersion = 0
            return
        }
        // Both options need this process' own moments whole; a shared update leaves them in the shared file.
        if a.options.contains(.applyOwnGradient) || a.options.contains(.reportState), let sharedUpdate,
           !sharedUpdate.gather(version: weightsVersion, into: &adam!) {
            reportError(.wrongWeightsVersion, "holds weights version \(weightsVersion) but not all of its optimiser state, "
                        + "which the step needs (a local worker's share of it was not whole)", envelope)
            weightsVersion = 0
            return
        }
        guard let data else {
            reportError(.badRequest, "holds no data set yet", envelope)
            return
        }
        guard let mbs = microBatches(a.sampleIndices, counts: a.sampleCounts.map(Int.init), limit: data.train.count) else {
            reportError(.badRequest, "a sample index is outside the \(data.train.count) training images", envelope)
            return
        }
        let start = now()
        let (gradient, stats) = runner.microBatchGradients(mbs, data: data.train, epoch: Int(envelope.epoch), seed: run.seed)
        throughput.add(epoch: Int(envelope.epoch), samples: a.sampleIndices.count, seconds: now() - start, log: log)
        let appliesOwn = a.options.contains(.applyOwnGradient)
        let reports = a.options.contains(.reportState)
        keptShare = appliesOwn ? nil : (weightsVersion, UInt32(a.microBatches.first ?? 0), gradient)
        // A share of a split step may stay in the file this worker shares with the other local workers.
        let sharedPart = a.options.contains(.gradientToSharedFile) && !appliesOwn
            ? gradientParts?.write(gradient, weightsVersion: weightsVersion, firstMicroBatch: Int(a.microBatches.first ?? 0))
            : nil
        // A reported state is the one this worker holds when it answers: after the step if it applies it.
        if appliesOwn && reports { advance(by: gradient, samples: a.sampleIndices.count) }
        let state = reports
            ? Weights(version: weightsVersion, adamStep: UInt64(adam!.step), parameters: parameters, adamM: adam!.m,
                      adamV: adam!.v)
            : nil
        if !appliesOwn && gradientParts != nil {
            if sharedPart != nil { partsLeft += 1 } else { partsSent += 1 }
        }
        let factors = a.options.contains(.omitGradient) || sharedPart != nil ? nil : GradientFactors(gradient)
        let result = StepResult(
            microBatches: a.microBatches, lossSums: stats.map(\.lossSum), correctCounts: stats.map { Int32($0.correct) },
            sampleCounts: stats.map { Int32($0.count) }, gradient: factors, state: state,
            sharedPart: sharedPart.map(SharedPart.init))
        send(.stepResult(result), envelope)
        if sharedPart != nil { awakeUntil = now() + WorkerSession.awakeForUpdate }
        if appliesOwn && !reports {
            // The whole step was this worker's: its gradient is the combined one the coordinator would send.
            // Applied after answering, so that the coordinator's next assignment arrives meanwhile.
            advance(by: gradient, samples: a.sampleIndices.count)
        }
    }

    private func evaluate(_ r: EvalRequest, _ envelope: Envelope) {
        guard weightsVersion > 0, let runner, let data else {
            reportError(.wrongWeightsVersion, "holds no weights yet", envelope)
            return
        }
        let images = r.imageSet == .train ? data.train : data.test
        let size = Int(r.microBatchSize)
        let counts = stride(from: 0, to: r.sampleIndices.count, by: size).map { min(size, r.sampleIndices.count - $0) }
        guard let mbs = microBatches(r.sampleIndices, counts: counts, limit: images.count) else {
            reportError(.badRequest, "a sample index is outside the \(images.count) \(r.imageSet) images", envelope)
            return
        }
        let (stats, predictions, hidden) = runner.evaluate(microBatches: mbs, data: images, hidden: r.includeActivations)
        let reply = EvalReply(
            lossSums: stats.map(\.lossSum), correctCounts: stats.map { Int32($0.correct) },
            sampleCounts: stats.map { Int32($0.count) }, predictions: predictions, activations: hidden,
            activationRows: r.includeActivations ? UInt32(predictions.count) : 0,
            activationDimension: r.includeActivations ? UInt32(SeedCNN.hiddenWidth) : 0)
        send(.evalReply(reply), envelope)
    }

    private func answerDigest(_ expected: WeightsDigest, _ envelope: Envelope) {
        let digest = parameters.withUnsafeBytes { sha256Hex($0) }
        if expected.version == weightsVersion && expected.sha256 != digest {
            log("weights version \(weightsVersion) differ from the coordinator's (SHA-256 \(digest.prefix(12)) vs "
                + "\(expected.sha256.prefix(12))); the coordinator will resend them", .warning)
        }
        send(.weightsDigest(WeightsDigest(version: weightsVersion, sha256: digest)), envelope)
    }

    private func reportError(_ code: ErrorCode, _ text: String, _ envelope: Envelope) {
        log("cannot carry out the request: \(text)", .warning)
        send(.error(code: code.rawValue, text: text), envelope)
    }
}

/// `indices` cut into micro-batches of `counts`, or nil if an index is not below `limit`.
private func microBatches(_ indices: [Int32], counts: [Int], limit: Int) -> [ArraySlice<Int>]? {
    guard indices.allSatisfy({ $0 >= 0 && Int($0) < limit }) else { return nil }
    let all = indices.map(Int.init)
    var start = 0
    return counts.map { count in
        defer { start += count }
        return all[start..<(start + count)]
    }
}

/// Samples computed per epoch, for one log line per epoch.
private struct EpochThroughput {
    var epoch = 0
    var samples = 0
    var computeSeconds = 0.0
    var firstStart = 0.0

    mutating func add(epoch e: Int, samples n: Int, seconds: Double, log: Log) {
        if e != epoch {
            report(log: log)
            self = EpochThroughput(epoch: e, samples: 0, computeSeconds: 0, firstStart: now() - seconds)
        }
        samples += n
        computeSeconds += seconds
    }

    func report(log: Log) {
        guard samples > 0 else { return }
        let wall = now() - firstStart
        log("epoch \(epoch): \(samples) samples, \(fmt(Double(samples) / computeSeconds, 0)) samples/s while computing, "
            + "\(fmt(Double(samples) / wall, 0)) samples/s overall (\(fmt(100 * computeSeconds / wall, 0))% busy)")
    }
}
