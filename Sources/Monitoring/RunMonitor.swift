import Cluster
import Core
import CoreMetrics
import Foundation
import Prometheus

/// Everything a running `train` reports while it runs: the Prometheus series of `/metrics` (registered
/// through swift-metrics on a `PrometheusMetricsFactory` of its own registry, so nothing global is
/// bootstrapped) and the run's status for the live page (`/status.json`).
///
/// The training thread reports steps, progress, epochs and maps; the worker pool's thread reports traffic
/// and answer times (`WorkerPoolObserver`); the HTTP server's thread reads. Every method is thread-safe.
public final class RunMonitor: WorkerPoolObserver, @unchecked Sendable {
    /// The run directory whose files the live page links to and serves.
    public let runDirectory: String
    private let files: RunFiles
    /// Live workers now; nil for a run in this process. Read at each scrape.
    public var liveWorkers: (() -> Int)?

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let steps: CoreMetrics.Counter
    private let samples: CoreMetrics.Counter
    private let samplesPerSecond: CoreMetrics.Gauge
    private let loss: CoreMetrics.Gauge
    private let accuracy: CoreMetrics.Gauge
    private let valLoss: CoreMetrics.Gauge
    private let valAccuracy: CoreMetrics.Gauge
    private let epoch: CoreMetrics.Gauge
    private let epochsPlanned: CoreMetrics.Gauge
    private let stepTime: CoreMetrics.Timer
    private let trustworthiness: CoreMetrics.Gauge
    private let displacement: CoreMetrics.Gauge
    private let mapEpoch: CoreMetrics.Gauge

    // Guarded by `lock`.
    private let lock = NSLock()
    private var status: RunStatus
    private var epochStats = BatchStats()
    private var workerMetrics: [String: WorkerSeries] = [:]
    private var stageGauges: [String: CoreMetrics.Gauge] = [:]

    /// The series of one worker (label `worker`) and what the live page shows of it.
    private struct WorkerSeries {
        let sent: CoreMetrics.Counter
        let received: CoreMetrics.Counter
        let answerTime: CoreMetrics.Timer
        var row: RunStatus.Worker
    }

    /// A monitor for a run of `epochs` epochs writing into `runDirectory`; `begin` tells it the steps.
    public init(runDirectory: String, epochs: Int) {
        self.runDirectory = runDirectory
        files = RunFiles(root: runDirectory)
        var factory = PrometheusMetricsFactory(registry: registry)
        // A debug step takes seconds, a release step milliseconds; answers add the network.
        let seconds: [Double] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30]
        let buckets = seconds.map { Duration.nanoseconds(Int64($0 * 1e9)) }
        factory.durationHistogramBuckets = [Self.stepSeconds: buckets, Self.workerResultSeconds: buckets]
        self.factory = factory
        steps = CoreMetrics.Counter(label: "glassbox_steps_total", factory: factory)
        samples = CoreMetrics.Counter(label: "glassbox_samples_total", factory: factory)
        samplesPerSecond = CoreMetrics.Gauge(label: "glassbox_samples_per_second", factory: factory)
        loss = CoreMetrics.Gauge(label: "glassbox_loss", factory: factory)
        accuracy = CoreMetrics.Gauge(label: "glassbox_accuracy", factory: factory)
        valLoss = CoreMetrics.Gauge(label: "glassbox_val_loss", factory: factory)
        valAccuracy = CoreMetrics.Gauge(label: "glassbox_val_accuracy", factory: factory)
        epoch = CoreMetrics.Gauge(label: "glassbox_epoch", factory: factory)
        epochsPlanned = CoreMetrics.Gauge(label: "glassbox_epochs", factory: factory)
        stepTime = CoreMetrics.Timer(label: Self.stepSeconds, factory: factory)
        trustworthiness = CoreMetrics.Gauge(label: "glassbox_umap_trustworthiness", factory: factory)
        displacement = CoreMetrics.Gauge(label: "glassbox_umap_displacement", factory: factory)
        mapEpoch = CoreMetrics.Gauge(label: "glassbox_map_epoch", factory: factory)
        status = RunStatus(epoch: 0, epochs: epochs, step: 0, steps: 0, history: [])
        epoch.record(0)
        epochsPlanned.record(epochs)
    }

    /// Training is about to start: `stepsPerEpoch` steps an epoch, after `history` (a resumed run's epochs).
    public func begin(stepsPerEpoch: Int, history: [EpochMetrics]) {
        lock.withLock {
            status.steps = stepsPerEpoch
            status.epoch = history.last?.epoch ?? 0
            status.history = history.map(RunStatus.Epoch.init)
        }
        if let last = history.last { record(last) }
    }

    private static let stepSeconds = "glassbox_step_seconds"
    private static let workerResultSeconds = "glassbox_worker_result_seconds"

    // MARK: reports from the training thread

    /// One training step of epoch `epochNumber` took `seconds` and gave `stats` (its samples' loss and hits).
    public func stepDone(epoch epochNumber: Int, seconds: Double, stats: BatchStats) {
        steps.increment()
        samples.increment(by: Int64(stats.count))
        stepTime.recordNanoseconds(Int64(seconds * 1e9))
        let running = lock.withLock { () -> BatchStats in
            if status.trainingEpoch != epochNumber {
                status.trainingEpoch = epochNumber
                status.step = 0
                epochStats = BatchStats()
            }
            status.step += 1
            epochStats = epochStats + stats
            status.loss = epochStats.lossSum / Double(max(epochStats.count, 1))
            status.acc = Double(epochStats.correct) / Double(max(epochStats.count, 1))
            return epochStats
        }
        loss.record(running.lossSum / Double(max(running.count, 1)))
        accuracy.record(Double(running.correct) / Double(max(running.count, 1)))
    }

    /// A progress line's pace and whole-run ETA.
    public func progress(_ progress: TrainingProgress) {
        samplesPerSecond.record(progress.samplesPerSecond)
        lock.withLock {
            status.samplesPerSecond = progress.samplesPerSecond
            status.etaSeconds = progress.etaSeconds
        }
    }

    /// An epoch's training and validation are done.
    public func epochDone(_ metrics: EpochMetrics) {
        record(metrics)
        lock.withLock {
            status.epoch = metrics.epoch
            status.history.append(RunStatus.Epoch(metrics))
        }
    }

    private func record(_ metrics: EpochMetrics) {
        epoch.record(metrics.epoch)
        loss.record(metrics.loss)
        accuracy.record(metrics.acc)
        valLoss.record(metrics.valLoss)
        valAccuracy.record(metrics.valAcc)
        samplesPerSecond.record(metrics.samplesPerSecond)
    }

    /// Epoch `epochNumber`'s map is done; `metrics` is its `metrics.jsonl` row (`MapStage.embed`'s keys).
    public func mapDone(epoch epochNumber: Int, metrics: [String: Double]) {
        mapEpoch.record(epochNumber)
        if let t = metrics["umap_trustworthiness"] { trustworthiness.record(t) }
        if let d = metrics["umap_frame_displacement"] { displacement.record(d) }
        let stages = ["neighbors": "umap_neighbors_seconds", "fit": "umap_seconds", "transform": "umap_transform_seconds",
                      "quality": "umap_quality_seconds", "hidden": "hidden_seconds"]
        for (stage, key) in stages.sorted(by: { $0.key < $1.key }) {
            guard let seconds = metrics[key] else { continue }
            let gauge = lock.withLock { () -> CoreMetrics.Gauge in
                if let gauge = stageGauges[stage] { return gauge }
                let gauge = CoreMetrics.Gauge(label: "glassbox_umap_stage_seconds", dimensions: [("stage", stage)], factory: factory)
                stageGauges[stage] = gauge
                return gauge
            }
            gauge.record(seconds)
        }
        lock.withLock {
            status.trustworthiness = metrics["umap_trustworthiness"] ?? status.trustworthiness
            status.displacement = metrics["umap_frame_displacement"] ?? status.displacement
        }
    }

    /// The run has written its last file (the server may linger for late scrapes).
    public func runFinished() {
        lock.withLock {
            status.finished = true
            status.etaSeconds = 0
        }
    }

    // MARK: WorkerPoolObserver (the pool's thread)

    public func worker(_ worker: String, transferred bytes: Int, sent: Bool) {
        let series = withSeries(of: worker) { series in
            if sent { series.row.sentBytes += bytes } else { series.row.receivedBytes += bytes }
        }
        (sent ? series.sent : series.received).increment(by: Int64(bytes))
    }

    public func worker(_ worker: String, answeredAfter seconds: Double) {
        let series = withSeries(of: worker) { series in
            series.row.answers += 1
            series.row.answerSecondsSum += seconds
        }
        series.answerTime.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// `worker`'s series (made on first use) after `change`.
    private func withSeries(of worker: String, _ change: (inout WorkerSeries) -> Void) -> WorkerSeries {
        lock.withLock {
            var series = workerMetrics[worker] ?? WorkerSeries(
                sent: CoreMetrics.Counter(label: "glassbox_worker_sent_bytes_total", dimensions: [("worker", worker)], factory: factory),
                received: CoreMetrics.Counter(label: "glassbox_worker_received_bytes_total", dimensions: [("worker", worker)],
                                  factory: factory),
                answerTime: CoreMetrics.Timer(label: Self.workerResultSeconds, dimensions: [("worker", worker)], factory: factory),
                row: RunStatus.Worker(name: worker))
            change(&series)
            workerMetrics[worker] = series
            return series
        }
    }

    // MARK: reads (the server's thread)

    /// `/metrics`: every series in Prometheus' text exposition format (version 0.0.4).
    public func prometheusText() -> [UInt8] {
        if let liveWorkers {
            // Made at the first scrape of a distributed run, so that an in-process run shows no worker series.
            CoreMetrics.Gauge(label: "glassbox_live_workers", factory: factory).record(liveWorkers())
        }
        return registry.emitToBuffer()
    }

    /// The run's status now, with the latest map figure on disk.
    public func currentStatus() -> RunStatus {
        var snapshot = lock.withLock {
            var snapshot = status
            snapshot.workers = workerMetrics.values.map(\.row).sorted { $0.name < $1.name }
            return snapshot
        }
        snapshot.liveWorkers = liveWorkers?()
        snapshot.latestMap = files.latestMapFigure()
        return snapshot
    }
}
