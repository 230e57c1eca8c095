// The control family: a worker joining (hello, welcome; `refused` is a bare string), error codes, and
// the digest that checks replicas agree. Heartbeat, error and shutdown carry no type of their own and are
// written and read in Message.swift. Each type's payload writer stands beside its reader.

/// A worker introducing itself; the coordinator refuses it if version or data set differ, and offers its
/// data set to one that has none.
public struct Hello: Equatable, Sendable {
    /// The worker's major protocol version.
    public var protocolMajor: UInt16
    /// The worker's minor protocol version.
    public var protocolMinor: UInt16
    /// Identifies the worker's build (e.g. a git revision).
    public var buildID: String
    /// Identifies the worker's copy of the data set (e.g. a SHA-256 of the files); empty: the worker has
    /// none and asks for the coordinator's (answered with a `datasetManifest`, see DatasetMessages.swift).
    public var datasetFingerprint: String
    /// The worker's host name, for logs.
    public var hostName: String
    /// The worker's process id, for logs.
    public var processID: Int32
    /// Threads the worker computes with.
    public var threadCount: UInt32
    /// The kernel path the worker computes with (e.g. "avx2"), the paths its CPU can run, comma-separated
    /// (e.g. "reference,avx2,avx512"), and its BLAS core; empty from a 3.0 worker. (3.1)
    public var kernels: String
    public var kernelsSupported: String
    public var blasCore: String

    /// A hello; the version defaults to this build's.
    public init(protocolMajor: UInt16 = ProtocolVersion.major, protocolMinor: UInt16 = ProtocolVersion.minor,
                buildID: String, datasetFingerprint: String, hostName: String, processID: Int32, threadCount: UInt32,
                kernels: String = "", kernelsSupported: String = "", blasCore: String = "") {
        self.protocolMajor = protocolMajor
        self.protocolMinor = protocolMinor
        self.buildID = buildID
        self.datasetFingerprint = datasetFingerprint
        self.hostName = hostName
        self.processID = processID
        self.threadCount = threadCount
        self.kernels = kernels
        self.kernelsSupported = kernelsSupported
        self.blasCore = blasCore
    }
}

extension Hello {
    func write(to w: inout PayloadWriter) {
        w.write(protocolMajor)
        w.write(protocolMinor)
        w.write(buildID)
        w.write(datasetFingerprint)
        w.write(hostName)
        w.write(processID)
        w.write(threadCount)
        w.write(kernels)
        w.write(kernelsSupported)
        w.write(blasCore)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> Hello {
        var hello = Hello(protocolMajor: try r.read(UInt16.self, "protocolMajor"),
                          protocolMinor: try r.read(UInt16.self, "protocolMinor"),
                          buildID: try r.readString("buildID"),
                          datasetFingerprint: try r.readString("datasetFingerprint"),
                          hostName: try r.readString("hostName"),
                          processID: try r.read(Int32.self, "processID"),
                          threadCount: try r.read(UInt32.self, "threadCount"))
        if r.minorVersion >= 1 {
            hello.kernels = try r.readString("kernels")
            hello.kernelsSupported = try r.readString("kernelsSupported")
            hello.blasCore = try r.readString("blasCore")
        }
        return hello
    }
}

/// The coordinator accepting a worker.
public struct Welcome: Equatable, Sendable {
    /// The worker's rank among the live workers.
    public var rank: UInt32
    /// The run's nonce, to be put in every envelope.
    public var runNonce: UInt64
    /// The run's seed.
    public var seed: UInt64
    /// Run settings by name; sent in key order.
    public var settings: [String: String]

    /// A welcome.
    public init(rank: UInt32, runNonce: UInt64, seed: UInt64, settings: [String: String]) {
        self.rank = rank
        self.runNonce = runNonce
        self.seed = seed
        self.settings = settings
    }
}

extension Welcome {
    /// The settings go in key order, so that equal welcomes are equal bytes.
    func write(to w: inout PayloadWriter) {
        w.write(rank)
        w.write(runNonce)
        w.write(seed)
        w.write(UInt32(settings.count))
        for key in settings.keys.sorted() {
            w.write(key)
            w.write(settings[key]!)
        }
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> Welcome {
        let rank = try r.read(UInt32.self, "rank")
        let runNonce = try r.read(UInt64.self, "runNonce")
        let seed = try r.read(UInt64.self, "seed")
        let count = try r.read(UInt32.self, "settings")
        var settings: [String: String] = [:]
        for _ in 0..<count {
            let keyOffset = r.offset
            let key = try r.readString("settings.key")
            let value = try r.readString("settings[\(key)]")
            guard settings.updateValue(value, forKey: key) == nil else {
                throw r.invalid("settings.key", "duplicate setting \"\(key)\"", at: keyOffset)
            }
        }
        return Welcome(rank: rank, runNonce: runNonce, seed: seed, settings: settings)
    }
}

/// Codes of `Message.error`. Raw values are part of the wire format.
public enum ErrorCode: UInt32, Sendable {
    /// The coordinator does not know the sender (never joined, or dropped): say hello again.
    case notJoined = 1
    /// The worker does not hold the weights version the message needs: send the full weights.
    case wrongWeightsVersion = 2
    /// The request cannot be carried out (e.g. a sample index outside the data set).
    case badRequest = 3
}

/// The SHA-256 of a weights version, to check that replicas agree.
public struct WeightsDigest: Equatable, Sendable {
    /// The weights version hashed.
    public var version: UInt64
    /// SHA-256 (64 hex digits) of the parameters as little-endian fp32.
    public var sha256: String

    /// A digest.
    public init(version: UInt64, sha256: String) {
        self.version = version
        self.sha256 = sha256
    }
}

extension WeightsDigest {
    func write(to w: inout PayloadWriter) {
        w.write(version)
        w.write(sha256)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> WeightsDigest {
        WeightsDigest(version: try r.read(UInt64.self, "version"), sha256: try r.readString("sha256"))
    }
}
