import Dispatch
import XCTest

@testable import Core

/// Flush-to-zero and denormals-are-zero on every compute thread (issue 11): the parallel helpers set
/// them, so subnormals never reach Adam's moments or the weights.
final class FlushToZeroTests: XCTestCase {
    /// A subnormal float: 0.75 of the least normal magnitude.
    private let subnormal = Float.leastNormalMagnitude * 0.75

    /// Clears the mode on the calling thread and on the pool threads that a concurrent loop reaches, so
    /// that a helper found setting it has set it itself.
    private func clearFlushToZeroOnPoolThreads() {
        FlushToZero.disable()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in FlushToZero.disable() }
    }

    /// Runs `body` on a thread of its own and waits for it.
    private func onFreshThread(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.start()
        done.wait()
    }

    func testEveryThreadOfAParallelBlockHasFlushToZeroSet() {
        for threads in [1, 2, 4] {
            clearFlushToZeroOnPoolThreads()
            let byBlock = SharedArray(repeating: false, count: 64)
            forEachBlock(64, threads: threads) { block, _ in byBlock[block] = FlushToZero.isEnabled }
            XCTAssertEqual(byBlock.array.filter { !$0 }.count, 0, "forEachBlock, \(threads) threads: blocks without FTZ+DAZ")

            clearFlushToZeroOnPoolThreads()
            let byTakenBlock = SharedArray(repeating: false, count: 64)
            forEachBlockAsTaken(64, threads: threads) { block in byTakenBlock[block] = FlushToZero.isEnabled }
            XCTAssertEqual(byTakenBlock.array.filter { !$0 }.count, 0,
                           "forEachBlockAsTaken, \(threads) threads: blocks without FTZ+DAZ")
        }
    }

    func testSingleThreadedBlocksOnAFreshThreadHaveFlushToZeroSet() {
        let seen = SharedArray(repeating: false, count: 4)
        onFreshThread {
            FlushToZero.disable()
            forEachBlock(4, threads: 1) { block, _ in seen[block] = FlushToZero.isEnabled }
        }
        XCTAssertEqual(seen.array, [true, true, true, true])
    }

    func testTrainingAndEvaluationSetFlushToZeroOnTheCallingThread() {
        let engine = CNNEngine(parameters: initialParameters(seed: 3), threads: 2, microBatchSize: 5)
        let data = Benchmark.syntheticImages(count: 20)
        let seen = SharedArray(repeating: false, count: 2)
        onFreshThread {
            FlushToZero.disable()
            _ = engine.evaluate(Array(0..<20), data: data)
            seen[0] = FlushToZero.isEnabled
            FlushToZero.disable()
            _ = engine.gradients(microBatches: microBatches(of: Array(0..<20)[...], size: 5), data: data, epoch: 1, seed: 1)
            seen[1] = FlushToZero.isEnabled
        }
        XCTAssertEqual(seen.array, [true, true])
    }

    func testMultiplyingSubnormalsInAComputeBlockGivesZero() {
        clearFlushToZeroOnPoolThreads()
        // Inputs in an array, so the compiler cannot fold the products away.
        let inputs: [Float] = [subnormal, 1, 1e-20, 1e-20]
        XCTAssertTrue((inputs[0] * inputs[1]).isSubnormal, "control: without the mode the product is subnormal")
        let products = SharedArray(repeating: Float.nan, count: 8)
        forEachBlock(4, threads: 2) { block, _ in
            products[2 * block] = inputs[0] * inputs[1]  // a subnormal input reads as 0 (DAZ)
            products[2 * block + 1] = inputs[2] * inputs[3]  // 1e-40 flushes to 0 (FTZ)
        }
        XCTAssertEqual(products.array, [Float](repeating: 0, count: 8))
    }

    func testAdamStepLeavesNoSubnormalMomentsOrWeights() {
        let count = 70_000  // more than one of Adam's 65,536-element chunks
        var adam = AdamState(count: count)
        // Half the moments and weights subnormal; half the gradient zero (a silent weight), half subnormal.
        adam.m = (0..<count).map { $0 % 2 == 0 ? subnormal : 1e-3 }
        adam.v = (0..<count).map { $0 % 2 == 1 ? subnormal : 1e-6 }
        var weights = (0..<count).map { $0 % 4 == 0 ? -subnormal : 0.5 }
        let gradient = (0..<count).map { $0 % 2 == 0 ? Float(0) : subnormal }
        clearFlushToZeroOnPoolThreads()
        gradient.withUnsafeBufferPointer { g in
            weights.withUnsafeMutableBufferPointer { adam.apply(gradient: g.baseAddress!, to: $0.baseAddress!, count: count, threads: 2) }
        }
        XCTAssertEqual(subnormalCount(adam.m), 0, "subnormal first moments")
        XCTAssertEqual(subnormalCount(adam.v), 0, "subnormal second moments")
        XCTAssertEqual(subnormalCount(weights), 0, "subnormal weights")
        XCTAssertFalse(weights.contains { !$0.isFinite })
    }

    func testSubnormalCountCountsOnlySubnormals() {
        XCTAssertEqual(subnormalCount([0, -0.0, subnormal, -subnormal, Float.leastNonzeroMagnitude,
                                       Float.leastNormalMagnitude, 1, .infinity, .nan]), 3)
    }
}
