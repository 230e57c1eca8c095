/// Keras' default initialisers for the seed CNN: he_normal for the convolutions (as the reference
/// asked), glorot_uniform for the Dense layers, zero biases. Each tensor draws from its own keyed
/// generator, so the result depends only on the seed.
public func initialParameters(layout: ParameterLayout = .seedCNN, seed: UInt64) -> [Float] {
    var params = [Float](repeating: 0, count: layout.count)
    for (index, t) in layout.tensors.enumerated() where t.shape.count > 1 {
        var g = SplitMix64(seed: seed, stream: .initialWeights, UInt64(index))
        let fanOut = t.shape.last!
        let fanIn = t.count / fanOut
        if t.name.hasPrefix("conv") {
            // VarianceScaling(2, fan_in, truncated_normal): stddev corrected for the truncation.
            let stddev = (2.0 / Double(fanIn)).squareRoot() / 0.879_625_661_034_239_78
            for i in t.range { params[i] = Float(g.nextTruncatedGaussian(stddev: stddev)) }
        } else {
            let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in t.range { params[i] = Float((g.nextUnitDouble() * 2 - 1) * limit) }
        }
    }
    return params
}
