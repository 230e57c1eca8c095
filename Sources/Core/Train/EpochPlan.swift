/// Which samples each step of each epoch uses, as the reference does it: the training set is
/// shuffled once (seeded), the last `validationFraction` of that order is held out for validation
/// (Keras' validation_split), and the rest is reshuffled every epoch and cut into batches.
/// Everything derives from the seed, so every process computes the same plan.
public struct EpochPlan: Sendable {
    public let seed: UInt64
    public let batchSize: Int
    public let trainIndices: [Int]
    public let validationIndices: [Int]

    public init(sampleCount: Int, validationFraction: Double = 0.2, batchSize: Int = 100, seed: UInt64) {
        precondition(sampleCount > 1 && batchSize > 0)
        self.seed = seed
        self.batchSize = batchSize
        var g = SplitMix64(seed: seed, stream: .initialShuffle)
        let order = seededPermutation(count: sampleCount, generator: &g)
        // Keras takes the last int(n * split) samples for validation.
        let validationCount = Int(Double(sampleCount) * validationFraction)
        trainIndices = Array(order[0..<(sampleCount - validationCount)])
        validationIndices = Array(order[(sampleCount - validationCount)...])
    }

    /// Batches per epoch (the last one may be short, as in Keras).
    public var stepsPerEpoch: Int { (trainIndices.count + batchSize - 1) / batchSize }

    /// The training order of epoch `epoch` (1-based).
    public func order(epoch: Int) -> [Int] {
        var g = SplitMix64(seed: seed, stream: .epochShuffle, UInt64(epoch))
        return seededPermutation(count: trainIndices.count, generator: &g).map { trainIndices[$0] }
    }

    /// The sample indices of step `step` (0-based) within an epoch's order.
    public func batch(_ step: Int, of order: [Int]) -> ArraySlice<Int> {
        order[(step * batchSize)..<min(order.count, (step + 1) * batchSize)]
    }
}

/// Cuts a batch into fixed micro-batches of `size` samples. Micro-batches are the unit of work
/// that threads and workers compute; their boundaries never depend on who computes them.
public func microBatches(of batch: ArraySlice<Int>, size: Int) -> [ArraySlice<Int>] {
    stride(from: batch.startIndex, to: batch.endIndex, by: size).map { batch[$0..<min($0 + size, batch.endIndex)] }
}
