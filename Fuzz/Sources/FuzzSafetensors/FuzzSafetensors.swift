import Core
import FuzzSupport

// Fuzzes `Safetensors.decode`, the reader of weights files and of `checkpoint.safetensors` (the
// coordinator's `Checkpoint.read` only looks up tensors and metadata strings in what it returns).
// Properties: no trap, no allocation the input does not justify (the header length is checked
// before the header is read), every tensor's values fill its shape, and what decodes re-encodes to
// bytes that decode to the same tensors.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(safetensorsSeeds)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let (tensors, metadata) = try? Safetensors.decode(fuzzBytes(data, size), path: "fuzz") else { return 0 }
    for tensor in tensors where tensor.values.count != tensor.shape.reduce(1, *) {
        fuzzFailure("tensor of shape \(tensor.shape) read with \(tensor.values.count) values")
    }
    guard let again = try? Safetensors.decode(Safetensors.encode(tensors, metadata: metadata, path: "fuzz"),
                                              path: "fuzz"),
          again.metadata == metadata,
          again.tensors.map(\.name) == tensors.map(\.name),
          again.tensors.map(\.shape) == tensors.map(\.shape),
          again.tensors.map({ $0.values.map(\.bitPattern) }) == tensors.map({ $0.values.map(\.bitPattern) }) else {
        fuzzFailure("\(tensors.count) tensors do not survive encode → decode")
    }
    return 0
}

/// A weights file and a checkpoint as the coordinator writes them (three tensors; format, Adam and
/// settings in the metadata), at a small size.
private func safetensorsSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let weights = [NamedTensor(name: "conv1/kernel", shape: [2, 2, 1, 2], values: (0..<8).map { Float($0) / 8 }),
                   NamedTensor(name: "conv1/bias", shape: [2], values: [0.5, -0.5]),
                   NamedTensor(name: "scalar", shape: [], values: [3])]
    let n = 4
    let checkpoint = [NamedTensor(name: "parameters", shape: [n], values: [1, -1, 0.5, 0]),
                      NamedTensor(name: "adam/m", shape: [n], values: [0, 0, 0.25, 0]),
                      NamedTensor(name: "adam/v", shape: [n], values: [0.125, 0, 0, 1])]
    let metadata = [
        "format": "glassbox-checkpoint-1", "epochs_done": "1", "adam_step": "480", "adam_learning_rate": "0.001",
        "adam_beta1": "0.9", "adam_beta2": "0.999", "adam_epsilon": "1e-07",
        "settings": #"{"batchSize":100,"dataset":"mnist","datasetFingerprint":"ab","microBatchSize":25,"seed":1,"trainingImages":600,"validationFraction":0.2}"#,
        "history": "[]",
    ]
    return [
        ("weights", try Safetensors.encode(weights, path: "seed")),
        ("checkpoint", try Safetensors.encode(checkpoint, metadata: metadata, path: "seed")),
        ("empty", try Safetensors.encode([], path: "seed")),
    ]
}
