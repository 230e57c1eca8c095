import Core
import Foundation

/// What a run's `report.html` shows, gathered by `train` (after every epoch's map and at the end) or
/// by `render` (from the run directory alone).
struct RunReport: Sendable {
    var title: String
    var settings: [(name: String, value: String)]
    var history: [EpochMetrics]
    /// One map per epoch from `firstEpoch` on, each N x 2.
    var frames: [[Float]]
    var firstEpoch: Int
    var labels: [UInt8]
    /// Per frame, the N training images' predicted classes.
    var trainPredictions: [[UInt8]]
    /// N 28x28 images, or empty (the page then shows no image on hover).
    var trainImages: [UInt8]
    var test: ReportTestSet
    var confusion: [[Int]]

    /// The page's inputs; the figures are those of the run's PNG files that exist now.
    func inputs(run: RunDirectory, spriteSheets: [Data]?) -> ReportInputs {
        let figureNames = [("MNIST.png", "Training images"), ("acc_loss.png", "Accuracy and loss"),
                           ("train_test_dist.png", "Test images placed into the final map"),
                           ("cnn_predict.png", "Confusion matrix of the test set")]
        var inputs = ReportInputs(title: title, settings: settings, frames: frames, labels: labels)
        inputs.figures = figureNames.filter { FileManager.default.fileExists(atPath: run.file($0.0)) }
            .map { (caption: $0.1, pngPath: run.file($0.0)) }
        inputs.metricColumns = ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds"]
        inputs.metricRows = history.map { [String($0.epoch), fmt($0.loss, 4), fmt($0.acc, 4), fmt($0.valLoss, 4),
                                           fmt($0.valAcc, 4), fmt($0.seconds, 1)] }
        inputs.confusion = confusion
        inputs.epochLabels = frames.indices.map { "Epoch \(firstEpoch + $0)" }
        inputs.predictions = trainPredictions
        inputs.images = trainImages
        inputs.test = test
        inputs.spriteSheets = spriteSheets
        return inputs
    }
}
