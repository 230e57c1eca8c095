// A saved UMAP model directory as one fuzz input: a sequence of entries
//   [file index: UInt8 (modulo the file count)] [length: UInt32 little-endian] [length bytes]
// A later entry for the same file replaces an earlier one; an entry cut short takes what is left.
// Files without an entry are missing from the directory.

/// The files a saved model directory may hold (`UMAPModel.save`), in archive index order.
public let modelFileNames = [
    "umap-model.json", "curve.npy", "data.npy", "embedding.npy", "neighbor_indices.npy",
    "neighbor_distances.npy", "index_order.npy", "index_axes_mean.npy", "index_axes.npy",
    "index_axes_variances.npy", "index_projection.npy", "index_cell_centroids.npy", "index_cell_start.npy",
]

/// The files of a model archive, by name.
public func unpackModelArchive(_ bytes: [UInt8]) -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    var at = 0
    while at + 5 <= bytes.count {
        let name = modelFileNames[Int(bytes[at]) % modelFileNames.count]
        let length = (0..<4).reduce(0) { $0 | Int(bytes[at + 1 + $1]) << (8 * $1) }
        let start = at + 5
        let end = min(bytes.count, start + length)
        files[name] = Array(bytes[start..<end])
        at = end
    }
    return files
}

/// The archive of `files` (names from `modelFileNames`), in that list's order.
public func packModelArchive(_ files: [String: [UInt8]]) -> [UInt8] {
    var bytes: [UInt8] = []
    for (index, name) in modelFileNames.enumerated() {
        guard let content = files[name] else { continue }
        bytes.append(UInt8(index))
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: content.count >> (8 * $0)) }
        bytes += content
    }
    return bytes
}
