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

    func writeWeights(_ parameters: [Float], metadata: [String: String]) throws {
        let tensors = SeedCNN.layout.tensors.map {
            NamedTensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range]))
        }
        try Safetensors.write(tensors, metadata: metadata, to: file("weights.safetensors"))
    }
}

struct RunError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
