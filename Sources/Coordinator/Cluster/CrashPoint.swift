import Core
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Named moments at which a test makes the coordinator crash for real (SIGKILL to itself: no cleanup, no
/// flush, as a power cut or the OOM killer would), to check that `--resume` loses nothing. Armed only by
/// the environment variable `GLASSBOX_CRASH_AT=POINT[:N]`, which crashes the N-th time (default 1) the run
/// reaches POINT; without it every call is a no-op.
enum CrashPoint: String, CaseIterable {
    /// Just after a checkpoint (mid-epoch or the epoch's end) is on disk.
    case checkpoint
    /// Half-way through writing a checkpoint's temporary file (before the rename).
    case checkpointWrite = "checkpoint-write"
    /// During a map: its activations computed, its UMAP not yet done.
    case map
    /// After a map's files are written, before its warm start is saved with the checkpoint.
    case mapFiles = "map-files"

    static let environmentVariable = "GLASSBOX_CRASH_AT"

    /// The armed point and after how many arrivals it fires, from the environment.
    private static let armed: (point: CrashPoint, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable] else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        guard let point = parts.first.flatMap(CrashPoint.init(rawValue:)) else { return nil }
        return (point, parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    /// Arrivals at the armed point so far (the training thread is the only caller).
    nonisolated(unsafe) private static var arrivals = 0

    /// Whether this arrival is the one that crashes.
    private func fires() -> Bool {
        guard let armed = Self.armed, armed.point == self else { return false }
        Self.arrivals += 1
        return Self.arrivals == armed.count
    }

    /// Crashes here if armed for this arrival.
    func reached() {
        if fires() { crash() }
    }

    /// Crashes half-way through writing `bytes` into a temporary file beside `path`, as the atomic write
    /// does, if armed for this arrival.
    func reachedWhileWriting(_ bytes: [UInt8], beside path: String) {
        guard fires() else { return }
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let partial = Data(bytes.prefix(bytes.count / 2))
        FileManager.default.createFile(atPath: directory + "/.\(name).tmp-crash", contents: partial)
        crash()
    }

    private func crash() -> Never {
        FileHandle.standardError.write(Data("crash point \(rawValue): SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
        fatalError("unreachable: SIGKILL was sent")
    }
}
