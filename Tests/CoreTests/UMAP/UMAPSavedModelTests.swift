import XCTest
@testable import Core

/// Saved models: a loaded model is the fitted one, bit for bit where transform looks; bad files are
/// refused with a line naming the file.
final class UMAPSavedModelTests: XCTestCase {
    func quickOptions() -> UMAPOptions {
        var o = quickUMAPOptions(nEpochs: 30, seed: 5)
        o.warmEpochs = 10
        return o
    }

    /// Saves `model`, loads it on one thread, and checks what transform uses and what it gives.
    func assertRoundTrip(_ model: UMAPModel, newRows: [Float], _ what: String) throws {
        let directory = try makeScratchDirectory() + "/model"
        try model.save(to: directory)
        let loaded = try UMAPModel.load(from: directory, threads: 1)
        XCTAssertEqual(loaded.options.nNeighbors, model.options.nNeighbors, what)
        XCTAssertEqual(loaded.embedding, model.embedding, what)
        XCTAssertEqual(loaded.neighbors, model.neighbors, what)
        XCTAssertEqual(loaded.sigmas, model.sigmas, what)
        XCTAssertEqual(loaded.graph, model.graph, what)
        XCTAssertEqual(loaded.a, model.a, what)
        XCTAssertEqual(loaded.b, model.b, what)
        XCTAssertEqual(loaded.index?.graph, model.index?.graph, what)
        XCTAssertEqual(loaded.index?.rows.projection, model.index?.rows.projection, what)
        let rows = newRows.count / model.dim
        XCTAssertEqual(loaded.transform(newData: newRows, rows: rows), model.transform(newData: newRows, rows: rows),
                       "\(what): transform of \(rows) new rows")
    }

    func testLoadedModelsTransformBitIdenticallyToTheFittedOnes() throws {
        guard let train = MNISTSample.load(split: .train, limit: 4500),
              let test = MNISTSample.load(split: .test, limit: 300) else {
            throw XCTSkip("MNIST not found at \(MNISTSample.directory) (set GLASSBOX_DATA)")
        }
        // 4,500 rows: approximate search, an index with cells.
        let fitted = UMAP.fit(data: train.pixels, rows: train.rows, dim: 784, options: quickOptions())
        XCTAssertNotNil(fitted.index?.cells)
        try assertRoundTrip(fitted, newRows: test.pixels, "fresh fit")
        // A warm fit's index has no cells.
        let warm = UMAP.warmFit(data: train.pixels.map { $0 * 0.9 }, previous: fitted)
        XCTAssertNil(warm.index?.cells)
        try assertRoundTrip(warm, newRows: test.pixels, "warm fit")
        // Below 4,096 rows: exact neighbours, no index.
        let small = UMAP.fit(data: Array(train.pixels.prefix(600 * 784)), rows: 600, dim: 784, options: quickOptions())
        XCTAssertNil(small.index)
        try assertRoundTrip(small, newRows: test.pixels, "exact fit")
    }

    func testBadModelFilesGiveAnErrorNamingTheFile() throws {
        let (data, _) = gaussianBlobs(clusters: 3, perCluster: 40, dim: 8)
        let directory = try makeScratchDirectory() + "/model"
        try UMAP.fit(data: data, rows: 120, dim: 8, options: quickOptions()).save(to: directory)
        func loadError() -> DataError? {
            do { _ = try UMAPModel.load(from: directory, threads: 1); return nil } catch { return error as? DataError }
        }
        XCTAssertNil(loadError())

        // A map of the wrong shape.
        let embedding = directory + "/embedding.npy"
        let saved = try Data(contentsOf: URL(fileURLWithPath: embedding))
        try NPY.write(NPYArray(shape: [119, 2], values: [Float](repeating: 0, count: 238)), to: embedding)
        var error = loadError()
        XCTAssertEqual(error?.path, embedding)
        XCTAssertEqual(error?.kind, .mismatch)
        XCTAssertTrue(error?.message.contains("expected shape (120, 2)") == true, "\(String(describing: error))")
        try saved.write(to: URL(fileURLWithPath: embedding))
        XCTAssertNil(loadError())

        // Neighbour indices out of range.
        let indices = directory + "/neighbor_indices.npy"
        try NPY.write(NPYArray(shape: [120, 15], values: [Float](repeating: 500, count: 1800)), to: indices)
        error = loadError()
        XCTAssertEqual(error?.path, indices)
        XCTAssertEqual(error?.kind, .badValue)

        // A missing file, and a header of another version.
        try FileManager.default.removeItem(atPath: indices)
        XCTAssertEqual(loadError()?.path, indices)
        XCTAssertEqual(loadError()?.kind, .missingFile)
        let header = directory + "/umap-model.json"
        let json = try String(contentsOfFile: header, encoding: .utf8)
        try json.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 7")
            .write(toFile: header, atomically: true, encoding: .utf8)
        error = loadError()
        XCTAssertEqual(error?.path, header)
        XCTAssertEqual(error?.message, "format version 7; this build reads version 1")
        try json.replacingOccurrences(of: "\"rows\"", with: "\"lines\"").write(toFile: header, atomically: true, encoding: .utf8)
        XCTAssertEqual(loadError()?.message, "missing field \"rows\"")
        try FileManager.default.removeItem(atPath: header)
        XCTAssertEqual(loadError()?.path, header)
        XCTAssertEqual(loadError()?.kind, .missingFile)
    }
}
