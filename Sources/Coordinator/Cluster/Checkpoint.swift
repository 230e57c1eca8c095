import Core
import Foundation

/// What must be the same for a checkpoint to continue a run exactly.
struct CheckpointSettings: Codable, Equatable {
    var seed: UInt64
    var batchSize: Int
    var microBatchSize: Int
    var validationFraction: Double
    var trainingImages: Int
    var dataset: String
    var datasetFingerprint: String
    /// What `train` was told beyond the numbers above (absent in checkpoints of older builds), so that
    /// `--resume DIR` alone continues the run as it was started.
    var run: RunChoices?
}

/// `train`'s choices that a resumed run takes from the checkpoint when they are not given again.
struct RunChoices: Codable, Equatable {
    var epochs: Int
    /// `--data DIR` (absolute) or `--dataset NAME`, as command-line arguments.
    var dataArguments: [String]
    var maps: Bool
    var umapMode: String
    var nNeighbors: Int
}

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
    static let format = "glassbox-checkpoint-1"
    /// The metadata key of the SHA-256 over the tensors' values and every other metadata entry.
    static let digestKey = "sha256"

    /// SHA-256 of `values` (fp32 little-endian, in order) and then of `metadata`'s keys and values in key order.
    private static func digest(_ values: [[Float]], _ metadata: [String: String]) -> String {
        var hasher = SHA256()
        for tensor in values { tensor.withUnsafeBytes { hasher.update($0) } }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            hasher.update(Array(key.utf8) + [0] + Array(value.utf8) + [0])
        }
        return hasher.hexDigest()
    }

    static func write(_ state: TrainingState, settings: CheckpointSettings, in run: RunDirectory) throws {
        let n = state.parameters.count
        let tensors = [NamedTensor(name: "parameters", shape: [n], values: state.parameters),
                       NamedTensor(name: "adam/m", shape: [n], values: state.adam.m),
                       NamedTensor(name: "adam/v", shape: [n], values: state.adam.v)]
        var metadata = try [
            "format": format,
            "epochs_done": "\(state.epochsDone)",
            "steps_done": "\(state.stepsDone)",
            // Swift prints a Double with the fewest digits that read back as the same bits.
            "epoch_loss_sum": "\(state.epochStats.lossSum)",
            "epoch_correct": "\(state.epochStats.correct)",
            "epoch_count": "\(state.epochStats.count)",
            "adam_step": "\(state.adam.step)",
            "adam_learning_rate": "\(state.adam.learningRate)",
            "adam_beta1": "\(state.adam.beta1)",
            "adam_beta2": "\(state.adam.beta2)",
            "adam_epsilon": "\(state.adam.epsilon)",
            "settings": json(settings),
            "history": json(state.history),
        ]
        metadata[digestKey] = digest(tensors.map(\.values), metadata)
        do {
            let bytes = try Safetensors.encode(tensors, metadata: metadata, path: run.file(fileName))
            CrashPoint.checkpointWrite.reachedWhileWriting(bytes, beside: run.file(fileName))
            try FileBytes.writeAtomically(bytes, to: run.file(fileName))
        } catch {
            throw RunError("cannot write checkpoint \(run.file(fileName)): \(error)")
        }
        let summary = Summary(format: format, epochsDone: state.epochsDone, stepsDone: state.stepsDone,
                              epochStats: state.epochStats, adam: state.adam, settings: settings, history: state.history,
                              sha256: metadata[digestKey] ?? "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try run.writeAtomically(summaryName, String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n")
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
        let (tensors, metadata) = try Safetensors.read(from: path)
        // Older checkpoints have no digest; a present one must match, so a flipped bit is refused, not trained on.
        if let saved = metadata[digestKey] {
            let names = ["parameters", "adam/m", "adam/v"]
            let values = names.map { name in tensors.first { $0.name == name }?.values ?? [] }
            guard saved == digest(values, metadata.filter { $0.key != digestKey }) else {
                throw RunError("\(path) is corrupted: its contents do not match the SHA-256 it was written with "
                               + "(\(digestKey)); it is not loaded")
            }
        }
        func field(_ key: String) throws -> String {
            guard let value = metadata[key] else { throw RunError("\(path): metadata has no \"\(key)\"") }
            return value
        }
        func number<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
            guard let value = T(try field(key)) else { throw RunError("\(path): metadata \"\(key)\" is not a number") }
            return value
        }
        guard try field("format") == format else {
            throw RunError("\(path): format \(metadata["format"] ?? "") is not \(format)")
        }
        /// Keys that checkpoints of older builds lack read as `absent`.
        func number<T: LosslessStringConvertible>(_ key: String, absent: T) throws -> T {
            metadata[key] == nil ? absent : try number(key, T.self)
        }
        func tensor(_ name: String) throws -> [Float] {
            guard let t = tensors.first(where: { $0.name == name }), t.values.count == SeedCNN.layout.count else {
                throw RunError("\(path): no tensor \"\(name)\" of \(SeedCNN.layout.count) values")
            }
            return t.values
        }
        var adam = AdamState(count: 0)
        adam.m = try tensor("adam/m")
        adam.v = try tensor("adam/v")
        adam.step = try number("adam_step", Int.self)
        adam.learningRate = try number("adam_learning_rate", Float.self)
        adam.beta1 = try number("adam_beta1", Float.self)
        adam.beta2 = try number("adam_beta2", Float.self)
        adam.epsilon = try number("adam_epsilon", Float.self)
        let decoder = JSONDecoder()
        do {
            let settings = try decoder.decode(CheckpointSettings.self, from: Data(try field("settings").utf8))
            let history = try decoder.decode([EpochMetrics].self, from: Data(try field("history").utf8))
            let stats = BatchStats(lossSum: try number("epoch_loss_sum", absent: 0.0),
                                   correct: try number("epoch_correct", absent: 0), count: try number("epoch_count", absent: 0))
            let state = TrainingState(parameters: try tensor("parameters"), adam: adam,
                                      epochsDone: try number("epochs_done", Int.self), history: history,
                                      stepsDone: try number("steps_done", absent: 0), epochStats: stats)
            return (state, settings)
        } catch let error as DecodingError {
            throw RunError("\(path): unreadable settings or history in the metadata: \(error)")
        }
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

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
