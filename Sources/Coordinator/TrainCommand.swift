import ArgumentParser
import Core
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the reference CNN and write metrics, weights and figures to a run directory.",
        discussion: """
            Data: --dataset mnist (default; `make data` fetches it into data/mnist), --dataset fashion-mnist \
            (Debian's dataset-fashion-mnist), or --data DIR with the four IDX files \
            (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, \
            raw or .gz).

            The run directory receives metrics.csv (epoch, loss, acc, val_loss, val_acc, seconds, \
            samples_per_second) and weights.safetensors (Keras tensor names and layouts).

            Example: glassbox-coordinator train --epochs 3 --out runs/try1
            """)

    @Option(help: "Epochs to train.")
    var epochs: Int = 10
    @Option(help: "Directory holding the four IDX files (overrides --dataset).")
    var data: String?
    @Option(help: "mnist or fashion-mnist.")
    var dataset: String = "mnist"
    @Option(help: "Random seed: weights, shuffles and dropout all derive from it.")
    var seed: UInt64 = 1
    @Option(help: "Run directory for metrics, weights and figures.")
    var out: String = "runs/default"
    @Option(help: "Compute threads in this process.")
    var threads: Int = defaultThreadCount()
    @Option(help: "Samples per micro-batch (the unit of parallel work; batch 100 is cut into these).")
    var microBatch: Int = 25
    @Option(help: "Use only the first N training images (quick runs).")
    var limitTrain: Int?

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be >= 0, got \(epochs)") }
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
        guard (1...100).contains(microBatch) else { throw ValidationError("--micro-batch must be in 1...100, got \(microBatch)") }
        guard ["mnist", "fashion-mnist"].contains(dataset) else {
            throw ValidationError("--dataset must be mnist or fashion-mnist, got \(dataset)")
        }
        guard LogLevel(name: logLevel) != nil else {
            throw ValidationError("--log-level must be debug, info, warning or error, got \(logLevel)")
        }
        if let n = limitTrain, n < 200 { throw ValidationError("--limit-train must be at least 200, got \(n)") }
    }

    @Option(help: "Log level: debug, info, warning or error.")
    var logLevel: String = "info"

    @OptionGroup(title: "Distributed training, checkpoints and resuming")
    var cluster: ClusterOptions

    func run() throws {
        let log = Log(level: LogLevel(name: logLevel) ?? .info, prefix: "coordinator")
        let split = try loadData()
        let train = split.train.prefix(limitTrain)
        let run = try RunDirectory(path: cluster.resume ?? out)
        log("\(split.name): \(train.count) training images (\(train.count - Int(Double(train.count) * 0.2)) train / "
              + "\(Int(Double(train.count) * 0.2)) validation), \(split.test.count) test images; run directory \(run.path)")
        var settings = TrainingSettings()
        settings.epochs = epochs
        settings.seed = seed
        settings.microBatchSize = microBatch
        let session = try TrainingSession(
            options: cluster, training: settings, split: split, trainingImages: train.count,
            workerArguments: (data.map { ["--data", $0] } ?? ["--dataset", dataset]) + ["--log-level", logLevel],
            run: run, log: log) {
            LocalBackend(engine: CNNEngine(parameters: initialParameters(seed: seed), threads: threads,
                                           microBatchSize: microBatch), train: train, test: split.test, seed: seed)
        }
        defer { session.finish() }
        let backend = session.backend
        let loop = try TrainingLoop(settings: settings, sampleCount: train.count, backend: backend,
                                    state: session.initialState, log: { log(session.annotate($0)) })
        session.attach(loop)
        try run.writeMetrics(loop.state.history)
        while loop.state.epochsDone < epochs {
            _ = try session.runEpoch(loop)
            try run.writeMetrics(loop.state.history)
        }
        let test = try backend.evaluate(.test, indices: Array(0..<split.test.count), hidden: false)
        try run.writeWeights(loop.state.parameters, metadata: ["seed": "\(seed)", "epochs": "\(epochs)", "dataset": split.name])
        log("test accuracy: \(fmt(100 * Double(test.stats.correct) / Double(test.stats.count), 2))% "
              + "(\(test.stats.correct)/\(test.stats.count)), test loss \(fmt(test.stats.lossSum / Double(test.stats.count), 4))")
        log("wrote \(run.path)/metrics.csv and \(run.path)/weights.safetensors")
    }

    func loadData() throws -> DatasetSplit {
        let source: DatasetSource
        if let data { source = .directory(data) } else if dataset == "fashion-mnist" { source = .fashionMNIST } else {
            source = .mnist()
        }
        return try DatasetSource.load(source)
    }
}
