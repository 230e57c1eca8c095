import Core
import Foundation

/// Draws and writes a run's figures and `report.html` on a background thread at a low priority, off
/// the training's critical path and out of its cores' way (`BackgroundLane`), each file atomically (a
/// temporary file, then rename) so a reader or a crash never leaves half a file. Errors are kept and
/// reported by `finish()`, so a bad output path stops the run with one line.
final class RunFigures: @unchecked Sendable {
    let run: RunDirectory
    private let lane = BackgroundLane(name: "glassbox.figures")
    private let lock = NSLock()
    private var firstError: Error?
    private var frames: [Int: RGBAImage] = [:]
    /// The report's image sprite sheets, encoded for the first page and reused by every later one.
    private var spriteSheets: [Data]?
    private let log: Log

    init(run: RunDirectory, log: Log) throws {
        self.run = run
        self.log = log
        try FileManager.default.createDirectory(atPath: run.file("fig"), withIntermediateDirectories: true)
    }

    deinit { lane.close() }

    private func later(_ what: String, _ body: @escaping @Sendable () throws -> Void) {
        lane.async {
            do { try body() } catch {
                self.lock.lock(); defer { self.lock.unlock() }
                // The first failure is the run's error (`finish` throws it); the rest (a full or read-only
                // disk fails every later file too) would only repeat it.
                guard self.firstError == nil else { return }
                self.firstError = error
                self.log("could not write \(what) (the run stops with this error once training is done): \(error)",
                         .warning)
            }
        }
    }

    /// `MNIST.png`: the first 100 training images with their labels.
    func imageGrid(_ images: LabeledImages) {
        let n = min(100, images.count)
        let pixels = Array(images.pixels[0..<(n * 784)]), labels = Array(images.labels[0..<n])
        later("MNIST.png") { [run] in
            try RunFigures.writeAtomically(run.file("MNIST.png")) {
                try writePNG(drawImageGrid(images: pixels, labels: labels, rows: 10, cols: 10), to: $0)
            }
        }
    }

    /// `fig/epoch_NNN.png` for one epoch's map; frames are kept for the GIF. A run draws each frame
    /// as its map is done, with that frame's own limits, and all again at the end with common ones.
    func epochFrame(epoch: Int, points: [Float], labels: [UInt8], limits: AxisLimits) {
        later("fig/epoch_\(epoch).png") { [run, log] in
            let start = now()
            let image = drawScatter(points: points, labels: labels, title: "Epoch \(epoch)", limits: limits)
            try RunFigures.writeAtomically(run.file("fig/" + RunDirectory.epochStem(epoch) + ".png")) { try writePNG(image, to: $0) }
            self.lock.lock(); self.frames[epoch] = image; self.lock.unlock()
            log("fig/\(RunDirectory.epochStem(epoch)).png drawn in \(fmt(now() - start, 2)) s", .debug)
        }
    }

    /// Every frame with the limits common to all frames and the final test points, `mnist.gif`, and
    /// `train_test_dist.png` (the last frame with the test points): the end of a run, or `render`.
    func mapFigures(frames: [(epoch: Int, points: [Float])], labels: [UInt8], testPoints: [Float]) {
        guard let last = frames.last else { return }
        let limits = AxisLimits.fitting(allFrames: frames.map(\.points) + [testPoints])
        for frame in frames { epochFrame(epoch: frame.epoch, points: frame.points, labels: labels, limits: limits) }
        animation()
        trainTest(train: last.points, labels: labels, test: testPoints, limits: limits)
    }

    /// `mnist.gif`: every frame drawn so far, in epoch order, 500 ms each, looping forever.
    func animation() {
        later("mnist.gif") { [run] in
            self.lock.lock(); let frames = self.frames.sorted { $0.key < $1.key }.map(\.value); self.lock.unlock()
            try RunFigures.writeAtomically(run.file("mnist.gif")) {
                try writeAnimatedGIF(frames: frames, delayMs: 500, loopForever: true, to: $0)
            }
        }
    }

    /// `acc_loss.png` from the metrics history.
    func curves(_ history: [EpochMetrics]) {
        later("acc_loss.png") { [run] in
            let image = drawAccuracyLoss(acc: history.map(\.acc), valAcc: history.map(\.valAcc),
                                         loss: history.map(\.loss), valLoss: history.map(\.valLoss))
            try RunFigures.writeAtomically(run.file("acc_loss.png")) { try writePNG(image, to: $0) }
        }
    }

    /// `cnn_predict.png`: the test set's confusion matrix.
    func confusion(_ counts: [[Int]], accuracy: Double) {
        later("cnn_predict.png") { [run] in
            let title = "Confusion matrix (test accuracy \(fmt(100 * accuracy, 2))%)"
            let image = drawConfusionMatrix(counts: counts, title: title)
            try RunFigures.writeAtomically(run.file("cnn_predict.png")) { try writePNG(image, to: $0) }
        }
    }

    /// `train_test_dist.png`: the final map with the test points placed by UMAP's transform.
    func trainTest(train: [Float], labels: [UInt8], test: [Float], limits: AxisLimits) {
        later("train_test_dist.png") { [run] in
            let image = drawTrainTestMap(train: train, trainLabels: labels, test: test, limits: limits,
                                         title: "Training map with the test data placed by UMAP transform")
            try RunFigures.writeAtomically(run.file("train_test_dist.png")) { try writePNG(image, to: $0) }
        }
    }

    /// `report.html`, built after every figure queued before it (the page embeds them). Logs what the
    /// page cost, so a run shows what rebuilding it after every epoch takes.
    func report(_ content: RunReport) {
        later("report.html") { [run, log] in
            let start = now()
            self.lock.lock(); var sheets = self.spriteSheets; self.lock.unlock()
            if sheets == nil {
                sheets = try reportSpriteSheets(images: content.trainImages, testImages: content.test.images)
                self.lock.lock(); self.spriteSheets = sheets; self.lock.unlock()
            }
            try writeReport(content.inputs(run: run, spriteSheets: sheets), to: run.file("report.html"))
            log("report.html (\(content.frames.count) maps) written in \(fmt(now() - start, 2)) s", .debug)
        }
    }

    /// Runs `body` on the figure thread after everything queued so far, e.g. to read a frame just drawn.
    func afterFigures(_ what: String, _ body: @escaping @Sendable () throws -> Void) { later(what, body) }

    /// Runs `write` on a temporary path beside `path`, then renames it to `path`.
    private static func writeAtomically(_ path: String, _ write: (String) throws -> Void) throws {
        let tmp = path + ".tmp"
        try write(tmp)
        guard rename(tmp, path) == 0 else {
            throw RunError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Waits for every queued figure; throws the first error.
    func finish() throws {
        lane.drain()
        lock.lock(); defer { lock.unlock() }
        if let firstError { throw firstError }
    }
}
