import Core
import Dispatch
import Foundation

/// Draws and writes a run's figures on a background queue, off the training's critical path.
/// Errors are kept and reported by `finish()`, so a bad output path stops the run with one line.
final class RunFigures: @unchecked Sendable {
    let run: RunDirectory
    private let queue = DispatchQueue(label: "glassbox.figures")
    private let lock = NSLock()
    private var firstError: Error?
    private var frames: [Int: RGBAImage] = [:]
    private let log: Log

    init(run: RunDirectory, log: Log) throws {
        self.run = run
        self.log = log
        try FileManager.default.createDirectory(atPath: run.file("fig"), withIntermediateDirectories: true)
    }

    private func later(_ what: String, _ body: @escaping @Sendable () throws -> Void) {
        queue.async {
            do { try body() } catch {
                self.lock.lock(); defer { self.lock.unlock() }
                if self.firstError == nil { self.firstError = error }
                self.log("could not write \(what): \(error)", .error)
            }
        }
    }

    /// `MNIST.png`: the first 100 training images with their labels.
    func imageGrid(_ images: LabeledImages) {
        let n = min(100, images.count)
        let pixels = Array(images.pixels[0..<(n * 784)]), labels = Array(images.labels[0..<n])
        later("MNIST.png") { [run] in
            try writePNG(drawImageGrid(images: pixels, labels: labels, rows: 10, cols: 10), to: run.file("MNIST.png"))
        }
    }

    /// `fig/epoch_NNN.png` for one epoch's map; frames are kept for the GIF.
    func epochFrame(epoch: Int, points: [Float], labels: [UInt8], limits: AxisLimits) {
        later("fig/epoch_\(epoch).png") { [run] in
            let image = drawScatter(points: points, labels: labels, title: "Epoch \(epoch)", limits: limits)
            try writePNG(image, to: run.file("fig/" + RunFigures.frameName(epoch)))
            self.lock.lock(); self.frames[epoch] = image; self.lock.unlock()
        }
    }

    static func frameName(_ epoch: Int) -> String {
        let s = String(epoch)
        return "epoch_" + String(repeating: "0", count: max(0, 3 - s.count)) + s + ".png"
    }

    /// `mnist.gif`: every frame drawn so far, in epoch order, 500 ms each, looping forever.
    func animation() {
        later("mnist.gif") { [run] in
            self.lock.lock(); let frames = self.frames.sorted { $0.key < $1.key }.map(\.value); self.lock.unlock()
            try writeAnimatedGIF(frames: frames, delayMs: 500, loopForever: true, to: run.file("mnist.gif"))
        }
    }

    /// `acc_loss.png` from the metrics history.
    func curves(_ history: [EpochMetrics]) {
        later("acc_loss.png") { [run] in
            let image = drawAccuracyLoss(acc: history.map(\.acc), valAcc: history.map(\.valAcc),
                                         loss: history.map(\.loss), valLoss: history.map(\.valLoss))
            try writePNG(image, to: run.file("acc_loss.png"))
        }
    }

    /// `cnn_predict.png`: the test set's confusion matrix.
    func confusion(_ counts: [[Int]], accuracy: Double) {
        later("cnn_predict.png") { [run] in
            let title = "Confusion matrix (test accuracy \(fmt(100 * accuracy, 2))%)"
            try writePNG(drawConfusionMatrix(counts: counts, title: title), to: run.file("cnn_predict.png"))
        }
    }

    /// `train_test_dist.png`: the final map with the test points placed by UMAP's transform.
    func trainTest(train: [Float], labels: [UInt8], test: [Float], limits: AxisLimits) {
        later("train_test_dist.png") { [run] in
            let image = drawTrainTestMap(train: train, trainLabels: labels, test: test, limits: limits,
                                         title: "Training map with the test data placed by UMAP transform")
            try writePNG(image, to: run.file("train_test_dist.png"))
        }
    }

    /// Waits for every queued figure; throws the first error.
    func finish() throws {
        queue.sync {}
        lock.lock(); defer { lock.unlock() }
        if let firstError { throw firstError }
    }
}
