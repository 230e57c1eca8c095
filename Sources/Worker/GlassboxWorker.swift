import ArgumentParser
import CKernels
import Cluster
import CommandLineOptions
import Core
import Foundation
import Protocol

@main
struct GlassboxWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox-worker",
        abstract: "A Glassbox training worker: computes the micro-batches a coordinator assigns, over ZeroMQ.",
        discussion: """
            With --data or --dataset the worker loads the data set from its own disk (the coordinator sends \
            sample indices, never pixels). Without either it asks the coordinator for the fingerprint of the data \
            set it trains on, reuses a copy with that fingerprint from --cache, or else receives the files over \
            the same connection (encrypted with CURVE keys), checks the fingerprint and caches them. The worker \
            refuses nothing itself: the coordinator refuses a worker whose data set fingerprint or \
            protocol version differs, and both sides print why. A worker started before its coordinator, or cut \
            off by a network blip, keeps retrying with backoff; after --coordinator-timeout seconds without \
            hearing from a coordinator it exits with status 4.

            Exit status: 0 the coordinator ended the run, 2 unreadable data set or CURVE keys, or a received data \
            set that does not match its fingerprint, 3 refused (data \
            set, version or CURVE key), 4 no coordinator, 64 bad arguments.

            `glassbox-worker keygen --out DIR --name NAME` makes this host's own CURVE key pair (see its --help).

            Example: glassbox-worker --connect tcp://10.0.0.1:5555 --data data/mnist --threads 2
            """)

    @Option(help: "The coordinator's endpoint.")
    var connect: String = "tcp://127.0.0.1:5555"
    @OptionGroup(title: "Data (must be the coordinator's data set; without either option it is received from the coordinator)")
    var dataSource: DataSourceOptions
    @Option(help: ArgumentHelp("Where data sets received from the coordinator are kept, one folder per fingerprint "
                               + "(default: $XDG_CACHE_HOME/glassbox, or ~/.cache/glassbox).", valueName: "dir"))
    var cache: String?
    @Option(parsing: .unconditional, help: "Compute threads (micro-batches run in parallel, one per thread).")
    var threads: Int = defaultThreadCount()
    @Option(help: kernelsHelp)
    var kernels = "auto"
    @Option(parsing: .unconditional, help: "Seconds without any message from a coordinator before giving up.")
    var coordinatorTimeout: Double = 60
    @Option(help: ArgumentHelp("Lowest level of the lines logged; debug adds connection attempts, ignored messages and each weights version received.", valueName: "level"))
    var logLevel = LogLevelArgument(.info)
    @Option(help: ArgumentHelp("Log lines as text (time, source, message) or json (one object a line with the same fields).", valueName: "format"))
    var logFormat: LogFormat = .text
    @Option(help: "File holding the coordinator's CURVE public key (default: coordinator.pub in --curve-keys).")
    var curveServerKey: String?
    @Option(help: "Directory of CURVE keys from `glassbox-coordinator keygen`: turns on encryption and authentication.")
    var curveKeys: String?
    @Option(help: "Name of this worker's key pair in --curve-keys (NAME.key and NAME.pub).")
    var curveKeyName: String = "worker"
    @Option(help: .hidden)
    var parentPid: Int32?
    /// Set by the coordinator's --spawn-workers: the file its spawned workers split each update through
    /// (`SharedUpdate`), this worker's member number and how many there are.
    @Option(help: .hidden)
    var shareUpdates: String?
    @Option(help: .hidden)
    var shareRank: Int = 0
    @Option(help: .hidden)
    var shareMembers: Int = 0

    static func main() {
        #if GLASSBOX_SSE42  // the Makefile passes it with -target-cpu haswell: stop here rather than at SIGILL
        glassbox_exit_unless_avx2_fma("glassbox-worker")
        #endif
        BLASCore.prepareProcess(program: "glassbox-worker")
        FlushToZero.enable()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "keygen" {
            WorkerKeygenCommand.main(Array(arguments.dropFirst()))
        } else {
            main(nil)
        }
    }

    func validate() throws {
        try validateThreadCount(threads)
        try validateKernels(kernels)
        try validateSeconds(coordinatorTimeout, option: "--coordinator-timeout")
        try validateCurveKeyName(curveKeyName, option: "--curve-key-name")
        var isFolder: ObjCBool = false
        if let cache, FileManager.default.fileExists(atPath: cache, isDirectory: &isFolder), !isFolder.boolValue {
            throw ValidationError("--cache \(cache) is a file; it must be a folder (created if missing)")
        }
        if curveServerKey != nil && curveKeys == nil {
            throw ValidationError("--curve-server-key needs --curve-keys (the directory with this worker's key pair)")
        }
    }

    func run() throws {
        MessageBuffers.keepLargeBlocks()  // state reports and weights are 10 MB messages
        let host = ProcessInfo.processInfo.hostName
        let pid = getpid()
        var log = Log(level: logLevel.level, prefix: "worker \(host):\(pid)", format: logFormat)
        var split: DatasetSplit?
        if DataSourceOptions.areGiven(in: Array(CommandLine.arguments.dropFirst())) {
            do {
                split = try dataSource.load()
            } catch {
                log("cannot load the data set: \(error)", .error)
                throw ExitCode(2)
            }
        }
        let curve: WorkerCurve?
        do {
            curve = try curveKeys.map { try WorkerCurve(directory: $0, keyName: curveKeyName, serverKeyFile: curveServerKey) }
        } catch {
            log("\(error)", .error)
            throw ExitCode(2)
        }
        let cacheRoot = cache ?? DatasetCache.defaultRoot()
        let dataLine = split.map {
            "\($0.name) (fingerprint \($0.fingerprint.prefix(12))), \($0.train.count) training and \($0.test.count) test images"
        } ?? "no data set given: the coordinator's, cached in \(cacheRoot)"
        log("\(dataLine); \(threads) threads; connecting to \(connect)" + (curve == nil ? "" : " with CURVE"))
        log(try selectKernels(kernels))
        var sharedUpdate: SharedUpdate?
        if let shareUpdates {
            do {
                sharedUpdate = try SharedUpdate(path: shareUpdates, rank: shareRank, members: shareMembers)
                log("splitting each update with \(shareMembers - 1) other local worker\(shareMembers == 2 ? "" : "s") "
                    + "through \(shareUpdates): member \(shareRank), \(sharedUpdate!.share)", .debug)
            } catch {
                log("applying whole updates: \(error)", .warning)
            }
        }
        let identity = WorkerIdentity(host: host, pid: pid, threads: threads, fingerprint: split?.fingerprint ?? "",
                                      buildID: executableBuildID())
        let session = try WorkerSession(endpoint: connect, identity: identity, data: split,
                                        cache: split == nil ? DatasetCache(root: cacheRoot) : nil, curve: curve,
                                        coordinatorTimeout: coordinatorTimeout, parentPid: parentPid,
                                        sharedUpdate: sharedUpdate, log: log)
        let outcome = session.run()
        log.prefix = session.logPrefix
        switch outcome {
        case .finished(let reason):
            log("coordinator ended the run: \(reason)")
        case .refused(let reason):
            log("refused: \(reason)", .error)
            throw ExitCode(3)
        case .noCoordinator(let reason):
            log(reason, .error)
            throw ExitCode(4)
        case .badDataset(let reason):
            log("cannot use the coordinator's data set: \(reason)", .error)
            throw ExitCode(2)
        }
    }
}

/// The first 16 hex digits of the SHA-256 of this executable: two workers with the same build ID run the
/// same code, so their floating-point results agree to the bit.
func executableBuildID() -> String {
    guard let bytes = try? FileBytes.read("/proc/self/exe") else { return "unknown" }
    return String(sha256Hex(bytes).prefix(16))
}
