import Foundation

// A fitted map on disk, for `transform` in a later process (umap-learn pickles its model; this is a
// directory of .npy arrays and one JSON file, format version 1):
//   umap-model.json            {"format": "glassbox-umap-model", "version": 1, "rows", "dim", "k",
//                               "options": every UMAPOptions field, "index": {"probes", "candidates",
//                               "cells"} or absent}
//   curve.npy                  (2,)                a and b of the map's curve
//   data.npy                   (rows, dim)         the training data
//   embedding.npy              (rows, nComponents) the map
//   neighbor_indices.npy       (rows, k)           the kNN graph (row itself first; -1: none), and
//   neighbor_distances.npy     (rows, k)           its distances
// and with an approximate-search index (transform searches through it):
//   index_order.npy            (rows,)             the original row at each locality position
//   index_axes_mean.npy        (dim,)              the projection axes: column means,
//   index_axes.npy             (count, dim)        orthonormal axes (rows),
//   index_axes_variances.npy   (count,)            and variances
//   index_projection.npy       (rows, count)       the rows' projections, in original order
//   index_cell_centroids.npy   (cells, count)      only when "cells" is set: the cells' centroids and
//   index_cell_start.npy       (cells + 1,)        the locality positions of cell c, start[c]..<start[c + 1]
// Everything is float32; integer arrays hold whole numbers (exact below 2^24 = 16,777,216 rows). The
// fuzzy graph, sigmas and rhos are recomputed from the kNN graph on load (the same bits), so a loaded
// model transforms exactly as the fitted one did.

/// The JSON part of a saved model.
struct SavedModelHeader: Codable {
    struct Index: Codable {
        var probes: Int
        var candidates: Int
        /// Number of cells; nil: the index has none (queries search all projections).
        var cells: Int?
    }
    var format: String
    var version: Int
    var rows: Int
    var dim: Int
    var k: Int
    var options: UMAPOptions
    var index: Index?
}

extension UMAPModel {
    /// The `format` field of `umap-model.json`, and the version this build writes and reads.
    public static let savedFormat = "glassbox-umap-model"
    public static let savedVersion = 1

    /// Writes the model into `directory` (created if missing; files in it are replaced).
    public func save(to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError(.io, path: directory, "cannot create the model directory: \(error.localizedDescription)")
        }
        let store = ModelFiles(directory: directory) { path in try FileBytes.read(path) }
        guard rows < 1 << 24 else {
            throw DataError(.invalidArgument, path: directory, "\(rows) rows: a saved model holds at most 16,777,215")
        }
        var header = SavedModelHeader(format: Self.savedFormat, version: Self.savedVersion, rows: rows, dim: dim,
                                      k: neighbors.k, options: options, index: nil)
        try store.write("curve.npy", [a, b], shape: [2])
        try store.write("data.npy", data, shape: [rows, dim])
        try store.write("embedding.npy", embedding, shape: [rows, options.nComponents])
        try store.write("neighbor_indices.npy", neighbors.indices.map(Float.init), shape: [rows, neighbors.k])
        try store.write("neighbor_distances.npy", neighbors.distances, shape: [rows, neighbors.k])
        if let index {
            let axes = index.axes, ordered = index.rows
            header.index = .init(probes: index.probes, candidates: index.candidates, cells: index.cells?.cellCount)
            try store.write("index_order.npy", ordered.order.map(Float.init), shape: [rows])
            try store.write("index_axes_mean.npy", axes.mean, shape: [dim])
            try store.write("index_axes.npy", axes.components, shape: [axes.count, dim])
            try store.write("index_axes_variances.npy", axes.variances, shape: [axes.count])
            var projection = [Float](repeating: 0, count: rows * axes.count)
            for i in 0..<rows {
                let p = Int(ordered.position[i])
                for d in 0..<axes.count { projection[i * axes.count + d] = ordered.projection[p * axes.count + d] }
            }
            try store.write("index_projection.npy", projection, shape: [rows, axes.count])
            if let cells = index.cells {
                try store.write("index_cell_centroids.npy", cells.centroids, shape: [cells.cellCount, axes.count])
                try store.write("index_cell_start.npy", cells.cellStart.map(Float.init), shape: [cells.cellCount + 1])
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileBytes.writeAtomically(Array(try encoder.encode(header)) + [10], to: store.path("umap-model.json"))
    }

    /// Reads a model written by `save`; `threads` replaces the saved thread count (results do not
    /// depend on it). Every problem is a `DataError` naming the file and what was expected.
    public static func load(from directory: String, threads: Int = UMAPOptions.defaultThreads) throws -> UMAPModel {
        try load(directory: directory, threads: threads) { path in try FileBytes.read(path) }
    }

    /// Reads a model from the bytes of its files, as `load(from:)` does: `contents(path)` gives the
    /// bytes of the file at `path` (`directory` joined with a file name) or throws.
    public static func load(directory: String, threads: Int = UMAPOptions.defaultThreads,
                            contents: @escaping (_ path: String) throws -> [UInt8]) throws -> UMAPModel {
        let store = ModelFiles(directory: directory, contents: contents)
        let headerPath = store.path("umap-model.json")
        let header: SavedModelHeader
        do {
            header = try JSONDecoder().decode(SavedModelHeader.self, from: Data(try contents(headerPath)))
        } catch let error as DecodingError {
            throw DataError(.badHeader, path: headerPath, describe(error))
        }
        guard header.format == savedFormat else {
            throw DataError(.badHeader, path: headerPath, "expected format \"\(savedFormat)\", found \"\(header.format)\"")
        }
        guard header.version == savedVersion else {
            throw DataError(.badHeader, path: headerPath,
                            "format version \(header.version); this build reads version \(savedVersion)")
        }
        let (rows, dim, k) = (header.rows, header.dim, header.k)
        guard rows >= 2, dim >= 1, k >= 1, k <= rows, header.options.nComponents >= 1 else {
            throw DataError(.badHeader, path: headerPath, "expected rows >= 2, dim >= 1 and 1 <= k <= rows, found "
                            + "rows \(rows), dim \(dim), k \(k)")
        }
        var options = header.options
        options.threads = max(1, threads)
        let curve = try store.read("curve.npy", shape: [2])
        let data = try store.read("data.npy", shape: [rows, dim])
        let embedding = try store.read("embedding.npy", shape: [rows, options.nComponents])
        let knn = KNNGraph(rows: rows, k: k, indices: try store.readIndices("neighbor_indices.npy", shape: [rows, k],
                                                                             range: -1..<rows),
                           distances: try store.read("neighbor_distances.npy", shape: [rows, k]))
        var index: NeighborIndex? = nil
        if let saved = header.index {
            // Checked before any shape is computed from it: `cells + 1` must not overflow.
            if let cells = saved.cells, !(1...rows).contains(cells) {
                throw DataError(.badHeader, path: headerPath, "index.cells is \(cells); expected 1 to \(rows) (rows)")
            }
            guard saved.probes >= 1, saved.candidates >= 1 else {
                throw DataError(.badHeader, path: headerPath, "expected index.probes and index.candidates >= 1, found "
                                + "\(saved.probes) and \(saved.candidates)")
            }
            let order = try store.readIndices("index_order.npy", shape: [rows], range: 0..<rows)
            let mean = try store.read("index_axes_mean.npy", shape: [dim])
            let variances = try store.read("index_axes_variances.npy", shape: nil)
            let count = variances.count
            let axes = PrincipalComponents(dim: dim, count: count, mean: mean,
                                           components: try store.read("index_axes.npy", shape: [count, dim]),
                                           variances: variances)
            let projection = try store.read("index_projection.npy", shape: [rows, count])
            guard Set(order).count == rows else {
                throw DataError(.badValue, path: store.path("index_order.npy"), "expected every row 0..<\(rows) once")
            }
            let ordered = data.withUnsafeBufferPointer {
                LocalityOrderedRows(data: $0.baseAddress!, rows: rows, dim: dim, order: order,
                                    halfPrecision: options.search.halfPrecision, axes: axes, projected: projection,
                                    threads: options.threads)
            }
            var cellIndex: CellIndex? = nil
            if let cells = saved.cells {
                let centroids = try store.read("index_cell_centroids.npy", shape: [cells, count])
                let start = try store.readIndices("index_cell_start.npy", shape: [cells + 1], range: 0..<(rows + 1))
                guard start.first == 0, start.last == Int32(rows), zip(start, start.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                    throw DataError(.badValue, path: store.path("index_cell_start.npy"),
                                    "expected non-decreasing positions from 0 to \(rows)")
                }
                var cellOf = [Int32](repeating: 0, count: rows)
                for c in 0..<cells { for p in Int(start[c])..<Int(start[c + 1]) { cellOf[p] = Int32(c) } }
                cellIndex = ordered.projection.withUnsafeBufferPointer {
                    CellIndex(points: $0.baseAddress!, rows: rows, dim: count, cellOf: cellOf,
                              cells: KMeansClusters(count: cells, dim: count, centroids: centroids, assignment: []))
                }
            }
            index = NeighborIndex(rows: ordered, graph: localityPositions(knn, data: ordered), axes: axes,
                                  cells: cellIndex, probes: saved.probes, candidates: saved.candidates)
        }
        let (sigmas, rhos, graph) = UMAP.fuzzyGraph(knn, k: k, options: options)
        return UMAPModel(options: options, rows: rows, dim: dim, data: data, embedding: embedding, neighbors: knn,
                         sigmas: sigmas, rhos: rhos, graph: graph, a: curve[0], b: curve[1], index: index,
                         timings: UMAPTimings())
    }
}

/// The .npy files of a model directory, with the shape checks of `load`.
private struct ModelFiles {
    let directory: String
    /// The bytes of the file at a path.
    let contents: (_ path: String) throws -> [UInt8]

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    func write(_ name: String, _ values: [Float], shape: [Int]) throws {
        try NPY.write(NPYArray(shape: shape, values: values), to: path(name))
    }

    /// The values of `name`, which must have `shape` (any 1-D shape when nil).
    func read(_ name: String, shape: [Int]?) throws -> [Float] {
        let array = try NPY.decode(contents(path(name)), path: path(name))
        if let shape, array.shape != shape {
            throw DataError(.mismatch, path: path(name),
                            "expected shape \(tuple(shape)) (from umap-model.json), found \(tuple(array.shape))")
        }
        if shape == nil && array.shape.count != 1 {
            throw DataError(.mismatch, path: path(name), "expected a 1-D array, found shape \(tuple(array.shape))")
        }
        return array.values
    }

    /// Whole numbers in `range`, stored as float32.
    func readIndices(_ name: String, shape: [Int], range: Range<Int>) throws -> [Int32] {
        let values = try read(name, shape: shape)
        if let bad = values.firstIndex(where: { !($0 == $0.rounded() && Float(range.lowerBound) <= $0 && $0 < Float(range.upperBound)) }) {
            throw DataError(.badValue, path: path(name),
                            "value \(bad) is \(values[bad]); expected a whole number in \(range.lowerBound)..<\(range.upperBound)")
        }
        return values.map { Int32($0) }
    }

    private func tuple(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}

/// One line for a JSON decoding problem: which field, what was wrong.
private func describe(_ error: DecodingError) -> String {
    func field(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing field \"\(field(context.codingPath + [key]))\""
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "field \"\(field(context.codingPath))\" has the wrong type or is null"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "field \"\(field(context.codingPath))\": bad value"
    @unknown default:
        return "cannot be decoded"
    }
}
