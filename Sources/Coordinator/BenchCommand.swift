import ArgumentParser
import CommandLineOptions
import Core

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure this process' speed: the CNN (default) or the UMAP stage.",
        subcommands: [CNNBench.self, UMAPBench.self],
        defaultSubcommand: CNNBench.self)
}

/// `bench` / `bench cnn`: sgemm peak, training and forward throughput (scripts/bench.sh).
struct CNNBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnn",
        abstract: "Measure sgemm peak, training and forward (hidden outputs) throughput in this process.")

    @Option(parsing: .unconditional, help: "Compute threads (micro-batches run in parallel; BLAS uses one thread each).")
    var threads: Int = defaultThreadCount()
    @Option(help: kernelsHelp)
    var kernels = "auto"
    @Option(parsing: .unconditional, help: "Samples per micro-batch.")
    var microBatch: Int = 25
    @Option(parsing: .unconditional, help: "Training steps of 100 samples per timing round.")
    var steps: Int = 30
    @Option(parsing: .unconditional, help: "Samples for the forward timing.")
    var forwardSamples: Int = 5000
    @OptionGroup var lateEpoch: StateBenchOptions

    func validate() throws {
        try validateThreadCount(threads)
        try validateKernels(kernels)
        try validateCount(microBatch, in: 1...100, option: "--micro-batch", because: "batch 100 is cut into these")
        try validateCount(steps, in: 1...1_000_000, option: "--steps")
        try validateCount(forwardSamples, in: 1...10_000_000, option: "--forward-samples")
        if let state = lateEpoch.state {
            // Read before the minutes of timing, so that a wrong path is said at once.
            _ = try Checkpoint.read(in: state)
        }
    }

    func run() throws {
        _ = try selectKernels(kernels)
        printBenchMachine()
        let peak = Benchmark.sgemmPeak(threads: threads)
        print(String(format: "sgemm 2048^3 peak: %.1f GFLOP/s (%d threads)", peak, threads))
        let engine = CNNEngine(parameters: initialParameters(seed: 1), threads: threads, microBatchSize: microBatch)
        let t = Benchmark.training(engine: engine, steps: steps)
        print(String(format: "glassbox training: %.0f samples/s (%.1f GFLOP/s)", t.samplesPerSecond, t.gflops))
        let f = Benchmark.forward(engine: engine, samples: forwardSamples)
        print(String(format: "glassbox forward (hidden): %.0f samples/s (%.1f GFLOP/s)", f.samplesPerSecond, f.gflops))
        try lateEpoch.run(threads: threads, microBatch: microBatch, steps: steps)
        print(String(format: "peak resident memory: %.0f MiB", Double(peakResidentBytes()) / 1_048_576))
    }
}

/// `bench umap`: the UMAP stage on MNIST stand-in activations (scripts/umap_bench.sh).
struct UMAPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umap",
        abstract: "Time fit, transform and warm fit of UMAP on stand-in activations of MNIST, with their quality.",
        discussion: """
            The activations are the ReLU of a fixed random 784 -> 512 projection of the training images \
            (the test images for transform); the warm fit's data drifts that projection. Uses every core.
            """)

    @Option(help: "Directory holding the four MNIST IDX files.")
    var data: String = "data/mnist"
    @Option(parsing: .unconditional, help: "Use the first N training rows (default: all).")
    var rows: Int?
    @Flag(help: "Also the exact kNN graphs (slow: ~25 s each) and the recall of the approximate ones.")
    var recall = false
    @Flag(help: "Also a fresh fit of the drifted data, for the warm fit's steadiness ratio.")
    var fresh = false
    @Option(help: "Write x.npy, y.npy, xt.npy, yt.npy here for scripts/umap_reference.py.")
    var dump: String?
    @Option(parsing: .unconditional, help: "How far the warm fit's projection drifts towards another random one.")
    var drift: Float = 0.15
    @Option(parsing: .unconditional, help: "Warm fit SGD epochs (default: UMAPOptions').")
    var warmEpochs: Int?
    @Option(parsing: .unconditional, help: "Warm fit initial learning rate (default: UMAPOptions').")
    var warmLearningRate: Float?
    @Option(parsing: .unconditional, help: "Warm fit refinement passes (default: UMAPOptions').")
    var warmPasses: Int?

    func validate() throws {
        // UMAP needs more rows than neighbours per row.
        if let rows { try validateCount(rows, in: 100...10_000_000, option: "--rows") }
        if let n = warmEpochs { try validateCount(n, in: 1...100_000, option: "--warm-epochs") }
        if let n = warmPasses { try validateCount(n, in: 0...100, option: "--warm-passes") }
        guard drift.isFinite, drift >= 0 else { throw ValidationError("--drift must be a number >= 0, got \(drift)") }
        if let rate = warmLearningRate, !(rate > 0 && rate.isFinite) {
            throw ValidationError("--warm-learning-rate must be a number > 0, got \(rate)")
        }
    }

    func run() throws {
        let split = try DatasetSource.load(.directory(data))
        var bench = UMAPBenchmark()
        bench.rows = rows
        bench.recall = recall
        bench.fresh = fresh
        bench.dumpDirectory = dump
        bench.drift = drift
        bench.warmEpochs = warmEpochs
        bench.warmLearningRate = warmLearningRate
        bench.warmPasses = warmPasses
        try bench.run(train: split.train, test: split.test) { print($0) }
    }
}
