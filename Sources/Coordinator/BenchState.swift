import ArgumentParser
import Core

/// `bench --state RUN_DIR`: a late epoch's state in the benchmark. After many epochs Adam's moments of
/// rarely-used weights decay into subnormal floats; with flush-to-zero off, arithmetic on them slowed
/// training 1.8x by epoch 100 (issue 11). This counts them and times training steps from that state.
struct StateBenchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A run directory with a checkpoint: count the subnormal floats in its weights and Adam "
                               + "moments, and time training steps starting from them (a late epoch's speed).",
                               valueName: "run-directory"))
    var state: String?

    func run(threads: Int, microBatch: Int, steps: Int) throws {
        guard let state else { return }
        let (saved, _) = try Checkpoint.read(in: state)
        func share(_ values: [Float]) -> String {
            let n = subnormalCount(values)
            return String(format: "%d of %d (%.2f%%)", n, values.count, 100 * Double(n) / Double(max(1, values.count)))
        }
        print("state after epoch \(saved.epochsDone): subnormal weights \(share(saved.parameters)), "
              + "Adam m \(share(saved.adam.m)), Adam v \(share(saved.adam.v))")
        let engine = CNNEngine(parameters: saved.parameters, threads: threads, microBatchSize: microBatch)
        let t = Benchmark.training(engine: engine, steps: steps, adam: saved.adam)
        print(String(format: "glassbox training from that state: %.0f samples/s (%.1f GFLOP/s)", t.samplesPerSecond, t.gflops))
    }
}
