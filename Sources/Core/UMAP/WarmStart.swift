// What a warm fit (`UMAP.warmFit`) takes from the previous map, as tensors so that a run can save it with
// its checkpoint and a resumed run's next map is the same bits as an uninterrupted run's:
//   warm/embedding          (rows, 2)      the previous layout (before any display alignment)
//   warm/neighbor_indices   (rows, k)      its kNN graph, row itself first, -1: none (float32, exact
//   warm/neighbor_distances (rows, k)      below 2^24 rows) and the distances
// and, when the previous search was approximate, the projection axes it started from:
//   warm/axes_mean (dim), warm/axes (count, dim), warm/axes_variances (count)

/// The part of a fitted map that the next warm fit starts from: far smaller than the model (no data,
/// no index), and all that `warmFit` reads.
public struct UMAPWarmStart: Sendable {
    /// The layout (rows, 2).
    public let embedding: [Float]
    /// The kNN graph the next search refines.
    public let neighbors: KNNGraph
    /// The approximate search's projection axes; nil when the neighbours were exact.
    public let axes: PrincipalComponents?

    public var rows: Int { neighbors.rows }

    /// The tensors of the layout above, names prefixed `warm/`.
    public var tensors: [NamedTensor] {
        var tensors = [
            NamedTensor(name: "warm/embedding", shape: [rows, 2], values: embedding),
            NamedTensor(name: "warm/neighbor_indices", shape: [rows, neighbors.k], values: neighbors.indices.map(Float.init)),
            NamedTensor(name: "warm/neighbor_distances", shape: [rows, neighbors.k], values: neighbors.distances),
        ]
        if let axes {
            tensors += [NamedTensor(name: "warm/axes_mean", shape: [axes.dim], values: axes.mean),
                        NamedTensor(name: "warm/axes", shape: [axes.count, axes.dim], values: axes.components),
                        NamedTensor(name: "warm/axes_variances", shape: [axes.count], values: axes.variances)]
        }
        return tensors
    }

    /// Reads the tensors written by `tensors` (others are ignored); `path` names the file in errors.
    public init(tensors: [NamedTensor], path: String) throws {
        func tensor(_ name: String, rank: Int) throws -> NamedTensor? {
            guard let t = tensors.first(where: { $0.name == name }) else { return nil }
            guard t.shape.count == rank, t.values.count == t.shape.reduce(1, *) else {
                throw DataError(.mismatch, path: path, "tensor \(name) has shape \(t.shape); expected \(rank) dimensions")
            }
            return t
        }
        func required(_ name: String, rank: Int) throws -> NamedTensor {
            guard let t = try tensor(name, rank: rank) else { throw DataError(.badHeader, path: path, "no tensor \(name)") }
            return t
        }
        let layout = try required("warm/embedding", rank: 2)
        let indices = try required("warm/neighbor_indices", rank: 2)
        let distances = try required("warm/neighbor_distances", rank: 2)
        let rows = layout.shape[0], k = indices.shape[1]
        guard layout.shape[1] == 2, rows >= 2, indices.shape == [rows, k], distances.shape == [rows, k], k >= 1 else {
            throw DataError(.mismatch, path: path, "warm/embedding \(layout.shape), warm/neighbor_indices \(indices.shape) "
                            + "and warm/neighbor_distances \(distances.shape); expected (rows, 2), (rows, k), (rows, k)")
        }
        if let bad = indices.values.firstIndex(where: { !($0 == $0.rounded() && -1 <= $0 && $0 < Float(rows)) }) {
            throw DataError(.badValue, path: path, "warm/neighbor_indices value \(bad) is \(indices.values[bad]); "
                            + "expected a whole number in -1..<\(rows)")
        }
        embedding = layout.values
        neighbors = KNNGraph(rows: rows, k: k, indices: indices.values.map { Int32($0) }, distances: distances.values)
        if let components = try tensor("warm/axes", rank: 2) {
            let count = components.shape[0], dim = components.shape[1]
            let mean = try required("warm/axes_mean", rank: 1), variances = try required("warm/axes_variances", rank: 1)
            guard mean.shape == [dim], variances.shape == [count] else {
                throw DataError(.mismatch, path: path, "warm/axes \(components.shape) does not fit warm/axes_mean "
                                + "\(mean.shape) and warm/axes_variances \(variances.shape)")
            }
            axes = PrincipalComponents(dim: dim, count: count, mean: mean.values, components: components.values,
                                       variances: variances.values)
        } else {
            axes = nil
        }
    }

    init(embedding: [Float], neighbors: KNNGraph, axes: PrincipalComponents?) {
        self.embedding = embedding; self.neighbors = neighbors; self.axes = axes
    }
}

extension UMAPModel {
    /// What the next warm fit starts from.
    public var warmStart: UMAPWarmStart { UMAPWarmStart(embedding: embedding, neighbors: neighbors, axes: index?.axes) }
}
