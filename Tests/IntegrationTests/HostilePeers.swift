import Foundation
import Protocol

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a port on 127.0.0.1 that sends whatever bytes it is given: garbage, or
/// ZMTP written by hand, which no ZeroMQ library would let a test send.
final class RawTCPConnection {
    private let fd: Int32

    /// Connects; nil when the connection is refused.
    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            return nil
        }
        // A peer that stops reading without closing must not block the test for ever.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false once the peer has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// True when the peer closes the connection within `timeout` seconds (what it sends is read and dropped).
    func closedByPeer(within timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return true }
        }
        return false
    }
}

/// ZMTP 3.0 by hand: the greeting and READY command of a NULL-mechanism DEALER, and a frame header.
enum ZMTP {
    /// The 64-byte greeting: signature, version 3.0, mechanism NULL, not as server.
    static let nullGreeting: [UInt8] = [0xFF] + [UInt8](repeating: 0, count: 8) + [0x7F, 3, 0]
        + Array("NULL".utf8) + [UInt8](repeating: 0, count: 16) + [0] + [UInt8](repeating: 0, count: 31)

    /// The READY command announcing a DEALER socket.
    static var readyCommand: [UInt8] {
        let name = Array("Socket-Type".utf8), value = Array("DEALER".utf8)
        let body = [5] + Array("READY".utf8) + [UInt8(name.count)] + name + bigEndian(UInt32(value.count)) + value
        return [0x04, UInt8(body.count)] + body
    }

    /// The header of a last (non-command) frame of `length` bytes, in the 8-byte size form.
    static func longFrameHeader(length: UInt64) -> [UInt8] { [0x02] + bigEndian(length) }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// A ZeroMQ DEALER connected to the coordinator, as a worker's socket is, for peers that speak the
/// protocol (or nearly).
final class HostileDealer {
    let socket: ZMQSocket

    init(context: ZMQContext, endpoint: String, routingID: String? = nil,
         curve: (serverKey: String, keyPair: CurveKeyPair)? = nil) throws {
        socket = try ZMQSocket(context: context, type: .dealer)
        if let routingID { try socket.setOption(.routingID(Array(routingID.utf8))) }
        if let curve { try socket.configureCurveClient(serverKey: curve.serverKey, keyPair: curve.keyPair) }
        try socket.connect(endpoint)
    }

    func send(_ message: Message, _ envelope: Envelope = Envelope()) throws {
        try socket.send(frames: [encode(message, envelope: envelope)])
    }

    func sendRaw(_ bytes: [UInt8]) throws { try socket.send(frames: [bytes]) }

    /// The next message that decodes within `timeout` seconds, or nil.
    func receive(timeout: Double) -> (MessageHeader, Message)? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let frames = try? socket.receive(timeoutMs: 100), let last = frames.last else { continue }
            if let decoded = try? decode(last) { return decoded }
        }
        return nil
    }

    /// Waits up to `timeout` seconds for the first message `match` accepts.
    func receive<T>(timeout: Double, _ match: (Message, MessageHeader) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, let (header, message) = receive(timeout: deadline.timeIntervalSinceNow) {
            if let value = match(message, header) { return value }
        }
        return nil
    }
}

/// A Glassbox heartbeat whose header announces a payload of 1 TiB (the 8-byte length at offset 40).
func headerAnnouncingHugePayload() -> [UInt8] {
    var bytes = encode(.heartbeat(timestampNanoseconds: 1))
    withUnsafeBytes(of: (UInt64(1) << 40).littleEndian) { bytes.replaceSubrange(40..<48, with: $0) }
    return bytes
}

/// The coordinator's peak resident memory so far (VmHWM of /proc/PID/status) in KiB, or nil once it has exited.
func peakResidentKiB(of pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
    return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
}
