import ArgumentParser
import CommandLineOptions
import Core
import Foundation

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Redraw a run's figures, animation and report from its run directory alone.",
        discussion: """
            Reads maps/*.npy (written as each epoch's map is done) and metrics.jsonl, and writes \
            fig/epoch_NNN.png (with limits common to all frames), mnist.gif, train_test_dist.png, \
            acc_loss.png, cnn_predict.png (from the last map's test predictions) and report.html: a run \
            that stopped early can still be drawn. The data set only adds MNIST.png and the images shown \
            on hover; without it the page has none.

            Example:
              glassbox-coordinator render runs/try1
            """)

    @Argument(help: "The run directory (the --out of train).")
    var runDirectory: String
    @OptionGroup(title: "Data")
    var dataSource: DataSourceOptions
    @Option(help: ArgumentHelp("Lowest level of the lines logged.", valueName: "level"))
    var logLevel = LogLevelArgument(.info)

    func run() throws {
        let log = Log(level: logLevel.level, prefix: "render")
        let run = try RunDirectory(path: runDirectory)
        let (labels, testLabels, maps) = try MapFiles(run: run).read()
        guard let last = maps.last, let first = maps.first else {
            throw RunError("\(run.file("maps")) holds no epoch_NNN.npy map: nothing to draw")
        }
        let figures = try RunFigures(run: run, log: log)
        var trainImages: [UInt8] = [], testImages: [UInt8] = []
        do {
            let split = try dataSource.load()
            if split.train.count >= labels.count, split.test.count == testLabels.count,
               Array(split.train.labels.prefix(labels.count)) == labels, split.test.labels == testLabels {
                let train = split.train.prefix(labels.count)
                figures.imageGrid(train)
                trainImages = train.pixels
                testImages = split.test.pixels
            } else {
                log("\(split.name) does not match the run's labels: no images in the report", .warning)
            }
        } catch {
            log("no images in the report: \(error)", .warning)
        }
        let history = try run.readMetricsHistory()
        if !history.isEmpty { figures.curves(history) }
        let confusion = confusionCounts(trueLabels: testLabels, predicted: last.testPredictions)
        let accuracy = Double(zip(testLabels, last.testPredictions).filter { $0 == $1 }.count) / Double(max(testLabels.count, 1))
        figures.confusion(confusion, accuracy: accuracy)
        figures.mapFigures(frames: maps.map { ($0.epoch, $0.points) }, labels: labels, testPoints: last.testPoints)
        let settings: [(name: String, value: String)] = [
            ("training images", "\(labels.count)"), ("maps", "epochs \(first.epoch) to \(last.epoch)"),
            ("test accuracy", "\(fmt(100 * accuracy, 2))% (epoch \(last.epoch))"),
        ]
        figures.report(RunReport(
            title: "Glassbox run \(run.path)", settings: settings, history: history, frames: maps.map(\.points),
            firstEpoch: first.epoch, labels: labels, trainPredictions: maps.map(\.predictions), trainImages: trainImages,
            test: ReportTestSet(points: last.testPoints, labels: testLabels, predictions: last.testPredictions,
                                images: testImages),
            confusion: confusion))
        try figures.finish()
        log("drew \(maps.count) maps (epochs \(first.epoch) to \(last.epoch)); open \(run.file("report.html"))")
    }
}
