// Fully connected layer. input (rows, in), kernel (in, out) Keras layout, bias (out),
// output (rows, out), all row-major.

public enum Dense {
    /// output = bias + input . kernel (each element: the bias, then a chain over the inputs). `packed`, if
    /// given, is `kernel` laid out for `path` beforehand (the same bits, without laying it out on each call).
    public static func forward(
        input: UnsafePointer<Float>, rows: Int, inWidth: Int, outWidth: Int,
        kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, path: KernelPath,
        packed: PackedMatrix? = nil
    ) {
        for r in 0..<rows { (output + r * outWidth).update(from: bias, count: outWidth) }
        if let packed {
            precondition(packed.k == inWidth && packed.n == outWidth && packed.path == path)
            DenseProduct.accumulate(m: rows, a: input, aRow: inWidth, aCol: 1, packed: packed, c: output, ldc: outWidth)
        } else {
            DenseProduct.accumulate(m: rows, n: outWidth, k: inWidth, a: input, aRow: inWidth, aCol: 1, b: kernel,
                                    ldb: outWidth, c: output, ldc: outWidth, path: path)
        }
    }

    /// kernelGrad += input^T . dOut (skipped when nil); biasGrad += column sums of dOut; inputGrad = dOut . kernel^T.
    /// `scratch` holds at least (inWidth + outWidth) x `paddedRows(rows)` floats: the input gradient is formed
    /// transposed (rows as the vector lanes, so no transposed copy of a large kernel is needed) and turned back.
    public static func backward(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
        inWidth: Int, outWidth: Int, kernel: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>, path: KernelPath
    ) {
        if let kernelGradient {
            DenseProduct.accumulate(m: inWidth, n: outWidth, k: rows, a: input, aRow: 1, aCol: inWidth, b: outputGradient,
                                    ldb: outWidth, c: kernelGradient, ldc: outWidth, path: path)
        }
        for r in 0..<rows {
            let row = outputGradient + r * outWidth
            for c in 0..<outWidth { biasGradient[c] += row[c] }
        }
        if let inputGradient {
            // inputGrad^T (in x padded rows) = kernel (in x out) . dOut^T (out x padded rows), zero lanes past `rows`.
            let lanes = paddedRows(rows)
            let dOutT = scratch, gradT = scratch + outWidth * lanes
            dOutT.update(repeating: 0, count: outWidth * lanes)
            for r in 0..<rows { for c in 0..<outWidth { dOutT[c * lanes + r] = outputGradient[r * outWidth + c] } }
            gradT.update(repeating: 0, count: inWidth * lanes)
            DenseProduct.accumulate(m: inWidth, n: lanes, k: outWidth, a: kernel, aRow: outWidth, aCol: 1, b: dOutT,
                                    ldb: lanes, c: gradT, ldc: lanes, path: path)
            for r in 0..<rows { for i in 0..<inWidth { inputGradient[r * inWidth + i] = gradT[i * lanes + r] } }
        }
    }

    /// `rows` rounded up to whole 16-float vectors.
    public static func paddedRows(_ rows: Int) -> Int { (rows + 15) / 16 * 16 }
}

public enum ReLU {
    public static func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = max(x[i], 0) }
    }

    /// grad *= (preActivation > 0).
    public static func backward(_ grad: UnsafeMutablePointer<Float>, activation: UnsafePointer<Float>, count: Int) {
        for i in 0..<count where !(activation[i] > 0) { grad[i] = 0 }
    }
}

// Softmax with categorical cross-entropy on the logits (Keras fuses them the same way for a
// softmax output layer, so its gradient is simply p - onehot).
public enum SoftmaxCrossEntropy {
    /// Replaces logits by probabilities in place; returns the loss sum and correct count.
    public static func forward(
        logitsToProbabilities z: UnsafeMutablePointer<Float>, rows: Int, classes: Int, labels: [UInt8]
    ) -> BatchStats {
        var stats = BatchStats(count: rows)
        for r in 0..<rows {
            let row = z + r * classes
            var mx = row[0], best = 0
            for c in 1..<classes where row[c] > mx { mx = row[c]; best = c }
            var sum: Double = 0
            for c in 0..<classes { sum += exp(Double(row[c] - mx)) }
            let label = Int(labels[r])
            stats.lossSum += log(sum) - Double(row[label] - mx)
            if best == label { stats.correct += 1 }
            for c in 0..<classes { row[c] = Float(exp(Double(row[c] - mx)) / sum) }
        }
        return stats
    }

    /// dLogits = probabilities - onehot(labels).
    public static func backward(
        probabilities p: UnsafePointer<Float>, rows: Int, classes: Int, labels: [UInt8],
        logitGradient d: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            for c in 0..<classes { d[r * classes + c] = p[r * classes + c] }
            d[r * classes + Int(labels[r])] -= 1
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
