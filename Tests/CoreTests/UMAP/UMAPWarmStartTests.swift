import XCTest
@testable import Core

/// A warm start written to a file and read back gives the next warm map bit for bit, as the model kept
/// in memory does (what a resumed run relies on); damaged warm starts are refused with a message.
final class UMAPWarmStartTests: XCTestCase {
    /// `start` through a safetensors file and back.
    func roundTrip(_ start: UMAPWarmStart) throws -> UMAPWarmStart {
        let path = try makeScratchDirectory() + "/warm.safetensors"
        try Safetensors.write(start.tensors, metadata: ["what": "test"], to: path)
        return try UMAPWarmStart(tensors: Safetensors.read(from: path).tensors, path: path)
    }

    func assertSameNextMap(search: NeighborSearch, _ what: String) throws {
        let (data, _) = gaussianBlobs(clusters: 4, perCluster: 120, dim: 16)
        var options = quickUMAPOptions(nEpochs: 30, seed: 9)
        options.warmEpochs = 10
        options.neighborSearch = search
        let first = UMAP.fit(data: data, rows: 480, dim: 16, options: options)
        XCTAssertEqual(first.index != nil, search == .approximate, "\(what): the index exists with the approximate search")
        let restored = try roundTrip(first.warmStart)
        XCTAssertEqual(restored.embedding, first.embedding, what)
        XCTAssertEqual(restored.neighbors, first.neighbors, what)
        XCTAssertEqual(restored.axes?.components, first.index?.axes.components, what)
        XCTAssertEqual(restored.axes?.mean, first.index?.axes.mean, what)
        // The next epoch's activations: the same points, moved.
        let next = data.enumerated().map { i, x in x * 0.8 + Float(i % 7) * 0.01 }
        let inMemory = UMAP.warmFit(data: next, previous: first, options: options)
        let fromFile = UMAP.warmFit(data: next, from: restored, options: options, stages: ThreadedNeighborStages(threads: 2))
        XCTAssertEqual(fromFile.neighbors, inMemory.neighbors, "\(what): the next map's neighbours")
        XCTAssertEqual(fromFile.embedding, inMemory.embedding, "\(what): the next map differs after a round trip")
    }

    func testWarmStartFromAFileGivesTheNextMapBitForBitWithExactNeighbours() throws {
        try assertSameNextMap(search: .exact, "exact")
    }

    func testWarmStartFromAFileGivesTheNextMapBitForBitWithTheApproximateSearch() throws {
        try assertSameNextMap(search: .approximate, "approximate")
    }

    func testDamagedWarmStartsAreRefusedWithAMessage() throws {
        let (data, _) = gaussianBlobs(clusters: 3, perCluster: 40, dim: 8)
        let tensors = UMAP.fit(data: data, rows: 120, dim: 8, options: quickUMAPOptions(nEpochs: 20, seed: 2)).warmStart.tensors
        func message(_ tensors: [NamedTensor]) -> String? {
            do { _ = try UMAPWarmStart(tensors: tensors, path: "x.safetensors"); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(message(tensors))
        XCTAssertTrue(message(tensors.filter { $0.name != "warm/neighbor_indices" })?.contains("warm/neighbor_indices") == true)
        var outOfRange = tensors
        outOfRange[1].values[5] = 120
        XCTAssertTrue(message(outOfRange)?.contains("expected a whole number in -1..<120") == true, message(outOfRange) ?? "")
        var wrongShape = tensors
        wrongShape[2] = NamedTensor(name: "warm/neighbor_distances", shape: [119, wrongShape[2].shape[1]],
                                    values: Array(wrongShape[2].values.dropLast(wrongShape[2].shape[1])))
        XCTAssertTrue(message(wrongShape)?.contains("x.safetensors") == true, message(wrongShape) ?? "")
    }
}
