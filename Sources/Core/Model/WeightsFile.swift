/// The seed CNN's weights as named tensors in Keras shapes and layouts (conv kernel
/// (kh, kw, cin, cout), dense kernel (in, out)), so a Keras user can `set_weights` them.
public enum WeightsFile {
    public static func tensors(_ parameters: [Float], layout: ParameterLayout = .seedCNN) -> [NamedTensor] {
        precondition(parameters.count == layout.count)
        return layout.tensors.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range])) }
    }

    /// The flat parameter vector from named tensors; every tensor of the layout must be present
    /// with its exact shape.
    public static func parameters(from tensors: [NamedTensor], path: String, layout: ParameterLayout = .seedCNN) throws -> [Float] {
        var out = [Float](repeating: 0, count: layout.count)
        for t in layout.tensors {
            guard let found = tensors.first(where: { $0.name == t.name }) else {
                throw DataError(.badValue, path: path, "tensor \(t.name) is missing (expected shape \(t.shape))")
            }
            guard found.shape == t.shape, found.values.count == t.count else {
                throw DataError(.badValue, path: path, "tensor \(t.name) has shape \(found.shape), expected \(t.shape)")
            }
            out.replaceSubrange(t.range, with: found.values)
        }
        return out
    }

    public static func write(_ parameters: [Float], metadata: [String: String], to path: String) throws {
        try Safetensors.write(tensors(parameters), metadata: metadata, to: path)
    }

    public static func read(from path: String) throws -> (parameters: [Float], metadata: [String: String]) {
        let file = try Safetensors.read(from: path)
        return (try parameters(from: file.tensors, path: path), file.metadata)
    }
}
