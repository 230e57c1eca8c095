import Cluster
import Core
import Foundation
import FuzzSupport

// Fuzzes `CheckpointContents.decode`, what `train --resume` reads from `checkpoint.safetensors`: the
// safetensors container, the SHA-256 check, the metadata's numbers and the settings and history JSON, and
// the tensors. Checkpoints here hold 4 parameters, so that whole ones fit in a fuzz input (the real network's
// are 10 MB); the reader takes the size as a parameter and checks it. Properties: no trap, no allocation the
// input does not justify, and a checkpoint that loads is written back to one that loads as the same state
// and settings (a run resumed from it can checkpoint again).

private let parameterCount = 4

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: FuzzArguments) -> Int32 {
    writeSeedsIfAsked(checkpointSeeds)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let (state, settings) = try? CheckpointContents.decode(fuzzBytes(data, size), path: "fuzz",
                                                                 parameterCount: parameterCount) else { return 0 }
    guard let (bytes, _) = try? CheckpointContents.encode(state, settings: settings, path: "fuzz") else {
        fuzzFailure("a checkpoint that loads cannot be written again (settings \(settings), \(state.history.count) epochs)")
    }
    guard let (again, againSettings) = try? CheckpointContents.decode(bytes, path: "fuzz", parameterCount: parameterCount)
    else { fuzzFailure("a checkpoint written from a loaded one does not load") }
    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
    func same(_ a: Float, _ b: Float) -> Bool { a == b || (a.isNaN && b.isNaN) }
    func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
    guard againSettings == settings, bits(again.parameters) == bits(state.parameters),
          bits(again.adam.m) == bits(state.adam.m), bits(again.adam.v) == bits(state.adam.v),
          again.adam.step == state.adam.step, same(again.adam.learningRate, state.adam.learningRate),
          same(again.adam.beta1, state.adam.beta1), same(again.adam.beta2, state.adam.beta2),
          same(again.adam.epsilon, state.adam.epsilon), again.epochsDone == state.epochsDone,
          again.stepsDone == state.stepsDone, same(again.epochStats.lossSum, state.epochStats.lossSum),
          again.epochStats.correct == state.epochStats.correct, again.epochStats.count == state.epochStats.count,
          again.history == state.history else {
        fuzzFailure("a checkpoint does not survive read → write → read")
    }
    return 0
}

/// Checkpoints as `train` writes them (with the digest), one of an older build (no digest, no mid-epoch
/// fields), and one resumed mid-epoch with its settings' run choices.
private func checkpointSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var adam = AdamState(count: parameterCount)
    adam.step = 960
    adam.m = [0.25, 0, -1e-30, 3]
    adam.v = [1e-8, 0, 0.5, 2]
    let history = try JSONDecoder().decode([EpochMetrics].self, from: Data(#"""
        [{"epoch":1,"loss":0.2,"acc":0.93,"valLoss":0.07,"valAcc":0.98,"seconds":15.5,"samplesPerSecond":3271.9},
         {"epoch":2,"loss":0.067,"acc":0.978,"valLoss":0.047,"valAcc":0.986,"seconds":16.5,"samplesPerSecond":3107.9}]
        """#.utf8))
    let settings = CheckpointSettings(seed: 1, batchSize: 100, microBatchSize: 25, validationFraction: 0.2,
                                      trainingImages: 60_000, dataset: "mnist", datasetFingerprint: "d0a3eec1f5a4")
    var resumed = settings
    resumed.run = RunChoices(epochs: 100, dataArguments: ["--data", "/data/mnist"], maps: true, umapMode: "warm",
                             nNeighbors: 40)
    let atEpochEnd = TrainingState(parameters: [1, -1, 0.5, 0], adam: adam, epochsDone: 2, history: history)
    let midEpoch = TrainingState(parameters: [1, -1, 0.5, 0], adam: adam, epochsDone: 2, history: history, stepsDone: 100,
                                 epochStats: BatchStats(lossSum: 6.25, correct: 9_800, count: 10_000))
    let current = try CheckpointContents.encode(atEpochEnd, settings: settings, path: "seed").bytes
    // An older build's checkpoint: the same without the digest and the mid-epoch keys.
    let decoded = try Safetensors.decode(current, path: "seed")
    var metadata = decoded.metadata
    for key in [CheckpointContents.digestKey, "steps_done", "epoch_loss_sum", "epoch_correct", "epoch_count"] {
        metadata[key] = nil
    }
    return [
        ("epoch-end", current),
        ("mid-epoch", try CheckpointContents.encode(midEpoch, settings: resumed, path: "seed").bytes),
        ("older-build", try Safetensors.encode(decoded.tensors, metadata: metadata, path: "seed")),
    ]
}
