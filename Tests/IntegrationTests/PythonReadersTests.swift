import Core
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A short real run read back by other people's code: TensorBoard's own event reader sees every
/// scalar the run wrote (equal to metrics.jsonl and the progress lines) and one map image per epoch,
/// and the README's Python snippet, taken from README.md as it stands, redraws a frame of the run.
final class PythonReadersTests: XCTestCase {
    static let trainCount = 3000, epochs = 2
    /// The README's promise: each metrics.jsonl key and its TensorBoard tag.
    static let epochTags = [("loss", "epoch/loss"), ("acc", "epoch/acc"), ("val_loss", "epoch/val_loss"),
                            ("val_acc", "epoch/val_acc"), ("samples_per_second", "epoch/samples_per_second"),
                            ("umap_trustworthiness", "epoch/trustworthiness"), ("umap_frame_displacement", "epoch/displacement")]

    /// One run for both tests: `<root>/runs/default` (the snippet's own path), its TensorBoard files in
    /// `<root>/tb`, its log lines in JSON (they carry every progress line's numbers).
    /// XCTest runs one test at a time, so plain static state is safe here.
    nonisolated(unsafe) private static var shared: (root: String, log: String)?

    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("PythonReadersTests train with maps: run them in a release build")
        #endif
    }

    override class func tearDown() {
        if let root = shared?.root { try? FileManager.default.removeItem(atPath: root) }
        shared = nil
        super.tearDown()
    }

    private func sharedRun() throws -> (root: String, log: String) {
        if let shared = Self.shared { return shared }
        let root = NSTemporaryDirectory() + "glassbox-it-python-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root + "/runs", withIntermediateDirectories: true)
        Self.shared = (root, "")
        let run = try train(["--data", try mnistDirectory(), "--limit-train", "\(Self.trainCount)", "--epochs", "\(Self.epochs)",
                             "--seed", "5", "--threads", "2", "--tensorboard", root + "/tb", "--log-format", "json"],
                            in: root + "/runs/default", timeout: 600)
        XCTAssertEqual(run.status, 0, run.output)
        Self.shared = (root, run.output)
        return (root, run.output)
    }

    /// Runs `python` with `arguments`; all it printed (a failed exit fails the test with that text).
    private func runPython(_ python: String, _ arguments: [String], in root: String) throws -> String {
        let process = try RunningProcess(path: python, arguments, outputPath: root + "/python.log")
        let status = process.wait(timeout: 300)
        XCTAssertEqual(status, 0, process.output)
        return process.output
    }

    /// TensorBoard's `EventAccumulator` over directory argv[1], dumped as JSON into argv[2]: scalars as [step, value] per
    /// tag; images as [step, width, height, decoded width, decoded height] per tag (Pillow decodes each).
    static let dumpEvents = """
        import io, json, sys
        from PIL import Image
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, IMAGES, SCALARS
        acc = EventAccumulator(sys.argv[1], size_guidance={SCALARS: 0, IMAGES: 0})
        acc.Reload()
        tags = acc.Tags()
        def size(e): return list(Image.open(io.BytesIO(e.encoded_image_string)).size)
        # To a file: the reader may warn on standard error, e.g. that TensorFlow is not installed.
        with open(sys.argv[2], "w") as out: json.dump({
            "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
            "images": {t: [[e.step, e.width, e.height] + size(e) for e in acc.Images(t)] for t in tags["images"]},
        }, out)
        """

    private func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func testTensorBoardsOwnReaderSeesEveryScalarAndOneMapPerEpoch() throws {
        let (root, log) = try sharedRun()
        let python = try PythonEnvironment.python()
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/tb")
        XCTAssertEqual(files.count, 1, "one event file: \(files)")
        XCTAssertNotNil(files.first?.range(of: #"^events\.out\.tfevents\.[0-9]{10}\.[^/]+$"#, options: .regularExpression), "\(files)")

        _ = try runPython(python, ["-c", Self.dumpEvents, root + "/tb", root + "/events.json"], in: root)
        let dumped = try FileBytes.read(root + "/events.json")
        let events = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dumped)) as? [String: Any],
                                   String(decoding: dumped, as: UTF8.self))
        let scalars = try XCTUnwrap(events["scalars"] as? [String: [[Double]]])
        let images = try XCTUnwrap(events["images"] as? [String: [[Int]]])
        /// Step -> value of `tag`, each step once.
        func series(_ tag: String) -> [Int: Float] {
            var out: [Int: Float] = [:]
            for point in scalars[tag] ?? [] {
                XCTAssertNil(out[Int(point[0])], "\(tag) twice at step \(point[0])")
                out[Int(point[0])] = Float(point[1])
            }
            return out
        }

        // Every epoch value is the metrics.jsonl value as a float32, bit for bit, and nothing else is there.
        let rows = jsonLines(try String(contentsOfFile: root + "/runs/default/metrics.jsonl", encoding: .utf8))
        XCTAssertEqual(rows.count, Self.epochs + 1, "epoch 0's map row and one per epoch")
        for (key, tag) in Self.epochTags {
            var expected: [Int: Float] = [:]
            for row in rows { if let v = row[key] as? Double { expected[row["epoch"] as! Int] = Float(v) } }
            XCTAssertFalse(expected.isEmpty, "metrics.jsonl has no \(key)")
            XCTAssertEqual(series(tag), expected, tag)
        }
        // metrics.csv, six decimals, says the same.
        let csv = try String(contentsOfFile: root + "/runs/default/metrics.csv", encoding: .utf8).split(separator: "\n")
        let header = csv[0].split(separator: ",").map(String.init)
        for line in csv.dropFirst() {
            let cells = line.split(separator: ",").map { Double($0)! }
            let epoch = Int(cells[0])
            for key in ["loss", "acc", "val_loss", "val_acc"] {
                let value = try XCTUnwrap(series("epoch/" + key)[epoch], "epoch/\(key) at \(epoch)")
                XCTAssertEqual(Double(value), cells[header.firstIndex(of: key)!], accuracy: 1e-6, "\(key), epoch \(epoch)")
            }
        }

        // Every progress line (JSON log) is a step point at steps trained so far; the last of an epoch is its loss.
        let progress = jsonLines(log).filter { $0["samples_per_s"] != nil }
        XCTAssertGreaterThanOrEqual(progress.count, Self.epochs, log)
        var expected: [String: [Int: Float]] = [:]
        for line in progress {
            let step = (line["epoch"] as! Int - 1) * (line["steps"] as! Int) + (line["step"] as! Int)
            for (key, tag) in [("loss", "step/loss"), ("acc", "step/acc"), ("samples_per_s", "step/samples_per_second")] {
                expected[tag, default: [:]][step] = Float(line[key] as! Double)
            }
        }
        for (tag, points) in expected { XCTAssertEqual(series(tag), points, tag) }
        let steps = progress[0]["steps"] as! Int
        for epoch in 1...Self.epochs {
            XCTAssertEqual(series("step/loss")[epoch * steps], series("epoch/loss")[epoch], "the last step's running loss, epoch \(epoch)")
        }
        XCTAssertEqual(Set(scalars.keys), Set(Self.epochTags.map(\.1) + expected.keys), "no other scalars")

        // One image per map (epochs 0...N), whose PNG decodes to the size it claims and the frame's size.
        let maps = try XCTUnwrap(images["map"], "no map images: \(images.keys)")
        XCTAssertEqual(maps.map { $0[0] }, Array(0...Self.epochs))
        for map in maps {
            let frame = try readPNG(root + "/runs/default/fig/" + String(format: "epoch_%03d.png", map[0]))
            XCTAssertEqual(Array(map[1...]), [frame.width, frame.height, frame.width, frame.height], "map at step \(map[0])")
        }
    }

    /// The README's "One frame in Python" block, exactly as README.md has it.
    private func readmeSnippet() throws -> String {
        let readme = try String(contentsOfFile: PythonEnvironment.repository + "/README.md", encoding: .utf8)
        let section = try XCTUnwrap(readme.range(of: "One frame in Python"), "README.md lost its 'One frame in Python' snippet")
        let rest = readme[section.upperBound...]
        let start = try XCTUnwrap(rest.range(of: "```python\n"))
        let end = try XCTUnwrap(rest[start.upperBound...].range(of: "```"))
        return String(rest[start.upperBound..<end.lowerBound])
    }

    func testReadmeSnippetRedrawsTheLatestFrameOfARealRun() throws {
        let (root, _) = try sharedRun()
        let python = try PythonEnvironment.python()
        let snippet = root + "/snippet.py"
        try readmeSnippet().write(toFile: snippet, atomically: true, encoding: .utf8)
        // The snippet reads runs/default relative to where it runs: <root>, where the run is.
        let output = try runPython(python, ["-c", "import os, sys; os.chdir(sys.argv[1]); exec(open(sys.argv[2]).read())",
                                            root, snippet], in: root)
        XCTAssertTrue(output.contains("epoch \(Self.epochs): \(Self.trainCount) points; hidden/kernel (1568, 512)"), output)
        let drawn = try readPNG(root + String(format: "/epoch_%03d_again.png", Self.epochs))
        XCTAssertEqual([drawn.width, drawn.height], [600, 600], "figsize 6 x 6 inches at 100 dpi")
        let colours = Set(stride(from: 0, to: drawn.pixels.count, by: 4).map { Array(drawn.pixels[$0..<$0 + 3]) })
        XCTAssertGreaterThan(colours.count, 10, "the frame has points in the classes' colours, not a blank page")
    }
}
