import Foundation

/// Read-only access to a run directory's files for the HTTP server: a request path is resolved inside
/// the directory or refused, so that no path (`..`, a symbolic link out, an absolute path) reaches a file
/// outside it.
public struct RunFiles: Sendable {
    /// The run directory, absolute and with symbolic links resolved.
    public let root: String

    public init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The file or directory that `relativePath` (percent-decoded, `/`-separated) names inside the run
    /// directory, or nil when it names none or would leave the directory.
    public func resolve(_ relativePath: String) -> String? {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        // Refused before touching the disk: `..` and `.` components, NUL bytes and backslashes.
        guard !parts.contains(where: { $0 == ".." || $0 == "." || $0.contains("\0") || $0.contains("\\") }) else {
            return nil
        }
        let candidate = parts.isEmpty ? root : root + "/" + parts.joined(separator: "/")
        let resolved = URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path
        guard resolved == root || resolved.hasPrefix(root + "/"),
              FileManager.default.fileExists(atPath: resolved) else { return nil }
        return resolved
    }

    /// Whether `path` (from `resolve`) is a directory.
    public func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    /// The entries of the directory at `path`, sorted, directories with a trailing `/`.
    public func listing(_ path: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { isDirectory(path + "/" + $0) ? $0 + "/" : $0 }
    }

    /// The newest `fig/epoch_NNN.png` (highest NNN) on disk; nil before the first map is drawn.
    public func latestMapFigure() -> RunStatus.MapFigure? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/fig")) ?? []
        let epochs = names.compactMap { name -> Int? in
            guard name.hasPrefix("epoch_"), name.hasSuffix(".png") else { return nil }
            return Int(name.dropFirst("epoch_".count).dropLast(".png".count))
        }
        return epochs.max().map { RunStatus.MapFigure(epoch: $0, path: "fig/" + String(format: "epoch_%03d.png", $0)) }
    }
}
