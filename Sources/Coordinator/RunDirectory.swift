import Core
import Foundation

/// The output directory of one run: metrics, weights, figures.
struct RunDirectory {
    let path: String

    init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RunError("cannot create run directory \(path): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw RunError("run directory \(path) is not writable")
        }
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `contents` to `name` atomically (temporary file, then rename).
    func writeAtomically(_ name: String, _ contents: String) throws {
        let final = file(name)
        do {
            try FileBytes.writeAtomically(Array(contents.utf8), to: final)
        } catch {
            // DataError names the path and the system's reason (a full or read-only disk).
            throw RunError("cannot write \(error)")
        }
    }

    /// Removes the temporary files of atomic writes that a crash interrupted (`.NAME.tmp-*`, never read).
    func removeUnfinishedWrites() {
        for folder in ["", "maps", "fig"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: file(folder))) ?? []
            where name.hasPrefix(".") && name.contains(".tmp-") {
                try? FileManager.default.removeItem(atPath: file(folder + "/" + name))
            }
        }
    }

    func writeMetrics(_ history: [EpochMetrics]) throws {
        try writeAtomically("metrics.csv", ([EpochMetrics.csvHeader] + history.map(\.csvRow)).joined(separator: "\n") + "\n")
    }

    /// `metrics.jsonl`: one JSON object per epoch with every per-epoch figure (training metrics
    /// and whatever extra measurements the epoch produced, e.g. UMAP quality and timings), keys in
    /// code-point order, integral values without a fraction (`"epoch":1`).
    func writeMetricsJSONL(_ rows: [[String: Double]]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let lines = try rows.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try writeAtomically("metrics.jsonl", lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n"))
    }

    /// `epoch_NNN`: the stem of an epoch's figure and map files (three digits, more past 999).
    static func epochStem(_ epoch: Int) -> String {
        let s = String(epoch)
        return "epoch_" + String(repeating: "0", count: max(0, 3 - s.count)) + s
    }

    /// The training rows of `metrics.jsonl` (those with a loss; epoch 0's map row has none), for `render`.
    func readMetricsHistory() throws -> [EpochMetrics] {
        guard let text = try? String(contentsOfFile: file("metrics.jsonl"), encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").enumerated().compactMap { n, line in
            guard let row = try? JSONDecoder().decode([String: Double].self, from: Data(line.utf8)) else {
                throw RunError("\(file("metrics.jsonl")) line \(n + 1) is not a JSON object of numbers")
            }
            guard row["loss"] != nil else { return nil }
            // EpochMetrics is built through its Codable keys: its memberwise initialiser is Core's own.
            let fields: [String: Double] = ["epoch": row["epoch"] ?? 0, "loss": row["loss"] ?? 0, "acc": row["acc"] ?? 0,
                                            "valLoss": row["val_loss"] ?? 0, "valAcc": row["val_acc"] ?? 0,
                                            "seconds": row["seconds"] ?? 0, "samplesPerSecond": row["samples_per_second"] ?? 0]
            return try JSONDecoder().decode(EpochMetrics.self, from: JSONEncoder().encode(fields))
        }
    }

    func writeWeights(_ parameters: [Float], metadata: [String: String]) throws {
        try WeightsFile.write(parameters, metadata: metadata, to: file("weights.safetensors"))
    }
}

struct RunError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
