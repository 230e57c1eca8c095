import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Every epoch's outputs are on disk as soon as its map is done, and `render` draws a run directory
/// alone: a finished run's frames again, bit for bit, and a run killed part-way.
final class EpochOutputsTests: XCTestCase {
    static let trainCount = 3000, testCount = 10_000

    static func shortRun() throws -> [String] {
        ["--data", try mnistDirectory(), "--limit-train", "\(trainCount)", "--seed", "3", "--threads", "2"]
    }

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("EpochOutputsTests train with maps: run them in a release build")
        #endif
    }

    private func file(_ run: String, _ name: String) -> String { (run as NSString).appendingPathComponent(name) }

    /// Epoch `epoch`'s four map files hold the shapes `MapFiles` promises, and its frame is a PNG.
    private func checkEpochFiles(_ run: String, _ epoch: Int, file line: StaticString = #filePath, line number: UInt = #line) throws {
        let stem = String(format: "epoch_%03d", epoch)
        let shapes: [(String, [Int])] = [(".npy", [Self.trainCount, 2]), ("_test.npy", [Self.testCount, 2]),
                                         ("_pred.npy", [Self.trainCount]), ("_test_pred.npy", [Self.testCount])]
        for (suffix, shape) in shapes {
            let array = try NPY.read(from: file(run, "maps/" + stem + suffix))
            XCTAssertEqual(array.shape, shape, "maps/\(stem)\(suffix)", file: line, line: number)
            XCTAssertTrue(array.values.allSatisfy(\.isFinite), "maps/\(stem)\(suffix) holds a non-finite value", file: line, line: number)
        }
        let image = try readPNG(file(run, "fig/\(stem).png"))
        XCTAssertGreaterThan(image.width * image.height, 0, file: line, line: number)
    }

    private func render(_ run: String) throws -> RunningProcess {
        let process = try RunningProcess("glassbox-coordinator", ["render", run, "--data", try mnistDirectory()],
                                         outputPath: run + ".render.log")
        XCTAssertEqual(process.wait(timeout: 120), 0, process.output)
        return process
    }

    func testShortRunLeavesEveryEpochsMapAndRenderRedrawsTheSameFrames() throws {
        let root = try temporaryDirectory(self, "epochs")
        let run = try train(Self.shortRun() + ["--epochs", "2"], in: root + "/run")
        XCTAssertEqual(run.status, 0, run.output)
        for epoch in 0...2 { try checkEpochFiles(root + "/run", epoch) }
        XCTAssertEqual(try NPY.read(from: file(root + "/run", "maps/labels.npy")).shape, [Self.trainCount])
        XCTAssertEqual(try NPY.read(from: file(root + "/run", "maps/test_labels.npy")).shape, [Self.testCount])
        let labels = try Data(contentsOf: URL(fileURLWithPath: file(root + "/run", "maps/labels.npy")))
        XCTAssertTrue(String(decoding: labels.prefix(128), as: UTF8.self).contains("'descr': '<i4'"), "labels are int32")

        // The end of the run drew every frame with common limits; `render` must draw the same bytes.
        let frames = try (0...2).map { try Data(contentsOf: URL(fileURLWithPath: file(root + "/run", String(format: "fig/epoch_%03d.png", $0)))) }
        let gif = try Data(contentsOf: URL(fileURLWithPath: file(root + "/run", "mnist.gif")))
        _ = try render(root + "/run")
        for (epoch, before) in frames.enumerated() {
            let after = try Data(contentsOf: URL(fileURLWithPath: file(root + "/run", String(format: "fig/epoch_%03d.png", epoch))))
            XCTAssertEqual(after, before, "render drew fig/epoch_\(epoch).png differently from the run")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file(root + "/run", "mnist.gif"))), gif, "mnist.gif differs")
    }

    func testRunKilledAfterEpochOnesMapKeepsEpochsZeroAndOneAndRenderDrawsThem() throws {
        let root = try temporaryDirectory(self, "killed")
        let dir = root + "/run"
        let process = try startTraining(Self.shortRun() + ["--epochs", "5", "--log-level", "debug"], in: dir)
        // The report line comes after the frame on the figure queue: both of epoch 1 are written.
        XCTAssertTrue(process.waitForOutput("report.html (2 maps) written", timeout: 300), process.output)
        kill(process.pid, SIGKILL)
        process.wait(timeout: 10)
        for epoch in 0...1 { try checkEpochFiles(dir, epoch) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: file(dir, "report.html")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: file(dir, "mnist.gif")), "the GIF is an end-of-run product")

        try FileManager.default.removeItem(atPath: file(dir, "fig"))
        try FileManager.default.removeItem(atPath: file(dir, "report.html"))
        let rendered = try render(dir)
        let maps = try FileManager.default.contentsOfDirectory(atPath: file(dir, "maps")).filter { $0.hasSuffix("_test_pred.npy") }.count
        for epoch in 0..<maps { try checkEpochFiles(dir, epoch) }
        for name in ["mnist.gif", "report.html", "train_test_dist.png", "cnn_predict.png", "acc_loss.png", "MNIST.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file(dir, name)), "render did not write \(name):\n\(rendered.output)")
        }
        let gif = try Data(contentsOf: URL(fileURLWithPath: file(dir, "mnist.gif")))
        XCTAssertEqual(gif.prefix(6), Data("GIF89a".utf8))
    }
}
