import Core
import Dispatch

/// Computes micro-batches on `threads` single-threaded engines at once and keeps every micro-batch's
/// statistics apart, so that the coordinator can add them in the same order as one process does
/// (`CNNEngine` returns them already summed). Results never depend on `threads`.
final class MicroBatchRunner: @unchecked Sendable {
    let microBatchSize: Int
    private let engines: [CNNEngine]

    init(parameters: [Float], threads: Int, microBatchSize: Int) {
        self.microBatchSize = microBatchSize
        engines = (0..<max(1, threads)).map { _ in
            CNNEngine(parameters: parameters, threads: 1, microBatchSize: microBatchSize)
        }
    }

    var threads: Int { engines.count }

    func setParameters(_ parameters: [Float]) {
        for engine in engines { engine.setParameters(parameters) }
    }

    /// The gradient of `microBatches` (combined in their order) and each one's statistics.
    func gradients(_ microBatches: [ArraySlice<Int>], data: LabeledImages, epoch: Int, seed: UInt64)
        -> (StepGradient, [BatchStats]) {
        let parts = Slots<StepGradient>(count: microBatches.count, initial: .empty)
        let stats = Slots<BatchStats>(count: microBatches.count, initial: BatchStats())
        forEach(microBatches.count) { engine, j in
            let (part, s) = engine.gradients(microBatches: [microBatches[j]], data: data, epoch: epoch, seed: seed)
            parts[j] = part
            stats[j] = s
        }
        var total = StepGradient.empty
        for part in parts.values { total.append(part) }
        return (total, stats.values)
    }

    /// Inference over `microBatches`: each one's statistics, the predictions and (if `hidden`) the hidden
    /// layer's outputs, in sample order.
    func evaluate(_ microBatches: [ArraySlice<Int>], data: LabeledImages, hidden: Bool)
        -> (stats: [BatchStats], predictions: [UInt8], hidden: [Float]) {
        let results = Slots<(stats: BatchStats, predictions: [UInt8], hidden: [Float])>(
            count: microBatches.count, initial: (BatchStats(), [], []))
        forEach(microBatches.count) { engine, j in
            results[j] = engine.evaluate(Array(microBatches[j]), data: data, hidden: hidden)
        }
        let all = results.values
        return (all.map(\.stats), all.flatMap(\.predictions), all.flatMap(\.hidden))
    }

    /// Runs `body(engine, j)` for j in 0..<count, job j on engine j % threads.
    private func forEach(_ count: Int, _ body: @Sendable (CNNEngine, Int) -> Void) {
        let t = min(engines.count, count)
        guard t > 1 else {
            for j in 0..<count { body(engines[0], j) }
            return
        }
        let engines = self.engines
        DispatchQueue.concurrentPerform(iterations: t) { e in
            for j in stride(from: e, to: count, by: t) { body(engines[e], j) }
        }
    }
}

/// Results that concurrent jobs write at disjoint indices (each index by one job only).
private final class Slots<Element>: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<Element>
    private let count: Int
    init(count: Int, initial: Element) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: initial, count: count)
    }
    deinit {
        pointer.deinitialize(count: count)
        pointer.deallocate()
    }
    subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
    var values: [Element] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
