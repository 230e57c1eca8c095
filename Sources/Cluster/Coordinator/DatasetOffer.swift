import Core
import Foundation
import Protocol

/// The data set a coordinator sends to workers started without one: its manifest, and the bytes of each
/// file read a chunk at a time as workers ask (nothing is held in memory between requests).
public struct DatasetOffer: Sendable {
    /// The most bytes one `datasetChunk` carries: small enough that a chunk never holds up a training
    /// message queued behind it for long.
    public static let chunkBytes = 1 << 20

    /// The fingerprint, name and files sent in answer to a hello without a fingerprint.
    public let manifest: DatasetManifest
    /// Reads `count` bytes of file `index` from `offset` (fewer at the end of the file).
    let readBytes: @Sendable (_ index: Int, _ offset: UInt64, _ count: Int) throws -> [UInt8]

    /// An offer whose bytes come from `readBytes` (tests give bytes in memory).
    init(manifest: DatasetManifest, readBytes: @escaping @Sendable (Int, UInt64, Int) throws -> [UInt8]) {
        self.manifest = manifest
        self.readBytes = readBytes
    }

    /// The files `split` was loaded from, as they are on disk (raw or .gz); nil for a split built in memory.
    public init?(split: DatasetSplit) throws {
        guard !split.files.isEmpty else { return nil }
        let paths = split.files
        var files: [DatasetManifest.File] = []
        for path in paths {
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber
            files.append(.init(name: (path as NSString).lastPathComponent, size: size?.uint64Value ?? 0))
        }
        self.init(manifest: DatasetManifest(fingerprint: split.fingerprint, name: split.name, files: files)) {
            index, offset, count in
            guard let handle = FileHandle(forReadingAtPath: paths[index]) else {
                throw ClusterError("cannot open \(paths[index]) to send it to a worker")
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: offset)
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        }
    }

    /// The chunk `request` asks for, or why it cannot be sent.
    func chunk(for request: DatasetChunkRequest) -> Result<DatasetChunk, ClusterError> {
        guard request.fingerprint == manifest.fingerprint else {
            return .failure(ClusterError("asked for data set \(request.fingerprint.prefix(16)), this coordinator "
                                         + "trains on \(manifest.fingerprint.prefix(16))"))
        }
        guard Int(request.file) < manifest.files.count, request.offset <= manifest.files[Int(request.file)].size else {
            return .failure(ClusterError("asked for file \(request.file) at byte \(request.offset); the data set has "
                                         + "\(manifest.files.count) files of \(manifest.files.map(\.size)) bytes"))
        }
        let file = manifest.files[Int(request.file)]
        let count = Int(min(UInt64(Self.chunkBytes), file.size - request.offset))
        do {
            let bytes = try readBytes(Int(request.file), request.offset, count)
            guard bytes.count == count else {
                throw ClusterError("\(file.name) gave \(bytes.count) bytes at \(request.offset), expected \(count)")
            }
            return .success(DatasetChunk(file: request.file, offset: request.offset, bytes: bytes))
        } catch let error as ClusterError {
            return .failure(error)
        } catch {
            return .failure(ClusterError("cannot read \(file.name) at byte \(request.offset): \(error)"))
        }
    }
}
