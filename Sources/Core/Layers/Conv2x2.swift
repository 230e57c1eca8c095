// 2x2 convolutions, Keras `same` padding (0 before, 1 after), stride 1, NHWC.
//
// Activations use the *padded layout*: each S x S x C image is stored as (S+1) x (S+1) x C with
// a zero last row and column, images back to back, and the buffer has (S+2) x C floats of zero
// slack before and after (FloatBuffer.slack). Then the tap at (di, dj) of output pixel q (flat
// padded index) is simply pixel q + di*(S+1) + dj, and the transposed taps of the backward pass
// (q - di*(S+1) - dj) land on zeros at image borders: no bounds checks in any kernel.
// Invariant: every kernel writes only valid pixels (i < S, j < S); pad pixels stay zero.
//
// Weights are in Keras layout (kh, kw, cin, cout) = [tap][ci][co], tap = di*2 + dj.
//
// The 32 -> 32 kernels exist three times (`KernelPath`): the Swift SIMD8 code below (`avx2`), C on 16-float
// registers (`avx512`, `CVectorKernels`) and the readable loops at the end (`reference`), each output value
// the same chain of fused multiply-adds in the same order.

import CVectorKernels

/// Geometry of one padded activation tensor.
public struct PaddedGeometry: Sendable, Equatable {
    public let size: Int      // S: valid rows = valid cols
    public let channels: Int  // C
    public let images: Int    // N
    public init(size: Int, channels: Int, images: Int) {
        self.size = size; self.channels = channels; self.images = images
    }
    @inline(__always) public var pitch: Int { size + 1 }               // pixels per padded row
    @inline(__always) public var pixelsPerImage: Int { pitch * pitch }
    @inline(__always) public var floatCount: Int { images * pixelsPerImage * channels }
    /// Zero slack needed on each side of the buffer, in floats.
    @inline(__always) public var slackFloats: Int { (pitch + 1) * channels }
    /// Flat padded pixel offsets of the four forward taps.
    @inline(__always) public var tapOffsets: (Int, Int, Int, Int) { (0, 1, pitch, pitch + 1) }

    public func makeBuffer() -> FloatBuffer { FloatBuffer(count: floatCount, slack: slackFloats) }

    /// Calls `body(q)` for the flat padded index of every valid pixel, image by image, row by row.
    @inline(__always)
    public func forEachValidPixel(_ body: (Int) -> Void) {
        for n in 0..<images {
            let base = n * pixelsPerImage
            for i in 0..<size {
                let row = base + i * pitch
                for j in 0..<size { body(row + j) }
            }
        }
    }
}

/// The four tap offsets as an array (what the C kernels and the readable loops take).
private func list(_ taps: (Int, Int, Int, Int)) -> [Int] { [taps.0, taps.1, taps.2, taps.3] }

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

public enum Conv2x2 {
    /// out[q] = bias + sum over taps t of in[q + offsets[t]] . W[t]  (32 -> 32 channels).
    ///
    /// in, out: padded layout `geometry` with 32 channels; weights [4][32 in][32 out];
    /// offsets: pixel offsets per tap (forward: geometry.tapOffsets; backward: their negatives).
    /// Computes two neighbouring output pixels x 32 channels per step in 8 SIMD8 accumulators.
    public static func apply32(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        offsets: (Int, Int, Int, Int), geometry g: PaddedGeometry, path: KernelPath
    ) {
        precondition(g.channels == 32 && g.size % 2 == 0)
        switch path {
        case .avx512:
            glassbox_conv32_apply_avx512(input, output, weights, bias, list(offsets), g.size, g.images)
            return
        case .reference:
            referenceApply32(input: input, output: output, weights: weights, bias: bias, offsets: list(offsets), geometry: g)
            return
        case .avx2:
            break
        }
        let zero = SIMD8<Float>(repeating: 0)
        let b0 = bias.map { load8($0) } ?? zero, b1 = bias.map { load8($0 + 8) } ?? zero
        let b2 = bias.map { load8($0 + 16) } ?? zero, b3 = bias.map { load8($0 + 24) } ?? zero
        let offs = [offsets.0 * 32, offsets.1 * 32, offsets.2 * 32, offsets.3 * 32]
        for n in 0..<g.images {
            let imageBase = n * g.pixelsPerImage
            for i in 0..<g.size {
                let rowBase = imageBase + i * g.pitch
                for j in stride(from: 0, to: g.size, by: 2) {
                    let q = (rowBase + j) * 32
                    var a0 = b0, a1 = b1, a2 = b2, a3 = b3
                    var c0 = b0, c1 = b1, c2 = b2, c3 = b3
                    for t in 0..<4 {
                        let xa = input + (q + offs[t])
                        let xb = xa + 32
                        var w = weights + t * 1024
                        for ci in 0..<32 {
                            let w0 = load8(w), w1 = load8(w + 8), w2 = load8(w + 16), w3 = load8(w + 24)
                            let sa = SIMD8<Float>(repeating: xa[ci])
                            let sb = SIMD8<Float>(repeating: xb[ci])
                            a0.addProduct(sa, w0); a1.addProduct(sa, w1)
                            a2.addProduct(sa, w2); a3.addProduct(sa, w3)
                            c0.addProduct(sb, w0); c1.addProduct(sb, w1)
                            c2.addProduct(sb, w2); c3.addProduct(sb, w3)
                            w += 32
                        }
                    }
                    let o = output + q
                    store8(a0, o); store8(a1, o + 8); store8(a2, o + 16); store8(a3, o + 24)
                    store8(c0, o + 32); store8(c1, o + 40); store8(c2, o + 48); store8(c3, o + 56)
                }
            }
        }
    }

    /// Forward of a 32 -> 32 convolution.
    public static func forward32(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>, geometry g: PaddedGeometry, path: KernelPath
    ) {
        apply32(input: input, output: output, weights: kernel, bias: bias,
                offsets: g.tapOffsets, geometry: g, path: path)
    }

    /// Rearranges a Keras kernel [tap][ci][co] into the backward kernel [tap][co][ci].
    public static func transposeTaps32(_ kernel: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        for t in 0..<4 {
            for ci in 0..<32 {
                for co in 0..<32 { out[t * 1024 + co * 32 + ci] = kernel[t * 1024 + ci * 32 + co] }
            }
        }
    }

    /// dIn[q] = sum over taps t of dOut[q - offsets[t]] . W[t]^T, with `transposedKernel` from
    /// `transposeTaps32`. dOut's pad pixels must be zero.
    public static func inputGradient32(
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        transposedKernel: UnsafePointer<Float>, geometry g: PaddedGeometry, path: KernelPath
    ) {
        let (o0, o1, o2, o3) = g.tapOffsets
        apply32(input: outputGradient, output: inputGradient, weights: transposedKernel, bias: nil,
                offsets: (-o0, -o1, -o2, -o3), geometry: g, path: path)
    }

    /// kernelGrad[t] += in_shifted(t)^T . dOut for each tap, and biasGrad += sum over pixels of dOut.
    ///
    /// Runs over all padded pixels: pad pixels of dOut are zero, so whatever they meet in `input`
    /// adds nothing. A direct SIMD kernel (3x the speed of sgemm for these 32 x 32 x many-pixel
    /// shapes, whose packing dominates): per block of pixels, for each tap and pair of input
    /// channels, 8 accumulators (2 ci x 32 co) stay in registers while dOut's rows stream through L1.
    public static func weightGradient32(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        geometry g: PaddedGeometry, path: KernelPath
    ) {
        let pixels = g.images * g.pixelsPerImage
        switch path {
        case .avx512:
            glassbox_conv32_weight_gradient_avx512(input, outputGradient, kernelGradient, list(g.tapOffsets), g.size, g.images)
            addChannelSums(outputGradient, pixels: pixels, into: biasGradient)
            return
        case .reference:
            referenceWeightGradient32(input: input, outputGradient: outputGradient, kernelGradient: kernelGradient,
                                      offsets: list(g.tapOffsets), pixels: pixels)
            addChannelSums(outputGradient, pixels: pixels, into: biasGradient)
            return
        case .avx2:
            break
        }
        let offs = list(g.tapOffsets).map { $0 * 32 }
        let block = 96
        var start = 0
        while start < pixels {
            let end = min(pixels, start + block)
            for t in 0..<4 {
                let xt = input + offs[t]
                for ci in stride(from: 0, to: 32, by: 2) {
                    let k0 = kernelGradient + t * 1024 + ci * 32, k1 = k0 + 32
                    var a0 = load8(k0), a1 = load8(k0 + 8), a2 = load8(k0 + 16), a3 = load8(k0 + 24)
                    var b0 = load8(k1), b1 = load8(k1 + 8), b2 = load8(k1 + 16), b3 = load8(k1 + 24)
                    var d = outputGradient + start * 32
                    var x = xt + start * 32 + ci
                    for _ in start..<end {
                        let d0 = load8(d), d1 = load8(d + 8), d2 = load8(d + 16), d3 = load8(d + 24)
                        let s0 = SIMD8<Float>(repeating: x[0]), s1 = SIMD8<Float>(repeating: x[1])
                        a0.addProduct(s0, d0); a1.addProduct(s0, d1); a2.addProduct(s0, d2); a3.addProduct(s0, d3)
                        b0.addProduct(s1, d0); b1.addProduct(s1, d1); b2.addProduct(s1, d2); b3.addProduct(s1, d3)
                        d += 32; x += 32
                    }
                    store8(a0, k0); store8(a1, k0 + 8); store8(a2, k0 + 16); store8(a3, k0 + 24)
                    store8(b0, k1); store8(b1, k1 + 8); store8(b2, k1 + 16); store8(b3, k1 + 24)
                }
            }
            start = end
        }
        addChannelSums(outputGradient, pixels: pixels, into: biasGradient)
    }

    /// The backward pass of a 32 -> 32 convolution followed by ReLU and max-pooling (`MaxPoolReLU`), whose
    /// output gradient is zero in at least three of every four pixels of each channel: the weight and bias
    /// gradients as `weightGradient32` and the input gradient as `inputGradient32`, skipping the products with
    /// a zero output gradient (at least three in four; 90-98 % on MNIST). Every value is the chain of fused
    /// multiply-adds of the dense kernels without its zero terms, in the same order, on every path.
    /// dOut's pad pixels and slack must be zero (as `MaxPoolReLU.backward` leaves them).
    public static func backwardAfterPool32(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        transposedKernel: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        geometry g: PaddedGeometry, path: KernelPath
    ) {
        precondition(g.channels == 32 && g.size % 2 == 0)
        let pixels = g.images * g.pixelsPerImage
        switch path {
        case .avx512:
            glassbox_conv32_backward_sparse_avx512(input, outputGradient, kernelGradient, transposedKernel, inputGradient,
                                                   list(g.tapOffsets), g.size, g.images)
        case .avx2:
            glassbox_conv32_backward_sparse_avx2(input, outputGradient, kernelGradient, transposedKernel, inputGradient,
                                                 list(g.tapOffsets), g.size, g.images)
        case .reference:
            let offsets = list(g.tapOffsets)
            referenceWeightGradient32(input: input, outputGradient: outputGradient, kernelGradient: kernelGradient,
                                      offsets: offsets, pixels: pixels, skippingZeroGradients: true)
            referenceApply32(input: outputGradient, output: inputGradient, weights: transposedKernel, bias: nil,
                             offsets: offsets.map { -$0 }, geometry: g, skippingZeroInputs: true)
        }
        addChannelSums(outputGradient, pixels: pixels, into: biasGradient)
    }

    /// biasGrad[c] += sum over pixels of x[p][c] for 32 channels.
    public static func addChannelSums(_ x: UnsafePointer<Float>, pixels: Int, into sums: UnsafeMutablePointer<Float>) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var p = x
        for _ in 0..<pixels {
            s0 += load8(p); s1 += load8(p + 8); s2 += load8(p + 16); s3 += load8(p + 24)
            p += 32
        }
        store8(load8(sums) + s0, sums); store8(load8(sums + 8) + s1, sums + 8)
        store8(load8(sums + 16) + s2, sums + 16); store8(load8(sums + 24) + s3, sums + 24)
    }

    /// Forward of the first convolution, 1 -> 32 channels. input: padded layout with 1 channel;
    /// output: the same geometry with 32 channels.
    public static func forward1(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>, geometry g: PaddedGeometry
    ) {
        let (o0, o1, o2, o3) = g.tapOffsets
        var w = [SIMD8<Float>](repeating: .zero, count: 16)
        for t in 0..<4 { for v in 0..<4 { w[t * 4 + v] = load8(kernel + t * 32 + v * 8) } }
        let b = (load8(bias), load8(bias + 8), load8(bias + 16), load8(bias + 24))
        g.forEachValidPixel { q in
            let x0 = SIMD8<Float>(repeating: input[q + o0]), x1 = SIMD8<Float>(repeating: input[q + o1])
            let x2 = SIMD8<Float>(repeating: input[q + o2]), x3 = SIMD8<Float>(repeating: input[q + o3])
            let o = output + q * 32
            for v in 0..<4 {
                var acc = v == 0 ? b.0 : v == 1 ? b.1 : v == 2 ? b.2 : b.3
                acc.addProduct(x0, w[v]); acc.addProduct(x1, w[4 + v])
                acc.addProduct(x2, w[8 + v]); acc.addProduct(x3, w[12 + v])
                store8(acc, o + v * 8)
            }
        }
    }

    /// Weight and bias gradients of the first convolution (1 -> 32 channels).
    public static func weightGradient1(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        geometry g: PaddedGeometry
    ) {
        let (o0, o1, o2, o3) = g.tapOffsets
        var acc = [SIMD8<Float>](repeating: .zero, count: 20)  // 4 taps x 4 + bias x 4
        acc.withUnsafeMutableBufferPointer { a in
            g.forEachValidPixel { q in
                let d = outputGradient + q * 32
                let d0 = load8(d), d1 = load8(d + 8), d2 = load8(d + 16), d3 = load8(d + 24)
                let xs = (input[q + o0], input[q + o1], input[q + o2], input[q + o3])
                for t in 0..<4 {
                    let x = SIMD8<Float>(repeating: t == 0 ? xs.0 : t == 1 ? xs.1 : t == 2 ? xs.2 : xs.3)
                    a[t * 4].addProduct(x, d0); a[t * 4 + 1].addProduct(x, d1)
                    a[t * 4 + 2].addProduct(x, d2); a[t * 4 + 3].addProduct(x, d3)
                }
                a[16] += d0; a[17] += d1; a[18] += d2; a[19] += d3
            }
        }
        for t in 0..<4 {
            for v in 0..<4 {
                let p = kernelGradient + t * 32 + v * 8
                store8(load8(p) + acc[t * 4 + v], p)
            }
        }
        for v in 0..<4 { store8(load8(biasGradient + v * 8) + acc[16 + v], biasGradient + v * 8) }
    }

    // MARK: the readable kernels (`KernelPath.reference`), which every fast build is tested against

    /// out[q][co] = bias[co] + sum over taps t, then input channels ci, of in[q + offsets[t]][ci] * W[t][ci][co],
    /// one output value at a time; with `skippingZeroInputs`, the terms whose input value is zero are left out.
    static func referenceApply32(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                 weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, offsets: [Int],
                                 geometry g: PaddedGeometry, skippingZeroInputs: Bool = false) {
        g.forEachValidPixel { q in
            for co in 0..<32 {
                var acc = bias?[co] ?? 0
                for t in 0..<4 {
                    for ci in 0..<32 {
                        let x = input[(q + offsets[t]) * 32 + ci]
                        if skippingZeroInputs && x == 0 { continue }
                        acc.addProduct(x, weights[t * 1024 + ci * 32 + co])
                    }
                }
                output[q * 32 + co] = acc
            }
        }
    }

    /// kernelGrad[t][ci][co] += sum over all padded pixels p, in order, of in[p + offsets[t]][ci] * dOut[p][co];
    /// with `skippingZeroGradients`, the terms whose dOut value is zero are left out.
    static func referenceWeightGradient32(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                          kernelGradient: UnsafeMutablePointer<Float>, offsets: [Int], pixels: Int,
                                          skippingZeroGradients: Bool = false) {
        for t in 0..<4 {
            for ci in 0..<32 {
                for co in 0..<32 {
                    var acc = kernelGradient[t * 1024 + ci * 32 + co]
                    for p in 0..<pixels {
                        let d = outputGradient[p * 32 + co]
                        if skippingZeroGradients && d == 0 { continue }
                        acc.addProduct(input[(p + offsets[t]) * 32 + ci], d)
                    }
                    kernelGradient[t * 1024 + ci * 32 + co] = acc
                }
            }
        }
    }
}

/// The first two convolutions of the model as one: conv1 (1 -> 32 channels) and conv2 (32 -> 32) have no
/// activation between them, so conv2(conv1(x)) is one 3x3 convolution from the image to 32 channels, 9 x 32
/// products a pixel instead of 4 x 32 + 4 x 32 x 32 (0.45 of the forward pass' 11.45 MFLOP a sample instead of
/// 6.6). Keras' `same` padding pads conv1's output with zeros, not with its bias, so on the last row and column
/// conv2 sees fewer of conv1's pixels: four kernels and biases, by (last row, last column). Formed from the
/// weights once per update (`update`), in a fixed order, the same on every kernel path.
///
/// The same function as the two layers in turn, rounded differently; inference only (validation, test,
/// hidden outputs): training keeps the two layers, whose gradients need conv1's output.
public final class ComposedConvolutions: @unchecked Sendable {
    /// kernels[(v * 9 + a * 3 + b) * 32 + co] and biases[v * 32 + co]; v = 2 * (last row) + (last column).
    let kernels = FloatBuffer(count: 4 * 9 * 32), biases = FloatBuffer(count: 4 * 32)
    public init() {}

    /// Forms the four kernels and biases from conv1's kernel (taps x 32) and bias and conv2's kernel (taps x
    /// 32 x 32, `Conv2x2`'s layout) and bias.
    public func update(kernel1: UnsafePointer<Float>, bias1: UnsafePointer<Float>,
                       kernel2: UnsafePointer<Float>, bias2: UnsafePointer<Float>) {
        for v in 0..<4 {
            // The taps of conv2 whose conv1 pixel lies in the image.
            let rows = v & 2 != 0 ? 1 : 2, cols = v & 1 != 0 ? 1 : 2
            for co in 0..<32 {
                var bias = bias2[co]
                for er in 0..<rows {
                    for ec in 0..<cols {
                        for ci in 0..<32 { bias.addProduct(bias1[ci], kernel2[(er * 2 + ec) * 1024 + ci * 32 + co]) }
                    }
                }
                biases.pointer[v * 32 + co] = bias
                for a in 0..<3 {
                    for b in 0..<3 {
                        // Image tap (a, b) reaches conv2's output through conv2 tap (er, ec) and conv1 tap (a - er, b - ec).
                        var sum: Float = 0
                        for er in 0..<rows {
                            for ec in 0..<cols {
                                let dr = a - er, dc = b - ec
                                guard (0...1).contains(dr) && (0...1).contains(dc) else { continue }
                                for ci in 0..<32 {
                                    sum.addProduct(kernel1[(dr * 2 + dc) * 32 + ci], kernel2[(er * 2 + ec) * 1024 + ci * 32 + co])
                                }
                            }
                        }
                        kernels.pointer[(v * 9 + a * 3 + b) * 32 + co] = sum
                    }
                }
            }
        }
    }
}

extension Conv2x2 {
    /// conv2's output straight from the image (`ComposedConvolutions`). input: padded layout with 1 channel;
    /// output: the same geometry with 32 channels (its pad pixels are not written).
    public static func forwardComposed(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                       composed: ComposedConvolutions, geometry g: PaddedGeometry) {
        precondition(g.channels == 1)
        let kernels = UnsafePointer(composed.kernels.pointer), biases = UnsafePointer(composed.biases.pointer)
        let pitch = g.pitch, last = g.size - 1
        for n in 0..<g.images {
            for i in 0..<g.size {
                let row = n * g.pixelsPerImage + i * pitch
                for j in 0..<g.size {
                    // Past the last row and column the input is its zero padding: those taps are skipped.
                    let v = (i == last ? 2 : 0) | (j == last ? 1 : 0)
                    let rows = i == last ? 2 : 3, cols = j == last ? 2 : 3
                    let bias = biases + v * 32
                    var acc0 = load8(bias), acc1 = load8(bias + 8), acc2 = load8(bias + 16), acc3 = load8(bias + 24)
                    for a in 0..<rows {
                        for b in 0..<cols {
                            let s = SIMD8<Float>(repeating: input[row + j + a * pitch + b])
                            let k = kernels + (v * 9 + a * 3 + b) * 32
                            acc0.addProduct(s, load8(k)); acc1.addProduct(s, load8(k + 8))
                            acc2.addProduct(s, load8(k + 16)); acc3.addProduct(s, load8(k + 24))
                        }
                    }
                    let o = output + (row + j) * 32
                    store8(acc0, o); store8(acc1, o + 8); store8(acc2, o + 16); store8(acc3, o + 24)
                }
            }
        }
    }
}
