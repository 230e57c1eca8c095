import Core
import FuzzSupport

// Fuzzes `UMAPModel.load`, the reader of saved UMAP models (`embed --model DIR`), on a whole model
// directory packed into one input (`ModelArchive.swift`): the JSON header and every .npy array, so
// that the checks between them (shapes from the header, index ranges, cell starts) are reached.
// Properties: no trap, no hang, no allocation beyond what the files justify.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(modelSeeds)
}

/// What `load` reads instead of files: a missing entry is a missing file.
private struct MissingFile: Error { let path: String }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUMAPModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let files = unpackModelArchive(fuzzBytes(data, size))
    let prefix = "model/"
    _ = try? UMAPModel.load(directory: "model", threads: 1) { path in
        guard let bytes = files[String(path.dropFirst(prefix.count))] else { throw MissingFile(path: path) }
        return bytes
    }
    return 0
}

/// Two small fitted models, saved and packed: one with exact neighbours (no index), one from the
/// approximate search with a cell index.
private func modelSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (name, search, rows) in [("exact", NeighborSearch.exact, 40), ("approximate", .approximate, 60)] {
        var options = UMAPOptions()
        options.nNeighbors = 5
        options.nEpochs = 5
        options.threads = 1
        options.neighborSearch = search
        options.search.pcaDimensions = 2
        options.search.cellSize = 20
        options.search.cellProbes = 2
        options.search.candidates = 8
        let dim = 3
        // Three separated groups of points on a line, so that the cells and neighbours are not trivial.
        let data = (0..<rows * dim).map { i in Float((i / dim) % 3) * 10 + Float(i % 7) / 7 }
        let model = UMAP.fit(data: data, rows: rows, dim: dim, options: options)
        let directory = "\(temporaryDirectory())/glassbox-fuzz-model-\(name)"
        try model.save(to: directory)
        var files: [String: [UInt8]] = [:]
        for file in modelFileNames {
            files[file] = try? FileBytes.read(directory + "/" + file)
        }
        removeDirectory(directory)
        seeds.append((name, packModelArchive(files)))
    }
    return seeds
}
