import Core
import Foundation
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Reads a Z85 CURVE key file as `glassbox-coordinator keygen` writes it (40 characters; surrounding
/// whitespace ignored). Both sides read their keys through this one function.
func readCurveKey(_ path: String) throws -> String {
    let text: String
    do {
        // A key file is 41 bytes; anything much larger is not one, and is not read whole.
        text = String(decoding: try FileBytes.read(path, byteLimit: 4096), as: UTF8.self)
    } catch {
        throw ClusterError("cannot read CURVE key: \(error) (write keys with `glassbox-coordinator keygen --out DIR`)")
    }
    let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard Curve.isValidKey(key) else { throw ClusterError("\(path) does not hold a 40-character Z85 CURVE key") }
    return key
}

/// Writes a new key pair as `DIR/NAME.key` (secret) and `DIR/NAME.pub`, creating DIR with mode 0700;
/// returns the two paths. Unless `replace`, an existing NAME.key is an error. Errors name the path and
/// the system's reason.
public func writeCurveKeyPair(directory: String, name: String, replace: Bool) throws -> [String] {
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    } catch {
        throw ClusterError("cannot create the folder \(directory): \(posixReason(error))")
    }
    let dir = URL(fileURLWithPath: directory)
    let secretPath = dir.appendingPathComponent("\(name).key").path
    let publicPath = dir.appendingPathComponent("\(name).pub").path
    if !replace && FileManager.default.fileExists(atPath: secretPath) {
        throw ClusterError("\(secretPath) exists; use --force to replace it")
    }
    let pair = try Curve.generateKeyPair()
    for (path, key) in [(secretPath, pair.secretKey), (publicPath, pair.publicKey)] {
        try writeKeyFile(path, key + "\n")
    }
    return [secretPath, publicPath]
}

/// Writes `text` to `path` with mode 0600 from the start (a secret key is never readable by others, not
/// even briefly), replacing the file.
private func writeKeyFile(_ path: String, _ text: String) throws {
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw ClusterError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard count == bytes.count else {
        throw ClusterError("cannot write \(path): \(count < 0 ? String(cString: strerror(errno)) : "short write")")
    }
}

/// The operating system's reason inside a Foundation file error ("Permission denied", "No such file or
/// directory", ...), rather than Foundation's generic text.
private func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey].flatMap({ $0 as? Error }).map({ $0 as NSError }),
       underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return ns.localizedDescription
}
