import Cluster
import Core
import Foundation

/// The state of a run at the end of an epoch or every `--checkpoint-every` steps within one, in
/// `checkpoint.safetensors` (written atomically: a temporary file, then a rename, so a crash mid-write
/// leaves the previous checkpoint): the weights, Adam's moments as tensors, and in the metadata Adam's step
/// and hyperparameters, the epochs done, the steps of the next epoch done and their loss and accuracy
/// sums, the metrics history and the settings that must not change. Dropout and shuffles are keyed by
/// (seed, epoch, sample), so no random-generator position needs saving.
/// `checkpoint.json` repeats the metadata for people; only the safetensors file is read back.
enum Checkpoint {
    static let fileName = "checkpoint.safetensors"
    static let summaryName = "checkpoint.json"
    static let format = CheckpointContents.format

    static func write(_ state: TrainingState, settings: CheckpointSettings, in run: RunDirectory) throws {
        let digest: String
        do {
            let (bytes, sha256) = try CheckpointContents.encode(state, settings: settings, path: run.file(fileName))
            digest = sha256
            CrashPoint.checkpointWrite.reachedWhileWriting(bytes, beside: run.file(fileName))
            try FileBytes.writeAtomically(bytes, to: run.file(fileName))
        } catch {
            throw RunError("cannot write checkpoint \(run.file(fileName)): \(error)")
        }
        let summary = Summary(format: format, epochsDone: state.epochsDone, stepsDone: state.stepsDone,
                              epochStats: state.epochStats, adam: state.adam, settings: settings, history: state.history,
                              sha256: digest)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try run.writeAtomically(summaryName, String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n")
    }

    /// `checkpoint-epoch.safetensors`: the last epoch end's checkpoint, kept (a hard link, no copy) while
    /// that epoch's map is made in the background and checkpoints of the next epoch's steps replace
    /// `checkpoint.safetensors`: a run stopped then makes the map from these weights on `--resume`, then
    /// goes on from the newer checkpoint. Removed once the map is on disk.
    static let epochEndName = "checkpoint-epoch.safetensors"

    /// Keeps the checkpoint on disk now (an epoch end's, whose map is not done) as `epochEndName`, unless
    /// one is kept already.
    static func keepEpochEnd(in run: RunDirectory) throws {
        let kept = run.file(epochEndName)
        guard !FileManager.default.fileExists(atPath: kept) else { return }
        guard link(run.file(fileName), kept) == 0 else {
            throw RunError("cannot keep \(run.file(fileName)) as \(kept): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the kept epoch end (its map is on disk).
    static func releaseEpochEnd(in run: RunDirectory) {
        try? FileManager.default.removeItem(atPath: run.file(epochEndName))
    }

    /// The kept epoch end in `directory`, if there is one.
    static func readEpochEnd(in directory: String) throws -> TrainingState? {
        let path = (directory as NSString).appendingPathComponent(epochEndName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try CheckpointContents.decode(FileBytes.read(path), path: path).0
    }

    /// The path of the checkpoint in `directory`, which must exist.
    static func path(in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunError("--resume \(directory): no \(fileName) there (a run writes one when it starts, then during and after each epoch)")
        }
        return path
    }

    /// The state and settings saved in `directory`.
    static func read(in directory: String) throws -> (TrainingState, CheckpointSettings) {
        let path = try path(in: directory)
        return try CheckpointContents.decode(FileBytes.read(path), path: path)
    }

    /// Names the first setting in which `saved` and `current` differ, or nil.
    static func difference(_ saved: CheckpointSettings, _ current: CheckpointSettings) -> String? {
        let pairs: [(String, String, String)] = [
            ("--seed", "\(saved.seed)", "\(current.seed)"),
            ("batch size", "\(saved.batchSize)", "\(current.batchSize)"),
            ("--micro-batch", "\(saved.microBatchSize)", "\(current.microBatchSize)"),
            ("validation fraction", "\(saved.validationFraction)", "\(current.validationFraction)"),
            ("training images (--limit-train)", "\(saved.trainingImages)", "\(current.trainingImages)"),
            ("data set", "\(saved.dataset) \(saved.datasetFingerprint.prefix(12))",
             "\(current.dataset) \(current.datasetFingerprint.prefix(12))"),
        ] + choiceDifferences(saved.run, current.run)
        return pairs.first { $0.1 != $0.2 }.map { "\($0.0) was \($0.1) in the checkpoint, is \($0.2) now" }
    }

    /// The choices both checkpoints record (epochs may grow: a resumed run can train for longer).
    private static func choiceDifferences(_ saved: RunChoices?, _ current: RunChoices?) -> [(String, String, String)] {
        guard let saved, let current else { return [] }
        return [("maps (--no-maps)", saved.maps ? "on" : "off", current.maps ? "on" : "off"),
                ("--umap-mode", saved.umapMode, current.umapMode),
                ("--n-neighbors", "\(saved.nNeighbors)", "\(current.nNeighbors)")]
    }

    /// `checkpoint.json`: the safetensors metadata under the same keys, with numbers, settings and
    /// history as JSON values instead of strings.
    private struct Summary: Encodable {
        let format: String
        let epochsDone: Int
        let stepsDone: Int
        let epochStats: BatchStats
        let adam: AdamState
        let settings: CheckpointSettings
        let history: [EpochMetrics]
        let sha256: String

        enum CodingKeys: String, CodingKey {
            case format, settings, history, sha256
            case epochsDone = "epochs_done", stepsDone = "steps_done", epochLossSum = "epoch_loss_sum"
            case epochCorrect = "epoch_correct", epochCount = "epoch_count", adamStep = "adam_step", adamLearningRate = "adam_learning_rate"
            case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", adamEpsilon = "adam_epsilon"
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(format, forKey: .format)
            try c.encode(epochsDone, forKey: .epochsDone)
            try c.encode(stepsDone, forKey: .stepsDone)
            try c.encode(epochStats.lossSum, forKey: .epochLossSum)
            try c.encode(epochStats.correct, forKey: .epochCorrect)
            try c.encode(epochStats.count, forKey: .epochCount)
            try c.encode(adam.step, forKey: .adamStep)
            try c.encode(adam.learningRate, forKey: .adamLearningRate)
            try c.encode(adam.beta1, forKey: .adamBeta1)
            try c.encode(adam.beta2, forKey: .adamBeta2)
            try c.encode(adam.epsilon, forKey: .adamEpsilon)
            try c.encode(settings, forKey: .settings)
            try c.encode(history, forKey: .history)
            try c.encode(sha256, forKey: .sha256)
        }
    }
}
