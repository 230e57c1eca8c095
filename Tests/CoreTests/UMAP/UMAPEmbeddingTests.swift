import XCTest
@testable import Core

/// Whole fits: maps of known structure, transform, warm fits, reproducibility.
final class UMAPEmbeddingTests: XCTestCase {
    /// Small and quick in a debug build: fewer neighbours and epochs than the defaults.
    func quickOptions() -> UMAPOptions { quickUMAPOptions(nEpochs: 120, seed: 3) }

    func testWellSeparatedBlobsAreSeparatedInTheMap() {
        let (data, labels) = gaussianBlobs(clusters: 10, perCluster: 100, dim: 50)
        let model = UMAP.fit(data: data, rows: 1000, dim: 50, options: quickOptions())
        let accuracy = leaveOneOutAccuracy(model.embedding, labels: labels, k: 10)
        XCTAssertGreaterThanOrEqual(accuracy, 0.99, "2-D 10-NN accuracy")
        XCTAssertFalse(model.embedding.contains { !$0.isFinite })
    }

    func testTrustworthinessOnRealMNISTPixelsIsAbove090() throws {
        guard let mnist = MNISTSample.load(split: .train, limit: 1000) else {
            throw XCTSkip("MNIST not found at \(MNISTSample.directory) (set GLASSBOX_DATA)")
        }
        var options = quickOptions()
        options.nEpochs = 150
        let model = UMAP.fit(data: mnist.pixels, rows: mnist.rows, dim: 784, options: options)
        let t = trustworthiness(data: mnist.pixels, dim: 784, embedding: model.embedding, k: 10)
        print("MNIST 1,000 pixels: trustworthiness(k=10) \(t)")
        XCTAssertGreaterThanOrEqual(t, 0.90)
    }

    func testTransformPutsHeldOutPointsIntoTheirOwnCluster() {
        let (all, labels) = gaussianBlobs(clusters: 8, perCluster: 70, dim: 30, separation: 6)
        let train = 480, test = 80  // rows are interleaved by cluster, so both splits cover every cluster
        let x = Array(all[0..<(train * 30)]), xt = Array(all[(train * 30)...])
        let model = UMAP.fit(data: x, rows: train, dim: 30, options: quickOptions())
        let yt = model.transform(newData: xt, rows: test)
        XCTAssertEqual(yt.count, test * 2)
        let accuracy = knnClassifierAccuracy(trainEmbedding: model.embedding, trainLabels: Array(labels[0..<train]),
                                             testEmbedding: yt, testLabels: Array(labels[train...]))
        XCTAssertGreaterThanOrEqual(accuracy, 0.99, "held-out points land among their own cluster")
    }

    func testWarmFitAfterASmallChangeMovesPointsMuchLessThanAFreshFit() {
        let (data, _) = gaussianBlobs(clusters: 6, perCluster: 70, dim: 20, separation: 3)
        var g = SplitMix64(seed: 9, stream: .sampling)
        let changed = data.map { $0 + Float(g.nextGaussian() * 0.1) }
        let options = quickOptions()
        let first = UMAP.fit(data: data, rows: 420, dim: 20, options: options)
        let warm = UMAP.warmFit(data: changed, previous: first)
        var other = options
        other.seed = 4
        let fresh = UMAP.fit(data: changed, rows: 420, dim: 20, options: other)
        let warmMove = frameDisplacement(from: first.embedding, to: warm.embedding)
        let freshMove = frameDisplacement(from: first.embedding, to: alignProcrustes(fresh.embedding, onto: first.embedding))
        print("displacement / RMS radius: warm \(warmMove), fresh (Procrustes-aligned) \(freshMove)")
        XCTAssertLessThan(warmMove, 0.5 * freshMove)
    }

    func testSameSeedGivesTheSameMapOnAnyThreadCount() {
        let (data, _) = gaussianBlobs(clusters: 4, perCluster: 60, dim: 10, separation: 4)
        var options = quickOptions()
        options.threads = 2
        let first = UMAP.fit(data: data, rows: 240, dim: 10, options: options)
        let again = UMAP.fit(data: data, rows: 240, dim: 10, options: options)
        XCTAssertEqual(first.embedding, again.embedding, "same seed, 2 threads, twice")
        for threads in [1, 3] {
            options.threads = threads
            let other = UMAP.fit(data: data, rows: 240, dim: 10, options: options)
            XCTAssertEqual(other.embedding, first.embedding, "\(threads) threads vs 2")
        }
    }

    /// Above 4,096 rows (approximate neighbours) on real data: every stage of a fit and a warm fit is
    /// thread-count free.
    func testMNISTMapsAreTheSameOnOneAndTwoThreads() throws {
        guard let mnist = MNISTSample.load(split: .train, limit: 5000) else {
            throw XCTSkip("MNIST not found at \(MNISTSample.directory) (set GLASSBOX_DATA)")
        }
        var options = quickOptions()
        options.nEpochs = 30
        options.warmEpochs = 10
        let changed = mnist.pixels.enumerated().map { $0.element * (1 + Float($0.offset % 7) * 0.01) }
        var fits = [UMAPModel](), warm = [UMAPModel]()
        for threads in [1, 2] {
            options.threads = threads
            fits.append(UMAP.fit(data: mnist.pixels, rows: mnist.rows, dim: 784, options: options))
            warm.append(UMAP.warmFit(data: changed, previous: fits.last!))
        }
        XCTAssertEqual(fits[0].neighbors, fits[1].neighbors, "neighbours")
        XCTAssertEqual(fits[0].graph, fits[1].graph, "fuzzy graph")
        XCTAssertEqual(fits[0].embedding, fits[1].embedding, "map")
        XCTAssertEqual(warm[0].neighbors, warm[1].neighbors, "warm neighbours")
        XCTAssertEqual(warm[0].embedding, warm[1].embedding, "warm map")
    }
}

extension UMAPEmbeddingTests {
    func testTinyAndDegenerateInputsGiveFiniteMaps() {
        var g = SplitMix64(seed: 2, stream: .sampling)
        var options = UMAPOptions()
        options.nEpochs = 50
        for rows in [2, 5, 12, 60] {
            let data = (0..<(rows * 3)).map { _ in Float(g.nextGaussian()) }
            let model = UMAP.fit(data: data, rows: rows, dim: 3, options: options)
            XCTAssertEqual(model.embedding.count, rows * 2)
            XCTAssertFalse(model.embedding.contains { !$0.isFinite }, "\(rows) rows")
            let placed = model.transform(newData: Array(data.prefix(6)), rows: 2)
            XCTAssertFalse(placed.contains { !$0.isFinite }, "transform into \(rows) rows")
        }
        // Many identical rows (zero distances, rho = 0, sigma at its floor).
        let duplicates = [Float](repeating: 1, count: 40 * 3) + (0..<(40 * 3)).map { _ in Float(g.nextGaussian()) }
        let model = UMAP.fit(data: duplicates, rows: 80, dim: 3, options: options)
        XCTAssertFalse(model.embedding.contains { !$0.isFinite })
    }
}
