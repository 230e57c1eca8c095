import XCTest
@testable import Core

final class RandomTests: XCTestCase {
    func testKeyedGeneratorsAreReproducibleAndDistinct() {
        var a = SplitMix64(seed: 7, stream: .dropout1, 3, 1234)
        var b = SplitMix64(seed: 7, stream: .dropout1, 3, 1234)
        var c = SplitMix64(seed: 7, stream: .dropout1, 3, 1235)
        let xa = (0..<8).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<8).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<8).map { _ in c.next() })
    }

    func testPermutationIsAPermutationAndUniformish() {
        var g = SplitMix64(seed: 1, stream: .initialShuffle)
        let p = seededPermutation(count: 1000, generator: &g)
        XCTAssertEqual(Set(p).count, 1000)
        XCTAssertNotEqual(p, Array(0..<1000))
        var u = SplitMix64(seed: 2, stream: .sampling)
        let mean = (0..<100_000).reduce(0.0) { s, _ in s + Double(u.nextUnitFloat()) } / 100_000
        XCTAssertEqual(mean, 0.5, accuracy: 0.01)
    }
}
