import XCTest
@testable import Core

/// Short runs on real MNIST (set GLASSBOX_DATA to the IDX directory; `make test` does).
final class MNISTTrainingTests: XCTestCase {
    private func realMNIST() throws -> DatasetSplit {
        guard let dir = ProcessInfo.processInfo.environment["GLASSBOX_DATA"],
              FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte") else {
            throw XCTSkip("GLASSBOX_DATA is not set to the MNIST directory (make test sets it)")
        }
        return try DatasetSource.load(.directory(dir))
    }

    func testOneEpochOnThreeThousandRealImagesBeatsChanceByFar() throws {
        let split = try realMNIST()
        let train = split.train.prefix(3000)
        var settings = TrainingSettings()
        settings.epochs = 1
        settings.seed = 3
        let engine = CNNEngine(parameters: initialParameters(seed: 3), threads: 2)
        let backend = LocalBackend(engine: engine, train: train, test: split.test, seed: 3)
        let loop = try TrainingLoop(settings: settings, sampleCount: train.count, backend: backend,
                                    state: .initial(seed: 3), log: { _ in })
        let m = try loop.runEpoch()
        XCTAssertEqual(loop.plan.stepsPerEpoch, 24)
        XCTAssertGreaterThan(m.valAcc, 0.80, "validation accuracy after one short epoch (chance is 0.1)")
        let test = backend.evaluate(.test, indices: Array(0..<2000), hidden: false)
        XCTAssertGreaterThan(Double(test.stats.correct) / 2000, 0.80, "test accuracy")
    }

    func testWeightsFileRoundTripsInKerasShapes() throws {
        let params = initialParameters(seed: 8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightsFile.write(params, metadata: ["seed": "8"], to: path)
        let (back, meta) = try WeightsFile.read(from: path)
        XCTAssertEqual(back, params)
        XCTAssertEqual(meta["seed"], "8")
        let shapes = try Safetensors.read(from: path).tensors.map { "\($0.name) \($0.shape)" }
        XCTAssertTrue(shapes.contains("conv2D_2/kernel [2, 2, 32, 32]"))
        XCTAssertTrue(shapes.contains("hidden/kernel [1568, 512]"))
        XCTAssertTrue(shapes.contains("end/bias [10]"))
        // A file missing a tensor is refused by name.
        try Safetensors.write(Array(WeightsFile.tensors(params).dropLast()), metadata: [:], to: path)
        XCTAssertThrowsError(try WeightsFile.read(from: path)) { error in
            XCTAssertTrue("\(error)".contains("end/bias"), "\(error)")
        }
    }

    func testInitialisersHaveKerasScales() {
        let p = initialParameters(seed: 2)
        let L = ParameterLayout.seedCNN
        func std(_ name: String) -> Double {
            let v = p[L[name].range].map(Double.init)
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        XCTAssertEqual(std("conv2D_2/kernel"), (2.0 / 128).squareRoot(), accuracy: 0.01)   // he_normal
        XCTAssertEqual(std("hidden/kernel"), (6.0 / (1568 + 512)).squareRoot() / 3.0.squareRoot(), accuracy: 0.001)
        XCTAssertLessThanOrEqual(p[L["conv2D_2/kernel"].range].map { abs(Double($0)) }.max()!, 2 * (2.0 / 128).squareRoot() / 0.8796 + 1e-6)
        XCTAssertTrue(p[L["hidden/bias"].range].allSatisfy { $0 == 0 })
    }
}

#if canImport(Glibc)
import Glibc
#endif
