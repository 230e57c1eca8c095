import Foundation
import XCTest
@testable import Protocol

final class ZMQTests: XCTestCase {
    func testRouterAndDealerExchangeMultipartMessagesOverInproc() throws {
        let context = try ZMQContext()
        try assertRouterDealerExchange(context: context, endpoint: "inproc://zmq-tests-exchange")
    }

    func testRouterAndDealerExchangeMultipartMessagesOverTCPOnAnEphemeralPort() throws {
        let context = try ZMQContext()
        try assertRouterDealerExchange(context: context, endpoint: "tcp://127.0.0.1:*")
    }

    func testReceiveReturnsNilAfterTheTimeout() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.bind("inproc://zmq-tests-timeout")
        let start = ContinuousClock.now
        XCTAssertNil(try socket.receive(timeoutMs: 150))
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(140))
        XCTAssertNil(try socket.receive(timeoutMs: 0))
    }

    func testFullSizeWeightsCrossTCPWithAMessageSizeLimit() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setOption(.maxMessageSize(8 << 20))
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect(router.lastEndpoint())
        let weights = Message.weights(Weights(version: 1, adamStep: 0,
                                              parameters: (0..<821_002).map { Float($0) * 0.001 }))
        try dealer.send(frames: [encode(weights, envelope: Envelope(runNonce: 5))])
        let frames = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(try decode(frames[1]).1, weights)
    }

    func testRouterMandatoryReportsAnUnknownPeer() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setOption(.routerMandatory(true))
        try router.bind("inproc://zmq-tests-mandatory")
        XCTAssertThrowsError(try router.send(frames: [Array("nobody".utf8), [1]])) { error in
            XCTAssertTrue((error as? ZMQError)?.isHostUnreachable == true, "\(error)")
        }
    }

    func testErrorsNameTheCallAndLibzmqsReason() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pair)
        XCTAssertThrowsError(try socket.bind("tcp://127.0.0.1:notaport")) { error in
            XCTAssertEqual("\(error)", "zmq_bind(tcp://127.0.0.1:notaport) failed: Invalid argument")
        }
        socket.close()
        XCTAssertThrowsError(try socket.receive(timeoutMs: 0)) { error in
            XCTAssertEqual("\(error)", "zmq_msg_recv failed: socket is closed")
        }
    }

    func testEveryOptionReadsBackAsSet() throws {
        let context = try ZMQContext()
        let keys = try Curve.generateKeyPair()
        let socket = try ZMQSocket(context: context, type: .router)
        XCTAssertEqual(try socket.option(.linger), .linger(milliseconds: 0), "sockets start with LINGER 0")
        let options: [ZMQSocketOption] = [
            .linger(milliseconds: 10), .sendHighWaterMark(100), .receiveHighWaterMark(200),
            .maxMessageSize(64 << 20), .sendTimeout(milliseconds: 1000), .routingID(Array("coordinator".utf8)),
            .heartbeatInterval(milliseconds: 1000), .heartbeatTimeout(milliseconds: 3000),
            .heartbeatTTL(milliseconds: 5000), .reconnectInterval(milliseconds: 100),
            .reconnectIntervalMax(milliseconds: 5000), .curveServer(true), .curvePublicKey(keys.publicKey),
            .curveSecretKey(keys.secretKey), .curveServerKey(keys.publicKey), .zapDomain("glassbox"),
            .zapEnforceDomain(true), .immediate(true),
        ]
        // Each is read right after it is set: setting a server key makes the socket a CURVE client again.
        for option in options {
            try socket.setOption(option)
            XCTAssertEqual(try socket.option(option.name), option)
        }
        XCTAssertEqual(try socket.option(.curveServer), .curveServer(false), "a server key makes a CURVE client")
        // libzmq cannot read these two back; their effects are tested instead (RouterMandatory..., ...Handover...).
        for option: ZMQSocketOption in [.routerMandatory(true), .routerHandover(true)] {
            XCTAssertNoThrow(try socket.setOption(option), "\(option)")
            XCTAssertThrowsError(try socket.option(option.name)) { error in
                XCTAssertEqual((error as? ZMQError)?.code, EINVAL, "\(error)")
            }
        }
        XCTAssertEqual(Set(options.map(\.name)).union([.routerMandatory, .routerHandover]),
                       Set(ZMQSocketOption.Name.allCases), "every option is tested")
        XCTAssertThrowsError(try socket.setOption(.curveSecretKey("short"))) { error in
            XCTAssertEqual((error as? ZMQError)?.reason, "a CURVE key must be 40 Z85 characters, got 5")
        }
    }

    func testRouterHandoverGivesAReusedRoutingIDToTheNewConnection() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setOption(.routerHandover(true))
        try router.bind("tcp://127.0.0.1:*")
        var dealers: [ZMQSocket] = []
        for name in ["first", "second"] {
            let dealer = try ZMQSocket(context: context, type: .dealer)
            try dealer.setOption(.routingID(Array("worker".utf8)))
            try dealer.connect(router.lastEndpoint())
            try dealer.send(frames: [Array(name.utf8)])
            XCTAssertEqual(try router.receive(timeoutMs: 5000), [Array("worker".utf8), Array(name.utf8)])
            dealers.append(dealer)
        }
        try router.send(frames: [Array("worker".utf8), Array("to worker".utf8)])
        XCTAssertEqual(try dealers[1].receive(timeoutMs: 5000), [Array("to worker".utf8)], "the new connection has the id")
        XCTAssertNil(try dealers[0].receive(timeoutMs: 100), "the old connection still got the message")
    }

    func testImmediateDealerWithoutAPeerCannotQueue() throws {
        let context = try ZMQContext()
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setOption(.immediate(true))
        try dealer.connect("tcp://127.0.0.1:1")
        XCTAssertThrowsError(try dealer.send(frames: [[1]], dontWait: true)) { error in
            XCTAssertTrue((error as? ZMQError)?.isWouldBlock == true, "\(error)")
        }
    }

    // MARK: helpers

    private func assertRouterDealerExchange(context: ZMQContext, endpoint: String) throws {
        let router = try ZMQSocket(context: context, type: .router)
        try router.setOption(.routerMandatory(true))
        try router.bind(endpoint)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setOption(.routingID(Array("worker-1".utf8)))
        try dealer.connect(router.lastEndpoint())
        let hello = encode(.hello(Hello(buildID: "b", datasetFingerprint: "f", hostName: "h", processID: 1,
                                        threadCount: 1)))
        try dealer.send(frames: [hello, [], [1, 2, 3]])
        let received = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(received, [Array("worker-1".utf8), hello, [], [1, 2, 3]])
        try router.send(frames: [received[0], Array("welcome".utf8), [4]])
        XCTAssertEqual(try dealer.receive(timeoutMs: 5000), [Array("welcome".utf8), [4]])
    }

}
