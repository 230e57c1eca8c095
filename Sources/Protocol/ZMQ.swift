// A thin wrapper over libzmq: context, sockets, options, polling and connection events. Every C pointer
// of libzmq lives here; CURVE keys (Curve.swift) call libzmq with plain arrays.
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
        text(try getBytes(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT", capacity: 1024))
    }

    /// Sets an option; most take effect only for later `bind`/`connect` calls.
    public func setOption(_ option: ZMQSocketOption) throws(ZMQError) {
        let name = option.name
        let value: [UInt8]
        switch option {
        case .linger(let n), .sendHighWaterMark(let n), .receiveHighWaterMark(let n), .sendTimeout(let n),
             .heartbeatInterval(let n), .heartbeatTimeout(let n), .heartbeatTTL(let n), .reconnectInterval(let n),
             .reconnectIntervalMax(let n):
            value = withUnsafeBytes(of: n) { Array($0) }
        case .maxMessageSize(let n):
            value = withUnsafeBytes(of: n) { Array($0) }
        case .routerMandatory(let on), .routerHandover(let on), .curveServer(let on), .zapEnforceDomain(let on),
             .immediate(let on):
            value = withUnsafeBytes(of: Int32(on ? 1 : 0)) { Array($0) }
        case .routingID(let id):
            value = id
        case .curvePublicKey(let key), .curveSecretKey(let key), .curveServerKey(let key):
            guard Curve.isValidKey(key) else {
                throw ZMQError("zmq_setsockopt(\(name.label))", code: EINVAL,
                               reason: "a CURVE key must be 40 Z85 characters, got \(key.utf8.count)")
            }
            value = Array(key.utf8)
        case .zapDomain(let domain):
            value = Array(domain.utf8)
        }
        let socket = try open("zmq_setsockopt(\(name.label))")
        let rc = value.withUnsafeBytes { zmq_setsockopt(socket, name.code, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError("zmq_setsockopt(\(name.label))") }
    }

    /// The value libzmq holds for option `name` (`zmq_getsockopt`); CURVE keys come back as Z85.
    /// `routerMandatory` and `routerHandover` are write-only in libzmq: reading them throws (EINVAL).
    public func option(_ name: ZMQSocketOption.Name) throws(ZMQError) -> ZMQSocketOption {
        switch name {
        case .linger: .linger(milliseconds: try int32(name))
        case .sendHighWaterMark: .sendHighWaterMark(try int32(name))
        case .receiveHighWaterMark: .receiveHighWaterMark(try int32(name))
        case .maxMessageSize:
            .maxMessageSize(try getBytes(name.code, name.label, capacity: 8).withUnsafeBytes { $0.load(as: Int64.self) })
        case .sendTimeout: .sendTimeout(milliseconds: try int32(name))
        case .routerMandatory: .routerMandatory(try int32(name) != 0)
        case .routerHandover: .routerHandover(try int32(name) != 0)
        case .routingID: .routingID(try getBytes(name.code, name.label, capacity: 255))
        case .heartbeatInterval: .heartbeatInterval(milliseconds: try int32(name))
        case .heartbeatTimeout: .heartbeatTimeout(milliseconds: try int32(name))
        case .heartbeatTTL: .heartbeatTTL(milliseconds: try int32(name))
        case .reconnectInterval: .reconnectInterval(milliseconds: try int32(name))
        case .reconnectIntervalMax: .reconnectIntervalMax(milliseconds: try int32(name))
        case .curveServer: .curveServer(try int32(name) != 0)
        // A 41-byte buffer asks libzmq for the Z85 text (and its terminating zero) rather than the 32 bytes.
        case .curvePublicKey: .curvePublicKey(text(try getBytes(name.code, name.label, capacity: 41)))
        case .curveSecretKey: .curveSecretKey(text(try getBytes(name.code, name.label, capacity: 41)))
        case .curveServerKey: .curveServerKey(text(try getBytes(name.code, name.label, capacity: 41)))
        case .zapDomain: .zapDomain(text(try getBytes(name.code, name.label, capacity: 256)))
        case .zapEnforceDomain: .zapEnforceDomain(try int32(name) != 0)
        case .immediate: .immediate(try int32(name) != 0)
        }
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

    /// `poll`, but first for up to `awake` seconds without sleeping (trying again and again, yielding the CPU
    /// between tries), for a message expected within a millisecond or two: a thread that sleeps leaves its core
    /// idle, and an idle core (on a VM above all) takes its time to wake when the message comes.
    public static func poll(_ sockets: [ZMQSocket], awake: Double, thenTimeoutMs timeoutMs: Int) throws(ZMQError) -> [Int] {
        if awake > 0 {
            let clock = ContinuousClock()
            let deadline = clock.now + .nanoseconds(Int64(awake * 1e9))
            repeat {
                let ready = try poll(sockets, timeoutMs: 0)
                if !ready.isEmpty { return ready }
                sched_yield()
            } while clock.now < deadline
        }
        return try poll(sockets, timeoutMs: timeoutMs)
    }

    private func open(_ operation: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(operation, code: ENOTSOCK, reason: "socket is closed") }
        return handle
    }

    private func int32(_ name: ZMQSocketOption.Name) throws(ZMQError) -> Int32 {
        try getBytes(name.code, name.label, capacity: 4).withUnsafeBytes { $0.load(as: Int32.self) }
    }

    /// The option's bytes, as many as libzmq wrote (at most `capacity`).
    private func getBytes(_ code: Int32, _ label: String, capacity: Int) throws(ZMQError) -> [UInt8] {
        let socket = try open("zmq_getsockopt(\(label))")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var length = capacity
        guard zmq_getsockopt(socket, code, &buffer, &length) == 0 else { throw ZMQError("zmq_getsockopt(\(label))") }
        return Array(buffer.prefix(length))
    }

    /// A string option's text, without the terminating zero.
    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
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
