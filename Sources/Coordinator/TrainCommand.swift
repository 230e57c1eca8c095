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

    func run() throws {
        let log = Log(level: LogLevel(name: logLevel) ?? .info, prefix: "coordinator")
        let split = try loadData()
        let train = split.train.prefix(limitTrain)
        let run = try RunDirectory(path: out)
        log("\(split.name): \(train.count) training images (\(train.count - Int(Double(train.count) * 0.2)) train / "
              + "\(Int(Double(train.count) * 0.2)) validation), \(split.test.count) test images; run directory \(out)")
        var settings = TrainingSettings()
        settings.epochs = epochs
        settings.seed = seed
        settings.microBatchSize = microBatch
        let engine = CNNEngine(parameters: initialParameters(seed: seed), threads: threads, microBatchSize: microBatch)
        let backend = LocalBackend(engine: engine, train: train, test: split.test, seed: seed)
        let loop = try TrainingLoop(settings: settings, sampleCount: train.count, backend: backend,
                                    state: .initial(seed: seed), log: { log($0) })
        let figures = try RunFigures(run: run, log: log)
        figures.imageGrid(train)
        var jsonl: [[String: Double]] = []
        try run.writeMetrics([])
        for _ in 0..<epochs {
            let m = try loop.runEpoch()
            try run.writeMetrics(loop.state.history)
            figures.curves(loop.state.history)
            jsonl.append(["epoch": Double(m.epoch), "loss": m.loss, "acc": m.acc, "val_loss": m.valLoss,
                          "val_acc": m.valAcc, "seconds": m.seconds, "samples_per_second": m.samplesPerSecond])
            try run.writeMetricsJSONL(jsonl)
        }
        let test = try backend.evaluate(.test, indices: Array(0..<split.test.count), hidden: false)
        let accuracy = Double(test.stats.correct) / Double(max(test.stats.count, 1))
        figures.confusion(confusionCounts(trueLabels: split.test.labels, predicted: test.predictions), accuracy: accuracy)
        try run.writeWeights(loop.state.parameters, metadata: ["seed": "\(seed)", "epochs": "\(epochs)", "dataset": split.name])
        try figures.finish()
        log("test accuracy: \(fmt(100 * accuracy, 2))% (\(test.stats.correct)/\(test.stats.count)), "
            + "test loss \(fmt(test.stats.lossSum / Double(max(test.stats.count, 1)), 4))")
        log("peak resident memory \(peakResidentBytes() / 1_048_576) MiB; wrote \(run.path)/: metrics.csv, metrics.jsonl, "
            + "weights.safetensors, MNIST.png, acc_loss.png, cnn_predict.png")
    }

    func loadData() throws -> DatasetSplit {
        let source: DatasetSource
        if let data { source = .directory(data) } else if dataset == "fashion-mnist" { source = .fashionMNIST } else {
            source = .mnist()
        }
        return try DatasetSource.load(source)
    }
}
