// Procrustes alignment of one 2-D layout onto another: the similarity y -> s·(y - ȳ)·Q + r̄
// (Q orthogonal: rotation or reflection; s > 0) minimising Σ |s·(y_i - ȳ)·Q + r̄ - r_i|².
// With M = Σ (y_i - ȳ)ᵀ(r_i - r̄) (2 x 2), the best Q maximises tr(Qᵀ M): over rotations the maximum
// is |(m00 + m11, m10 - m01)|, over reflections |(m00 - m11, m01 + m10)| (the singular values of M
// summed, signed by det M); s = max tr(QᵀM) / Σ |y_i - ȳ|². Consecutive epoch maps are aligned this
// way so the animation does not spin or flip.

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// A similarity transform of the plane: y -> scale·(y - sourceCentroid)·matrix + targetCentroid.
public struct SimilarityTransform: Sendable, Equatable {
    /// Orthogonal 2 x 2, row-major (row vectors are multiplied from the left).
    public var matrix: [Double]
    public var scale: Double
    public var sourceCentroid: [Double]
    public var targetCentroid: [Double]

    /// Whether the orthogonal part is a reflection.
    public var isReflection: Bool { matrix[0] * matrix[3] - matrix[1] * matrix[2] < 0 }

    /// Applies the transform to (rows, 2).
    public func apply(_ y: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: y.count)
        for r in 0..<(y.count / 2) {
            let x0 = Double(y[2 * r]) - sourceCentroid[0], x1 = Double(y[2 * r + 1]) - sourceCentroid[1]
            out[2 * r] = Float(scale * (x0 * matrix[0] + x1 * matrix[2]) + targetCentroid[0])
            out[2 * r + 1] = Float(scale * (x0 * matrix[1] + x1 * matrix[3]) + targetCentroid[1])
        }
        return out
    }
}

/// The similarity transform that best maps `y` onto `reference` (both (rows, 2)) in least squares.
public func procrustes(_ y: [Float], onto reference: [Float]) -> SimilarityTransform {
    precondition(y.count == reference.count && y.count % 2 == 0 && !y.isEmpty)
    let rows = y.count / 2
    var ym = [0.0, 0.0], rm = [0.0, 0.0]
    for r in 0..<rows {
        for d in 0..<2 { ym[d] += Double(y[2 * r + d]); rm[d] += Double(reference[2 * r + d]) }
    }
    for d in 0..<2 { ym[d] /= Double(rows); rm[d] /= Double(rows) }
    var m = [0.0, 0.0, 0.0, 0.0]
    var spread = 0.0
    for r in 0..<rows {
        let y0 = Double(y[2 * r]) - ym[0], y1 = Double(y[2 * r + 1]) - ym[1]
        let r0 = Double(reference[2 * r]) - rm[0], r1 = Double(reference[2 * r + 1]) - rm[1]
        m[0] += y0 * r0; m[1] += y0 * r1; m[2] += y1 * r0; m[3] += y1 * r1
        spread += y0 * y0 + y1 * y1
    }
    // Rotation [[c, -s], [s, c]]: tr(QᵀM) = c(m00 + m11) + s(m10 - m01).
    let rotationGain = hypot(m[0] + m[3], m[2] - m[1])
    // Reflection [[c, s], [s, -c]]: tr(QᵀM) = c(m00 - m11) + s(m01 + m10).
    let reflectionGain = hypot(m[0] - m[3], m[1] + m[2])
    let matrix: [Double]
    let gain: Double
    if rotationGain >= reflectionGain {
        let angle = atan2(m[2] - m[1], m[0] + m[3])
        matrix = [cos(angle), -sin(angle), sin(angle), cos(angle)]
        gain = rotationGain
    } else {
        let angle = atan2(m[1] + m[2], m[0] - m[3])
        matrix = [cos(angle), sin(angle), sin(angle), -cos(angle)]
        gain = reflectionGain
    }
    let scale = spread > 0 ? gain / spread : 1
    return SimilarityTransform(matrix: matrix, scale: scale, sourceCentroid: ym, targetCentroid: rm)
}

/// `y` (rows, 2) aligned onto `reference` by the best similarity transform.
public func alignProcrustes(_ y: [Float], onto reference: [Float]) -> [Float] {
    procrustes(y, onto: reference).apply(y)
}
