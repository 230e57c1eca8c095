import Core
import Foundation
import Protocol

/// Where a worker without `--data` keeps the data sets coordinators sent it: one folder per fingerprint
/// under `root`, holding the files under the coordinator's names. A folder is used only if its files load
/// and reproduce the fingerprint it is named after.
public struct DatasetCache: Sendable {
    /// The folder holding one sub-folder per fingerprint.
    public let root: String

    /// A cache in `root`.
    public init(root: String) { self.root = root }

    /// `$XDG_CACHE_HOME/glassbox`, or `~/.cache/glassbox` when XDG_CACHE_HOME is unset or empty.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/glassbox" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/glassbox"
    }

    /// The folder for the data set of `manifest`; throws if the fingerprint could name anything but a folder.
    func folder(for manifest: DatasetManifest) throws -> String {
        guard manifest.fingerprint.allSatisfy(\.isHexDigit) else {
            throw ClusterError("the coordinator's data set fingerprint \"\(manifest.fingerprint)\" is not hexadecimal")
        }
        return root + "/" + manifest.fingerprint
    }

    /// The cached copy of `manifest`'s data set, or nil when there is none that loads and matches. An
    /// incomplete folder is left alone: another worker on this host may be receiving into it, and a
    /// transfer replaces each file whole.
    func cached(_ manifest: DatasetManifest) throws -> DatasetSplit? {
        let folder = try folder(for: manifest)
        guard manifest.files.allSatisfy({ FileManager.default.fileExists(atPath: "\(folder)/\($0.name)") }),
              let split = try? Self.load(folder, manifest), split.fingerprint == manifest.fingerprint else { return nil }
        return split
    }

    /// The files of `folder` loaded with the ordinary loader, under the coordinator's data set name.
    static func load(_ folder: String, _ manifest: DatasetManifest) throws -> DatasetSplit {
        let split = try DatasetSource.load(.directory(folder))
        return DatasetSplit(train: split.train, test: split.test, name: manifest.name, fingerprint: split.fingerprint,
                            files: split.files)
    }
}

/// A data set arriving chunk by chunk: each file is written to a temporary name beside its final one and
/// renamed when complete, so a folder never holds a partial file under a data set name.
struct DatasetDownload {
    let manifest: DatasetManifest
    let folder: String
    /// The chunk asked for and not yet received.
    private(set) var pending: DatasetChunkRequest
    private(set) var receivedBytes: UInt64 = 0
    private var output: FileHandle?
    let started = now()

    /// Starts a transfer into `cache`; the first request is `pending`.
    init(_ manifest: DatasetManifest, into cache: DatasetCache) throws {
        self.manifest = manifest
        folder = try cache.folder(for: manifest)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        pending = DatasetChunkRequest(fingerprint: manifest.fingerprint, file: 0, offset: 0)
    }

    var totalBytes: UInt64 { manifest.files.reduce(0) { $0 + $1.size } }

    private func temporaryPath(_ file: Int) -> String {
        "\(folder)/.\(manifest.files[file].name).partial-\(getpid())"
    }

    /// Writes `chunk` if it is the one pending; returns the next request, or nil when every file is in place.
    /// A chunk that is not the pending one (a duplicate after a resend) is ignored: the pending request stays.
    mutating func receive(_ chunk: DatasetChunk) throws -> DatasetChunkRequest? {
        guard chunk.file == pending.file, chunk.offset == pending.offset else { return pending }
        var file = Int(pending.file)
        if file < manifest.files.count {
            let expected = manifest.files[file].size
            guard !chunk.bytes.isEmpty || pending.offset == expected,
                  pending.offset + UInt64(chunk.bytes.count) <= expected else {
                throw ClusterError("the coordinator sent \(chunk.bytes.count) bytes at \(chunk.offset) of "
                                   + "\(manifest.files[file].name), which has \(expected)")
            }
            if output == nil {
                let path = temporaryPath(file)
                guard FileManager.default.createFile(atPath: path, contents: nil),
                      let handle = FileHandle(forWritingAtPath: path) else {
                    throw ClusterError("cannot write \(path) (the --cache folder)")
                }
                output = handle
            }
            try output!.write(contentsOf: chunk.bytes)
            receivedBytes += UInt64(chunk.bytes.count)
            pending.offset += UInt64(chunk.bytes.count)
        }
        // Close and rename every file that is complete (an empty file completes without a chunk).
        while file < manifest.files.count && pending.offset == manifest.files[file].size {
            if output == nil { FileManager.default.createFile(atPath: temporaryPath(file), contents: nil) }
            try output?.synchronize()
            try output?.close()
            output = nil
            let final = "\(folder)/\(manifest.files[file].name)"
            if rename(temporaryPath(file), final) != 0 {
                throw ClusterError("cannot rename \(temporaryPath(file)) to \(final): \(String(cString: strerror(errno)))")
            }
            file += 1
            pending.file = UInt32(file)
            pending.offset = 0
        }
        return file < manifest.files.count ? pending : nil
    }

    /// The received data set, loaded and checked against the manifest's fingerprint; on any failure the
    /// folder is removed, and the error says what differed.
    func finish() throws -> DatasetSplit {
        do {
            let split = try DatasetCache.load(folder, manifest)
            guard split.fingerprint == manifest.fingerprint else {
                throw ClusterError("the received data set has fingerprint \(split.fingerprint.prefix(16)), the "
                                   + "coordinator's is \(manifest.fingerprint.prefix(16))")
            }
            return split
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw ClusterError("the data set received from the coordinator is unusable, removed \(folder): \(error)")
        }
    }

    /// Removes the partial file (the session ends mid-transfer).
    mutating func abandon() {
        try? output?.close()
        output = nil
        if Int(pending.file) < manifest.files.count { try? FileManager.default.removeItem(atPath: temporaryPath(Int(pending.file))) }
    }
}
