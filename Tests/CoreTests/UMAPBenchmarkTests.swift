import XCTest
@testable import Core

/// Timings, recall and quality of the UMAP stage at full size on MNIST stand-in activations.
/// Not an assertion: run in release with GLASSBOX_UMAP_BENCH=1 (scripts/umap_bench.sh).
final class UMAPBenchmarkTests: XCTestCase {
    func testBenchmarkMNISTStandIn() throws {
        guard let mode = ProcessInfo.processInfo.environment["GLASSBOX_UMAP_BENCH"] else {
            throw XCTSkip("set GLASSBOX_UMAP_BENCH=1 (release build) to run the UMAP benchmark")
        }
        guard let train = MNISTSample.load(split: .train), let test = MNISTSample.load(split: .test) else {
            throw XCTSkip("MNIST not found at \(MNISTSample.directory)")
        }
        BLAS.setThreads(1)
        let rows = Int(ProcessInfo.processInfo.environment["GLASSBOX_UMAP_BENCH_ROWS"] ?? "") ?? train.rows
        let dim = 512
        // Stand-in activations: ReLU of a fixed random projection of the pixels (scaled to [0, 1]).
        let projection = randomProjection(inputs: 784, outputs: dim, seed: 1)
        let x = reluProjection(train.pixels, rows: rows, projection: projection, outputs: dim)
        let testRows = min(10_000, test.rows)
        let xt = reluProjection(test.pixels, rows: testRows, projection: projection, outputs: dim)
        print("UMAP bench: \(rows) x \(dim), threads \(UMAPOptions.defaultThreads), mode \(mode)")
        if let dir = ProcessInfo.processInfo.environment["GLASSBOX_UMAP_BENCH_DUMP"], !dir.isEmpty {
            // The same activations for scripts/umap_reference.py.
            writeFloat32NPY("\(dir)/x.npy", x, shape: [rows, dim])
            writeFloat32NPY("\(dir)/y.npy", train.labels.prefix(rows).map(Float.init), shape: [rows])
            writeFloat32NPY("\(dir)/xt.npy", xt, shape: [testRows, dim])
            writeFloat32NPY("\(dir)/yt.npy", test.labels.prefix(testRows).map(Float.init), shape: [testRows])
            print("wrote x.npy, y.npy, xt.npy, yt.npy to \(dir)")
        }

        var options = UMAPOptions()
        let clock = ContinuousClock.now
        let model = UMAP.fit(data: x, rows: rows, dim: dim, options: options)
        let fitSeconds = seconds(since: clock)
        let t = model.timings
        print(String(format: "fit %.2f s (neighbours %.2f, graph %.2f, init %.2f, SGD %.2f)",
                     fitSeconds, t.neighbors, t.graph, t.initialization, t.optimization))

        var c = ContinuousClock.now
        let yt = model.transform(newData: xt, rows: testRows)
        print(String(format: "transform %d points %.2f s", testRows, seconds(since: c)))

        c = .now
        let trust = trustworthiness(data: x, dim: dim, embedding: model.embedding, k: 10, sampleSize: 5000, seed: 7)
        let accuracy = knnClassifierAccuracy(trainEmbedding: model.embedding, trainLabels: Array(train.labels.prefix(rows)),
                                             testEmbedding: yt, testLabels: Array(test.labels.prefix(testRows)))
        print(String(format: "trustworthiness(k=10, 5000) %.4f, 10-NN test accuracy %.4f (%.2f s)", trust, accuracy,
                     seconds(since: c)))

        if mode.contains("recall") {
            c = .now
            let exact = exactNearestNeighbors(data: x, rows: rows, dim: dim, k: options.nNeighbors)
            print(String(format: "exact kNN %.2f s; recall of fit's graph %.4f", seconds(since: c),
                         neighborRecall(model.neighbors, exact: exact)))
        }

        // Warm fit: the next "epoch" drifts the projection by 15% (GLASSBOX_UMAP_BENCH_DRIFT).
        let drift = Float(ProcessInfo.processInfo.environment["GLASSBOX_UMAP_BENCH_DRIFT"] ?? "") ?? 0.15
        let drifted = zip(projection, randomProjection(inputs: 784, outputs: dim, seed: 2)).map { (1 - drift) * $0 + drift * $1 }
        let x2 = reluProjection(train.pixels, rows: rows, projection: drifted, outputs: dim)
        let env = ProcessInfo.processInfo.environment
        var warmOptions = options
        if let e = env["WARM_EPOCHS"].flatMap(Int.init) { warmOptions.warmEpochs = e }
        if let r = env["WARM_LR"].flatMap(Float.init) { warmOptions.warmLearningRate = r }
        if let p = env["WARM_PASSES"].flatMap(Int.init) { warmOptions.search.warmRefinementPasses = p }
        print("warm options: \(warmOptions.warmEpochs) epochs, learning rate \(warmOptions.warmLearningRate), \(warmOptions.search.warmRefinementPasses) passes")
        c = .now
        let warm = UMAP.warmFit(data: x2, previous: model, options: warmOptions)
        let wt = warm.timings
        print(String(format: "warm fit %.2f s (neighbours %.2f, graph %.2f, SGD %.2f, align %.3f)", seconds(since: c),
                     wt.neighbors, wt.graph, wt.optimization, wt.alignment))
        let warmTrust = trustworthiness(data: x2, dim: dim, embedding: warm.embedding, k: 10, sampleSize: 5000, seed: 7)
        print(String(format: "warm: displacement %.4f, trustworthiness %.4f",
                     frameDisplacement(from: model.embedding, to: warm.embedding), warmTrust))
        if mode.contains("fresh") && !mode.contains("nofresh") {
            options.seed = 1
            let fresh = UMAP.fit(data: x2, rows: rows, dim: dim, options: options)
            let aligned = alignProcrustes(fresh.embedding, onto: model.embedding)
            let freshTrust = trustworthiness(data: x2, dim: dim, embedding: fresh.embedding, k: 10, sampleSize: 5000, seed: 7)
            print(String(format: "fresh: displacement %.4f (Procrustes-aligned), trustworthiness %.4f",
                         frameDisplacement(from: model.embedding, to: aligned), freshTrust))
        }
        if mode.contains("recall") {
            let exact2 = exactNearestNeighbors(data: x2, rows: rows, dim: dim, k: options.nNeighbors)
            print(String(format: "recall of warm graph %.4f", neighborRecall(warm.neighbors, exact: exact2)))
        }
    }

    func randomProjection(inputs: Int, outputs: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed, stream: .sampling, 99)
        let scale = 1 / Double(inputs).squareRoot()
        return (0..<(inputs * outputs)).map { _ in Float(g.nextGaussian() * scale) }
    }

    func reluProjection(_ pixels: [Float], rows: Int, projection: [Float], outputs: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * outputs)
        pixels.withUnsafeBufferPointer { p in
            projection.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    BLAS.sgemm(m: rows, n: outputs, k: 784, a: p.baseAddress!, lda: 784, b: w.baseAddress!, ldb: outputs,
                               c: o.baseAddress!, ldc: outputs)
                }
            }
        }
        for i in 0..<out.count { out[i] = max(out[i], 0) }
        return out
    }
}

/// A float32 .npy (format 1.0, C order), for handing the benchmark's data to umap-learn.
func writeFloat32NPY(_ path: String, _ values: [Float], shape: [Int]) {
    let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let length = UInt16(header.utf8.count)
    data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
    data.append(contentsOf: Array(header.utf8))
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    _ = FileManager.default.createFile(atPath: path, contents: data)
}
