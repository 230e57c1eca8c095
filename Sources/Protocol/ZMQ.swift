// A thin wrapper over libzmq. Every C pointer of the package lives in this file.
import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: which call, and libzmq's text for the error.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call that failed, with its argument where that helps (e.g. `zmq_bind(tcp://127.0.0.1:5555)`).
    public let operation: String
    /// The errno value.
    public let code: Int32
    /// What went wrong, in words.
    public let reason: String

    /// An error from the current `zmq_errno()`, read before `operation` is built so nothing can change it.
    init(_ operation: @autoclosure () -> String) {
        let code = zmq_errno()
        self.init(operation(), code: code)
    }

    /// An error with errno `code`, described by `zmq_strerror`.
    init(_ operation: String, code: Int32) {
        self.init(operation, code: code, reason: String(cString: zmq_strerror(code)))
    }

    init(_ operation: String, code: Int32, reason: String) {
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(operation) failed: \(reason)" }

    /// A ROUTER_MANDATORY socket was asked to send to a peer it does not know (any more).
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    /// A non-blocking or timed send could not proceed (e.g. the peer's high-water mark is reached).
    public var isWouldBlock: Bool { code == EAGAIN }
    /// The context was terminated while the call waited.
    public var isContextTerminated: Bool { code == ETERM }
}

/// A ZeroMQ context: owns the I/O threads. Thread-safe. Terminated when the last reference (including the
/// one each socket keeps) goes away.
/// How this process allocates message buffers.
public enum MessageBuffers {
    /// Lets the allocator keep and reuse large blocks instead of mapping fresh pages for each one: a 10 MB
    /// message (weights, a state report) built, copied into a ZeroMQ message and received every few steps
    /// otherwise costs thousands of page faults, several milliseconds, each time. Call once at start-up.
    public static func keepLargeBlocks() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)  // blocks up to 32 MB come from the heap, not from mmap
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)  // and freed heap memory stays mapped for reuse
        #endif
    }
}

public final class ZMQContext: @unchecked Sendable {
    fileprivate let handle: UnsafeMutableRawPointer

    /// A context with `ioThreads` I/O threads.
    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError("zmq_ctx_new") }
        guard zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads) == 0 else {
            let error = ZMQError("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    deinit {
        // Every socket holds a reference to its context, so all are closed by now and term cannot hang.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}

/// The socket patterns Glassbox uses.
public enum ZMQSocketType: Sendable {
    case pair, request, reply, dealer, router

    fileprivate var rawValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        }
    }
}

/// A socket option and its value. Times are in milliseconds.
public enum ZMQSocketOption: Sendable {
    /// How long unsent messages are kept after close; sockets start at 0.
    case linger(milliseconds: Int32)
    /// Messages queued for sending per peer before sends block or drop.
    case sendHighWaterMark(Int32)
    /// Messages queued on receipt per peer.
    case receiveHighWaterMark(Int32)
    /// Peers sending a larger message are disconnected; -1 for no limit.
    case maxMessageSize(Int64)
    /// How long a blocking send waits before failing with `isWouldBlock`; -1 forever.
    case sendTimeout(milliseconds: Int32)
    /// ROUTER: sending to an unknown peer fails with `isHostUnreachable` instead of dropping the message.
    case routerMandatory(Bool)
    /// ROUTER: a new connection with a routing id already in use takes it over.
    case routerHandover(Bool)
    /// The routing id this socket presents to a ROUTER peer (1 to 255 bytes, not starting with 0).
    case routingID([UInt8])
    /// Interval between ZMTP heartbeats.
    case heartbeatInterval(milliseconds: Int32)
    /// How long to wait for a heartbeat reply before dropping the connection.
    case heartbeatTimeout(milliseconds: Int32)
    /// How long the remote peer should wait for traffic before dropping the connection.
    case heartbeatTTL(milliseconds: Int32)
    /// First delay before reconnecting.
    case reconnectInterval(milliseconds: Int32)
    /// Upper bound of the exponentially growing reconnect delay; 0 keeps it at `reconnectInterval`.
    case reconnectIntervalMax(milliseconds: Int32)
    /// This socket is the CURVE server.
    case curveServer(Bool)
    /// This socket's CURVE public key, Z85 (40 characters).
    case curvePublicKey(String)
    /// This socket's CURVE secret key, Z85 (40 characters).
    case curveSecretKey(String)
    /// The server's CURVE public key, Z85 (40 characters); makes this socket a CURVE client.
    case curveServerKey(String)
    /// The ZAP domain passed to the authentication handler.
    case zapDomain(String)
    /// Consult the ZAP handler only for sockets with a ZAP domain, and fail closed when it is missing.
    case zapEnforceDomain(Bool)
    /// Queue messages only to completed connections: with no peer, a non-blocking send fails with
    /// `isWouldBlock` instead of queueing (so a client knows it is not connected).
    case immediate(Bool)
}

/// A ZeroMQ socket. Not thread-safe: one thread owns it at a time. Created with LINGER 0 so that closing
/// never waits on an unreachable peer; closed when released or by `close()`.
public final class ZMQSocket: @unchecked Sendable {
    /// The socket's pattern.
    public let type: ZMQSocketType
    private let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?
    // One reusable message; allocated so that its address is stable while libzmq uses it.
    private let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)

    /// A socket of `type` in `context`.
    public init(context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            message.deallocate()
            throw ZMQError("zmq_socket")
        }
        self.context = context
        self.type = type
        self.handle = handle
        try setOption(.linger(milliseconds: 0))
    }

    deinit {
        close()
        message.deallocate()
    }

    /// Closes the socket; later calls fail. Idempotent.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    /// Accepts connections on `endpoint` (e.g. `tcp://127.0.0.1:*`, `inproc://name`).
    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_bind(\(endpoint))")
        guard zmq_bind(socket, endpoint) == 0 else { throw ZMQError("zmq_bind(\(endpoint))") }
    }

    /// Connects to `endpoint`; libzmq connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_connect(\(endpoint))")
        guard zmq_connect(socket, endpoint) == 0 else { throw ZMQError("zmq_connect(\(endpoint))") }
    }

    /// The endpoint last bound or connected, with a wildcard port resolved (e.g. `tcp://127.0.0.1:41234`).
    public func lastEndpoint() throws(ZMQError) -> String {
        let socket = try open("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        var buffer = [UInt8](repeating: 0, count: 1024)
        var length = buffer.count
        guard zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &length) == 0 else {
            throw ZMQError("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// Sets an option; most take effect only for later `bind`/`connect` calls.
    public func setOption(_ option: ZMQSocketOption) throws(ZMQError) {
        switch option {
        case .linger(let ms): try setInt32(ZMQ_LINGER, ms, "ZMQ_LINGER")
        case .sendHighWaterMark(let n): try setInt32(ZMQ_SNDHWM, n, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let n): try setInt32(ZMQ_RCVHWM, n, "ZMQ_RCVHWM")
        case .maxMessageSize(let bytes): try setBytes(ZMQ_MAXMSGSIZE, withUnsafeBytes(of: bytes) { Array($0) },
                                                      "ZMQ_MAXMSGSIZE")
        case .sendTimeout(let ms): try setInt32(ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO")
        case .routerMandatory(let on): try setInt32(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .routerHandover(let on): try setInt32(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, "ZMQ_ROUTER_HANDOVER")
        case .routingID(let id): try setBytes(ZMQ_ROUTING_ID, id, "ZMQ_ROUTING_ID")
        case .heartbeatInterval(let ms): try setInt32(ZMQ_HEARTBEAT_IVL, ms, "ZMQ_HEARTBEAT_IVL")
        case .heartbeatTimeout(let ms): try setInt32(ZMQ_HEARTBEAT_TIMEOUT, ms, "ZMQ_HEARTBEAT_TIMEOUT")
        case .heartbeatTTL(let ms): try setInt32(ZMQ_HEARTBEAT_TTL, ms, "ZMQ_HEARTBEAT_TTL")
        case .reconnectInterval(let ms): try setInt32(ZMQ_RECONNECT_IVL, ms, "ZMQ_RECONNECT_IVL")
        case .reconnectIntervalMax(let ms): try setInt32(ZMQ_RECONNECT_IVL_MAX, ms, "ZMQ_RECONNECT_IVL_MAX")
        case .curveServer(let on): try setInt32(ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let key): try setCurveKey(ZMQ_CURVE_PUBLICKEY, key, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let key): try setCurveKey(ZMQ_CURVE_SECRETKEY, key, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let key): try setCurveKey(ZMQ_CURVE_SERVERKEY, key, "ZMQ_CURVE_SERVERKEY")
        case .zapDomain(let domain): try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8), "ZMQ_ZAP_DOMAIN")
        case .zapEnforceDomain(let on):
            try setInt32(GB_ZMQ_ZAP_ENFORCE_DOMAIN, on ? 1 : 0, "ZMQ_ZAP_ENFORCE_DOMAIN")
        case .immediate(let on): try setInt32(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        }
    }

    /// Makes this socket a CURVE server whose clients are checked by the `ZAPHandler` of `zapDomain`.
    /// Call before `bind`.
    public func configureCurveServer(secretKey: String, zapDomain: String) throws(ZMQError) {
        try setOption(.curveServer(true))
        try setOption(.curveSecretKey(secretKey))
        try setOption(.zapDomain(zapDomain))
        try setOption(.zapEnforceDomain(true))
    }

    /// Makes this socket a CURVE client of the server with public key `serverKey`. Call before `connect`.
    public func configureCurveClient(serverKey: String, keyPair: CurveKeyPair) throws(ZMQError) {
        try setOption(.curveServerKey(serverKey))
        try setOption(.curvePublicKey(keyPair.publicKey))
        try setOption(.curveSecretKey(keyPair.secretKey))
    }

    /// Publishes this socket's connection events on the PAIR endpoint `endpoint` (`inproc://...`); read them
    /// with a `ZMQMonitor`.
    public func monitor(_ endpoint: String, events: Set<ZMQSocketEvent.Kind>) throws(ZMQError) {
        let socket = try open("zmq_socket_monitor(\(endpoint))")
        let mask = events.reduce(Int32(0)) { $0 | $1.rawValue }
        guard zmq_socket_monitor(socket, endpoint, mask) == 0 else { throw ZMQError("zmq_socket_monitor(\(endpoint))") }
    }

    /// Sends `frames` as one multipart message (a ROUTER's first frame is the peer's routing id).
    /// Blocks while the high-water mark is reached, unless `dontWait` (or a send timeout) makes it fail with
    /// `isWouldBlock`.
    public func send(frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
        let socket = try open("zmq_msg_send")
        guard !frames.isEmpty else { throw ZMQError("zmq_msg_send", code: EINVAL, reason: "no frames to send") }
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            guard zmq_msg_init_size(message, frame.count) == 0 else { throw ZMQError("zmq_msg_init_size") }
            if !frame.isEmpty {
                frame.withUnsafeBytes { zmq_msg_data(message).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            while zmq_msg_send(message, socket, flags) == -1 {
                let code = zmq_errno()
                if code == EINTR { continue }
                zmq_msg_close(message)  // libzmq owns the message only after a successful send
                throw ZMQError("zmq_msg_send", code: code)
            }
        }
    }

    /// The next multipart message, or nil if none arrives within `timeoutMs` (-1: wait forever).
    public func receive(timeoutMs: Int) throws(ZMQError) -> [[UInt8]]? {
        let socket = try open("zmq_msg_recv")
        guard try Self.poll([self], timeoutMs: timeoutMs).contains(0) else { return nil }
        var frames: [[UInt8]] = []
        while true {
            guard zmq_msg_init(message) == 0 else { throw ZMQError("zmq_msg_init") }
            // The parts of a multipart message arrive together, so only the first may find nothing.
            if zmq_msg_recv(message, socket, frames.isEmpty ? ZMQ_DONTWAIT : 0) == -1 {
                let code = zmq_errno()
                zmq_msg_close(message)
                if code == EINTR { continue }
                if code == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError("zmq_msg_recv", code: code)
            }
            frames.append(Array(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))))
            let more = zmq_msg_more(message) != 0
            zmq_msg_close(message)
            if !more { return frames }
        }
    }

    /// Waits until at least one of `sockets` has a message to receive, at most `timeoutMs` (-1: forever),
    /// and returns the indices of those that do (empty on timeout). All sockets must belong to this thread.
    public static func poll(_ sockets: [ZMQSocket], timeoutMs: Int) throws(ZMQError) -> [Int] {
        var items = [zmq_pollitem_t]()
        for socket in sockets {
            items.append(zmq_pollitem_t(socket: try socket.open("zmq_poll"), fd: 0, events: Int16(ZMQ_POLLIN),
                                        revents: 0))
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(timeoutMs)
        var wait = timeoutMs
        while zmq_poll(&items, Int32(items.count), wait) == -1 {
            let code = zmq_errno()
            guard code == EINTR else { throw ZMQError("zmq_poll", code: code) }
            if timeoutMs >= 0 {
                let left = clock.now.duration(to: deadline).components
                wait = max(0, Int(left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000))
            }
        }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }

    private func open(_ operation: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(operation, code: ENOTSOCK, reason: "socket is closed") }
        return handle
    }

    private func setInt32(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        try setBytes(option, withUnsafeBytes(of: value) { Array($0) }, name)
    }

    private func setCurveKey(_ option: Int32, _ key: String, _ name: String) throws(ZMQError) {
        guard Curve.isValidKey(key) else {
            throw ZMQError("zmq_setsockopt(\(name))", code: EINVAL,
                           reason: "a CURVE key must be 40 Z85 characters, got \(key.utf8.count)")
        }
        try setBytes(option, Array(key.utf8), name)
    }

    private func setBytes(_ option: Int32, _ value: [UInt8], _ name: String) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        let rc = value.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError("zmq_setsockopt(\(name))") }
    }
}

/// A connection event of a monitored socket.
public struct ZMQSocketEvent: Equatable, Sendable {
    /// The events Glassbox watches. Raw values are libzmq's.
    public enum Kind: Int32, Sendable, CaseIterable {
        case connected = 0x0001
        case disconnected = 0x0200
        case handshakeSucceeded = 0x1000
        case handshakeFailedNoDetail = 0x0800
        case handshakeFailedProtocol = 0x2000
        /// The server's ZAP handler refused the credentials; `value` is the ZAP status code (e.g. 400).
        case handshakeFailedAuthentication = 0x4000
    }

    /// What happened, or nil for an event of another kind.
    public let kind: Kind?
    /// The raw event number.
    public let rawEvent: UInt16
    /// The event's value (a file descriptor, an errno or a ZAP status, depending on the event).
    public let value: UInt32
    /// The endpoint concerned.
    public let endpoint: String

    /// Decodes an event message (a 6-byte frame: u16 event, u32 value; then the endpoint), or nil.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let raw = frames[0].withUnsafeBytes { $0.readLittleEndian(UInt16.self, at: 0) }
        rawEvent = raw
        value = frames[0].withUnsafeBytes { $0.readLittleEndian(UInt32.self, at: 2) }
        kind = Kind(rawValue: Int32(raw))
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

/// Reads the events a socket publishes with `ZMQSocket.monitor`; owned by the same thread as that socket.
public final class ZMQMonitor: @unchecked Sendable {
    /// The PAIR socket the events arrive on; poll it beside the monitored socket.
    public let socket: ZMQSocket

    /// Starts monitoring `monitored` for `events` over a fresh inproc endpoint.
    public init(context: ZMQContext, monitoring monitored: ZMQSocket, events: Set<ZMQSocketEvent.Kind>) throws(ZMQError) {
        let endpoint = "inproc://glassbox.monitor.\(UInt(bitPattern: ObjectIdentifier(monitored).hashValue))"
        try monitored.monitor(endpoint, events: events)
        socket = try ZMQSocket(context: context, type: .pair)
        try socket.connect(endpoint)
    }

    /// The next event, or nil if none arrives within `timeoutMs`.
    public func next(timeoutMs: Int) throws(ZMQError) -> ZMQSocketEvent? {
        guard let frames = try socket.receive(timeoutMs: timeoutMs) else { return nil }
        return ZMQSocketEvent(frames: frames)
    }
}

/// A CURVE key pair, each key Z85-encoded (40 characters).
public struct CurveKeyPair: Equatable, Sendable {
    /// The key peers use to recognise this side; safe to share.
    public let publicKey: String
    /// The key that proves it; keep private.
    public let secretKey: String

    /// A key pair from its two keys.
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// CURVE (Curve25519) keys for encrypted, authenticated connections.
public enum Curve {
    /// True when libzmq was built with CURVE support.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A new random key pair.
    public static func generateKeyPair() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: string(publicKey), secretKey: string(secretKey))
    }

    /// The public key that belongs to `secretKey` (both Z85).
    public static func publicKey(forSecretKey secretKey: String) throws(ZMQError) -> String {
        guard isValidKey(secretKey) else {
            throw ZMQError("zmq_curve_public", code: EINVAL, reason: "a CURVE key must be 40 Z85 characters")
        }
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw ZMQError("zmq_curve_public") }
        return string(publicKey)
    }

    /// True when `key` is 40 characters of valid Z85.
    public static func isValidKey(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, key) != nil
    }

    /// The Z85 text of a 32-byte binary key.
    static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        return zmq_z85_encode(&text, key, key.count) == nil ? nil : string(text)
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One authentication decision of a `ZAPHandler`.
public struct ZAPDecision: Equatable, Sendable {
    /// True when the client was let in.
    public let accepted: Bool
    /// Why, in words: "allowed key", "unknown key", ...
    public let reason: String
    /// The ZAP domain of the server socket.
    public let domain: String
    /// The client's IP address.
    public let address: String
    /// The security mechanism ("CURVE", "NULL", ...).
    public let mechanism: String
    /// The client's public key (Z85), for CURVE.
    public let clientKey: String?
}

/// Answers ZAP 1.0 requests of every CURVE server socket in a context that sets `zapDomain` (see
/// `ZMQSocket.configureCurveServer`): a client gets in only if its public key is in the allow-list and
/// the domain matches. Runs on its own thread from `init` until `stop()` (or release); one per context.
public final class ZAPHandler: @unchecked Sendable {
    private let control: ZMQSocket
    private var thread: pthread_t?

    /// Starts answering for `domain`. `onDecision` is called on the handler's thread for every request.
    public init(context: ZMQContext, domain: String, allowedClientKeys: Set<String>,
                onDecision: @escaping @Sendable (ZAPDecision) -> Void = { _ in }) throws(ZMQError) {
        // Bound here, before init returns, so that no handshake can find the endpoint missing.
        let requests = try ZMQSocket(context: context, type: .reply)
        try requests.bind("inproc://zeromq.zap.01")
        let controlEndpoint = "inproc://glassbox.zap-control.\(UInt(bitPattern: ObjectIdentifier(requests).hashValue))"
        control = try ZMQSocket(context: context, type: .pair)
        try control.bind(controlEndpoint)
        let stopSignal = try ZMQSocket(context: context, type: .pair)
        try stopSignal.connect(controlEndpoint)

        let loop = ZAPLoop(requests: requests, stopSignal: stopSignal, domain: domain,
                           allowedClientKeys: allowedClientKeys, onDecision: onDecision)
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(loop).toOpaque()
        let rc = pthread_create(&thread, nil, { argument in
            Unmanaged<ZAPLoop>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, argument)
        guard rc == 0 else {
            Unmanaged<ZAPLoop>.fromOpaque(argument).release()
            throw ZMQError("pthread_create", code: rc, reason: String(cString: strerror(rc)))
        }
        self.thread = thread
    }

    deinit { stop() }

    /// Stops answering and waits for the handler's thread to end. Idempotent.
    public func stop() {
        guard let thread else { return }
        try? control.send(frames: [[]], dontWait: true)
        pthread_join(thread, nil)
        self.thread = nil
        control.close()
    }
}

/// The handler thread's state; its sockets are used only on that thread.
private final class ZAPLoop: @unchecked Sendable {
    let requests: ZMQSocket
    let stopSignal: ZMQSocket
    let domain: String
    let allowedClientKeys: Set<String>
    let onDecision: @Sendable (ZAPDecision) -> Void

    init(requests: ZMQSocket, stopSignal: ZMQSocket, domain: String, allowedClientKeys: Set<String>,
         onDecision: @escaping @Sendable (ZAPDecision) -> Void) {
        self.requests = requests
        self.stopSignal = stopSignal
        self.domain = domain
        self.allowedClientKeys = allowedClientKeys
        self.onDecision = onDecision
    }

    func run() {
        defer {
            requests.close()
            stopSignal.close()
        }
        while let ready = try? ZMQSocket.poll([requests, stopSignal], timeoutMs: -1), !ready.contains(1) {
            guard let request = try? requests.receive(timeoutMs: 0) else { continue }
            do {
                try requests.send(frames: answer(request))
            } catch {
                return  // a REP socket that failed to reply cannot take another request
            }
        }
    }

    /// The reply frames to a ZAP request: version, request id, domain, address, routing id, mechanism,
    /// credentials.
    private func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        func text(_ index: Int) -> String {
            index < request.count ? String(decoding: request[index], as: UTF8.self) : ""
        }
        let requestID = request.count > 1 ? request[1] : []
        guard request.count >= 6, text(0) == "1.0" else {
            return reply(requestID, status: "500", text: "malformed ZAP request", userID: "")
        }
        let mechanism = text(5)
        let clientKey = mechanism == "CURVE" && request.count == 7 ? Curve.z85(request[6]) : nil
        let reason: String
        if text(2) != domain {
            reason = "domain \"\(text(2))\" is not \"\(domain)\""
        } else if mechanism != "CURVE" {
            reason = "mechanism \(mechanism) is not CURVE"
        } else if let clientKey, allowedClientKeys.contains(clientKey) {
            reason = "allowed key"
        } else {
            reason = "unknown key"
        }
        let accepted = reason == "allowed key"
        onDecision(ZAPDecision(accepted: accepted, reason: reason, domain: text(2), address: text(3),
                               mechanism: mechanism, clientKey: clientKey))
        return reply(requestID, status: accepted ? "200" : "400", text: accepted ? "OK" : reason,
                     userID: accepted ? clientKey ?? "" : "")
    }

    private func reply(_ requestID: [UInt8], status: String, text: String, userID: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
    }
}
