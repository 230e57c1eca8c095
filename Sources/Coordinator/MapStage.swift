import Cluster
import Core

/// The per-epoch UMAP stage of a run: embeds the `hidden` activations of all training images,
/// keeps consecutive maps aligned, places the test images into the map, and measures each map.
final class MapStage {
    enum Mode: String, CaseIterable { case warm, fresh }

    let options: UMAPOptions
    let mode: Mode
    let labels: [UInt8]
    let testLabels: [UInt8]
    private var model: UMAPModel?
    /// Where the next warm fit starts when no model was fitted in this process (a resumed run).
    private var restoredStart: UMAPWarmStart?
    /// One aligned map (2 x training count floats) per epoch, epoch 0 first.
    private(set) var frames: [[Float]] = []
    /// The test images placed into the latest map.
    private(set) var testPoints: [Float] = []
    /// Where the neighbour search's per-row stages run: the workers (`ClusterNeighborStages`), or nil for
    /// this process' threads. The maps are the same either way.
    var neighborStages: ClusterNeighborStages?

    init(options: UMAPOptions, mode: Mode, labels: [UInt8], testLabels: [UInt8]) {
        self.options = options; self.mode = mode; self.labels = labels; self.testLabels = testLabels
    }

    /// Embeds one epoch's activations (rows x 512) and the test set's (for the kNN accuracy and the
    /// train/test figure); returns the map's measurements for the metrics files.
    func embed(epoch: Int, hidden: [Float], testHidden: [Float], dim: Int = SeedCNN.hiddenWidth) throws -> [String: Double] {
        let rows = hidden.count / dim
        let start = now()
        let next: UMAPModel
        let stages: any NeighborSearchStages = neighborStages ?? ThreadedNeighborStages(threads: options.threads)
        if mode == .warm, let previous = model?.warmStart ?? restoredStart {
            next = try UMAP.warmFit(data: hidden, from: previous, options: options, stages: stages)  // aligned
        } else {
            next = try UMAP.fit(data: hidden, rows: rows, dim: dim, options: options, stages: stages)
        }
        let fitSeconds = now() - start
        model = next
        let t0 = now()
        var embedding = next.embedding
        testPoints = next.transform(newData: testHidden, rows: testHidden.count / dim)
        let transformSeconds = now() - t0
        if mode == .fresh, let last = frames.last {
            // Independent fits are still shown aligned; a similarity transform changes no measurement.
            let toLast = procrustes(embedding, onto: last)
            embedding = toLast.apply(embedding)
            testPoints = toLast.apply(testPoints)
        }
        let t1 = now()
        var m: [String: Double] = [
            "umap_seconds": fitSeconds, "umap_transform_seconds": transformSeconds,
            "umap_neighbors_seconds": next.timings.neighbors,
            "umap_trustworthiness": trustworthiness(data: hidden, dim: dim, embedding: embedding, k: 10,
                                                    sampleSize: 5000, seed: 1),
            "umap_knn_test_accuracy": knnClassifierAccuracy(
                trainEmbedding: embedding, trainLabels: labels.map(Int32.init), testEmbedding: testPoints,
                testLabels: testLabels.map(Int32.init), k: 10),
        ]
        m["umap_quality_seconds"] = now() - t1
        if let last = frames.last { m["umap_frame_displacement"] = frameDisplacement(from: last, to: embedding) }
        frames.append(embedding)
        return m
    }

    /// The log line of the map `embed` just made (logged by the caller's thread: a map made in the
    /// background must not hold the log's lock at its low priority).
    func summary(epoch: Int, _ m: [String: Double]) -> String {
        let kind = frames.count == 1 ? "fit" : mode == .warm ? "warm-started" : "fresh fit"  // the first frame is a fit
        return "epoch \(epoch) map: UMAP \(kind) \(fmt(m["umap_seconds"] ?? 0, 1)) s, transform \(fmt(m["umap_transform_seconds"] ?? 0, 1)) s, "
            + "trustworthiness \(fmt(m["umap_trustworthiness"] ?? 0, 4)), 2-D 10-NN test accuracy \(fmt(m["umap_knn_test_accuracy"] ?? 0, 4))"
            + (m["umap_frame_displacement"].map { ", displacement \(fmt($0, 4))" } ?? "")
            + (m["umap_wait_seconds"].map { " (made in the background beside the training; \(fmt($0, 1)) s waited for)" } ?? "")
    }

    /// What the next warm map starts from (nil in fresh mode, or before the first map).
    var warmStart: UMAPWarmStart? { mode == .warm ? model?.warmStart ?? restoredStart : nil }

    /// Continues a resumed run: the frames so far (epoch order), the test images' place in the last one,
    /// and where the next warm fit starts.
    func restore(frames: [[Float]], testPoints: [Float], warmStart: UMAPWarmStart?) {
        self.frames = frames
        self.testPoints = testPoints
        restoredStart = warmStart
    }

    /// Saves the latest epoch's model (its map before any display alignment) for `embed --model`.
    func saveModel(to directory: String) throws {
        try model?.save(to: directory)
    }
}
