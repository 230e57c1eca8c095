import Foundation
import Protocol

/// A directory of CURVE keys as `keygen` writes it: `coordinator.key` / `coordinator.pub` for the
/// coordinator, and `NAME.key` / `NAME.pub` for each worker. Every `.pub` other than the coordinator's is
/// an allowed worker key; to admit another worker, copy its `.pub` file in.
struct CurveKeyDirectory {
    /// The ZAP domain of the coordinator's socket.
    static let zapDomain = "glassbox"

    let coordinatorSecretKey: String
    let allowedWorkerKeys: Set<String>

    init(path: String) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw ClusterError("cannot read the CURVE key directory \(path): \(error.localizedDescription) "
                               + "(create it with `glassbox-coordinator keygen --out \(path)`)")
        }
        let dir = URL(fileURLWithPath: path)
        coordinatorSecretKey = try readCurveKey(dir.appendingPathComponent("coordinator.key").path)
        allowedWorkerKeys = Set(try files.filter { $0.hasSuffix(".pub") && $0 != "coordinator.pub" }.sorted()
            .map { try readCurveKey(dir.appendingPathComponent($0).path) })
        guard !allowedWorkerKeys.isEmpty else {
            throw ClusterError("\(path) holds no worker public key (NAME.pub): no worker could join")
        }
    }
}
