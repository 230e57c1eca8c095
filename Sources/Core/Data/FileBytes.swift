import CZlib
import Foundation

/// Whole-file reads (optionally gunzipping) and atomic writes, reporting failures as `DataError`s.
public enum FileBytes {
    /// The most bytes a read returns unless told otherwise (2 GiB): a file, or a gzip stream that
    /// claims to inflate, past this is refused rather than exhausting memory.
    public static let defaultByteLimit = 1 << 31

    /// The first two bytes of every gzip stream (RFC 1952).
    static let gzipMagic: [UInt8] = [0x1f, 0x8b]

    /// The bytes of the file at `path`, exactly as stored.
    public static func read(_ path: String, byteLimit: Int = defaultByteLimit) throws -> [UInt8] {
        try readRest(of: InputFile(path), after: [], byteLimit: byteLimit)
    }

    /// The content of the file at `path`: inflated if the file starts with the gzip magic 1f 8b,
    /// else as stored. Concatenated gzip members (as `cat a.gz b.gz` makes) inflate to the
    /// concatenation of their contents, as `gunzip` does.
    public static func readInflatingGzip(
        _ path: String, byteLimit: Int = defaultByteLimit
    ) throws -> (bytes: [UInt8], wasGzip: Bool) {
        let file = try InputFile(path)
        guard let first = try file.nextChunk() else { return ([], false) }
        guard first.starts(with: gzipMagic) else {
            return (try readRest(of: file, after: first, byteLimit: byteLimit), false)
        }
        let inflater = try GzipInflater(path: path, byteLimit: byteLimit)
        var chunk = first
        while true {
            try inflater.consume(chunk)
            guard let next = try file.nextChunk() else { break }
            chunk = next
        }
        return (try inflater.finish(), true)
    }

    /// `stored` inflated if it starts with the gzip magic 1f 8b, else as it is: what
    /// `readInflatingGzip` gives for a file holding `stored`. `path` only goes into error messages.
    public static func inflatingGzip(
        _ stored: [UInt8], path: String, byteLimit: Int = defaultByteLimit
    ) throws -> (bytes: [UInt8], wasGzip: Bool) {
        guard stored.starts(with: gzipMagic) else { return (stored, false) }
        let inflater = try GzipInflater(path: path, byteLimit: byteLimit)
        try inflater.consume(stored)
        return (try inflater.finish(), true)
    }

    /// Writes `bytes` to `path` so that readers see either the old file or the whole new one:
    /// the bytes go to a temporary file in the same directory, are flushed to disk, and the
    /// temporary file is then renamed over `path`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let template = (directory.isEmpty ? "" : directory + "/") + ".\(base).tmp-XXXXXX"
        var templateBytes = Array(template.utf8CString)
        let fd = templateBytes.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DataError(
                .io, path: path, "cannot create a temporary file beside it: \(systemError())")
        }
        let tempPath = String(
            decoding: templateBytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure =
                        "write failed after \(written) of \(raw.count) bytes: \(systemError())"
                    return
                }
                written += n
            }
        }
        if failure == nil, fchmod(fd, 0o644) != 0 || fsync(fd) != 0 {
            failure = "cannot flush: \(systemError())"
        }
        if close(fd) != 0, failure == nil {
            failure = "cannot close: \(systemError())"
        }
        if failure == nil, rename(tempPath, path) != 0 {
            failure = "cannot rename \(tempPath) over it: \(systemError())"
        }
        if let failure {
            unlink(tempPath)
            throw DataError(.io, path: path, failure)
        }
    }
}

/// `head` followed by the rest of `file`.
private func readRest(of file: InputFile, after head: [UInt8], byteLimit: Int) throws -> [UInt8] {
    var bytes = head
    bytes.reserveCapacity(min(file.sizeHint, byteLimit))
    while let chunk = try file.nextChunk() {
        bytes += chunk
        if bytes.count > byteLimit {
            throw DataError(
                .tooLarge, path: file.path, "file is larger than the \(byteLimit)-byte limit")
        }
    }
    return bytes
}

/// The text of the current `errno`.
func systemError() -> String {
    String(cString: strerror(errno))
}

/// A file open for reading in fixed-size chunks.
private final class InputFile {
    private static let chunkSize = 1 << 20
    let path: String
    private let handle: UnsafeMutablePointer<FILE>
    /// The size the file had when opened (a hint only: it may change while being read).
    let sizeHint: Int

    init(_ path: String) throws {
        self.path = path
        guard let handle = fopen(path, "rb") else {
            let kind: DataError.Kind = errno == ENOENT ? .missingFile : .io
            throw DataError(kind, path: path, "cannot open: \(systemError())")
        }
        var info = stat()
        guard fstat(fileno(handle), &info) == 0 else {
            fclose(handle)
            throw DataError(.io, path: path, "cannot stat: \(systemError())")
        }
        guard info.st_mode & S_IFMT != S_IFDIR else {
            fclose(handle)
            throw DataError(.io, path: path, "is a directory, not a file")
        }
        self.handle = handle
        sizeHint = max(0, Int(info.st_size))
    }

    deinit { fclose(handle) }

    /// The next chunk of the file, or nil at its end.
    func nextChunk() throws -> [UInt8]? {
        let chunk = [UInt8](unsafeUninitializedCapacity: InputFile.chunkSize) { buffer, count in
            count = fread(buffer.baseAddress!, 1, buffer.count, handle)
        }
        if chunk.isEmpty {
            if ferror(handle) != 0 {
                throw DataError(.io, path: path, "read failed: \(systemError())")
            }
            return nil
        }
        return chunk
    }
}

/// zlib's inflate set up for gzip framing, fed the compressed file a chunk at a time; owns the
/// z_stream, which must not move while in use.
final class GzipInflater {
    private let path: String
    private let byteLimit: Int
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: [UInt8] = []
    /// Where inflate writes before the bytes are appended to `output`.
    private var scratch: [UInt8]
    /// Compressed bytes consumed by finished members and earlier chunks, for error positions.
    private var consumedBefore = 0
    private var atMemberEnd = false
    /// Where in the compressed file the last complete gzip member ended.
    private var lastMemberEnd: Int?

    init(path: String, byteLimit: Int, scratchByteCount: Int = 1 << 18) throws {
        self.path = path
        self.byteLimit = byteLimit
        scratch = [UInt8](repeating: 0, count: scratchByteCount)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 16 + MAX_WBITS: expect a gzip header and trailer (CRC-32 and length are checked by zlib).
        let status = inflateInit2_(
            stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DataError(.io, path: path, "zlib inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates all of `chunk` (the next piece of the compressed file) into the output.
    func consume(_ chunk: [UInt8]) throws {
        var chunk = chunk
        try chunk.withUnsafeMutableBufferPointer { input in
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = UInt32(input.count)
            // Inflate can hold back output when the scratch buffer fills, even with no input left.
            var scratchFilled = false
            while stream.pointee.avail_in > 0 || scratchFilled {
                if atMemberEnd {
                    // More bytes after a finished member: they must be another gzip member.
                    inflateReset(stream)
                    atMemberEnd = false
                }
                let status = scratch.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    return inflate(stream, Z_NO_FLUSH)
                }
                let produced = scratch.count - Int(stream.pointee.avail_out)
                scratchFilled = produced == scratch.count
                output += scratch[..<produced]
                let position = consumedBefore + input.count - Int(stream.pointee.avail_in)
                if output.count > byteLimit {
                    throw DataError(
                        .tooLarge, path: path,
                        "gzip stream inflates to more than the \(byteLimit)-byte limit")
                }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    atMemberEnd = true
                    lastMemberEnd = position
                    scratchFilled = false
                case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    // The scratch buffer had filled exactly, with nothing held back: the next
                    // chunk is needed.
                    scratchFilled = false
                default:
                    let zlibMessage =
                        stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    if let lastMemberEnd, stream.pointee.total_out == 0 {
                        throw DataError(
                            .trailingBytes, path: path,
                            "the bytes after the gzip stream's end at compressed byte "
                                + "\(lastMemberEnd) are not another gzip member (zlib: \(zlibMessage))"
                        )
                    }
                    throw corrupt(zlibMessage, at: position)
                }
            }
        }
        consumedBefore += chunk.count
    }

    /// The inflated content, once the whole file has been consumed.
    func finish() throws -> [UInt8] {
        guard atMemberEnd else {
            throw DataError(
                .truncated, path: path,
                "gzip stream ends early: \(consumedBefore) compressed bytes inflate to "
                    + "\(output.count) bytes, then the file stops before the stream's end")
        }
        return output
    }

    private func corrupt(_ reason: String, at position: Int) -> DataError {
        DataError(
            .corruptGzip, path: path,
            "corrupt gzip stream: \(reason) (near compressed byte \(position))")
    }
}
