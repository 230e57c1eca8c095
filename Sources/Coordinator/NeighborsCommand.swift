import ArgumentParser
import Cluster
import CommandLineOptions
import Core
import Foundation

/// `glassbox-coordinator neighbors`: the per-epoch maps' neighbour search on .npy matrices, in this
/// process or on workers, timed and scored against the exact search.
struct NeighborsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbors",
        abstract: "Time the UMAP neighbour search of the epoch maps on .npy matrices, in-process or on workers.",
        discussion: """
            Searches the k nearest neighbours of every row as the per-epoch maps do: a fresh search of --previous (as \
            the epoch-0 map), then a search of --input warm-started from that graph (as every later map); without \
            --previous only a fresh search of --input. Prints, per search, its wall-clock and CPU seconds (this process \
            and the workers, and the busiest worker: given a core per process, the search takes about this process' \
            plus the busiest worker's CPU seconds) and, with --exact, recall@k against the exact neighbours.

            Example (the bench's 2-worker row):
              glassbox-coordinator neighbors --previous e0/hidden_train.npy --input e1/hidden_train.npy \\
                --exact exact/ --data data/mnist --spawn-workers 2 --worker-threads 1
            """)

    @Option(help: "The matrix searched last (.npy, one point per row): warm-started from --previous's graph if given.")
    var input: String

    @Option(help: "An earlier matrix of the same rows (.npy), searched fresh first.")
    var previous: String?

    @Option(parsing: .unconditional, help: "Neighbours per point, the point itself included.")
    var nNeighbors: Int = 40

    @Option(help: "Seed of the search (PCA, k-means); `train` uses its --seed.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Threads of this process (default: every core).")
    var threads: Int = defaultThreadCount()

    @Option(help: "Directory of the exact graphs for recall (exact_<name>.npy; computed and stored there if missing).")
    var exact: String?

    @Option(help: "Directory to write each search's graph to (<name>_indices.npy, <name>_distances.npy).")
    var out: String?

    @OptionGroup(title: "Data set the workers load (they join only with one; this process searches only the .npy files)")
    var dataSource: DataSourceOptions

    @Option(help: ArgumentHelp("Lowest level of the lines logged here; debug also prints the timing of each stage the workers run.",
                               valueName: "level"))
    var logLevel = LogLevelArgument(.info)
    @Option(help: ArgumentHelp("Log lines as text (time, source, message) or json (one object a line with the same fields).", valueName: "format"))
    var logFormat: LogFormat = .text

    @OptionGroup(title: "Workers (the per-row stages run on them)")
    var cluster: ClusterOptions

    func validate() throws {
        if nNeighbors < 2 { throw ValidationError("--n-neighbors must be at least 2 (it counts the point itself).") }
        try validateThreadCount(threads)
        if cluster.resume != nil { throw ValidationError("--resume is for train.") }
    }

    func run() throws {
        BLAS.setThreads(1)  // the search runs its own threads
        let log = Log(level: logLevel.level, prefix: "neighbors", format: logFormat)
        let session: TrainingSession?
        var stages: ClusterNeighborStages?
        let scratch = NSTemporaryDirectory() + "glassbox-neighbors-\(getpid())"  // the session's event log
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        if cluster.isDistributed {
            let split = try dataSource.load()
            let s = try TrainingSession(options: cluster, training: TrainingSettings(), split: split,
                                        trainingImages: split.train.count, workerArguments: dataSource.arguments + ["--log-level", "warning", "--log-format", logFormat.rawValue],
                                        run: try RunDirectory(path: scratch), log: log) {
                fatalError("unreachable: the neighbour search trains no steps, so none is recomputed here")
            }
            session = s
            try s.backend.load(s.initialState.model)  // workers take work once they hold weights
            stages = ClusterNeighborStages(cluster: s.backend as! ClusterBackend)
        } else {
            session = nil
        }
        defer { session?.finish() }
        let workerCount = cluster.spawnWorkers ?? cluster.workers ?? 1
        let setting = cluster.isDistributed
            ? "\(workerCount) worker\(workerCount == 1 ? "" : "s") (coordinator \(threads) threads)"
            : "in-process, \(threads) thread\(threads == 1 ? "" : "s")"
        let options = UMAPOptions().search
        var earlier: (graph: KNNGraph, index: NeighborIndex)?
        for (name, path) in [("previous", previous), ("input", Optional(input))] {
            guard let path else { continue }
            let x = try NPY.read(from: path)
            guard x.shape.count == 2, x.shape[0] > nNeighbors else {
                throw EmbedError("\(path): expected a 2-D array of more than \(nNeighbors) rows, found shape \(x.shape)")
            }
            let (rows, dim) = (x.shape[0], x.shape[1])
            let cpu0 = processCPUSeconds(), workers0 = stages?.cpuSecondsByWorker ?? [:], t0 = now()
            let found: (graph: KNNGraph, index: NeighborIndex)
            let previousGraph = earlier?.graph.rows == rows ? earlier : nil
            if let stages {
                found = try approximateNearestNeighbors(
                    data: x.values, rows: rows, dim: dim, k: nNeighbors, options: options, previous: previousGraph?.graph,
                    axes: previousGraph?.index.axes, seed: seed, threads: threads, stages: stages)
            } else {
                found = approximateNearestNeighbors(
                    data: x.values, rows: rows, dim: dim, k: nNeighbors, options: options, previous: previousGraph?.graph,
                    axes: previousGraph?.index.axes, seed: seed, threads: threads)
            }
            let seconds = now() - t0
            let own = processCPUSeconds() - cpu0
            let perWorker = (stages?.cpuSecondsByWorker ?? [:]).map { $0.value - (workers0[$0.key] ?? 0) }
            let workers = perWorker.reduce(0, +), busiest = perWorker.max() ?? 0
            var line = "\(previousGraph == nil ? "fresh" : "warm") \(name) (\(rows) x \(dim)), \(setting): neighbours "
                + "\(fmt(seconds, 2)) s, CPU \(fmt(own + workers, 2)) s (coordinator \(fmt(own, 2)), workers \(fmt(workers, 2)), "
                + "busiest worker \(fmt(busiest, 2)))"
            if let exact {
                let truth = try exactGraph(of: x.values, rows: rows, dim: dim, name: path, directory: exact)
                line += ", recall@\(nNeighbors) \(fmt(neighborRecall(found.graph, exact: truth), 4))"
            }
            print(line)
            if let out {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let shape = [rows, nNeighbors]
                try NPY.write(NPYArray(shape: shape, values: found.graph.indices.map(Float.init)), to: "\(out)/\(name)_indices.npy")
                try NPY.write(NPYArray(shape: shape, values: found.graph.distances), to: "\(out)/\(name)_distances.npy")
            }
            earlier = found
        }
    }

    /// The exact graph of `values`, read from `directory` or computed (all threads) and stored there.
    func exactGraph(of values: [Float], rows: Int, dim: Int, name: String, directory: String) throws -> KNNGraph {
        let stem = ((name as NSString).deletingPathExtension as NSString).lastPathComponent
        let parent = ((name as NSString).deletingLastPathComponent as NSString).lastPathComponent
        let file = (directory as NSString).appendingPathComponent("exact_\(parent)_\(stem)_k\(nNeighbors).npy")
        if FileManager.default.fileExists(atPath: file) {
            let a = try NPY.read(from: file)
            guard a.shape == [rows, nNeighbors] else { throw EmbedError("\(file): shape \(a.shape), expected [\(rows), \(nNeighbors)]") }
            return KNNGraph(rows: rows, k: nNeighbors, indices: a.values.map { Int32($0) },
                            distances: [Float](repeating: 0, count: rows * nNeighbors))
        }
        let graph = exactNearestNeighbors(data: values, rows: rows, dim: dim, k: nNeighbors, threads: threads)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try NPY.write(NPYArray(shape: [rows, nNeighbors], values: graph.indices.map(Float.init)), to: file)
        return graph
    }
}
