/// Throughput measurements printed by `glassbox-coordinator bench`.
public enum Benchmark {
    public struct Result: Sendable {
        public let samplesPerSecond: Double
        public let gflops: Double
    }

    /// Wall-clock seconds of `body`.
    public static func seconds(_ body: () -> Void) -> Double {
        let t0 = now()
        body()
        return now() - t0
    }

    /// Peak sgemm GFLOP/s for square n x n matrices with BLAS at `threads` threads.
    public static func sgemmPeak(n: Int = 2048, threads: Int, repeats: Int = 3) -> Double {
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(1) }
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a.pointer[i] = Float(i % 7) * 0.1; b.pointer[i] = Float(i % 5) * 0.1 }
        var best = Double.infinity
        for _ in 0..<repeats {
            best = min(best, seconds {
                BLAS.sgemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            })
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Training steps of `batch` samples on random images: samples/s, best of `rounds`. Adam starts from
    /// `adam` (e.g. a checkpoint's moments) or from zero.
    public static func training(engine: CNNEngine, batch: Int = 100, steps: Int, rounds: Int = 3,
                                adam start: AdamState? = nil) -> Result {
        let data = syntheticImages(count: batch * steps)
        var adam = start ?? AdamState(count: engine.parameters.count)
        var params = engine.parameters
        var best = Double.infinity
        for round in 0..<rounds {
            best = min(best, seconds {
                for s in 0..<steps {
                    let idx = Array((s * batch)..<((s + 1) * batch))
                    let (g, _) = engine.gradients(microBatches: microBatches(of: idx[...], size: engine.microBatchSize),
                                                  data: data, epoch: round + 1, seed: 1)
                    applyAdam(g, samples: batch, threads: engine.threads, parameters: &params, adam: &adam)
                    engine.setParameters(params)
                }
            })
        }
        let sps = Double(batch * steps) / best
        return Result(samplesPerSecond: sps, gflops: sps * SeedCNN.trainingFlopsPerSample / 1e9)
    }

    /// Inference with `hidden` outputs on random images: samples/s, best of `rounds`.
    public static func forward(engine: CNNEngine, samples: Int, rounds: Int = 3) -> Result {
        let data = syntheticImages(count: samples)
        let idx = Array(0..<samples)
        var best = Double.infinity
        for _ in 0..<rounds { best = min(best, seconds { _ = engine.evaluate(idx, data: data, hidden: true) }) }
        let sps = Double(samples) / best
        return Result(samplesPerSecond: sps, gflops: sps * SeedCNN.inferenceFlopsPerSample / 1e9)
    }

    static func syntheticImages(count: Int) -> LabeledImages {
        var g = SplitMix64(seed: 99, stream: .sampling)
        let pixels = (0..<(count * 784)).map { _ in UInt8(truncatingIfNeeded: g.next() >> 56) }
        let labels = (0..<count).map { _ in UInt8(g.nextInt(below: 10)) }
        return LabeledImages(rows: 28, cols: 28, pixels: pixels, labels: labels)
    }
}
