import Core
import Foundation

/// What must be the same for a checkpoint to continue a run exactly.
public struct CheckpointSettings: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var batchSize: Int
    public var microBatchSize: Int
    public var validationFraction: Double
    public var trainingImages: Int
    public var dataset: String
    public var datasetFingerprint: String
    /// What `train` was told beyond the numbers above (absent in checkpoints of older builds), so that
    /// `--resume DIR` alone continues the run as it was started.
    public var run: RunChoices?

    public init(seed: UInt64, batchSize: Int, microBatchSize: Int, validationFraction: Double, trainingImages: Int,
                dataset: String, datasetFingerprint: String, run: RunChoices? = nil) {
        self.seed = seed; self.batchSize = batchSize; self.microBatchSize = microBatchSize
        self.validationFraction = validationFraction; self.trainingImages = trainingImages
        self.dataset = dataset; self.datasetFingerprint = datasetFingerprint; self.run = run
    }
}

/// `train`'s choices that a resumed run takes from the checkpoint when they are not given again.
public struct RunChoices: Codable, Equatable, Sendable {
    public var epochs: Int
    /// `--data DIR` (absolute) or `--dataset NAME`, as command-line arguments.
    public var dataArguments: [String]
    public var maps: Bool
    public var umapMode: String
    public var nNeighbors: Int

    public init(epochs: Int, dataArguments: [String], maps: Bool, umapMode: String, nNeighbors: Int) {
        self.epochs = epochs; self.dataArguments = dataArguments; self.maps = maps
        self.umapMode = umapMode; self.nNeighbors = nNeighbors
    }
}

/// A checkpoint that cannot be used: the message names the file and what is wrong with it.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The bytes of `checkpoint.safetensors` and back: the weights and Adam's moments as tensors; in the
/// metadata Adam's step and hyperparameters, the epochs done, the steps of the next epoch done with their
/// loss and accuracy sums, the metrics history, the settings that must not change, and a SHA-256 over all
/// of it. Kept apart from the file handling (the coordinator's `Checkpoint`) so that the reader of these
/// untrusted bytes can be fuzzed on its own (Fuzz/, `fuzz-checkpoint`).
public enum CheckpointContents {
    public static let format = "glassbox-checkpoint-1"
    /// The metadata key of the SHA-256 over the tensors' values and every other metadata entry.
    public static let digestKey = "sha256"

    /// SHA-256 of `values` (fp32 little-endian, in order) and then of `metadata`'s keys and values in key order.
    static func digest(_ values: [[Float]], _ metadata: [String: String]) -> String {
        var hasher = SHA256()
        for tensor in values { tensor.withUnsafeBytes { hasher.update($0) } }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            hasher.update(Array(key.utf8) + [0] + Array(value.utf8) + [0])
        }
        return hasher.hexDigest()
    }

    /// The file's bytes for `state` and `settings`, and the digest they carry. `path` only goes into errors.
    public static func encode(_ state: TrainingState, settings: CheckpointSettings, path: String) throws
        -> (bytes: [UInt8], digest: String) {
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
        let sha256 = digest(tensors.map(\.values), metadata)
        metadata[digestKey] = sha256
        return (try Safetensors.encode(tensors, metadata: metadata, path: path), sha256)
    }

    /// The state and settings in a checkpoint file's `bytes`; `path` names the file in errors. Refuses
    /// (`CheckpointError`, or the safetensors reader's `DataError`) anything that is not a whole checkpoint
    /// as written: a digest that does not match, a missing or malformed field, tensors other than
    /// `parameterCount` values each (the network's size; a fuzz target asks for a small one). The metadata
    /// is read before the tensors are looked at.
    public static func decode(_ bytes: [UInt8], path: String, parameterCount: Int = SeedCNN.layout.count) throws
        -> (TrainingState, CheckpointSettings) {
        let (tensors, metadata) = try Safetensors.decode(bytes, path: path)
        // Older checkpoints have no digest; a present one must match, so a flipped bit is refused, not trained on.
        if let saved = metadata[digestKey] {
            let names = ["parameters", "adam/m", "adam/v"]
            let values = names.map { name in tensors.first { $0.name == name }?.values ?? [] }
            guard saved == digest(values, metadata.filter { $0.key != digestKey }) else {
                throw CheckpointError("\(path) is corrupted: its contents do not match the SHA-256 it was written with "
                                      + "(\(digestKey)); it is not loaded")
            }
        }
        func field(_ key: String) throws -> String {
            guard let value = metadata[key] else { throw CheckpointError("\(path): metadata has no \"\(key)\"") }
            return value
        }
        func number<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
            guard let value = T(try field(key)) else { throw CheckpointError("\(path): metadata \"\(key)\" is not a number") }
            return value
        }
        guard try field("format") == format else {
            throw CheckpointError("\(path): format \(metadata["format"] ?? "") is not \(format)")
        }
        /// Keys that checkpoints of older builds lack read as `absent`.
        func number<T: LosslessStringConvertible>(_ key: String, absent: T) throws -> T {
            metadata[key] == nil ? absent : try number(key, T.self)
        }
        var adam = AdamState(count: 0)
        adam.step = try number("adam_step", Int.self)
        adam.learningRate = try number("adam_learning_rate", Float.self)
        adam.beta1 = try number("adam_beta1", Float.self)
        adam.beta2 = try number("adam_beta2", Float.self)
        adam.epsilon = try number("adam_epsilon", Float.self)
        let epochsDone = try number("epochs_done", Int.self), stepsDone = try number("steps_done", absent: 0)
        let stats = BatchStats(lossSum: try number("epoch_loss_sum", absent: 0.0),
                               correct: try number("epoch_correct", absent: 0), count: try number("epoch_count", absent: 0))
        let settings: CheckpointSettings, history: [EpochMetrics]
        do {
            let decoder = JSONDecoder()
            settings = try decoder.decode(CheckpointSettings.self, from: Data(try field("settings").utf8))
            history = try decoder.decode([EpochMetrics].self, from: Data(try field("history").utf8))
        } catch let error as DecodingError {
            throw CheckpointError("\(path): unreadable settings or history in the metadata: \(error)")
        }
        func tensor(_ name: String) throws -> [Float] {
            guard let t = tensors.first(where: { $0.name == name }), t.values.count == parameterCount else {
                throw CheckpointError("\(path): no tensor \"\(name)\" of \(parameterCount) values")
            }
            return t.values
        }
        adam.m = try tensor("adam/m")
        adam.v = try tensor("adam/v")
        let state = TrainingState(parameters: try tensor("parameters"), adam: adam, epochsDone: epochsDone,
                                  history: history, stepsDone: stepsDone, epochStats: stats)
        return (state, settings)
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
