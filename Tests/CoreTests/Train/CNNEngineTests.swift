import XCTest
@testable import Core

/// `n` random 28 x 28 images with random labels.
func syntheticSet(_ n: Int, seed: UInt64) -> LabeledImages {
    var g = SplitMix64(seed: seed, stream: .sampling)
    return LabeledImages(rows: 28, cols: 28, pixels: (0..<(n * 784)).map { _ in UInt8(g.nextInt(below: 256)) },
                         labels: (0..<n).map { _ in UInt8(g.nextInt(below: 10)) })
}

final class CNNEngineTests: XCTestCase {

    func testStepGradientIsBitIdenticalForAnyThreadCount() {
        let data = syntheticSet(40, seed: 1)
        let params = initialParameters(seed: 3)
        let mbs = microBatches(of: Array(0..<40)[...], size: 10)
        let results = [1, 2, 3].map { threads in
            CNNEngine(parameters: params, threads: threads, microBatchSize: 10)
                .gradients(microBatches: mbs, data: data, epoch: 1, seed: 7)
        }
        XCTAssertEqual(results[0].0, results[1].0, "1 vs 2 threads")
        XCTAssertEqual(results[0].0, results[2].0, "1 vs 3 threads")
        XCTAssertEqual(results[0].1, results[2].1)
        XCTAssertEqual(results[0].1.count, 40)
    }

    func testStepGradientMeanMatchesDirectGradient() {
        let data = syntheticSet(12, seed: 2)
        let params = initialParameters(seed: 4)
        let engine = CNNEngine(parameters: params, threads: 2, microBatchSize: 6)
        let (step, _) = engine.gradients(microBatches: microBatches(of: Array(0..<12)[...], size: 6), data: data, epoch: 3, seed: 5)
        let mean = step.mean(samples: 12, threads: 2)
        // The same samples in one workspace with the full hidden-kernel gradient.
        let ws = CNNWorkspace(capacity: 12)
        ws.load(data, indices: 0..<12)
        let kernels = BackwardKernels()
        params.withUnsafeBufferPointer { w in
            kernels.update(from: w.baseAddress!)
            ws.forward(parameters: w.baseAddress!, dropout: DropoutKey(seed: 5, epoch: 3, sampleIndices: Array(0..<12)))
            ws.backward(parameters: w.baseAddress!, kernels: kernels, dropout: true)
        }
        let direct = ws.gradient.array.map { $0 / 12 }
        for t in SeedCNN.layout.tensors {
            let diff = zip(mean[t.range], direct[t.range]).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = direct[t.range].map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            XCTAssertLessThan(diff, 1e-5 * max(norm, 1e-6), "\(t.name)")
        }
    }

    func testNetworkOverfitsASmallBatch() throws {
        let data = syntheticSet(30, seed: 3)  // random labels: only memorisation can fit them
        var state = TrainingState.initial(seed: 1).model
        let engine = CNNEngine(parameters: state.parameters, threads: 2, microBatchSize: 15)
        let mbs = microBatches(of: Array(0..<30)[...], size: 15)
        var first = BatchStats(), last = BatchStats()
        for step in 0..<80 {
            let (g, stats) = engine.gradients(microBatches: mbs, data: data, epoch: step, seed: 1)
            if step == 0 { first = stats }
            last = stats
            state.applyAdam(g, samples: 30, threads: 2)
            engine.setParameters(state.parameters)
        }
        let eval = engine.evaluate(Array(0..<30), data: data).stats
        XCTAssertGreaterThan(first.lossSum / 30, 1.5, "starts near chance")
        XCTAssertLessThan(last.lossSum / 30, 0.2, "training loss after 80 steps")
        XCTAssertEqual(eval.correct, 30, "all memorised")
    }

    /// The map reuses the validation pass's hidden outputs and runs only the other images: that is exact
    /// only if an image's outputs do not depend on which images share its pass or micro-batch.
    func testAnImagesHiddenOutputsAreTheSameBitsInAnyPassAndMicroBatch() {
        let data = syntheticSet(97, seed: 4)
        let engine = CNNEngine(parameters: initialParameters(seed: 6), threads: 2, microBatchSize: 25)
        let whole = engine.evaluate(Array(0..<97), data: data, hidden: true)
        var g = SplitMix64(seed: 8, stream: .sampling)
        let some = Array(seededPermutation(count: 97, generator: &g).prefix(31))
        let part = CNNEngine(parameters: initialParameters(seed: 6), threads: 1, microBatchSize: 7)
            .evaluate(some, data: data, hidden: true)
        for (n, i) in some.enumerated() {
            XCTAssertEqual(part.predictions[n], whole.predictions[i], "image \(i)")
            XCTAssertEqual(Array(part.hidden[(n * 512)..<((n + 1) * 512)]), Array(whole.hidden[(i * 512)..<((i + 1) * 512)]),
                           "hidden outputs of image \(i)")
        }
        XCTAssertTrue(whole.hidden.contains { $0 > 0 }, "the outputs are not all zero")
    }

    func testAdamMatchesKerasFormula() {
        var adam = AdamState(count: 1)
        var w: [Float] = [1]
        for g: Float in [0.5, -0.25] { w.withUnsafeMutableBufferPointer { p in [g].withUnsafeBufferPointer { adam.apply(gradient: $0.baseAddress!, to: p.baseAddress!, count: 1, threads: 1) } } }
        // By hand: t=1: m=.05, v=.00025, alpha=1e-3*sqrt(.001)/.1 -> w -= alpha*m/(sqrt(v)+1e-7)
        var m = 0.0, v = 0.0, wd = 1.0
        for (t, g) in [(1.0, 0.5), (2.0, -0.25)] {
            m += (g - m) * 0.1; v += (g * g - v) * 0.001
            let alpha = 1e-3 * (1 - pow(0.999, t)).squareRoot() / (1 - pow(0.9, t))
            wd -= alpha * m / (v.squareRoot() + 1e-7)
        }
        XCTAssertEqual(Double(w[0]), wd, accuracy: 1e-6)
        XCTAssertEqual(adam.step, 2)
    }

    func testEpochPlanHoldsOutTheLastFifthAndReshufflesTraining() {
        let plan = EpochPlan(sampleCount: 1000, seed: 9)
        XCTAssertEqual(plan.validationIndices.count, 200)
        XCTAssertEqual(Set(plan.trainIndices + plan.validationIndices).count, 1000)
        let e1 = plan.order(epoch: 1), e2 = plan.order(epoch: 2)
        XCTAssertEqual(Set(e1), Set(plan.trainIndices))
        XCTAssertNotEqual(e1, e2)
        XCTAssertEqual(plan.order(epoch: 1), e1)
        XCTAssertEqual(plan.stepsPerEpoch, 8)
    }
}

#if canImport(Glibc)
import Glibc
#endif
