import CVectorKernels
import XCTest
@testable import Core

/// Every build of the network's kernels against one readable reference, bit for bit: the Swift SIMD8
/// convolutions (`avx2`), the C source on 16-float vectors built for AVX2 (which runs on any AVX2 CPU, so
/// the C text behind the `avx512` path is tested here too) and, where the CPU has it, the AVX-512 build;
/// for the dense layers' product, each path's build against `DenseProduct`'s reference loop.
final class KernelPathTests: XCTestCase {
    private struct Case {
        let geometry: PaddedGeometry
        let input: FloatBuffer, gradient: FloatBuffer
        var weights: [Float], bias: [Float]
    }

    /// Random activations of `images` images of `size`, zero in the pad pixels, and random weights.
    private func makeCase(size: Int, images: Int, seed: UInt64) -> Case {
        var rng = SplitMix64(seed: seed, stream: .sampling)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        let g = PaddedGeometry(size: size, channels: 32, images: images)
        let input = g.makeBuffer(), gradient = g.makeBuffer()
        g.forEachValidPixel { q in
            for c in 0..<32 {
                // Some exact zeros, as after ReLU.
                input.pointer[q * 32 + c] = c % 5 == 0 ? 0 : uniform()
                gradient.pointer[q * 32 + c] = uniform() * 1e-2
            }
        }
        return Case(geometry: g, input: input, gradient: gradient, weights: (0..<4096).map { _ in uniform() * 0.2 },
                    bias: (0..<32).map { _ in uniform() * 0.1 })
    }

    /// The reference: one output value at a time, bias first, then taps and input channels in order, each a
    /// fused multiply-add, as every fast lane does.
    private func referenceApply(_ c: Case, offsets: [Int], bias: Bool) -> [Float] {
        let g = c.geometry
        var out = [Float](repeating: 0, count: g.floatCount)
        g.forEachValidPixel { q in
            for co in 0..<32 {
                var acc: Float = bias ? c.bias[co] : 0
                for t in 0..<4 {
                    for ci in 0..<32 {
                        acc.addProduct(c.input.pointer[(q + offsets[t]) * 32 + ci], c.weights[t * 1024 + ci * 32 + co])
                    }
                }
                out[q * 32 + co] = acc
            }
        }
        return out
    }

    /// The reference weight gradient, starting from `start`: per kernel element, pixels in order.
    private func referenceWeightGradient(_ c: Case, start: [Float]) -> [Float] {
        let g = c.geometry
        let offsets = [g.tapOffsets.0, g.tapOffsets.1, g.tapOffsets.2, g.tapOffsets.3]
        var k = start
        for t in 0..<4 {
            for ci in 0..<32 {
                for co in 0..<32 {
                    var acc = k[t * 1024 + ci * 32 + co]
                    for p in 0..<(g.images * g.pixelsPerImage) {
                        acc.addProduct(c.input.pointer[(p + offsets[t]) * 32 + ci], c.gradient.pointer[p * 32 + co])
                    }
                    k[t * 1024 + ci * 32 + co] = acc
                }
            }
        }
        return k
    }

    private typealias CApply = (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafePointer<Float>?,
                                UnsafePointer<Float>?, UnsafePointer<Int>?, Int, Int) -> Void
    private typealias CWeightGradient = (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?,
                                         UnsafePointer<Int>?, Int, Int) -> Void

    /// The builds this CPU runs: name, apply, weight gradient (the gradient's bias sums are Swift on all).
    private var builds: [(String, (Case, [Int], Bool, UnsafeMutablePointer<Float>) -> Void,
                          (Case, UnsafeMutablePointer<Float>) -> Void)] {
        func swift(_ path: KernelPath) -> (String, (Case, [Int], Bool, UnsafeMutablePointer<Float>) -> Void,
                                           (Case, UnsafeMutablePointer<Float>) -> Void) {
            ("Swift dispatch \(path.rawValue)", { c, o, bias, out in
                c.weights.withUnsafeBufferPointer { w in
                    c.bias.withUnsafeBufferPointer { b in
                        Conv2x2.apply32(input: c.input.pointer, output: out, weights: w.baseAddress!,
                                        bias: bias ? b.baseAddress! : nil, offsets: (o[0], o[1], o[2], o[3]),
                                        geometry: c.geometry, path: path)
                    }
                }
            }, { c, k in
                var biasSums = [Float](repeating: 0, count: 32)
                Conv2x2.weightGradient32(input: c.input.pointer, outputGradient: c.gradient.pointer, kernelGradient: k,
                                         biasGradient: &biasSums, geometry: c.geometry, path: path)
            })
        }
        func c(_ name: String, _ apply: @escaping CApply, _ weightGradient: @escaping CWeightGradient)
            -> (String, (Case, [Int], Bool, UnsafeMutablePointer<Float>) -> Void, (Case, UnsafeMutablePointer<Float>) -> Void) {
            (name, { c, o, bias, out in
                c.weights.withUnsafeBufferPointer { w in
                    c.bias.withUnsafeBufferPointer { b in
                        apply(c.input.pointer, out, w.baseAddress!, bias ? b.baseAddress! : nil, o, c.geometry.size,
                              c.geometry.images)
                    }
                }
            }, { c, k in
                let g = c.geometry
                weightGradient(c.input.pointer, c.gradient.pointer, k, [g.tapOffsets.0, g.tapOffsets.1, g.tapOffsets.2,
                                                                        g.tapOffsets.3], g.size, g.images)
            })
        }
        var all = KernelPath.supported.map(swift)
        if KernelPath.supported.contains(.avx2) {
            all.append(c("C source built for AVX2", glassbox_conv32_apply_avx2, glassbox_conv32_weight_gradient_avx2))
        }
        return all
    }

    func testEveryBuildOfEveryKernelMatchesTheReferenceBitForBit() {
        XCTAssertTrue(KernelPath.supported.contains(.avx2), "the tests run on AVX2 machines (the programs need it)")
        for (size, images) in [(28, 2), (14, 3)] {  // 14: the AVX-512 build's 4-pixel pass leaves 2 per row
            let c = makeCase(size: size, images: images, seed: UInt64(size))
            let g = c.geometry
            let forward = [g.tapOffsets.0, g.tapOffsets.1, g.tapOffsets.2, g.tapOffsets.3]
            let backward = forward.map { -$0 }
            let expectedForward = referenceApply(c, offsets: forward, bias: true)
            let expectedBackward = referenceApply(c, offsets: backward, bias: false)
            let start = (0..<4096).map { Float($0 % 7) * 0.01 }  // the gradient accumulates onto what is there
            let expectedKernel = referenceWeightGradient(c, start: start)
            for (name, apply, weightGradient) in builds {
                let out = g.makeBuffer()
                apply(c, forward, true, out.pointer)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: out.pointer, count: g.floatCount)).map(\.bitPattern),
                               expectedForward.map(\.bitPattern), "\(name): forward, size \(size)")
                let back = g.makeBuffer()
                apply(c, backward, false, back.pointer)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: back.pointer, count: g.floatCount)).map(\.bitPattern),
                               expectedBackward.map(\.bitPattern), "\(name): input gradient, size \(size)")
                var kernel = start
                kernel.withUnsafeMutableBufferPointer { weightGradient(c, $0.baseAddress!) }
                XCTAssertEqual(kernel.map(\.bitPattern), expectedKernel.map(\.bitPattern), "\(name): weight gradient, size \(size)")
            }
        }
    }

    /// The backward pass after a max-pool skips the products with a zero output gradient; on a gradient shaped like
    /// the pool's (one cell of each window per channel, or none; some -0 where dropout zeroed a negative value)
    /// every path gives the bits of the dense kernels, which add those zero products.
    func testSparseBackwardAfterAPoolMatchesTheDenseKernelsBitForBit() {
        for (size, images) in [(28, 2), (14, 3)] {
            var rng = SplitMix64(seed: UInt64(100 + size), stream: .sampling)
            func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
            let c = makeCase(size: size, images: images, seed: UInt64(size) + 1)
            let g = c.geometry
            let pooled = g.makeBuffer()
            var nonzero = 0
            for n in 0..<images {
                for i in stride(from: 0, to: size, by: 2) {
                    for j in stride(from: 0, to: size, by: 2) {
                        for ch in 0..<32 {
                            let cell = Int(rng.next() % 6)  // 4, 5: no gradient in this window and channel
                            guard cell < 4 else { continue }
                            let q = n * g.pixelsPerImage + (i + cell / 2) * g.pitch + j + cell % 2
                            let value = uniform() * 1e-2
                            pooled.pointer[q * 32 + ch] = value < -8e-3 ? -0.0 : value  // dropout of a negative value
                            if value >= -8e-3 { nonzero += 1 }
                        }
                    }
                }
            }
            XCTAssertGreaterThan(nonzero, 0)
            let offsets = [g.tapOffsets.0, g.tapOffsets.1, g.tapOffsets.2, g.tapOffsets.3]
            let start = (0..<4096).map { Float($0 % 7) * 0.01 }
            let transposed = c.weights  // any [tap][co][ci] array serves
            // The dense readable kernels: every product, zero or not.
            var expectedKernel = start
            expectedKernel.withUnsafeMutableBufferPointer {
                Conv2x2.referenceWeightGradient32(input: c.input.pointer, outputGradient: pooled.pointer,
                                                  kernelGradient: $0.baseAddress!, offsets: offsets,
                                                  pixels: images * g.pixelsPerImage)
            }
            let expectedInput = g.makeBuffer()
            transposed.withUnsafeBufferPointer {
                Conv2x2.referenceApply32(input: pooled.pointer, output: expectedInput.pointer, weights: $0.baseAddress!,
                                         bias: nil, offsets: offsets.map { -$0 }, geometry: g)
            }
            var expectedBias = [Float](repeating: 0, count: 32)
            Conv2x2.addChannelSums(pooled.pointer, pixels: images * g.pixelsPerImage, into: &expectedBias)
            XCTAssertNotEqual(expectedKernel, start)
            for path in KernelPath.supported {
                var kernel = start, bias = [Float](repeating: 0, count: 32)
                let input = g.makeBuffer()
                transposed.withUnsafeBufferPointer { w in
                    Conv2x2.backwardAfterPool32(input: c.input.pointer, outputGradient: pooled.pointer, kernelGradient: &kernel,
                                                biasGradient: &bias, transposedKernel: w.baseAddress!,
                                                inputGradient: input.pointer, geometry: g, path: path)
                }
                XCTAssertEqual(kernel.map(\.bitPattern), expectedKernel.map(\.bitPattern), "\(path.rawValue): weight gradient, size \(size)")
                XCTAssertEqual(bias.map(\.bitPattern), expectedBias.map(\.bitPattern), "\(path.rawValue): bias gradient, size \(size)")
                XCTAssertEqual(Array(UnsafeBufferPointer(start: input.pointer, count: g.floatCount)).map(\.bitPattern),
                               Array(UnsafeBufferPointer(start: expectedInput.pointer, count: g.floatCount)).map(\.bitPattern),
                               "\(path.rawValue): input gradient, size \(size)")
            }
        }
    }

    /// The pool's backward pass writes every cell of its input gradient, valid and pad, in a buffer full of NaN:
    /// the window's winner gets the gradient, every other cell (and every cell where the ReLU clipped) zero.
    func testPoolBackwardRoutesEachGradientToItsWinnerAndRewritesEveryCell() {
        for outputPadded in [true, false] {
            let c = makeCase(size: 14, images: 2, seed: 31)
            let g = c.geometry
            let half = g.size / 2, outPitch = outputPadded ? half + 1 : half
            let outCount = g.images * outPitch * outPitch * 32
            var pooled = [Float](repeating: 0, count: outCount), argmax = [UInt8](repeating: 0, count: outCount)
            MaxPoolReLU.forward(input: c.input.pointer, inputGeometry: g, output: &pooled, outputPadded: outputPadded,
                                argmax: &argmax)
            let outGradient = (0..<outCount).map { Float($0 % 13) - 6 }
            let inGradient = g.makeBuffer()
            inGradient.pointer.update(repeating: .nan, count: g.floatCount)
            MaxPoolReLU.backward(outputGradient: outGradient, argmax: argmax, outputPadded: outputPadded,
                                 inputGradient: inGradient.pointer, inputGeometry: g)
            var routed = 0
            for n in 0..<g.images {
                for r in 0..<g.pitch {
                    for col in 0..<g.pitch {
                        for ch in 0..<32 {
                            let value = inGradient.pointer[(n * g.pixelsPerImage + r * g.pitch + col) * 32 + ch]
                            var expected: Float = 0
                            if r < g.size && col < g.size {
                                let o = (n * outPitch * outPitch + (r / 2) * outPitch + col / 2) * 32 + ch
                                if Int(argmax[o]) == (r % 2) * 2 + col % 2 { expected = outGradient[o]; routed += 1 }
                            }
                            XCTAssertEqual(value.bitPattern, expected.bitPattern, "padded \(outputPadded): image \(n) (\(r), \(col)) channel \(ch)")
                        }
                    }
                }
            }
            XCTAssertGreaterThan(routed, g.images * half * half * 32 / 2, "most windows have a positive maximum")
        }
    }

    /// conv2(conv1(x)) computed as one 3x3 convolution equals the two convolutions in turn (Keras' `same`
    /// padding: conv1's output padded with zeros, so the last row and column differ from a plain 3x3 kernel) up
    /// to rounding, at every pixel of every image, pad pixels included.
    func testComposedFirstTwoConvolutionsEqualTheTwoInTurn() {
        var rng = SplitMix64(seed: 77, stream: .sampling)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        let gx = PaddedGeometry(size: 28, channels: 1, images: 3), g = PaddedGeometry(size: 28, channels: 32, images: 3)
        let x = gx.makeBuffer()
        gx.forEachValidPixel { x.pointer[$0] = uniform() < 0 ? 0 : uniform() }  // [0, 1] pixels, half of them 0
        let k1 = (0..<128).map { _ in uniform() * 0.5 }, b1 = (0..<32).map { _ in uniform() * 0.1 }
        let k2 = (0..<4096).map { _ in uniform() * 0.2 }, b2 = (0..<32).map { _ in uniform() * 0.1 }
        let a1 = g.makeBuffer(), inTurn = g.makeBuffer(), composedOut = g.makeBuffer()
        Conv2x2.forward1(input: x.pointer, output: a1.pointer, kernel: k1, bias: b1, geometry: gx)
        Conv2x2.referenceApply32(input: a1.pointer, output: inTurn.pointer, weights: k2, bias: b2,
                                 offsets: [g.tapOffsets.0, g.tapOffsets.1, g.tapOffsets.2, g.tapOffsets.3], geometry: g)
        let composed = ComposedConvolutions()
        composed.update(kernel1: k1, bias1: b1, kernel2: k2, bias2: b2)
        Conv2x2.forwardComposed(input: x.pointer, output: composedOut.pointer, composed: composed, geometry: gx)
        var worst: Float = 0
        for q in 0..<(g.images * g.pixelsPerImage) {
            for c in 0..<32 {
                let (a, b) = (inTurn.pointer[q * 32 + c], composedOut.pointer[q * 32 + c])
                worst = max(worst, abs(a - b) / max(1, abs(a)))
            }
        }
        XCTAssertLessThan(worst, 1e-5, "largest difference, relative to max(1, |value|)")
        // The last row and column are where a plain 3x3 kernel would be wrong: they hold values, and match.
        for (i, j) in [(27, 27), (27, 5), (5, 27), (0, 0)] {
            let q = (2 * g.pixelsPerImage + i * g.pitch + j) * 32
            XCTAssertNotEqual(composedOut.pointer[q], 0)
            XCTAssertEqual(composedOut.pointer[q], inTurn.pointer[q], accuracy: 1e-5, "pixel (\(i), \(j)) of the third image")
        }
    }

    func testDenseProductOnEveryPathMatchesTheReferenceBitForBit() {
        var rng = SplitMix64(seed: 21, stream: .sampling)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        // The model's shapes and their awkward cousins: row tails (25 = 4 x 6 + 1), a 10-column scalar tail,
        // 1568 = 98 vectors, a transposed a (aRow 1), a row stride wider than n, a final scale.
        let shapes: [(m: Int, n: Int, k: Int, transposedA: Bool, ldcExtra: Int, scale: Float)] = [
            (25, 512, 1568, false, 0, 1), (25, 10, 512, false, 0, 1), (1568, 256, 100, true, 256, 0.01),
            (512, 10, 25, true, 0, 1), (1568, 32, 512, false, 0, 1), (7, 49, 3, false, 5, 1), (1, 1, 1, false, 0, 0.5),
        ]
        let fast = KernelPath.supported.filter { $0 != .reference }
        XCTAssertFalse(fast.isEmpty)
        for shape in shapes {
            let (m, n, k) = (shape.m, shape.n, shape.k)
            let a = (0..<(m * k)).map { i in i % 9 == 0 ? 0 : uniform() }
            let b = (0..<(k * n)).map { _ in uniform() }
            let ldc = n + shape.ldcExtra
            let start = (0..<(m * ldc)).map { _ in uniform() * 0.1 }
            let (aRow, aCol) = shape.transposedA ? (1, m) : (k, 1)
            func run(_ path: KernelPath) -> [Float] {
                var c = start
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            DenseProduct.accumulate(m: m, n: n, k: k, a: ap.baseAddress!, aRow: aRow, aCol: aCol,
                                                    b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: ldc,
                                                    scale: shape.scale, path: path)
                        }
                    }
                }
                return c
            }
            let expected = run(.reference)
            XCTAssertNotEqual(expected, start)
            for path in fast {
                XCTAssertEqual(run(path).map(\.bitPattern), expected.map(\.bitPattern), "\(path.rawValue): \(shape)")
            }
            guard n % 32 == 0 else { continue }
            for path in KernelPath.supported {  // b packed beforehand, as the hidden kernel is
                let packed = PackedMatrix(k: k, n: n, path: path)
                b.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ldb: n) }
                var c = start
                a.withUnsafeBufferPointer { ap in
                    c.withUnsafeMutableBufferPointer { cp in
                        DenseProduct.accumulate(m: m, a: ap.baseAddress!, aRow: aRow, aCol: aCol, packed: packed,
                                                c: cp.baseAddress!, ldc: ldc, scale: shape.scale)
                    }
                }
                XCTAssertEqual(c.map(\.bitPattern), expected.map(\.bitPattern), "\(path.rawValue) packed: \(shape)")
            }
        }
    }

    func testWholeStepGradientIsTheSameOnEveryPathTheCPURuns() {
        let data = syntheticSet(20, seed: 9)
        let params = initialParameters(seed: 2)
        let mbs = microBatches(of: Array(0..<20)[...], size: 10)
        let results = KernelPath.supported.map { path in
            CNNEngine(parameters: params, threads: 2, microBatchSize: 10, kernels: path)
                .gradients(microBatches: mbs, data: data, epoch: 1, seed: 3)
        }
        for (path, result) in zip(KernelPath.supported, results).dropFirst() {
            XCTAssertEqual(result.0, results[0].0, "\(path.rawValue) against \(KernelPath.supported[0].rawValue)")
        }
        XCTAssertFalse(results.isEmpty)
    }

    func testChoosingKernels() throws {
        XCTAssertEqual(try KernelPath.resolve("auto"), KernelPath.widest)
        XCTAssertEqual(try KernelPath.resolve("avx2"), .avx2)
        XCTAssertThrowsError(try KernelPath.resolve("sse")) {
            XCTAssertTrue("\($0)".contains("unknown kernels 'sse'; expected auto, reference, avx2, avx512"), "\($0)")
        }
        if !KernelPath.supported.contains(.avx512) {
            XCTAssertThrowsError(try KernelPath.resolve("avx512")) {
                XCTAssertTrue("\($0)".contains("cannot run the avx512 kernels"), "\($0)")
                XCTAssertTrue("\($0)".contains("use --kernels reference or avx2"), "\($0)")
            }
        }
        let xeon = CPUFeatures(avx2: true, fma: true, avx512f: true, avx512bw: true, avx512dq: true, avx512vl: true)
        XCTAssertTrue(KernelPath.avx512.runs(on: xeon))
        XCTAssertFalse(KernelPath.avx512.runs(on: CPUFeatures(avx2: true, fma: true, avx512f: true)), "F alone is not enough")
        XCTAssertFalse(KernelPath.avx2.runs(on: CPUFeatures(avx2: true)), "AVX2 without FMA")
        XCTAssertTrue(KernelPath.reference.runs(on: CPUFeatures()))
        XCTAssertEqual(KernelPath.widest, KernelPath.supported.last)
        XCTAssertNotEqual(KernelPath.widest, .reference, "auto never picks the slow loops on an AVX2 machine")
    }
}
