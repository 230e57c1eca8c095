import Core
import Foundation

/// One epoch's map of the hidden layer and the network's predictions at that epoch.
struct EpochMap {
    var epoch: Int
    /// N x 2 (`[x0, y0, x1, y1, ...]`), the training images in their order.
    var points: [Float]
    /// M x 2, the test images placed into this map by UMAP's transform.
    var testPoints: [Float]
    /// N predicted classes of the training images.
    var predictions: [UInt8]
    /// M predicted classes of the test images.
    var testPredictions: [UInt8]
}

/// A run's maps on disk, written as each epoch's map is done so that a run that stops early keeps
/// every map so far and `render` can draw them. Under `maps/`, each file written atomically:
/// - `labels.npy`, `test_labels.npy`: int32 (N) and (M), the true classes, written once;
/// - `epoch_NNN.npy`: float32 (N, 2); `epoch_NNN_test.npy`: float32 (M, 2);
/// - `epoch_NNN_pred.npy`: int32 (N); `epoch_NNN_test_pred.npy`: int32 (M), the predicted classes.
struct MapFiles {
    let run: RunDirectory

    init(run: RunDirectory) throws {
        self.run = run
        try FileManager.default.createDirectory(atPath: run.file("maps"), withIntermediateDirectories: true)
    }

    private func path(_ name: String) -> String { run.file("maps/" + name) }

    /// Writes the true classes once per run directory (a resumed run finds them there).
    func writeLabels(train: [UInt8], test: [UInt8]) throws {
        try NPY.writeInt32(train.map(Int32.init), shape: [train.count], to: path("labels.npy"))
        try NPY.writeInt32(test.map(Int32.init), shape: [test.count], to: path("test_labels.npy"))
    }

    func write(_ map: EpochMap) throws {
        let stem = RunDirectory.epochStem(map.epoch)
        try NPY.write(NPYArray(shape: [map.testPoints.count / 2, 2], values: map.testPoints), to: path(stem + "_test.npy"))
        try NPY.writeInt32(map.predictions.map(Int32.init), shape: [map.predictions.count], to: path(stem + "_pred.npy"))
        try NPY.writeInt32(map.testPredictions.map(Int32.init), shape: [map.testPredictions.count],
                           to: path(stem + "_test_pred.npy"))
        // Last: `read` takes an epoch whose epoch_NNN.npy exists to have all four files.
        try NPY.write(NPYArray(shape: [map.points.count / 2, 2], values: map.points), to: path(stem + ".npy"))
    }

    /// Every epoch's map on disk, in epoch order, with the true classes.
    func read() throws -> (labels: [UInt8], testLabels: [UInt8], maps: [EpochMap]) {
        let names = try FileManager.default.contentsOfDirectory(atPath: run.file("maps"))
        let epochs = names.compactMap { name -> Int? in
            guard name.hasPrefix("epoch_"), name.hasSuffix(".npy") else { return nil }
            return Int(name.dropFirst("epoch_".count).dropLast(".npy".count))  // nil for the _test/_pred files
        }.sorted()
        let labels = try classes(path("labels.npy")), testLabels = try classes(path("test_labels.npy"))
        let maps = try epochs.map { epoch -> EpochMap in
            let stem = RunDirectory.epochStem(epoch)
            let map = EpochMap(epoch: epoch, points: try NPY.read(from: path(stem + ".npy")).values,
                               testPoints: try NPY.read(from: path(stem + "_test.npy")).values,
                               predictions: try classes(path(stem + "_pred.npy")),
                               testPredictions: try classes(path(stem + "_test_pred.npy")))
            guard map.points.count == 2 * labels.count, map.testPoints.count == 2 * testLabels.count,
                  map.predictions.count == labels.count, map.testPredictions.count == testLabels.count else {
                throw RunError("maps/\(stem)*.npy: \(map.points.count / 2) training and \(map.testPoints.count / 2) test "
                               + "points, \(map.predictions.count) and \(map.testPredictions.count) predictions; "
                               + "maps/labels.npy and test_labels.npy hold \(labels.count) and \(testLabels.count) classes")
            }
            return map
        }
        return (labels, testLabels, maps)
    }

    private func classes(_ file: String) throws -> [UInt8] {
        try NPY.read(from: file).values.map { value in
            guard (0...9).contains(value) else { throw RunError("\(file): \(value) is not a class 0-9") }
            return UInt8(value)
        }
    }
}
