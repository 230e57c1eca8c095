// The data set family: a worker started without data says so with an empty fingerprint in its hello;
// the coordinator answers with a `DatasetManifest` (fingerprint and files, no bytes), and the worker
// pulls the files one `DatasetChunk` at a time with `DatasetChunkRequest`s. Each type's payload writer
// stands beside its reader.

/// The coordinator's data set as files: enough for a worker to find a cached copy, or to ask for the bytes.
public struct DatasetManifest: Equatable, Sendable {
    /// One file as it lies on the coordinator's disk.
    public struct File: Equatable, Sendable {
        /// The file's name (one of the four IDX names, with `.gz` if stored gzip'd); never a path.
        public var name: String
        /// Its size in bytes.
        public var size: UInt64

        /// A file entry.
        public init(name: String, size: UInt64) {
            self.name = name
            self.size = size
        }
    }

    /// The data set's fingerprint (`DatasetSplit.fingerprint`), which the received files must reproduce.
    public var fingerprint: String
    /// The data set's name, for logs.
    public var name: String
    /// The files in the order chunk requests number them.
    public var files: [File]

    /// A manifest.
    public init(fingerprint: String, name: String, files: [File]) {
        self.fingerprint = fingerprint
        self.name = name
        self.files = files
    }
}

extension DatasetManifest {
    func write(to w: inout PayloadWriter) {
        w.write(fingerprint)
        w.write(name)
        w.write(UInt32(files.count))
        for file in files {
            w.write(file.name)
            w.write(file.size)
        }
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> DatasetManifest {
        let fingerprint = try r.readString("fingerprint")
        guard !fingerprint.isEmpty else { throw r.invalid("fingerprint", "empty") }
        let name = try r.readString("name")
        let count = try r.read(UInt32.self, "files")
        // Entries are read one by one (nothing reserved from `count`), so a count the bytes cannot hold
        // stops at the first missing field.
        var files: [File] = []
        for i in 0..<Int(count) {
            let nameOffset = r.offset
            let fileName = try r.readString("files[\(i)].name")
            guard !fileName.isEmpty, !fileName.contains("/"), fileName != ".", fileName != ".." else {
                throw r.invalid("files[\(i)].name", "\"\(fileName)\" is not a plain file name", at: nameOffset)
            }
            files.append(File(name: fileName, size: try r.read(UInt64.self, "files[\(i)].size")))
        }
        return DatasetManifest(fingerprint: fingerprint, name: name, files: files)
    }
}

/// A worker asking for the bytes of one file of the data set with `fingerprint`, from `offset` on.
public struct DatasetChunkRequest: Equatable, Sendable {
    /// The data set the worker is receiving; the coordinator refuses a request for another.
    public var fingerprint: String
    /// The file's index in the manifest.
    public var file: UInt32
    /// The first byte wanted.
    public var offset: UInt64

    /// A chunk request.
    public init(fingerprint: String, file: UInt32, offset: UInt64) {
        self.fingerprint = fingerprint
        self.file = file
        self.offset = offset
    }
}

extension DatasetChunkRequest {
    func write(to w: inout PayloadWriter) {
        w.write(fingerprint)
        w.write(file)
        w.write(offset)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> DatasetChunkRequest {
        DatasetChunkRequest(fingerprint: try r.readString("fingerprint"), file: try r.read(UInt32.self, "file"),
                            offset: try r.read(UInt64.self, "offset"))
    }
}

/// Bytes `offset..<offset + bytes.count` of one file of the data set.
public struct DatasetChunk: Equatable, Sendable {
    /// The file's index in the manifest.
    public var file: UInt32
    /// Where `bytes` start in the file.
    public var offset: UInt64
    /// The file's bytes from `offset` on; at most one chunk's worth, empty only past the end.
    public var bytes: [UInt8]

    /// A chunk.
    public init(file: UInt32, offset: UInt64, bytes: [UInt8]) {
        self.file = file
        self.offset = offset
        self.bytes = bytes
    }
}

extension DatasetChunk {
    func write(to w: inout PayloadWriter) {
        w.write(file)
        w.write(offset)
        w.writeArray(bytes)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> DatasetChunk {
        DatasetChunk(file: try r.read(UInt32.self, "file"), offset: try r.read(UInt64.self, "offset"),
                     bytes: try r.readArray(of: UInt8.self, "bytes"))
    }
}
