import XCTest
@testable import Core

/// Finite-difference checks of every reference layer and the reference network (Double), and the
/// fast Float kernels against that reference.
final class GradientCheckTests: XCTestCase {
    private func randoms(_ n: Int, _ g: inout SplitMix64, scale: Double = 1) -> [Double] {
        (0..<n).map { _ in (g.nextUnitDouble() * 2 - 1) * scale }
    }

    /// Central differences of a scalar function at x, for the indices given.
    private func numericGradient(_ f: ([Double]) -> Double, at x: [Double], indices: [Int], eps: Double = 1e-6) -> [Double] {
        indices.map { i in
            var xp = x, xm = x
            xp[i] += eps; xm[i] -= eps
            return (f(xp) - f(xm)) / (2 * eps)
        }
    }

    private func assertClose(_ a: [Double], _ b: [Double], rel: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            let tol = rel * max(1, abs(x), abs(y))
            if abs(x - y) > tol {
                XCTFail("\(what)[\(i)]: \(x) vs \(y) (tolerance \(tol))", file: file, line: line)
                return
            }
        }
    }

    func testReferenceConvolutionGradientsMatchFiniteDifferences() {
        var g = SplitMix64(seed: 1, stream: .sampling)
        let (n, s, cin, cout) = (2, 4, 3, 2)
        let x = randoms(n * s * s * cin, &g), k = randoms(4 * cin * cout, &g), b = randoms(cout, &g)
        let r = randoms(n * s * s * cout, &g)
        func objective(_ x: [Double], _ k: [Double], _ b: [Double]) -> Double {
            zip(Ref.conv(x, n: n, s: s, cin: cin, cout: cout, k: k, b: b), r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let an = Ref.convBackward(x, dy: r, n: n, s: s, cin: cin, cout: cout, k: k)
        assertClose(an.dx, numericGradient({ objective($0, k, b) }, at: x, indices: Array(x.indices)), rel: 1e-6, "dx")
        assertClose(an.dk, numericGradient({ objective(x, $0, b) }, at: k, indices: Array(k.indices)), rel: 1e-6, "dk")
        assertClose(an.db, numericGradient({ objective(x, k, $0) }, at: b, indices: Array(b.indices)), rel: 1e-6, "db")
    }

    func testReferenceDenseReluPoolSoftmaxGradientsMatchFiniteDifferences() {
        var g = SplitMix64(seed: 2, stream: .sampling)
        // Dense
        let x = randoms(3 * 5, &g), k = randoms(5 * 4, &g), b = randoms(4, &g), r = randoms(12, &g)
        func dense(_ x: [Double], _ k: [Double], _ b: [Double]) -> Double {
            zip(Ref.dense(x, rows: 3, inW: 5, outW: 4, k: k, b: b), r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let dn = Ref.denseBackward(x, dy: r, rows: 3, inW: 5, outW: 4, k: k)
        assertClose(dn.dx, numericGradient({ dense($0, k, b) }, at: x, indices: Array(x.indices)), rel: 1e-6, "dense dx")
        assertClose(dn.dk, numericGradient({ dense(x, $0, b) }, at: k, indices: Array(k.indices)), rel: 1e-6, "dense dk")
        assertClose(dn.db, numericGradient({ dense(x, k, $0) }, at: b, indices: Array(b.indices)), rel: 1e-6, "dense db")
        // ReLU + max-pool (values well apart so the tiny steps never change a winner)
        let px: [Double] = (0..<(2 * 4 * 4 * 3)).map { (i: Int) -> Double in
            Double(i % 17) * 0.37 - 2.5 + Double(i) * 0.001
        }
        let pr = randoms(2 * 2 * 2 * 3, &g)
        func pool(_ x: [Double]) -> Double {
            zip(Ref.maxPool(Ref.relu(x), n: 2, s: 4, c: 3).y, pr).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let (_, arg) = Ref.maxPool(Ref.relu(px), n: 2, s: 4, c: 3)
        let dpool = Ref.reluBackward(px, dy: Ref.maxPoolBackward(dy: pr, arg: arg, inputCount: px.count))
        assertClose(dpool, numericGradient(pool, at: px, indices: Array(px.indices)), rel: 1e-6, "relu+pool dx")
        // Softmax cross-entropy
        let z = randoms(3 * 10, &g, scale: 3), labels = [2, 7, 0]
        let dz = Ref.softmaxCE(z, rows: 3, labels: labels).dz
        assertClose(dz, numericGradient({ Ref.softmaxCE($0, rows: 3, labels: labels).loss }, at: z, indices: Array(z.indices)),
                    rel: 1e-6, "softmax-ce dz")
    }

    func testReferenceNetworkGradientMatchesFiniteDifferences() {
        var g = SplitMix64(seed: 3, stream: .sampling)
        let params = initialParameters(seed: 11).map(Double.init)
        let x = (0..<(2 * 784)).map { _ in g.nextUnitDouble() }
        let labels = [3, 8]
        var m1 = [Double](repeating: 0, count: 2 * 14 * 14 * 32), m2 = [Double](repeating: 0, count: 2 * 1568)
        for i in m1.indices { m1[i] = g.nextUnitDouble() < 0.2 ? 0 : 1.25 }
        for i in m2.indices { m2[i] = g.nextUnitDouble() < 0.2 ? 0 : 1.25 }
        let an = Ref.network(params: params, x: x, n: 2, labels: labels, mask1: m1, mask2: m2).grad
        var probe: [Int] = []
        for t in ParameterLayout.seedCNN.tensors {
            // the entries with the largest analytic gradient, plus one random entry
            let best = t.range.max { abs(an[$0]) < abs(an[$1]) }!
            probe += [best, t.offset + g.nextInt(below: t.count)]
        }
        let num = numericGradient({ Ref.network(params: $0, x: x, n: 2, labels: labels, mask1: m1, mask2: m2).loss },
                                  at: params, indices: probe, eps: 1e-5)
        assertClose(probe.map { an[$0] }, num, rel: 1e-5, "network gradient at \(probe)")
    }

    /// The fast Float network (padded layout, SIMD kernels, sgemm) against the Double reference,
    /// with the very dropout masks the fast path derived from (seed, epoch, sample index).
    func testFastNetworkMatchesReference() {
        for path in KernelPath.supported { checkFastNetworkMatchesReference(path) }
    }

    private func checkFastNetworkMatchesReference(_ path: KernelPath) {
        let n = 3
        let params = initialParameters(seed: 5)
        var g = SplitMix64(seed: 4, stream: .sampling)
        let pixels = (0..<(n * 784)).map { _ in UInt8(g.nextInt(below: 256)) }
        let labels: [UInt8] = [1, 9, 4]
        let ws = CNNWorkspace(capacity: 4, kernels: path)
        ws.load(LabeledImages(rows: 28, cols: 28, pixels: pixels, labels: labels), indices: 0..<n)
        let kernels = BackwardKernels()
        let stats = params.withUnsafeBufferPointer { w -> BatchStats in
            kernels.update(from: w.baseAddress!)
            let s = ws.forward(parameters: w.baseAddress!, dropout: DropoutKey(seed: 9, epoch: 2, sampleIndices: [10, 11, 12]))
            ws.backward(parameters: w.baseAddress!, kernels: kernels, dropout: true)
            return s
        }
        // masks back to dense NHWC order
        var m1: [Double] = [], m2: [Double] = []
        for s in 0..<n {
            for i in 0..<14 { for j in 0..<14 { for c in 0..<32 {
                m1.append(Double(ws.mask1.pointer[s * 225 * 32 + (i * 15 + j) * 32 + c]))
            } } }
        }
        for i in 0..<(n * 1568) { m2.append(Double(ws.mask2.pointer[i])) }
        let dropped = m1.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(m1.count), 0.2, accuracy: 0.02, "dropout rate")
        XCTAssertTrue(Set(m1).isSubset(of: [0, 1.25]))

        let x = pixels.map { Double(Float($0) / 255) }
        let ref = Ref.network(params: params.map(Double.init), x: x, n: n, labels: labels.map(Int.init), mask1: m1, mask2: m2)
        XCTAssertEqual(stats.lossSum, ref.loss, accuracy: 1e-4 * max(1, ref.loss))
        XCTAssertEqual(stats.count, n)
        let fast = ws.gradient.array.map(Double.init)
        for t in ParameterLayout.seedCNN.tensors {
            let a = Array(fast[t.range]), b = Array(ref.grad[t.range])
            let diff = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            let norm = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertLessThan(diff, 1e-4 * max(norm, 1e-3), "\(path.rawValue) kernels, \(t.name): |fast - ref| = \(diff), |ref| = \(norm)")
        }
    }
}
