import Core
import Foundation

/// The map half of a run's checkpoint, `checkpoint-map.safetensors`, written atomically after each map's
/// files (its commit point: a map whose epoch is recorded here is complete on disk): the epoch of the
/// last map, the metrics.jsonl rows up to it, and what the next warm map starts from
/// (`UMAPWarmStart`'s tensors; none in fresh mode, whose maps start anew). With `checkpoint.safetensors`
/// it lets `--resume` continue the metrics history and draw the next map exactly as an uninterrupted
/// run would; the earlier frames and predictions are read back from `maps/`.
struct MapCheckpoint {
    static let fileName = "checkpoint-map.safetensors"
    static let format = "glassbox-map-checkpoint-1"

    /// The epoch of the last complete map.
    var epoch: Int
    /// Every metrics.jsonl row so far, the last one that of `epoch`.
    var metricsRows: [[String: Double]]
    /// Where the next warm fit starts; nil in fresh mode.
    var warmStart: UMAPWarmStart?

    func write(in run: RunDirectory) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = ["format": Self.format, "epoch": "\(epoch)",
                        "metrics_rows": String(decoding: try encoder.encode(metricsRows), as: UTF8.self)]
        do {
            try Safetensors.write(warmStart?.tensors ?? [], metadata: metadata, to: run.file(Self.fileName))
        } catch {
            throw RunError("cannot write \(run.file(Self.fileName)): \(error)")
        }
    }

    /// The map checkpoint in `directory`, or nil if there is none (a run without maps, or one whose first
    /// map was not finished).
    static func read(in directory: String) throws -> MapCheckpoint? {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let (tensors, metadata) = try Safetensors.read(from: path)
        guard metadata["format"] == format else {
            throw RunError("\(path): format \(metadata["format"] ?? "(none)") is not \(format)")
        }
        guard let epoch = metadata["epoch"].flatMap({ Int($0) }), epoch >= 0 else {
            throw RunError("\(path): metadata \"epoch\" is missing or not a whole number >= 0")
        }
        guard let rows = try? JSONDecoder().decode([[String: Double]].self, from: Data((metadata["metrics_rows"] ?? "").utf8)) else {
            throw RunError("\(path): metadata \"metrics_rows\" is not a JSON list of objects of numbers")
        }
        let warmStart = tensors.isEmpty ? nil : try UMAPWarmStart(tensors: tensors, path: path)
        return MapCheckpoint(epoch: epoch, metricsRows: rows, warmStart: warmStart)
    }
}

/// What a resumed run's outputs continue from: the metrics.jsonl rows so far and, with maps, the maps
/// already done (frames, predictions, warm start), read back from the map checkpoint and `maps/`.
struct ResumedOutputs {
    /// The metrics.jsonl rows of epochs up to `rowsThrough` (-1: none).
    var rows: [[String: Double]]
    var rowsThrough: Int
    /// Each restored map's training-set predictions, in epoch order, and the last one's test-set predictions.
    var trainPredictions: [[UInt8]] = []
    var testPredictions: [UInt8] = []
    /// The epoch of the first restored frame (nil: none restored).
    var firstMapEpoch: Int?

    /// Restores `maps` (nil for a run without maps) from the run directory; `history` and `epochsDone` are
    /// the training checkpoint's.
    init(run: RunDirectory, maps: MapStage?, files: MapFiles?, epochsDone: Int, history: [EpochMetrics]) throws {
        guard let maps, let files else {
            rows = history.map(\.metricsRow)
            rowsThrough = epochsDone
            return
        }
        guard let checkpoint = try MapCheckpoint.read(in: run.path) else {
            // A checkpoint of an older build: its maps start again at the epoch it resumes from.
            rows = history.filter { $0.epoch < epochsDone }.map(\.metricsRow)
            rowsThrough = epochsDone - 1
            return
        }
        guard checkpoint.epoch <= epochsDone else {
            throw RunError("\(run.file(MapCheckpoint.fileName)) holds the map of epoch \(checkpoint.epoch), but "
                           + "\(run.file(Checkpoint.fileName)) only \(epochsDone) epochs: the two are not of one run")
        }
        let done = try files.read().maps.filter { $0.epoch <= checkpoint.epoch }
        guard let last = done.last, last.epoch == checkpoint.epoch else {
            throw RunError("--resume: \(run.file("maps/" + RunDirectory.epochStem(checkpoint.epoch) + ".npy")) is missing, "
                           + "though \(MapCheckpoint.fileName) records that map as done")
        }
        maps.restore(frames: done.map(\.points), testPoints: last.testPoints, warmStart: checkpoint.warmStart)
        rows = checkpoint.metricsRows
        rowsThrough = checkpoint.epoch
        trainPredictions = done.map(\.predictions)
        testPredictions = last.testPredictions
        firstMapEpoch = done.first?.epoch
    }
}

extension EpochMetrics {
    /// The epoch's training figures as a metrics.jsonl row (a map's measurements are merged in beside them).
    var metricsRow: [String: Double] {
        ["epoch": Double(epoch), "loss": loss, "acc": acc, "val_loss": valLoss, "val_acc": valAcc, "seconds": seconds,
         "samples_per_second": samplesPerSecond]
    }
}
