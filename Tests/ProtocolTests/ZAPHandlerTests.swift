import Foundation
import XCTest
@testable import Protocol

final class ZAPHandlerTests: XCTestCase {
    func testZAPLetsInAnAllowedKeyAndRefusesAnUnknownOne() throws {
        let allowed = try Curve.generateKeyPair()
        let unknown = try Curve.generateKeyPair()
        let server = try CurveServer(allowing: [allowed.publicKey])

        let good = try server.connectClient(keys: allowed)
        try assertEcho(router: server.router, dealer: good)

        let bad = try server.connectClient(keys: unknown)
        try bad.send(frames: [Array("ping".utf8)])
        XCTAssertNil(try server.router.receive(timeoutMs: 500), "a client with an unknown key got a message through")
        XCTAssertNil(try bad.receive(timeoutMs: 100))
        let refusal = try XCTUnwrap(server.log.waitFor { $0.clientKey == unknown.publicKey })
        XCTAssertFalse(refusal.accepted)
        XCTAssertEqual(refusal.reason, "unknown key")
        XCTAssertEqual(refusal.mechanism, "CURVE")
        XCTAssertEqual(refusal.address, "127.0.0.1")
        XCTAssertEqual(server.log.waitFor { $0.clientKey == allowed.publicKey }?.accepted, true)

        try assertEcho(router: server.router, dealer: good)  // the allowed client is unaffected
    }

    func testAMonitoredClientLearnsThatItsKeyWasRefused() throws {
        let server = try CurveServer(allowing: [])
        let dealer = try ZMQSocket(context: server.context, type: .dealer)
        let monitor = try ZMQMonitor(context: server.context, monitoring: dealer,
                                     events: [.handshakeFailedAuthentication, .handshakeSucceeded])
        try dealer.configureCurveClient(serverKey: server.keys.publicKey, keyPair: try Curve.generateKeyPair())
        try dealer.connect(server.router.lastEndpoint())
        let event = try XCTUnwrap(monitor.next(timeoutMs: 5000), "no handshake event within 5 s")
        XCTAssertEqual(event.kind, .handshakeFailedAuthentication)
        XCTAssertEqual(event.value, 400)
        XCTAssertTrue(event.endpoint.hasPrefix("tcp://127.0.0.1:"), event.endpoint)
    }

    func testZAPRefusesAnAllowedKeyOnAnotherDomain() throws {
        let client = try Curve.generateKeyPair()
        let server = try CurveServer(allowing: [client.publicKey], socketDomain: "elsewhere")
        // Kept alive until the decision arrives: a released socket closes before its handshake.
        let dealer = try server.connectClient(keys: client)
        try dealer.send(frames: [Array("ping".utf8)])
        XCTAssertNil(try server.router.receive(timeoutMs: 300))
        XCTAssertEqual(server.log.waitFor { _ in true }?.reason, "domain \"elsewhere\" is not \"glassbox\"")
        withExtendedLifetime(dealer) {}
    }

    func testZAPHandlerStopsAndItsContextTerminates() throws {
        var context: ZMQContext? = try ZMQContext()
        weak let weakContext = context
        var zap: ZAPHandler? = try ZAPHandler(context: context!, domain: "d", allowedClientKeys: [])
        zap?.stop()
        zap = nil
        context = nil
        XCTAssertNil(weakContext)
    }

    // MARK: helpers

    /// The dealer's "ping" reaches the router, and the router's reply reaches the dealer.
    private func assertEcho(router: ZMQSocket, dealer: ZMQSocket) throws {
        try dealer.send(frames: [Array("ping".utf8)])
        let frames = try XCTUnwrap(router.receive(timeoutMs: 5000), "an allowed client was not let in")
        XCTAssertEqual(frames.last, Array("ping".utf8))
        try router.send(frames: [frames[0], Array("pong".utf8)])
        XCTAssertEqual(try dealer.receive(timeoutMs: 5000), [Array("pong".utf8)])
    }
}

/// A CURVE ROUTER on an ephemeral loopback port, guarded by a `ZAPHandler` for domain "glassbox".
private final class CurveServer {
    let context: ZMQContext
    let keys: CurveKeyPair
    let log = DecisionLog()
    let zap: ZAPHandler
    let router: ZMQSocket

    /// `socketDomain` is the ZAP domain the server socket asks for.
    init(allowing allowedKeys: Set<String>, socketDomain: String = "glassbox") throws {
        context = try ZMQContext()
        keys = try Curve.generateKeyPair()
        zap = try ZAPHandler(context: context, domain: "glassbox", allowedClientKeys: allowedKeys,
                             onDecision: log.record)
        router = try ZMQSocket(context: context, type: .router)
        try router.configureCurveServer(secretKey: keys.secretKey, zapDomain: socketDomain)
        try router.bind("tcp://127.0.0.1:*")
    }

    /// A DEALER with CURVE key pair `keys`, connected to the server.
    func connectClient(keys clientKeys: CurveKeyPair) throws -> ZMQSocket {
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.configureCurveClient(serverKey: keys.publicKey, keyPair: clientKeys)
        try dealer.connect(router.lastEndpoint())
        return dealer
    }
}

/// Collects a `ZAPHandler`'s decisions, which arrive on its thread.
private final class DecisionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var decisions: [ZAPDecision] = []

    func record(_ decision: ZAPDecision) {
        lock.withLock { decisions.append(decision) }
    }

    /// The first decision matching `predicate`, waiting up to two seconds for it.
    func waitFor(_ predicate: (ZAPDecision) -> Bool) -> ZAPDecision? {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if let found = lock.withLock({ decisions.first(where: predicate) }) { return found }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return nil
    }
}
