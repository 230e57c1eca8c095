// The reference CNN, one micro-batch at a time, on one thread.
//
//   x        (m, 28, 28, 1)   padded layout
//   conv2D_1 (m, 28, 28, 32)  a1            (no activation)
//   conv2D_2 (m, 28, 28, 32)  a2 -> ReLU -> MaxPool -> p1 (m, 14, 14, 32) -> Dropout 0.2 (mask1)
//   conv2D_3 (m, 14, 14, 32)  a3            (no activation)
//   conv2D_4 (m, 14, 14, 32)  a4 -> ReLU -> MaxPool -> flat (m, 1568) -> Dropout 0.2 (mask2)
//   hidden   (m, 512)         hiddenPre -> ReLU -> hidden
//   end      (m, 10)          logits -> softmax -> probs
//
// Gradients are *sums* over the micro-batch's samples (the caller divides by the global batch).

/// Static description of the seed CNN.
public enum SeedCNN {
    public static let layout = ParameterLayout.seedCNN
    public static let imageSize = 28
    public static let classes = 10
    public static let hiddenWidth = 512
    public static let flatWidth = 7 * 7 * 32
    public static let dropoutRate: Float = 0.2
    /// Forward FLOPs per sample (multiply-add = 2).
    public static let forwardFlopsPerSample: Double = {
        let conv = 2.0 * 4 * 32 * (Double(28 * 28) * (1 + 32) + Double(14 * 14) * 64)
        let dense = 2.0 * (1568.0 * 512 + 512 * 10)
        return conv + dense
    }()
    /// Inference FLOPs per sample: the forward pass with conv1 and conv2 run as one 3x3 convolution
    /// (`ComposedConvolutions`), as `CNNEngine.evaluate` does.
    public static let inferenceFlopsPerSample: Double = {
        let conv = 2.0 * 32 * (Double(28 * 28) * 9 + Double(14 * 14) * 4 * 64)
        let dense = 2.0 * (1568.0 * 512 + 512 * 10)
        return conv + dense
    }()
    /// Training FLOPs per sample: forward plus both backward products, less conv1's input gradient (counted
    /// dense: the backward pass after each max-pool skips the products of its zero gradients).
    public static let trainingFlopsPerSample: Double = 3 * forwardFlopsPerSample - 2.0 * 4 * 32 * 28 * 28
}

/// Offsets of each tensor in the flat parameter vector, resolved once.
struct SeedOffsets {
    let c1k, c1b, c2k, c2b, c3k, c3b, c4k, c4b, hk, hb, ek, eb: Int
    init(_ l: ParameterLayout) {
        c1k = l["conv2D_1/kernel"].offset; c1b = l["conv2D_1/bias"].offset
        c2k = l["conv2D_2/kernel"].offset; c2b = l["conv2D_2/bias"].offset
        c3k = l["conv2D_3/kernel"].offset; c3b = l["conv2D_3/bias"].offset
        c4k = l["conv2D_4/kernel"].offset; c4b = l["conv2D_4/bias"].offset
        hk = l["hidden/kernel"].offset; hb = l["hidden/bias"].offset
        ek = l["end/kernel"].offset; eb = l["end/bias"].offset
    }
    static let shared = SeedOffsets(.seedCNN)
}

/// The conv kernels rearranged for the input-gradient pass; computed once per weight update and
/// shared read-only by all threads.
public final class BackwardKernels: @unchecked Sendable {
    let conv2 = FloatBuffer(count: 4096), conv3 = FloatBuffer(count: 4096), conv4 = FloatBuffer(count: 4096)
    public init() {}
    public func update(from params: UnsafePointer<Float>) {
        let o = SeedOffsets.shared
        Conv2x2.transposeTaps32(params + o.c2k, into: conv2.pointer)
        Conv2x2.transposeTaps32(params + o.c3k, into: conv3.pointer)
        Conv2x2.transposeTaps32(params + o.c4k, into: conv4.pointer)
    }
}

/// Loss, correct predictions and sample count of some samples.
public struct BatchStats: Sendable, Equatable {
    public var lossSum: Double = 0
    public var correct: Int = 0
    public var count: Int = 0
    public init(lossSum: Double = 0, correct: Int = 0, count: Int = 0) {
        self.lossSum = lossSum; self.correct = correct; self.count = count
    }
    public static func + (a: BatchStats, b: BatchStats) -> BatchStats {
        BatchStats(lossSum: a.lossSum + b.lossSum, correct: a.correct + b.correct, count: a.count + b.count)
    }
}

/// All activations and gradients of one micro-batch of at most `capacity` samples.
/// Owned by one thread at a time.
public final class CNNWorkspace: @unchecked Sendable {
    public let capacity: Int
    let gx, g28, g14: PaddedGeometry
    let x, a1, a2, p1, mask1, a3, a4: FloatBuffer
    let arg1, arg2: UnsafeMutablePointer<UInt8>
    let flat, mask2, hiddenPre, hidden, probs: FloatBuffer
    let dLogits, dHidden, dFlat, dA4, dA3, dP1, dA2, dA1: FloatBuffer
    /// Sum over the micro-batch of d(loss)/d(parameters), in the parameter layout.
    public let gradient: FloatBuffer
    public private(set) var labels: [UInt8] = []
    public private(set) var sampleCount = 0
    /// Whether the last `forward` kept what `backward` needs (it did not run the composed convolutions).
    private var readyForBackward = false
    /// The build of the kernels this workspace runs (the same bits on each).
    public let kernelPath: KernelPath
    /// The dense layers' transposed input gradients (`Dense.backward`).
    let denseScratch: FloatBuffer

    public init(capacity m: Int, kernels: KernelPath = .current) {
        capacity = m
        kernelPath = kernels
        gx = PaddedGeometry(size: 28, channels: 1, images: m)
        g28 = PaddedGeometry(size: 28, channels: 32, images: m)
        g14 = PaddedGeometry(size: 14, channels: 32, images: m)
        x = gx.makeBuffer(); a1 = g28.makeBuffer(); a2 = g28.makeBuffer()
        p1 = g14.makeBuffer(); mask1 = g14.makeBuffer(); a3 = g14.makeBuffer(); a4 = g14.makeBuffer()
        arg1 = .allocate(capacity: g14.floatCount); arg1.initialize(repeating: 255, count: g14.floatCount)
        arg2 = .allocate(capacity: m * SeedCNN.flatWidth); arg2.initialize(repeating: 255, count: m * SeedCNN.flatWidth)
        flat = FloatBuffer(count: m * SeedCNN.flatWidth); mask2 = FloatBuffer(count: m * SeedCNN.flatWidth)
        hiddenPre = FloatBuffer(count: m * 512); hidden = FloatBuffer(count: m * 512)
        probs = FloatBuffer(count: m * 10); dLogits = FloatBuffer(count: m * 10)
        dHidden = FloatBuffer(count: m * 512); dFlat = FloatBuffer(count: m * SeedCNN.flatWidth)
        dA4 = g14.makeBuffer(); dA3 = g14.makeBuffer(); dP1 = g14.makeBuffer()
        dA2 = g28.makeBuffer(); dA1 = g28.makeBuffer()
        gradient = FloatBuffer(count: SeedCNN.layout.count)
        denseScratch = FloatBuffer(count: (SeedCNN.flatWidth + 512) * Dense.paddedRows(m))
    }

    deinit { arg1.deallocate(); arg2.deallocate() }

    /// Copies the images `indices` (pixels scaled to [0, 1] by /255, as Keras) into the input.
    public func load(_ data: LabeledImages, indices: some Collection<Int>) {
        precondition(data.rows == 28 && data.cols == 28, "the seed CNN takes 28x28 images")
        let pixels = data.pixels, allLabels = data.labels
        precondition(indices.count <= capacity, "micro-batch larger than the workspace")
        sampleCount = indices.count
        labels = indices.map { allLabels[$0] }
        let xp = x.pointer, pitch = gx.pitch
        pixels.withUnsafeBufferPointer { px in
            for (s, index) in indices.enumerated() {
                let src = index * 784
                let dst = s * gx.pixelsPerImage
                for i in 0..<28 {
                    for j in 0..<28 { xp[dst + i * pitch + j] = Float(px[src + i * 28 + j]) / 255 }
                }
            }
        }
    }

    /// Geometries for the samples actually loaded (the last micro-batch may be short).
    private func geometries() -> (PaddedGeometry, PaddedGeometry, PaddedGeometry) {
        let m = sampleCount
        return (PaddedGeometry(size: 28, channels: 1, images: m),
                PaddedGeometry(size: 28, channels: 32, images: m),
                PaddedGeometry(size: 14, channels: 32, images: m))
    }

    /// Forward pass. With `dropout` (epoch, seed, sample indices) set, applies training-mode dropout.
    /// Returns the micro-batch's loss sum and correct count. `hiddenKernel`, if given, is the hidden layer's
    /// kernel of `w` packed for this workspace's path. With `composed` (formed from `w`), the first two
    /// convolutions run as one and conv1's output is not kept: inference only, `backward` may not follow.
    @discardableResult
    public func forward(parameters w: UnsafePointer<Float>, dropout: DropoutKey?, hiddenKernel: PackedMatrix? = nil,
                        composed: ComposedConvolutions? = nil) -> BatchStats {
        let o = SeedOffsets.shared
        let m = sampleCount
        let (gx, g28, g14) = geometries()
        if let composed {
            Conv2x2.forwardComposed(input: x.pointer, output: a2.pointer, composed: composed, geometry: gx)
        } else {
            Conv2x2.forward1(input: x.pointer, output: a1.pointer, kernel: w + o.c1k, bias: w + o.c1b, geometry: gx)
            Conv2x2.forward32(input: a1.pointer, output: a2.pointer, kernel: w + o.c2k, bias: w + o.c2b, geometry: g28,
                              path: kernelPath)
        }
        readyForBackward = composed == nil
        MaxPoolReLU.forward(input: a2.pointer, inputGeometry: g28, output: p1.pointer, outputPadded: true, argmax: arg1)
        if let key = dropout {
            for s in 0..<m {
                let base = s * g14.pixelsPerImage * 32
                Dropout.makeMask(rate: SeedCNN.dropoutRate, seed: key.seed, stream: .dropout1, epoch: key.epoch,
                                 sampleIndex: key.sampleIndices[s], elements: 14 * 14 * 32, mask: mask1.pointer + base,
                                 position: { e in (e / 448) * 480 + e % 448 })  // row of 14*32 in a pitch of 15*32
            }
            Dropout.apply(p1.pointer, mask: mask1.pointer, count: g14.floatCount)
        }
        Conv2x2.forward32(input: p1.pointer, output: a3.pointer, kernel: w + o.c3k, bias: w + o.c3b, geometry: g14, path: kernelPath)
        Conv2x2.forward32(input: a3.pointer, output: a4.pointer, kernel: w + o.c4k, bias: w + o.c4b, geometry: g14, path: kernelPath)
        MaxPoolReLU.forward(input: a4.pointer, inputGeometry: g14, output: flat.pointer, outputPadded: false, argmax: arg2)
        if let key = dropout {
            for s in 0..<m {
                Dropout.makeMask(rate: SeedCNN.dropoutRate, seed: key.seed, stream: .dropout2, epoch: key.epoch,
                                 sampleIndex: key.sampleIndices[s], elements: SeedCNN.flatWidth,
                                 mask: mask2.pointer + s * SeedCNN.flatWidth, position: { $0 })
            }
            Dropout.apply(flat.pointer, mask: mask2.pointer, count: m * SeedCNN.flatWidth)
        }
        Dense.forward(input: flat.pointer, rows: m, inWidth: SeedCNN.flatWidth, outWidth: 512,
                      kernel: w + o.hk, bias: w + o.hb, output: hiddenPre.pointer, path: kernelPath,
                      packed: hiddenKernel)
        ReLU.forward(hiddenPre.pointer, into: hidden.pointer, count: m * 512)
        Dense.forward(input: hidden.pointer, rows: m, inWidth: 512, outWidth: 10,
                      kernel: w + o.ek, bias: w + o.eb, output: probs.pointer, path: kernelPath)
        return SoftmaxCrossEntropy.forward(logitsToProbabilities: probs.pointer, rows: m, classes: 10, labels: labels)
    }

    /// Backward pass after `forward`; overwrites `gradient` with this micro-batch's sums.
    /// Without `hiddenKernel`, the `hidden/kernel` slice is left untouched (callers then form it
    /// from the sufficient factors `flat` and `dHidden`, see StepGradient).
    public func backward(parameters w: UnsafePointer<Float>, kernels: BackwardKernels, dropout: Bool,
                         hiddenKernel: Bool = true) {
        precondition(readyForBackward, "CNNWorkspace: backward after an inference-only forward (conv1's output not kept)")
        let o = SeedOffsets.shared
        let m = sampleCount
        let (gx, g28, g14) = geometries()
        let gr = gradient.pointer
        let hk = SeedCNN.layout["hidden/kernel"]
        if hiddenKernel { gradient.zero() } else {
            gr.update(repeating: 0, count: hk.offset)
            (gr + hk.range.upperBound).update(repeating: 0, count: gradient.count - hk.range.upperBound)
        }
        SoftmaxCrossEntropy.backward(probabilities: probs.pointer, rows: m, classes: 10, labels: labels,
                                     logitGradient: dLogits.pointer)
        Dense.backward(input: hidden.pointer, outputGradient: dLogits.pointer, rows: m, inWidth: 512, outWidth: 10,
                       kernel: w + o.ek, kernelGradient: gr + o.ek, biasGradient: gr + o.eb,
                       inputGradient: dHidden.pointer, scratch: denseScratch.pointer, path: kernelPath)
        ReLU.backward(dHidden.pointer, activation: hiddenPre.pointer, count: m * 512)
        Dense.backward(input: flat.pointer, outputGradient: dHidden.pointer, rows: m, inWidth: SeedCNN.flatWidth,
                       outWidth: 512, kernel: w + o.hk, kernelGradient: hiddenKernel ? gr + o.hk : nil, biasGradient: gr + o.hb,
                       inputGradient: dFlat.pointer, scratch: denseScratch.pointer, path: kernelPath)
        if dropout { Dropout.apply(dFlat.pointer, mask: mask2.pointer, count: m * SeedCNN.flatWidth) }
        MaxPoolReLU.backward(outputGradient: dFlat.pointer, argmax: arg2, outputPadded: false,
                             inputGradient: dA4.pointer, inputGeometry: g14)
        Conv2x2.backwardAfterPool32(input: a3.pointer, outputGradient: dA4.pointer, kernelGradient: gr + o.c4k,
                                    biasGradient: gr + o.c4b, transposedKernel: kernels.conv4.pointer,
                                    inputGradient: dA3.pointer, geometry: g14, path: kernelPath)
        Conv2x2.weightGradient32(input: p1.pointer, outputGradient: dA3.pointer, kernelGradient: gr + o.c3k,
                                 biasGradient: gr + o.c3b, geometry: g14, path: kernelPath)
        Conv2x2.inputGradient32(outputGradient: dA3.pointer, inputGradient: dP1.pointer,
                                transposedKernel: kernels.conv3.pointer, geometry: g14, path: kernelPath)
        if dropout { Dropout.apply(dP1.pointer, mask: mask1.pointer, count: g14.floatCount) }
        MaxPoolReLU.backward(outputGradient: dP1.pointer, argmax: arg1, outputPadded: true,
                             inputGradient: dA2.pointer, inputGeometry: g28)
        Conv2x2.backwardAfterPool32(input: a1.pointer, outputGradient: dA2.pointer, kernelGradient: gr + o.c2k,
                                    biasGradient: gr + o.c2b, transposedKernel: kernels.conv2.pointer,
                                    inputGradient: dA1.pointer, geometry: g28, path: kernelPath)
        Conv2x2.weightGradient1(input: x.pointer, outputGradient: dA1.pointer, kernelGradient: gr + o.c1k,
                                biasGradient: gr + o.c1b, geometry: gx)
    }

    /// This micro-batch's part of a step gradient (after `backward(..., hiddenKernel: false)`).
    public func stepGradient() -> StepGradient {
        var g = StepGradient(sums: FixedPointGradient(count: StepGradient.packedCount),
                             flatRows: Array(UnsafeBufferPointer(start: flat.pointer, count: sampleCount * SeedCNN.flatWidth)),
                             deltaRows: Array(UnsafeBufferPointer(start: dHidden.pointer, count: sampleCount * 512)),
                             rows: sampleCount)
        g.addPacked(from: gradient.pointer)
        return g
    }

    /// Row s of the `hidden` Dense layer's output (before its ReLU) after `forward`.
    public func hiddenOutputs(into out: UnsafeMutablePointer<Float>) {
        out.update(from: hiddenPre.pointer, count: sampleCount * 512)
    }

    /// Predicted class of each loaded sample after `forward`.
    public func predictions() -> [UInt8] {
        (0..<sampleCount).map { s in
            var best = 0
            for c in 1..<10 where probs.pointer[s * 10 + c] > probs.pointer[s * 10 + best] { best = c }
            return UInt8(best)
        }
    }

    /// Class probabilities of the loaded samples after `forward`, row-major (m, 10).
    public var probabilities: [Float] { Array(UnsafeBufferPointer(start: probs.pointer, count: sampleCount * 10)) }
}

/// What training-mode dropout needs to derive each sample's masks.
public struct DropoutKey: Sendable {
    public let seed: UInt64
    public let epoch: Int
    public let sampleIndices: [Int]
    public init(seed: UInt64, epoch: Int, sampleIndices: [Int]) {
        self.seed = seed; self.epoch = epoch; self.sampleIndices = sampleIndices
    }
}
