import Foundation

/// The UMAP stage at full size on MNIST stand-in activations (ReLU of a fixed random 784 -> 512
/// projection of the pixels): fit, transform, quality and a warm fit after a drift of the projection,
/// timed and printed by `glassbox-coordinator bench umap` (scripts/umap_bench.sh). Measures; asserts
/// nothing.
public struct UMAPBenchmark {
    /// Training rows used (nil: all).
    public var rows: Int?
    /// Also the exact kNN graphs (slow) and the recall of the approximate ones.
    public var recall = false
    /// Also a fresh fit of the drifted data, for the warm fit's steadiness ratio.
    public var fresh = false
    /// Where to write x.npy, y.npy, xt.npy, yt.npy for scripts/umap_reference.py (nil: nowhere).
    public var dumpDirectory: String?
    /// How far the "next epoch's" projection drifts towards another random one.
    public var drift: Float = 0.15
    /// Warm-fit knobs replacing `UMAPOptions`' defaults where given.
    public var warmEpochs: Int?
    public var warmLearningRate: Float?
    public var warmPasses: Int?

    public init() {}

    /// Runs the measurement on `train` (fit) and up to 10,000 of `test` (transform), writing each
    /// result line with `report`.
    public func run(train: LabeledImages, test: LabeledImages, report: (String) -> Void) throws {
        BLAS.setThreads(1)
        let rows = min(self.rows ?? train.count, train.count)
        let dim = 512
        let trainPixels = scaledPixels(train, count: rows)
        let projection = Self.randomProjection(inputs: 784, outputs: dim, seed: 1)
        let x = Self.reluProjection(trainPixels, rows: rows, projection: projection, outputs: dim)
        let testRows = min(10_000, test.count)
        let xt = Self.reluProjection(scaledPixels(test, count: testRows), rows: testRows, projection: projection,
                                     outputs: dim)
        let trainLabels = train.labels.prefix(rows).map(Int32.init)
        let testLabels = test.labels.prefix(testRows).map(Int32.init)
        report("UMAP bench: \(rows) x \(dim), threads \(UMAPOptions.defaultThreads), recall \(recall), fresh \(fresh)")
        if let dir = dumpDirectory, !dir.isEmpty {
            try NPY.write(NPYArray(shape: [rows, dim], values: x), to: "\(dir)/x.npy")
            try NPY.write(NPYArray(shape: [rows], values: trainLabels.map(Float.init)), to: "\(dir)/y.npy")
            try NPY.write(NPYArray(shape: [testRows, dim], values: xt), to: "\(dir)/xt.npy")
            try NPY.write(NPYArray(shape: [testRows], values: testLabels.map(Float.init)), to: "\(dir)/yt.npy")
            report("wrote x.npy, y.npy, xt.npy, yt.npy to \(dir)")
        }

        var options = UMAPOptions()
        var start = now()
        let model = UMAP.fit(data: x, rows: rows, dim: dim, options: options)
        let t = model.timings
        report(String(format: "fit %.2f s (neighbours %.2f, graph %.2f, init %.2f, SGD %.2f)",
                      now() - start, t.neighbors, t.graph, t.initialization, t.optimization))

        start = now()
        let yt = model.transform(newData: xt, rows: testRows)
        report(String(format: "transform %d points %.2f s", testRows, now() - start))

        start = now()
        let trust = trustworthiness(data: x, dim: dim, embedding: model.embedding, k: 10, sampleSize: 5000, seed: 7)
        let trustSeconds = now() - start
        start = now()
        let accuracy = knnClassifierAccuracy(trainEmbedding: model.embedding, trainLabels: trainLabels,
                                             testEmbedding: yt, testLabels: testLabels)
        report(String(format: "trustworthiness(k=10, 5000) %.4f (%.2f s), 10-NN test accuracy %.4f (%.2f s)", trust,
                      trustSeconds, accuracy, now() - start))

        if recall {
            start = now()
            let exact = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: options.nNeighbors)
            report(String(format: "exact kNN %.2f s; recall of fit's graph %.4f", now() - start,
                          neighborRecall(model.neighbors, exact: exact)))
        }

        let drifted = zip(projection, Self.randomProjection(inputs: 784, outputs: dim, seed: 2)).map {
            (1 - drift) * $0 + drift * $1
        }
        let x2 = Self.reluProjection(trainPixels, rows: rows, projection: drifted, outputs: dim)
        var warmOptions = options
        if let warmEpochs { warmOptions.warmEpochs = warmEpochs }
        if let warmLearningRate { warmOptions.warmLearningRate = warmLearningRate }
        if let warmPasses { warmOptions.search.warmRefinementPasses = warmPasses }
        report("warm options: \(warmOptions.warmEpochs) epochs, learning rate \(warmOptions.warmLearningRate), "
               + "\(warmOptions.search.warmRefinementPasses) passes")
        start = now()
        let warm = UMAP.warmFit(data: x2, previous: model, options: warmOptions)
        let wt = warm.timings
        report(String(format: "warm fit %.2f s (neighbours %.2f, graph %.2f, SGD %.2f, align %.3f)", now() - start,
                      wt.neighbors, wt.graph, wt.optimization, wt.alignment))
        let warmTrust = trustworthiness(data: x2, dim: dim, embedding: warm.embedding, k: 10, sampleSize: 5000, seed: 7)
        report(String(format: "warm: displacement %.4f, trustworthiness %.4f",
                      frameDisplacement(from: model.embedding, to: warm.embedding), warmTrust))
        if fresh {
            options.seed = 1
            let refit = UMAP.fit(data: x2, rows: rows, dim: dim, options: options)
            let aligned = alignProcrustes(refit.embedding, onto: model.embedding)
            let freshTrust = trustworthiness(data: x2, dim: dim, embedding: refit.embedding, k: 10, sampleSize: 5000,
                                             seed: 7)
            report(String(format: "fresh: displacement %.4f (Procrustes-aligned), trustworthiness %.4f",
                          frameDisplacement(from: model.embedding, to: aligned), freshTrust))
        }
        if recall {
            let exact2 = exactNearestNeighbors(data: x2, rows: rows, dim: dim, k: options.nNeighbors)
            report(String(format: "recall of warm graph %.4f", neighborRecall(warm.neighbors, exact: exact2)))
        }
    }

    /// The first `count` images' pixels scaled to [0, 1], (count, 784).
    private func scaledPixels(_ images: LabeledImages, count: Int) -> [Float] {
        images.pixels[0..<(count * images.pixelsPerImage)].map { Float($0) / 255 }
    }

    /// A (inputs, outputs) matrix of N(0, 1/inputs) entries, the same for the same seed.
    static func randomProjection(inputs: Int, outputs: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling, 99)
        let scale = 1 / Double(inputs).squareRoot()
        return (0..<(inputs * outputs)).map { _ in Float(g.nextGaussian() * scale) }
    }

    /// max(0, pixels · projection): (rows, outputs).
    static func reluProjection(_ pixels: [Float], rows: Int, projection: [Float], outputs: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * outputs)
        pixels.withUnsafeBufferPointer { p in
            projection.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    BLAS.sgemm(m: rows, n: outputs, k: 784, a: p.baseAddress!, lda: 784, b: w.baseAddress!,
                               ldb: outputs, c: o.baseAddress!, ldc: outputs)
                }
            }
        }
        for i in 0..<out.count { out[i] = max(out[i], 0) }
        return out
    }
}
