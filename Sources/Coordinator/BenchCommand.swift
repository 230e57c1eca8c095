import ArgumentParser
import Core

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm peak, training and forward (hidden outputs) throughput in this process.")

    @Option(help: "Compute threads (micro-batches run in parallel; BLAS uses one thread each).")
    var threads: Int = defaultThreadCount()
    @Option(help: "Samples per micro-batch.")
    var microBatch: Int = 25
    @Option(help: "Training steps of 100 samples per timing round.")
    var steps: Int = 30
    @Option(help: "Samples for the forward timing.")
    var forwardSamples: Int = 5000
    @OptionGroup var lateEpoch: StateBenchOptions

    func run() throws {
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
