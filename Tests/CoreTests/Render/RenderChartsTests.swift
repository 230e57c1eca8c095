import Foundation
import XCTest
@testable import Core

final class RenderChartsTests: XCTestCase {
    func testScatterOfTenClustersShowsAllTenClassColours() throws {
        let (points, labels) = clusteredPoints(perClass: 600)
        let limits = AxisLimits.fitting(allFrames: [points])
        // Without the colour bar, the class colours can only come from the points.
        let image = drawScatter(points: points, labels: labels, title: "Epoch 3", limits: limits, colorBar: false)
        let path = try renderOutputDirectory("charts") + "/scatter.png"
        try writePNG(image, to: path)
        let decoded = try readPNG(path)
        XCTAssertEqual(decoded.width, 800)
        XCTAssertEqual(decoded.height, 600)
        for (label, color) in Palette.tab10.enumerated() {
            let n = countPixels(near: color, in: decoded, tolerance: 4)
            XCTAssertGreaterThan(n, 500, "class \(label) has only \(n) pixels of its colour")
        }
        XCTAssertEqual(countPixels(near: .gold, in: decoded), 0)
    }

    /// Sixty thousand points (the full training set) still show every class and the test stars, and the
    /// three frames make a GIF. Prints the timings too (not asserted: the machine is shared; the target
    /// is < 0.5 s a frame).
    func testSixtyThousandPointsShowEveryClassAndTheGIFHoldsTheFrames() throws {
        let (points, labels) = clusteredPoints(perClass: 6000, spread: 2.5)
        let (test, _) = clusteredPoints(perClass: 1000, seed: 2, spread: 2.5)
        let limits = AxisLimits.fitting(allFrames: [points])
        let dir = try renderOutputDirectory("charts")
        var start = now()
        let frame = drawScatter(points: points, labels: labels, title: "Epoch 0", limits: limits, colorBar: false)
        print(String(format: "drawScatter, 60,000 points: %.3f s", now() - start))
        start = now()
        let map = drawTrainTestMap(train: points, trainLabels: labels, test: test, limits: limits,
                                   title: "train and test data")
        print(String(format: "drawTrainTestMap, 60,000 + 10,000 points: %.3f s", now() - start))
        start = now()
        let gifPath = dir + "/three-frames.gif"
        try writeAnimatedGIF(frames: [frame, map, frame], to: gifPath)
        print(String(format: "writeAnimatedGIF, 3 frames of 800x600: %.3f s", now() - start))
        try writePNG(frame, to: dir + "/epoch_000.png")
        try writePNG(map, to: dir + "/train_test_60k.png")

        XCTAssertEqual([frame.width, frame.height], [800, 600])
        for (label, color) in Palette.tab10.enumerated() {
            let n = countPixels(near: color, in: frame, tolerance: 4)
            XCTAssertGreaterThan(n, 2000, "class \(label) has only \(n) pixels of its colour among 60,000 points")
        }
        let legendGold = countPixels(near: .gold, in: drawTrainTestMap(
            train: points, trainLabels: labels, test: [], limits: limits, title: "train data"))
        let gold = countPixels(near: .gold, in: map)
        XCTAssertGreaterThan(gold, legendGold + 1000, "only \(gold) gold pixels for 10,000 test stars")
        let info = try readGIFInfo(gifPath)
        XCTAssertEqual(info.frameCount, 3)
        XCTAssertEqual([info.width, info.height], [800, 600])
    }

    func testTrainTestMapDrawsGoldStars() throws {
        let (train, labels) = clusteredPoints(perClass: 500)
        let (test, _) = clusteredPoints(perClass: 100, seed: 9)
        let limits = AxisLimits.fitting(allFrames: [train, test])
        let image = drawTrainTestMap(train: train, trainLabels: labels, test: test, limits: limits,
                                     title: "train and test data")
        let path = try renderOutputDirectory("charts") + "/train_test_dist.png"
        try writePNG(image, to: path)
        let decoded = try readPNG(path)
        XCTAssertEqual(decoded.width, 800)
        XCTAssertEqual(decoded.height, 600)
        let gold = countPixels(near: .gold, in: decoded)
        // Without test points only the legend's star is gold.
        let legendOnly = drawTrainTestMap(train: train, trainLabels: labels, test: [], limits: limits,
                                          title: "train data")
        let legendGold = countPixels(near: .gold, in: legendOnly)
        XCTAssertGreaterThan(legendGold, 20, "the legend has no gold star")
        XCTAssertGreaterThan(gold, legendGold + 1000, "only \(gold) gold pixels for 1000 stars")
    }

    func testAccuracyLossFigureHasRedAndBlueSeries() throws {
        let image = drawAccuracyLoss(acc: [0.912, 0.971, 0.979, 0.983, 0.986],
                                     valAcc: [0.962, 0.975, 0.981, 0.983, 0.985],
                                     loss: [0.29, 0.095, 0.068, 0.055, 0.046],
                                     valLoss: [0.12, 0.081, 0.064, 0.058, 0.054])
        let path = try renderOutputDirectory("charts") + "/acc_loss.png"
        try writePNG(image, to: path)
        let decoded = try readPNG(path)
        XCTAssertEqual(decoded.width, 1200)
        XCTAssertEqual(decoded.height, 480)
        XCTAssertGreaterThan(countPixels(near: .red, in: decoded), 300)
        XCTAssertGreaterThan(countPixels(near: .blue, in: decoded), 300)
    }

    func testConfusionCountsEqualADirectCount() {
        var rng = SplitMix64(seed: 5, stream: .sampling)
        let truth = (0..<2000).map { _ in UInt8(rng.nextInt(below: 10)) }
        let predicted = truth.map { rng.nextInt(below: 5) == 0 ? UInt8(rng.nextInt(below: 10)) : $0 }
        let counts = confusionCounts(trueLabels: truth, predicted: predicted)
        for t in 0..<10 {
            for p in 0..<10 {
                let direct = zip(truth, predicted).filter { $0 == UInt8(t) && $1 == UInt8(p) }.count
                XCTAssertEqual(counts[t][p], direct, "cell true \(t) predicted \(p)")
            }
        }
        XCTAssertEqual(counts.joined().reduce(0, +), 2000)
    }

    func testConfusionMatrixDrawingShowsTheCounts() throws {
        var counts = (0..<10).map { t in (0..<10).map { p in t == p ? 950 + 7 * t : (t + p) % 4 } }
        let first = drawConfusionMatrix(counts: counts, title: "test accuracy 97.9%")
        XCTAssertEqual(first, drawConfusionMatrix(counts: counts, title: "test accuracy 97.9%"),
                       "drawing is not deterministic")
        counts[3][5] = 40
        let second = drawConfusionMatrix(counts: counts, title: "test accuracy 97.9%")
        let differing = stride(from: 0, to: first.pixels.count, by: 4).filter {
            first.pixels[$0..<$0 + 3] != second.pixels[$0..<$0 + 3]
        }.count
        XCTAssertGreaterThan(differing, 20, "changing a count changed only \(differing) pixels")
        let path = try renderOutputDirectory("charts") + "/cnn_predict.png"
        try writePNG(second, to: path)
        XCTAssertEqual(try readPNG(path).width, first.width)
    }

    func testImageGridShowsEachDigitEnlarged() throws {
        // Digit i: a white bar in column i+5 of an otherwise black 28x28 image.
        let images = (0..<100).flatMap { i in (0..<784).map { $0 % 28 == i % 10 + 5 ? UInt8(255) : 0 } }
        let labels = (0..<100).map { UInt8($0 % 10) }
        let image = drawImageGrid(images: images, labels: labels)
        let path = try renderOutputDirectory("charts") + "/MNIST.png"
        try writePNG(image, to: path)
        let decoded = try readPNG(path)
        XCTAssertEqual(decoded, image)
        // 100 images of 84x84 pixels, each 3 of its 84 columns white, the rest black.
        XCTAssertEqual(countPixels(near: .black, in: decoded, tolerance: 0) >= 100 * 81 * 84, true)
    }
}
