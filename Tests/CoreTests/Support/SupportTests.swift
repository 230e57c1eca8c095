import XCTest
@testable import Core

final class SupportTests: XCTestCase {
    func testHexStringWritesTwoDigitsPerByteAndUInt32MostSignificantFirst() {
        XCTAssertEqual(hexString([0x00, 0x0f, 0xa0, 0xff]), "000fa0ff")
        XCTAssertEqual(hexString(UInt32(0x0000_0803)), "00000803")
        XCTAssertEqual(hexString(UInt32(0x504b_0304)), "504b0304")
    }

    func testForEachBlockRunsBlockOnThreadBlockModThreads() {
        let blocks = 23, threads = 4
        let ranOn = SharedArray(repeating: -1, count: blocks)
        forEachBlock(blocks, threads: threads) { block, thread in ranOn[block] = thread }
        XCTAssertEqual(ranOn.array, (0..<blocks).map { $0 % threads })
    }

    func testForEachBlockAsTakenRunsEveryBlockOnce() {
        let runs = SharedArray(repeating: 0, count: 37)
        forEachBlockAsTaken(37, threads: 3) { block in runs[block] += 1 }
        XCTAssertEqual(runs.array, [Int](repeating: 1, count: 37))
    }

    func testRowBlockProductIsTheSameBitsOnAnyThreadsAndMatchesDirectDots() {
        let rows = 70, yRows = 9, dim = 13, blockRows = 16
        var g = SplitMix64(seed: 3, stream: .sampling)
        let x = (0..<(rows * dim)).map { _ in Float(g.nextGaussian()) }
        let y = (0..<(yRows * dim)).map { _ in Float(g.nextGaussian()) }
        func products(threads: Int) -> [Float] {
            let out = SharedArray(repeating: Float.nan, count: rows * yRows)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    forEachRowBlockProduct(xp.baseAddress!, rows: rows, yp.baseAddress!, yRows: yRows, dim: dim,
                                           blockRows: blockRows, threads: threads) { _, block, dots in
                        XCTAssertLessThanOrEqual(block.count, blockRows)
                        for r in block {
                            for c in 0..<yRows { out[r * yRows + c] = dots[(r - block.lowerBound) * yRows + c] }
                        }
                    }
                }
            }
            return out.array
        }
        let one = products(threads: 1)
        XCTAssertEqual(one.map(\.bitPattern), products(threads: 3).map(\.bitPattern))
        XCTAssertEqual(rowBlockCount(rows, blockRows: blockRows), 5)
        for r in 0..<rows {
            for c in 0..<yRows {
                let direct = (0..<dim).reduce(Float(0)) { $0 + x[r * dim + $1] * y[c * dim + $1] }
                XCTAssertEqual(one[r * yRows + c], direct, accuracy: 1e-4, "row \(r) column \(c)")
            }
        }
    }

    func testClockIsMonotonic() {
        let a = now(), b = now()
        XCTAssertGreaterThanOrEqual(b, a)
    }
}
