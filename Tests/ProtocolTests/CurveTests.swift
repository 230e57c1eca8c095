import XCTest
@testable import Protocol

final class CurveTests: XCTestCase {
    func testCurveKeysAreZ85AndThePublicKeyFollowsFromTheSecret() throws {
        XCTAssertTrue(Curve.isAvailable)
        let pair = try Curve.generateKeyPair()
        XCTAssertTrue(Curve.isValidKey(pair.publicKey))
        XCTAssertTrue(Curve.isValidKey(pair.secretKey))
        XCTAssertNotEqual(pair, try Curve.generateKeyPair())
        XCTAssertEqual(try Curve.publicKey(forSecretKey: pair.secretKey), pair.publicKey)
        XCTAssertFalse(Curve.isValidKey(String(repeating: "~", count: 40)))
    }

    func testConfiguringAServerOrAClientSetsItsKeysAndDomain() throws {
        let context = try ZMQContext()
        let server = try Curve.generateKeyPair(), client = try Curve.generateKeyPair()
        let router = try ZMQSocket(context: context, type: .router)
        try router.configureCurveServer(secretKey: server.secretKey, zapDomain: "glassbox")
        XCTAssertEqual(try router.option(.curveServer), .curveServer(true))
        XCTAssertEqual(try router.option(.curveSecretKey), .curveSecretKey(server.secretKey))
        XCTAssertEqual(try router.option(.zapDomain), .zapDomain("glassbox"))
        XCTAssertEqual(try router.option(.zapEnforceDomain), .zapEnforceDomain(true))
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.configureCurveClient(serverKey: server.publicKey, keyPair: client)
        XCTAssertEqual(try dealer.option(.curveServer), .curveServer(false))
        XCTAssertEqual(try dealer.option(.curveServerKey), .curveServerKey(server.publicKey))
        XCTAssertEqual(try dealer.option(.curvePublicKey), .curvePublicKey(client.publicKey))
        XCTAssertEqual(try dealer.option(.curveSecretKey), .curveSecretKey(client.secretKey))
    }
}
