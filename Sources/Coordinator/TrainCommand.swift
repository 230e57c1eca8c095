import ArgumentParser
import Cluster
import CommandLineOptions
import Core
import Foundation
import Protocol

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the reference CNN and write metrics, weights and figures to a run directory.",
        discussion: """
            The run directory receives: metrics.csv and metrics.jsonl (per epoch: loss, acc, val_loss, \
            val_acc, timings, and the map's trustworthiness, 2-D 10-NN test accuracy and frame displacement), \
            weights.safetensors (Keras tensor names and layouts), checkpoint files (for --resume), MNIST.png, \
            fig/epoch_NNN.png (the UMAP map of the hidden layer before training and after every epoch), \
            maps/ (each map as .npy: epoch_NNN.npy, epoch_NNN_test.npy, the predictions epoch_NNN_pred.npy and \
            epoch_NNN_test_pred.npy, labels.npy, test_labels.npy), mnist.gif, acc_loss.png, train_test_dist.png, \
            cnn_predict.png, report.html (open it in a browser) and events.jsonl (distributed runs); with \
            --save-umap-model also umap-model/ (the last map's model, for `embed --model`). Each map's files, its figure (drawn with its own axis limits) and \
            report.html are written as soon as the map is done; at the end every frame is drawn again with \
            limits common to all frames. `render RUN_DIR` draws a run that stopped early.

            Examples:
              glassbox-coordinator train --epochs 3 --out runs/try1
              glassbox-coordinator train --epochs 10 --spawn-workers 2 --out runs/ten
              glassbox-coordinator train --limit-train 6000 --epochs 1 --no-maps   # a quick smoke run
            """)

    // .unconditional: `--epochs -1` is read as a value (and refused below), not as an unknown option.
    // Optionals where --resume takes the checkpoint's value unless one is given (`TrainChoices`).
    @Option(parsing: .unconditional, help: "Epochs to train (default 10; with --resume the checkpoint's run's).")
    var epochs: Int?
    @OptionGroup(title: "Data")
    var dataSource: DataSourceOptions
    @Option(parsing: .unconditional, help: "Random seed: weights, shuffles and dropout all derive from it (default 1).")
    var seed: UInt64?
    @Option(help: "Run directory for metrics, weights and figures.")
    var out: String = "runs/default"
    @Option(parsing: .unconditional, help: "Compute threads in this process.")
    var threads: Int = defaultThreadCount()
    @Option(help: kernelsHelp)
    var kernels = "auto"
    @Option(parsing: .unconditional, help: "Samples per micro-batch (the unit of parallel work; batch 100 is cut into these; default 25).")
    var microBatch: Int?
    @Option(parsing: .unconditional, help: "Use only the first N training images (quick runs).")
    var limitTrain: Int?
    @Option(help: ArgumentHelp("Epoch maps: warm (each epoch starts from the previous map, aligned; steady; the default) or fresh (an independent UMAP fit per epoch, as the reference).", valueName: "mode"))
    var umapMode: MapStage.Mode?
    @Option(help: ArgumentHelp("Where the UMAP neighbour search's per-row stages run: local (the coordinator's threads) or workers (blocks of rows on the workers of a distributed run, which needs --spawn-workers or --workers; the same neighbours; pays with workers on other hosts, slower than local on one small host).", valueName: "place"))
    var umapNeighbors: NeighborSearchPlace = .local
    @Option(parsing: .unconditional, help: "UMAP neighbours per point (default 40, as the reference run).")
    var nNeighbors: Int?
    @Flag(help: "Skip the UMAP maps, the animation and the train/test map (train and score only).")
    var noMaps = false
    @Flag(help: "Also write the final `hidden` activations and labels as .npy (hidden_train.npy, hidden_test.npy, labels_train.npy, labels_test.npy), e.g. for `embed` or umap-learn.")
    var saveHidden = false
    @Option(help: ArgumentHelp("Also write TensorBoard event files into DIR: per-step and per-epoch scalars and each epoch's map, for `tensorboard --logdir DIR`.", valueName: "dir"))
    var tensorboard: String?
    @Flag(help: "Also save the last epoch's UMAP model into umap-model/ in the run directory, for `embed --model DIR --transform NEW.npy --out NEW_MAP.npy` (about 150 MB for MNIST).")
    var saveUmapModel = false

    func validate() throws {
        if let epochs, epochs < 0 { throw ValidationError("--epochs must be >= 0, got \(epochs)") }
        try validateThreadCount(threads)
        try validateKernels(kernels)
        if saveUmapModel && noMaps { throw ValidationError("--save-umap-model needs the maps; drop --no-maps") }
        if let microBatch, !(1...100).contains(microBatch) {
            throw ValidationError("--micro-batch must be in 1...100, got \(microBatch)")
        }
        if let nNeighbors, nNeighbors < 2 { throw ValidationError("--n-neighbors must be >= 2, got \(nNeighbors)") }
        if let n = limitTrain, n < 200 { throw ValidationError("--limit-train must be at least 200, got \(n)") }
    }

    @Option(help: ArgumentHelp("Lowest level of the lines logged here and by spawned workers.", valueName: "level"))
    var logLevel = LogLevelArgument(.info)
    @Option(help: ArgumentHelp("Log lines here and in spawned workers as text (time, source, message) or json (one object a line with the same fields; progress lines add epoch, step, loss, acc, eta_s ...).", valueName: "format"))
    var logFormat: LogFormat = .text

    @OptionGroup(title: "Distributed training, checkpoints and resuming")
    var cluster: ClusterOptions
    @OptionGroup(title: "Watching a run")
    var watch: MonitoringOptions

    func run() throws {
        MessageBuffers.keepLargeBlocks()  // state reports and weights are 10 MB messages
        let log = Log(level: logLevel.level, prefix: "coordinator", format: logFormat)
        log(try selectKernels(kernels))  // spawned workers are given the same
        // The checkpoint is read (and refused if missing or damaged) before the seconds of loading data, once.
        let checkpoint = try cluster.resume.map { try Checkpoint.read(in: $0) }
        let choices = try TrainChoices(self, saved: checkpoint?.1,
                                       dataGiven: DataSourceOptions.areGiven(in: Array(CommandLine.arguments.dropFirst())))
        let (epochs, seed, microBatch, limitTrain, noMaps) = (choices.epochs, choices.seed, choices.microBatch,
                                                              choices.limitTrain, !choices.maps)
        let dataSource = choices.dataSource
        let split = try dataSource.load()
        if let n = limitTrain, n > split.train.count {
            throw ValidationError("--limit-train \(n) is more than the \(split.train.count) training images of \(split.name)")
        }
        let train = split.train.prefix(limitTrain)
        if !noMaps && choices.nNeighbors >= train.count {
            throw ValidationError("--n-neighbors \(choices.nNeighbors) needs more training images than that (\(train.count)); "
                                  + "lower it or use --no-maps")
        }
        let run = try RunDirectory(path: cluster.resume ?? out)
        let board = try tensorboard.map { try TensorBoardLog(directory: $0) }  // before any worker starts
        log("\(split.name): \(train.count) training images (\(train.count - Int(Double(train.count) * 0.2)) train / "
              + "\(Int(Double(train.count) * 0.2)) validation), \(split.test.count) test images; run directory \(run.path)")
        let watcher = try watch.start(run: run, epochs: epochs, log: log)
        defer { watcher?.stop() }
        var settings = TrainingSettings()
        settings.epochs = epochs
        settings.seed = seed
        settings.microBatchSize = microBatch
        let session = try TrainingSession(
            options: cluster, training: settings, split: split, trainingImages: train.count, choices: choices.recorded,
            kernels: kernels,
            workerArguments: dataSource.arguments + ["--log-level", "\(logLevel)", "--log-format", logFormat.rawValue],
            run: run, resumed: checkpoint, log: log, poolObserver: watcher?.monitor) {
            LocalBackend(engine: CNNEngine(parameters: initialParameters(seed: seed), threads: threads,
                                           microBatchSize: microBatch), train: train, test: split.test, seed: seed)
        }
        defer { session.finish() }
        try session.checkpointStart()
        let backend = session.backend
        let loop = try TrainingLoop(settings: settings, sampleCount: train.count,
                                    backend: watcher?.observing(backend) ?? backend,
                                    state: session.initialState, log: { log(session.annotate($0)) },
                                    progress: {
                                        watcher?.monitor.progress($0)
                                        log.progress(session.annotate($0))
                                        board?.progress($0)
                                    })
        if let watcher {
            if session.liveWorkers != nil { watcher.monitor.liveWorkers = { session.liveWorkers ?? 0 } }
            watcher.monitor.begin(stepsPerEpoch: loop.plan.stepsPerEpoch, history: loop.history)
        }
        let figures = try RunFigures(run: run, log: log)
        figures.imageGrid(train)
        var umapOptions = UMAPOptions()
        umapOptions.nNeighbors = choices.nNeighbors
        umapOptions.seed = seed
        umapOptions.threads = threads
        let maps = noMaps ? nil : MapStage(options: umapOptions, mode: choices.umapMode,
                                           labels: train.labels, testLabels: split.test.labels)
        if umapNeighbors == .workers {
            guard let cluster = backend as? ClusterBackend else {
                throw ValidationError("--umap-neighbors workers needs a distributed run (--spawn-workers or --workers)")
            }
            maps?.neighborStages = ClusterNeighborStages(cluster: cluster)
        }
        let mapFiles = noMaps ? nil : try MapFiles(run: run)
        try mapFiles?.writeLabels(train: train.labels, test: split.test.labels)
        // A resumed run continues the metrics rows and the maps done before the crash.
        let resumed = try cluster.resume.map { _ in
            try ResumedOutputs(run: run, maps: maps, files: mapFiles, epochsDone: loop.epochsDone, history: loop.history)
        }
        var trainPredictions = resumed?.trainPredictions ?? []
        var testPredictions = resumed?.testPredictions ?? []  // of the latest map's epoch
        var jsonl = resumed?.rows ?? []
        loop.keepsValidationOutputs = maps != nil
        /// Every training image's hidden outputs and prediction with the weights after `epoch`: the
        /// validation images' from that epoch's validation pass where it is at hand (the same weights, the
        /// same bits), the others run now.
        func trainingHidden(afterEpoch epoch: Int) throws -> (predictions: [UInt8], hidden: [Float]) {
            guard let kept = loop.validationOutputs, kept.epoch == epoch else {
                let all = try backend.evaluate(.train, indices: Array(0..<train.count), hidden: true)
                return (all.predictions, all.hidden)
            }
            let validation = loop.plan.validationIndices
            var isValidation = [Bool](repeating: false, count: train.count)
            for i in validation { isValidation[i] = true }
            let others = (0..<train.count).filter { !isValidation[$0] }
            let rest = try backend.evaluate(.train, indices: others, hidden: true)
            let width = SeedCNN.hiddenWidth
            var predictions = [UInt8](repeating: 0, count: train.count)
            var hidden = [Float](repeating: 0, count: train.count * width)
            /// Row n of an evaluation of `rows` is training image rows[n].
            func place(_ rows: [Int], _ rowPredictions: [UInt8], _ rowHidden: [Float]) {
                for (n, i) in rows.enumerated() {
                    predictions[i] = rowPredictions[n]
                    hidden[(i * width)..<((i + 1) * width)] = rowHidden[(n * width)..<((n + 1) * width)]
                }
            }
            place(validation, kept.predictions, kept.hidden)
            place(others, rest.predictions, rest.hidden)
            return (predictions, hidden)
        }
        /// The activations of every training and test image with the weights as they are now (epoch
        /// `epoch`; 0 = before training), from the backend on this thread.
        func mapInputs(_ epoch: Int) throws -> (hidden: [Float], testHidden: [Float]) {
            let hidden = try session.guarded { try trainingHidden(afterEpoch: epoch) }
            let testHidden = try session.guarded { try backend.evaluate(.test, indices: Array(0..<split.test.count), hidden: true) }
            CrashPoint.map.reached()
            trainPredictions.append(hidden.predictions)
            testPredictions = testHidden.predictions
            return (hidden.hidden, testHidden.hidden)
        }
        let firstMapEpoch = resumed?.firstMapEpoch ?? loop.epochsDone
        /// Epoch `epoch`'s map on disk at once (after its metrics row): the .npy files here, the figure
        /// with the frame's own limits and the rebuilt report on the figure queue.
        func publishMap(_ epoch: Int) throws {
            guard let maps, let mapFiles, let points = maps.frames.last else { return }
            let t0 = now()
            try mapFiles.write(EpochMap(epoch: epoch, points: points, testPoints: maps.testPoints,
                                        predictions: trainPredictions.last ?? [], testPredictions: testPredictions))
            figures.epochFrame(epoch: epoch, points: points, labels: train.labels,
                               limits: .fitting(allFrames: [points, maps.testPoints]))
            if let board {
                let frame = run.file("fig/" + RunDirectory.epochStem(epoch) + ".png")
                figures.afterFigures("the TensorBoard image of epoch \(epoch)") {
                    let start = now()
                    try board.map(epoch: epoch, pngPath: frame)
                    log("TensorBoard image of epoch \(epoch) written in \(fmt(1000 * (now() - start), 2)) ms", .debug)
                }
            }
            let correct = zip(split.test.labels, testPredictions).filter { $0 == $1 }.count
            figures.report(reportContent(
                choices, run: run, split: split, train: train, history: loop.history, maps: maps, firstMapEpoch: firstMapEpoch,
                trainPredictions: trainPredictions, testPredictions: testPredictions,
                confusion: confusionCounts(trueLabels: split.test.labels, predicted: testPredictions),
                accuracy: Double(correct) / Double(max(split.test.count, 1))))
            CrashPoint.mapFiles.reached()
            try MapCheckpoint(epoch: epoch, metricsRows: jsonl, warmStart: maps.warmStart).write(in: run)
            log("epoch \(epoch) map written to maps/\(RunDirectory.epochStem(epoch))*.npy in \(fmt(now() - t0, 2)) s", .debug)
        }
        /// Epoch `epoch`'s map done: its line, its metrics row (the epoch's training metrics `row` and the
        /// map's `m`) in metrics.jsonl and TensorBoard, its files.
        func finishMap(_ epoch: Int, row: [String: Double], map m: [String: Double]) throws {
            guard let maps else { return }
            log(maps.summary(epoch: epoch, m))
            watcher?.monitor.mapDone(epoch: epoch, metrics: m)
            var row = row
            row["epoch"] = Double(epoch)
            row.merge(m) { a, _ in a }
            jsonl.append(row)
            try run.writeMetricsJSONL(jsonl)
            try board?.epoch(epoch, row: row)
            try publishMap(epoch)
        }
        // With the training on workers, an epoch's UMAP runs on threads of the lowest priority while the
        // workers train the next epoch, taking the cores their waits leave idle (about a tenth of the two);
        // what is left when that epoch ends runs then at full speed. The map's inputs are taken before, so
        // it is the same map. Not when the neighbour search runs on the workers, who are training.
        let background = maps != nil && session.liveWorkers != nil && umapNeighbors == .local
            && ProcessInfo.processInfo.environment["GLASSBOX_MAPS_IN_BACKGROUND"] != "off"
        let idle = background ? IdleCompute(threads: threads) : nil
        /// A map whose UMAP is under way in the background.
        struct PendingMap {
            let epoch: Int
            let row: [String: Double]
            let hiddenSeconds: Double
            let job: IdleJob<[String: Double]>
        }
        var pending: PendingMap?
        /// Epoch `epoch`'s map (its training metrics `row`): the activations now, the UMAP now or in the
        /// background (`settleMap`).
        func mapEpoch(_ epoch: Int, row: [String: Double]) throws {
            guard let maps else { return }
            let t0 = now()
            let inputs = try mapInputs(epoch)
            let hiddenSeconds = now() - t0
            if let idle {
                let job = idle.start { try maps.embed(epoch: epoch, hidden: inputs.hidden, testHidden: inputs.testHidden) }
                pending = PendingMap(epoch: epoch, row: row, hiddenSeconds: hiddenSeconds, job: job)
                return
            }
            var m = try maps.embed(epoch: epoch, hidden: inputs.hidden, testHidden: inputs.testHidden)
            m["hidden_seconds"] = hiddenSeconds
            loop.recordMap(seconds: now() - t0)
            try finishMap(epoch, row: row, map: m)
        }
        /// Writes the background map once it is done (waiting for it if `wait`); whether none is pending
        /// any more. Every checkpoint asks this first: the epoch's own waits for the map; one within the
        /// epoch, written while the map is not done, first keeps the epoch end's checkpoint
        /// (`Checkpoint.keepEpochEnd`), whose weights `--resume` would redo the map from, released here.
        func settleMap(wait: Bool) throws -> Bool {
            guard let p = pending else { return true }
            if !wait && !p.job.isDone { return false }
            let t0 = now()
            var m = try p.job.wait()
            pending = nil
            m["hidden_seconds"] = p.hiddenSeconds
            m["umap_wait_seconds"] = now() - t0
            loop.recordMap(seconds: p.hiddenSeconds + (now() - t0))
            try finishMap(p.epoch, row: p.row, map: m)
            Checkpoint.releaseEpochEnd(in: run)
            return true
        }
        session.checkpointGate = { epochEnd in try settleMap(wait: epochEnd) }
        loop.afterStep = { _ = try settleMap(wait: false) }  // a map's files on disk at the first step after it is done
        try run.writeMetrics(loop.history)
        // A run killed between an epoch's checkpoint and its curves (the last epoch's, say) draws them now.
        if resumed != nil && !loop.history.isEmpty { figures.curves(loop.history) }
        // The map of the epoch the run starts from, unless a resumed run has it: epoch 0's (before training)
        // has no training figures.
        if maps != nil && (resumed?.rowsThrough ?? -1) < loop.epochsDone {
            let epoch = loop.epochsDone
            let row = loop.history.last(where: { $0.epoch == epoch })?.metricsRow ?? [:]
            let resumedStep = session.initialState.stepsDone
            if resumedStep > 0 {
                // Stopped during the next epoch while this map was made in the background: its weights were kept.
                guard let epochEnd = try Checkpoint.readEpochEnd(in: run.path), epochEnd.epochsDone == epoch,
                      epochEnd.stepsDone == 0 else {
                    throw RunError("cannot resume \(run.path): epoch \(epoch)'s map is not on disk, and \(Checkpoint.epochEndName), "
                                   + "which would hold that epoch's weights, is missing or of another epoch")
                }
                log("making epoch \(epoch)'s map from its weights (\(Checkpoint.epochEndName)), then training on from step "
                    + "\(resumedStep) of epoch \(epoch + 1)")
                try session.guarded { try backend.load(epochEnd.model) }
                try mapEpoch(epoch, row: row)
                try session.guarded { try backend.load(session.initialState.model) }
            } else {
                try mapEpoch(epoch, row: row)
            }
        } else if resumed != nil {
            Checkpoint.releaseEpochEnd(in: run)  // kept for a map that reached the disk before the run stopped
        }
        while loop.epochsDone < epochs {
            let m = try session.runEpoch(loop)
            watcher?.monitor.epochDone(m)
            try run.writeMetrics(loop.history)
            figures.curves(loop.history)
            if maps != nil {
                try mapEpoch(m.epoch, row: m.metricsRow)
            } else {
                let row = m.metricsRow
                jsonl.append(row)
                try run.writeMetricsJSONL(jsonl)
                try board?.epoch(m.epoch, row: row)
            }
        }
        _ = try settleMap(wait: true)
        session.checkpointGate = nil  // both hold this function's state, and through it the loop and session
        loop.afterStep = nil
        let test = try session.guarded { try backend.evaluate(.test, indices: Array(0..<split.test.count), hidden: false) }
        let accuracy = Double(test.stats.correct) / Double(max(test.stats.count, 1))
        let confusion = confusionCounts(trueLabels: split.test.labels, predicted: test.predictions)
        figures.confusion(confusion, accuracy: accuracy)
        if let maps {
            figures.mapFigures(frames: maps.frames.enumerated().map { (firstMapEpoch + $0, $1) }, labels: train.labels,
                               testPoints: maps.testPoints)
        }
        if saveUmapModel, let maps { try maps.saveModel(to: run.file("umap-model")) }
        if saveHidden {
            let trainHidden = try session.guarded { try backend.evaluate(.train, indices: Array(0..<train.count), hidden: true) }
            let testHidden = try session.guarded { try backend.evaluate(.test, indices: Array(0..<split.test.count), hidden: true) }
            try NPY.write(NPYArray(shape: [train.count, SeedCNN.hiddenWidth], values: trainHidden.hidden), to: run.file("hidden_train.npy"))
            try NPY.write(NPYArray(shape: [split.test.count, SeedCNN.hiddenWidth], values: testHidden.hidden), to: run.file("hidden_test.npy"))
            try NPY.write(NPYArray(shape: [train.count], values: train.labels.map(Float.init)), to: run.file("labels_train.npy"))
            try NPY.write(NPYArray(shape: [split.test.count], values: split.test.labels.map(Float.init)), to: run.file("labels_test.npy"))
        }
        try run.writeWeights(backend.model().parameters, metadata: ["seed": "\(seed)", "epochs": "\(epochs)", "dataset": split.name])
        if let maps {
            figures.report(reportContent(
                choices, run: run, split: split, train: train, history: loop.history, maps: maps, firstMapEpoch: firstMapEpoch,
                trainPredictions: trainPredictions, testPredictions: test.predictions, confusion: confusion, accuracy: accuracy))
        }
        try figures.finish()
        watcher?.finish()
        log("test accuracy: \(fmt(100 * accuracy, 2))% (\(test.stats.correct)/\(test.stats.count)), "
            + "test loss \(fmt(test.stats.lossSum / Double(max(test.stats.count, 1)), 4))")
        log("peak resident memory \(peakResidentBytes() / 1_048_576) MiB; wrote \(run.path)/"
            + (noMaps ? " (no maps: --no-maps)" : "; open \(run.file("report.html")) in a browser"))
    }

    /// What `report.html` shows: every figure, the metrics, the settings and the map explorer.
    func reportContent(_ choices: TrainChoices, run: RunDirectory, split: DatasetSplit, train: LabeledImages, history: [EpochMetrics],
                       maps: MapStage, firstMapEpoch: Int, trainPredictions: [[UInt8]], testPredictions: [UInt8],
                       confusion: [[Int]], accuracy: Double) -> RunReport {
        let settings: [(name: String, value: String)] = [
            ("dataset", split.name), ("training images", "\(train.count)"), ("epochs", "\(choices.epochs)"),
            ("seed", "\(choices.seed)"), ("batch", "100"), ("micro-batch", "\(choices.microBatch)"), ("threads", "\(threads)"),
            ("UMAP", "\(maps.mode.rawValue), n_neighbors \(choices.nNeighbors)"),
            ("test accuracy", "\(fmt(100 * accuracy, 2))%"),
        ]
        return RunReport(title: "Glassbox run \(run.path)", settings: settings, history: history, frames: maps.frames,
                         firstEpoch: firstMapEpoch, labels: train.labels, trainPredictions: trainPredictions,
                         trainImages: train.pixels,
                         test: ReportTestSet(points: maps.testPoints, labels: split.test.labels,
                                             predictions: testPredictions, images: split.test.pixels),
                         confusion: confusion)
    }
}

/// `--umap-mode warm|fresh`: the raw values are the spellings.
extension MapStage.Mode: ExpressibleByArgument {}
