// CURVE (Curve25519) keys, and the socket settings that make a CURVE server or client. Who may connect
// to a server is decided by its context's `ZAPHandler` (ZAPHandler.swift).
import CZMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

extension ZMQSocket {
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
}
