/// One named parameter tensor inside the flat parameter vector, in Keras shape and memory layout
/// (conv kernel (kh, kw, cin, cout), dense kernel (in, out)).
public struct ParameterTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where every parameter of the seed CNN lives in one flat Float vector.
public struct ParameterLayout: Sendable {
    public let tensors: [ParameterTensor]
    public let count: Int

    init(_ specs: [(String, [Int])]) {
        var offset = 0
        var ts: [ParameterTensor] = []
        for (name, shape) in specs {
            let t = ParameterTensor(name: name, shape: shape, offset: offset)
            ts.append(t)
            offset += t.count
        }
        tensors = ts
        count = offset
    }

    public subscript(name: String) -> ParameterTensor {
        guard let t = tensors.first(where: { $0.name == name }) else {
            preconditionFailure("no parameter tensor named \(name)")
        }
        return t
    }

    /// The reference CNN: 821,002 parameters.
    public static let seedCNN = ParameterLayout([
        ("conv2D_1/kernel", [2, 2, 1, 32]), ("conv2D_1/bias", [32]),
        ("conv2D_2/kernel", [2, 2, 32, 32]), ("conv2D_2/bias", [32]),
        ("conv2D_3/kernel", [2, 2, 32, 32]), ("conv2D_3/bias", [32]),
        ("conv2D_4/kernel", [2, 2, 32, 32]), ("conv2D_4/bias", [32]),
        ("hidden/kernel", [1568, 512]), ("hidden/bias", [512]),
        ("end/kernel", [512, 10]), ("end/bias", [10]),
    ])
}
