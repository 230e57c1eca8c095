import XCTest
@testable import Core

/// Adam's eight-wide update against its one-element reference: the same bits, step after step.
final class AdamTests: XCTestCase {
    func testFastUpdateMatchesReferenceBitForBit() {
        // Not a multiple of 8 or of the 65,536-element chunk: the scalar tail and two chunks run too.
        let count = 65_536 + 1_003
        var rng = SplitMix64(seed: 11, stream: .sampling)
        func uniform(_ scale: Float) -> Float { (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
        let start = (0..<count).map { _ in uniform(0.5) }
        var fast = AdamState(count: count), reference = AdamState(count: count)
        var fastWeights = start, referenceWeights = start
        for step in 1...5 {
            // Gradients of very different magnitudes, some zero, as a real step has.
            let gradient = (0..<count).map { i in i % 7 == 0 ? 0 : uniform(i % 3 == 0 ? 1e-6 : 1e-2) }
            gradient.withUnsafeBufferPointer { g in
                fastWeights.withUnsafeMutableBufferPointer { fast.apply(gradient: g.baseAddress!, to: $0.baseAddress!, count: count, threads: 2) }
                referenceWeights.withUnsafeMutableBufferPointer {
                    reference.applyReference(gradient: g.baseAddress!, to: $0.baseAddress!, count: count)
                }
            }
            XCTAssertEqual(fast.step, step)
            XCTAssertEqual(fastWeights.map(\.bitPattern), referenceWeights.map(\.bitPattern), "weights after step \(step)")
            XCTAssertEqual(fast.m.map(\.bitPattern), reference.m.map(\.bitPattern), "first moments after step \(step)")
            XCTAssertEqual(fast.v.map(\.bitPattern), reference.v.map(\.bitPattern), "second moments after step \(step)")
        }
        XCTAssertNotEqual(fastWeights, start, "the steps moved the weights")
    }
}
