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
        let final = file(name), tmp = final + ".tmp"
        do {
            try contents.write(toFile: tmp, atomically: false, encoding: .utf8)
            if FileManager.default.fileExists(atPath: final) { try FileManager.default.removeItem(atPath: final) }
            try FileManager.default.moveItem(atPath: tmp, toPath: final)
        } catch {
            throw RunError("cannot write \(final): \(error.localizedDescription)")
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

    func writeWeights(_ parameters: [Float], metadata: [String: String]) throws {
        try WeightsFile.write(parameters, metadata: metadata, to: file("weights.safetensors"))
    }
}

struct RunError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
