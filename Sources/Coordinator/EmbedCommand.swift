import ArgumentParser
import CommandLineOptions
import Core
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `glassbox-coordinator embed`: UMAP of any float matrix in a .npy file.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed the rows of a .npy matrix in 2-D with UMAP (umap-learn 0.5's algorithm, n_neighbors 40).",
        discussion: """
            Reads a 2-D float32 or float64 array (rows are points) and writes a (rows, 2) float32 .npy map.

            With --transform, new rows are placed into the finished map without moving it, as umap-learn's transform does. With --labels, prints the map's trustworthiness (k = 10, on a fixed sample of up to 5,000 rows); with --transform-labels too, the accuracy of a 10-nearest-neighbour classifier from the labelled map to the transformed rows.

            --save-model DIR keeps the fitted model (training data, map, neighbour graph and search index as .npy files and umap-model.json; see Sources/Core/UMAP/SavedModel.swift); --model DIR loads one instead of fitting, and then --transform's positions go to --out. A loaded model places new rows exactly as the fitted one did. The same seed gives the same map on any number of threads.

            Examples:
              glassbox-coordinator embed --input hidden.npy --labels labels.npy --out map.npy --transform test_hidden.npy --transform-out test_map.npy --transform-labels test_labels.npy
              glassbox-coordinator embed --input hidden.npy --out map.npy --save-model umap-model
              glassbox-coordinator embed --model umap-model --transform test_hidden.npy --out test_map.npy
            """)

    @Option(help: "Input .npy: a 2-D float32/float64 array, one point per row (or --model).")
    var input: String?

    @Option(help: "A model directory written by --save-model (or `train --save-umap-model`): transform into its map instead of fitting; needs --transform, whose positions go to --out.")
    var model: String?

    @Option(help: "Where to write the map, a (rows, 2) float32 .npy; with --model, the --transform rows' positions.")
    var out: String

    @Option(help: "Also save the fitted model into this directory, for a later `embed --model DIR --transform ...`.")
    var saveModel: String?

    @Option(help: "Optional .npy of integer labels, one per input row (for the quality report).")
    var labels: String?

    @Option(parsing: .unconditional, help: "Neighbours per point, the point itself included (umap-learn n_neighbors).")
    var nNeighbors: Int = 40

    @Option(parsing: .unconditional, help: "Minimum distance between embedded points (umap-learn min_dist).")
    var minDist: Float = 0.1

    @Option(parsing: .unconditional, help: "SGD epochs (default: 200 above 10,000 rows, else 500, as umap-learn).")
    var epochs: Int?

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Threads (default: every core).")
    var threads: Int?

    @Flag(help: "Exact neighbours (blocked sgemm; slow above ~20,000 rows) instead of the approximate search.")
    var exact = false

    @Option(help: "Optional .npy of new rows (same width as --input) to place into the finished map.")
    var transform: String?

    @Option(help: "Where to write the new rows' map positions (required with --transform).")
    var transformOut: String?

    @Option(help: "Optional .npy of integer labels of the --transform rows (for the 10-NN accuracy).")
    var transformLabels: String?

    func validate() throws {
        if (input == nil) == (model == nil) { throw ValidationError("Give exactly one of --input and --model.") }
        if model != nil {
            if transform == nil { throw ValidationError("--model needs --transform (the rows to place into its map).") }
            if transformOut != nil { throw ValidationError("With --model, --out takes the transformed rows; drop --transform-out.") }
            if saveModel != nil { throw ValidationError("--save-model goes with --input (a fit), not --model.") }
            if exact || epochs != nil { throw ValidationError("--exact and --epochs set up a fit; a loaded model keeps its own.") }
        }
        if nNeighbors < 2 { throw ValidationError("--n-neighbors must be at least 2 (it counts the point itself).") }
        if !(minDist >= 0) { throw ValidationError("--min-dist must be non-negative.") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be positive.") }
        if let threads { try validateThreadCount(threads) }
        if input != nil && (transform == nil) != (transformOut == nil) {
            throw ValidationError("--transform and --transform-out go together.")
        }
        if transformLabels != nil && (transform == nil || labels == nil) {
            throw ValidationError("--transform-labels needs --transform and --labels.")
        }
    }

    func run() throws {
        BLAS.setThreads(1)  // UMAP runs its own threads
        if let model { return try transformWithSavedModel(model) }
        let input = input!
        let x = try readMatrix(input)
        // A map needs neighbours: one row has none, and two give a graph with nothing to lay out.
        guard x.rows >= 3 else { throw EmbedError("\(input): \(x.rows) rows; a map needs at least 3") }
        var options = UMAPOptions()
        options.nNeighbors = nNeighbors
        options.minDist = minDist
        options.nEpochs = epochs
        options.seed = seed
        if exact { options.neighborSearch = .exact }
        if let threads { options.threads = threads }
        let y = try labels.map { try readLabels($0, expectedRows: x.rows) }
        var newRows: NPYMatrix? = nil
        if let transform {
            newRows = try readMatrix(transform)
            if newRows!.columns != x.columns {
                throw EmbedError("\(transform): \(newRows!.columns) columns, but \(input) has \(x.columns)")
            }
        }

        print("embed: \(x.rows) x \(x.columns) from \(input), n_neighbors \(nNeighbors), min_dist \(minDist)")
        let clock = ContinuousClock.now
        let model = UMAP.fit(data: x.values, rows: x.rows, dim: x.columns, options: options)
        let t = model.timings
        print(String(format: "fit: %.2f s (neighbours %.2f, graph %.2f, initialisation %.2f, SGD %.2f)",
                     elapsed(since: clock), t.neighbors, t.graph, t.initialization, t.optimization))
        try writeMatrix(out, model.embedding, rows: x.rows, columns: 2)
        print("wrote \(out)")
        if let saveModel {
            try model.save(to: saveModel)
            print("saved the model into \(saveModel)")
        }
        if y != nil {
            let trust = trustworthiness(data: x.values, dim: x.columns, embedding: model.embedding, k: 10,
                                        sampleSize: 5000, seed: 7, threads: options.threads)
            print(String(format: "trustworthiness (k = 10, %d rows): %.4f", min(5000, x.rows), trust))
        }
        if let newRows, let transformOut {
            try place(newRows, into: model, out: transformOut, trainLabels: y)
        }
    }

    /// `--model DIR --transform NEW.npy --out OUT.npy`.
    func transformWithSavedModel(_ directory: String) throws {
        let model = try UMAPModel.load(from: directory, threads: threads ?? UMAPOptions.defaultThreads)
        print("loaded \(directory): \(model.rows) x \(model.dim) map, n_neighbors \(model.options.nNeighbors)")
        let newRows = try readMatrix(transform!)
        if newRows.columns != model.dim {
            throw EmbedError("\(transform!): \(newRows.columns) columns, but the model in \(directory) has \(model.dim)")
        }
        let y = try labels.map { try readLabels($0, expectedRows: model.rows) }
        try place(newRows, into: model, out: out, trainLabels: y)
    }

    /// Transforms `newRows`, writes their positions, and with labels prints the 10-NN accuracy.
    func place(_ newRows: NPYMatrix, into model: UMAPModel, out path: String, trainLabels: [Int32]?) throws {
        let c = ContinuousClock.now
        let placed = model.transform(newData: newRows.values, rows: newRows.rows)
        print(String(format: "transform: %d rows in %.2f s", newRows.rows, elapsed(since: c)))
        try writeMatrix(path, placed, rows: newRows.rows, columns: 2)
        print("wrote \(path)")
        if let trainLabels, let transformLabels {
            let yt = try readLabels(transformLabels, expectedRows: newRows.rows)
            let accuracy = knnClassifierAccuracy(trainEmbedding: model.embedding, trainLabels: trainLabels,
                                                 testEmbedding: placed, testLabels: yt, k: 10)
            print(String(format: "10-NN accuracy of the transformed rows: %.4f", accuracy))
        }
    }

    func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    func readMatrix(_ path: String) throws -> NPYMatrix {
        let a = try readNPY(path)
        guard a.shape.count == 2, a.shape[0] > 1, a.shape[1] > 0 else {
            throw EmbedError("\(path): expected a 2-D array with at least 2 rows, found shape \(a.shape)")
        }
        if let bad = a.values.firstIndex(where: { !$0.isFinite }) {
            throw EmbedError("\(path): value at row \(bad / a.shape[1]), column \(bad % a.shape[1]) is not finite")
        }
        return NPYMatrix(rows: a.shape[0], columns: a.shape[1], values: a.values)
    }

    func readLabels(_ path: String, expectedRows: Int) throws -> [Int32] {
        let a = try readNPY(path)
        let count = a.shape.reduce(1, *)
        guard a.shape.count == 1 || (a.shape.count == 2 && a.shape[1] == 1), count == expectedRows else {
            throw EmbedError("\(path): expected \(expectedRows) labels (shape (\(expectedRows),)), found shape \(a.shape)")
        }
        return try a.values.enumerated().map { i, v in
            guard v.isFinite, v == v.rounded() else { throw EmbedError("\(path): label \(i) (\(v)) is not an integer") }
            return Int32(v)
        }
    }
}

struct NPYMatrix {
    let rows: Int
    let columns: Int
    let values: [Float]
}

/// A message a user can act on: which file, what was expected.
struct EmbedError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

private func readNPY(_ path: String) throws -> NPYArray { try NPY.read(from: path) }

private func writeMatrix(_ path: String, _ values: [Float], rows: Int, columns: Int) throws {
    try NPY.write(NPYArray(shape: [rows, columns], values: values), to: path)
}
