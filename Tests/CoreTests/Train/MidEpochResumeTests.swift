import XCTest
@testable import Core

/// A training loop continued from a mid-epoch state (a checkpoint every few steps) ends the epoch with
/// the same weights, Adam state and metrics bits as one run straight through.
final class MidEpochResumeTests: XCTestCase {
    func testEpochResumedFromAMidEpochStateEqualsAnUninterruptedEpoch() throws {
        guard let dir = ProcessInfo.processInfo.environment["GLASSBOX_DATA"],
              FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte") else {
            throw XCTSkip("GLASSBOX_DATA is not set to the MNIST directory (make test sets it)")
        }
        // The first 500 images straight from the raw IDX files (400 training images: 4 steps); loading and
        // fingerprinting all 70,000 takes minutes in a debug build.
        let images = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/train-images-idx3-ubyte"))
        let labels = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/train-labels-idx1-ubyte"))
        let train = LabeledImages(rows: 28, cols: 28, pixels: Array(images[16..<(16 + 500 * 784)]),
                                  labels: Array(labels[8..<508]))
        var settings = TrainingSettings()
        settings.epochs = 1
        settings.seed = 4
        func loop(from state: TrainingState) throws -> TrainingLoop {
            let backend = LocalBackend(engine: CNNEngine(parameters: initialParameters(seed: 4), threads: 2),
                                       train: train, test: train, seed: 4)
            return try TrainingLoop(settings: settings, sampleCount: train.count, backend: backend, state: state,
                                    log: { _ in })
        }
        let straight = try loop(from: .initial(seed: 4))
        var saved: [TrainingState] = []
        straight.checkpointEvery = 3
        straight.checkpoint = { saved.append($0) }
        let expected = try straight.runEpoch()
        XCTAssertEqual(straight.plan.stepsPerEpoch, 4)
        XCTAssertEqual(saved.map(\.stepsDone), [3], "one mid-epoch state, after step 3 (none after the last step)")
        XCTAssertEqual(saved.first?.epochsDone, 0)
        XCTAssertEqual(saved.first?.epochStats.count, 300)

        let resumed = try loop(from: try XCTUnwrap(saved.first))
        let m = try resumed.runEpoch()
        XCTAssertEqual(resumed.state.parameters, straight.state.parameters, "weights after the resumed epoch")
        XCTAssertEqual(resumed.state.adam, straight.state.adam)
        XCTAssertEqual(resumed.state.stepsDone, 0)
        XCTAssertEqual([m.loss, m.acc, m.valLoss, m.valAcc].map(\.bitPattern),
                       [expected.loss, expected.acc, expected.valLoss, expected.valAcc].map(\.bitPattern),
                       "epoch metrics: \(m) vs \(expected)")
    }
}
