extension LabeledImages {
    /// The first `n` images (all of them when `n` is nil or larger than the set).
    public func prefix(_ n: Int?) -> LabeledImages {
        guard let n, n < count else { return self }
        return LabeledImages(rows: rows, cols: cols, pixels: Array(pixels[0..<(n * pixelsPerImage)]),
                             labels: Array(labels[0..<n]))
    }
}

/// Computes the seed CNN on this process' cores: micro-batch gradients, evaluation, activations.
/// Deterministic: results depend on the inputs and micro-batch boundaries, never on `threads`.
public final class CNNEngine: @unchecked Sendable {
    public let threads: Int
    public let microBatchSize: Int
    private let workspaces: [CNNWorkspace]
    private let kernels = BackwardKernels()
    /// conv1 and conv2 as one convolution, for inference (`evaluate`); formed there when the weights changed.
    private let composed = ComposedConvolutions()
    private var composedIsCurrent = false
    /// The hidden layer's kernel packed for the kernel path, once per weight update for all forward passes.
    private let hiddenPanels: PackedMatrix
    /// The current weights, in the parameter layout.
    public private(set) var parameters: [Float]

    /// The kernels its workspaces run (`KernelPath.current` unless given).
    public let kernelPath: KernelPath

    public init(parameters: [Float], threads: Int, microBatchSize: Int = 25, kernels: KernelPath = .current) {
        precondition(parameters.count == SeedCNN.layout.count)
        precondition(threads >= 1 && microBatchSize >= 1)
        self.parameters = parameters
        self.threads = threads
        self.microBatchSize = microBatchSize
        kernelPath = kernels
        hiddenPanels = PackedMatrix(k: SeedCNN.flatWidth, n: SeedCNN.hiddenWidth, path: kernels)
        workspaces = (0..<threads).map { _ in CNNWorkspace(capacity: microBatchSize, kernels: kernels) }
        BLAS.setThreads(1)
        rearrangeParameters()
    }

    public func setParameters(_ p: [Float]) {
        precondition(p.count == SeedCNN.layout.count)
        parameters = p
        rearrangeParameters()
    }

    /// Lets go of the weights array until the next `setParameters`, so that a caller that gave it (and
    /// still holds it) can update it in place instead of copying 3.3 MB; nothing may run on the engine
    /// until then.
    public func releaseParameters() { parameters = [] }

    /// Runs `body` with the weights' address, valid for its duration (the threads of `parallel` included):
    /// the weights are not copied for a pass.
    private func withWeights(_ body: (UnsafePointer<Float>) -> Void) {
        precondition(parameters.count == SeedCNN.layout.count, "CNNEngine: no weights (released and not set again)")
        parameters.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The layouts derived from the weights, once per update: the transposed conv kernels of the backward
    /// pass and the hidden kernel's panels.
    private func rearrangeParameters() {
        composedIsCurrent = false
        parameters.withUnsafeBufferPointer {
            kernels.update(from: $0.baseAddress!)
            hiddenPanels.pack($0.baseAddress! + SeedCNN.layout["hidden/kernel"].offset, ldb: SeedCNN.hiddenWidth)
        }
    }

    /// Runs `body(workspace, job)` for jobs 0..<count, job j on thread j % threads with that thread's
    /// workspace (`forEachBlock`'s fixed assignment).
    private func parallel(_ count: Int, _ body: (CNNWorkspace, Int) -> Void) {
        forEachBlock(count, threads: threads) { job, thread in body(workspaces[thread], job) }
    }

    /// The step gradient of the given micro-batches in training mode, combined in micro-batch
    /// order, so it is bit-identical for any `threads`.
    public func gradients(microBatches mbs: [ArraySlice<Int>], data: LabeledImages, epoch: Int, seed: UInt64)
        -> (StepGradient, BatchStats) {
        let (gradient, stats) = microBatchGradients(mbs, data: data, epoch: epoch, seed: seed)
        return (gradient, stats.reduce(BatchStats(), +))
    }

    /// `gradients`, with each micro-batch's statistics kept apart (a worker returns them so that the
    /// coordinator adds them in micro-batch order, as one process does).
    public func microBatchGradients(_ mbs: [ArraySlice<Int>], data: LabeledImages, epoch: Int, seed: UInt64)
        -> (StepGradient, [BatchStats]) {
        let parts = SharedArray(repeating: StepGradient.empty, count: mbs.count)
        let stats = SharedArray(repeating: BatchStats(), count: mbs.count)
        withWeights { w in
            parallel(mbs.count) { ws, j in
                let mb = mbs[j]
                ws.load(data, indices: mb)
                stats[j] = ws.forward(parameters: w, dropout: DropoutKey(seed: seed, epoch: epoch, sampleIndices: Array(mb)),
                                      hiddenKernel: hiddenPanels)
                ws.backward(parameters: w, kernels: self.kernels, dropout: true, hiddenKernel: false)
                parts[j] = ws.stepGradient()
            }
        }
        var total = StepGradient.empty
        for j in 0..<mbs.count { total.append(parts[j]) }
        return (total, stats.array)
    }

    /// Inference over `indices`: statistics, predicted classes, and (if `hidden`) the `hidden`
    /// layer's outputs (count x 512, in the order of `indices`).
    public func evaluate(_ indices: [Int], data: LabeledImages, hidden: Bool = false)
        -> (stats: BatchStats, predictions: [UInt8], hidden: [Float]) {
        let r = evaluate(microBatches: microBatches(of: indices[...], size: microBatchSize), data: data, hidden: hidden)
        return (r.stats.reduce(BatchStats(), +), r.predictions, r.hidden)
    }

    /// Inference over the micro-batches, in order: each one's statistics, the predicted classes and (if
    /// `hidden`) the `hidden` layer's outputs of all their samples.
    public func evaluate(microBatches mbs: [ArraySlice<Int>], data: LabeledImages, hidden: Bool)
        -> (stats: [BatchStats], predictions: [UInt8], hidden: [Float]) {
        var offsets = [Int](repeating: 0, count: mbs.count + 1)
        for (j, mb) in mbs.enumerated() { offsets[j + 1] = offsets[j] + mb.count }
        let starts = offsets, total = offsets[mbs.count]
        let preds = SharedArray(repeating: UInt8(0), count: total)
        let acts = SharedArray(repeating: Float(0), count: hidden ? total * 512 : 0)
        let stats = SharedArray(repeating: BatchStats(), count: mbs.count)
        withWeights { w in
            if !composedIsCurrent {
                let o = SeedOffsets.shared
                composed.update(kernel1: w + o.c1k, bias1: w + o.c1b, kernel2: w + o.c2k, bias2: w + o.c2b)
                composedIsCurrent = true
            }
            parallel(mbs.count) { ws, j in
                let mb = mbs[j]
                ws.load(data, indices: mb)
                stats[j] = ws.forward(parameters: w, dropout: nil, hiddenKernel: hiddenPanels, composed: self.composed)
                for (k, c) in ws.predictions().enumerated() { preds[starts[j] + k] = c }
                if hidden { ws.hiddenOutputs(into: acts.pointer + starts[j] * 512) }
            }
        }
        return (stats.array, preds.array, acts.array)
    }
}
