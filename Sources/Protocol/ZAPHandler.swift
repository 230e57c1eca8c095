// The ZAP 1.0 handler that lets CURVE clients in by their public key, on a thread of its own.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
