import Foundation
import XCTest
@testable import Core

/// A small run: `perClass` points in each of ten clusters (`clusteredPoints`), `frames` maps that
/// contract from one wide blob (epoch 0) to tight clusters, predictions that improve with the
/// epoch (none for epoch 0), random images, and a test set near the clusters.
func syntheticReportRun(perClass: Int = 200, frames: Int = 3, testCount: Int = 300, seed: UInt64 = 5,
                        images: (Int, inout SplitMix64) -> [UInt8] = randomImages) -> ReportInputs {
    let wide = clusteredPoints(perClass: perClass, seed: seed, spread: 7).points
    let (tight, labels) = clusteredPoints(perClass: perClass, seed: seed, spread: 1.0)
    let n = labels.count
    var rng = SplitMix64(seed: seed, stream: .sampling, 1)
    var maps: [[Float]] = []
    var predictions: [[UInt8]] = []
    for f in 0..<frames {
        let t = Float(f) / Float(max(frames - 1, 1))
        maps.append(zip(wide, tight).map { $0 + ($1 - $0) * t })
        let errorRate = 0.5 * (1 - Double(t)) + 0.02
        predictions.append(f == 0 ? [] : labels.map { label in
            rng.nextUnitDouble() < errorRate ? UInt8(rng.nextInt(below: 10)) : label
        })
    }
    var testPoints: [Float] = [], testLabels: [UInt8] = [], testPredictions: [UInt8] = []
    for _ in 0..<testCount {
        let i = rng.nextInt(below: n)
        testPoints += [tight[2 * i] + Float(rng.nextGaussian() * 0.5), tight[2 * i + 1] + Float(rng.nextGaussian() * 0.5)]
        testLabels.append(labels[i])
        testPredictions.append(rng.nextUnitDouble() < 0.08 ? UInt8(rng.nextInt(below: 10)) : labels[i])
    }
    let test = ReportTestSet(points: testPoints, labels: testLabels, predictions: testPredictions,
                             images: images(testCount, &rng))
    return ReportInputs(title: "Synthetic run", frames: maps, labels: labels, predictions: predictions,
                        images: images(n, &rng), test: test)
}

/// `count` images of 28x28 uniformly random bytes.
func randomImages(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
    (0..<(count * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// `count` digit-like 28x28 images: 3-5 thick strokes with soft edges on black inside the central
/// 20x20 box, as MNIST draws them. 1,000 shapes are drawn and reused with shifts of up to two
/// pixels. As PNG they compress less well than MNIST itself (the large report: 24 MB with them,
/// 21 MB with MNIST), so sizes measured with them are on the safe side.
func strokeImages(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
    var shapes: [[UInt8]] = []
    for _ in 0..<1_000 {
        var shape = [Float](repeating: 0, count: 784)
        var (x, y) = (8 + 12 * rng.nextUnitDouble(), 6 + 6 * rng.nextUnitDouble())
        for _ in 0..<(3 + rng.nextInt(below: 3)) {
            let (nx, ny) = (4 + 20 * rng.nextUnitDouble(), 4 + 20 * rng.nextUnitDouble())
            let width = 1.0 + 1.2 * rng.nextUnitDouble(), ink = 0.7 + 0.3 * rng.nextUnitDouble()
            for step in 0...24 {
                let t = Double(step) / 24, (cx, cy) = (x + (nx - x) * t, y + (ny - y) * t)
                for py in max(0, Int(cy) - 4)...min(27, Int(cy) + 4) {
                    for px in max(0, Int(cx) - 4)...min(27, Int(cx) + 4) {
                        let (ex, ey) = (Double(px) + 0.5 - cx, Double(py) + 0.5 - cy)
                        let v = Float(ink * min(1, max(0, (width + 1.2 - (ex * ex + ey * ey).squareRoot()) / 1.6)))
                        shape[py * 28 + px] = max(shape[py * 28 + px], v)
                    }
                }
            }
            (x, y) = (nx, ny)
        }
        shapes.append(shape.map { UInt8(255 * $0) })
    }
    var out = [UInt8](repeating: 0, count: count * 784)
    for i in 0..<count {
        let shape = shapes[rng.nextInt(below: shapes.count)]
        let dx = rng.nextInt(below: 5) - 2, dy = rng.nextInt(below: 5) - 2
        for y in max(0, -dy)..<min(28, 28 - dy) {
            for x in max(0, -dx)..<min(28, 28 - dx) { out[i * 784 + (y + dy) * 28 + x + dx] = shape[y * 28 + x] }
        }
    }
    return out
}

/// The images of an IDX3 file (`count` x 28 x 28 after a 16-byte header) from GLASSBOX_DATA, or nil.
func mnistImages(_ file: String) -> [UInt8]? {
    guard let directory = ProcessInfo.processInfo.environment["GLASSBOX_DATA"],
          let data = FileManager.default.contents(atPath: directory + "/" + file), data.count > 16
    else { return nil }
    return Array(data.dropFirst(16))
}

/// The base64 payload of `<script ... id="id">...</script>` in `html`, decoded.
func reportBlock(_ id: String, in html: String) -> [UInt8]? {
    guard let open = html.range(of: "id=\"\(id)\">"),
          let close = html.range(of: "</script>", range: open.upperBound..<html.endIndex),
          let data = Data(base64Encoded: String(html[open.upperBound..<close.lowerBound]))
    else { return nil }
    return Array(data)
}

final class ReportTests: XCTestCase {
    func testReportIsSelfContainedAndHoldsEveryPart() throws {
        let dir = try renderOutputDirectory("report-small")
        var inputs = syntheticReportRun()
        let figurePath = dir + "/scatter.png"
        try writePNG(drawScatter(points: inputs.frames.last!, labels: inputs.labels, title: "Epoch 2",
                                 limits: AxisLimits.fitting(allFrames: inputs.frames)), to: figurePath)
        inputs.figures = [("Final map <epoch 2>", figurePath)]
        inputs.settings = [("epochs", "2"), ("optimizer", "Adam <lr=1e-3> & \"β\"")]
        inputs.metricColumns = ["epoch", "acc", "val acc"]
        inputs.metricRows = [["1", "0.9512", "0.9601"], ["2", "0.9807", "0.9833"]]
        let path = dir + "/report.html"
        try writeReport(inputs, to: path)
        let html = try String(contentsOfFile: path, encoding: .utf8)

        XCTAssertFalse(html.contains("http://"), "the page must not refer to the network")
        XCTAssertFalse(html.contains("https://"), "the page must not refer to the network")
        XCTAssertFalse(html.contains("src=\"//"), "the page must not load protocol-relative resources")
        XCTAssertTrue(html.contains("Adam &lt;lr=1e-3&gt; &amp; &quot;β&quot;"), "settings are escaped")
        XCTAssertTrue(html.contains("<figcaption>Final map &lt;epoch 2&gt;</figcaption>"))
        XCTAssertTrue(html.contains("<td class=\"gb-num\">0.9807</td>"))
        let figure = try Data(contentsOf: URL(fileURLWithPath: figurePath)).base64EncodedString()
        XCTAssertTrue(html.contains("data:image/png;base64,\(figure)\""), "the figure is embedded byte for byte")
        XCTAssertEqual(html.components(separatedBy: "class=\"gb-cell").count - 1, 100, "10x10 confusion cells")

        // Coordinates come back within one quantisation step of the common limits.
        let n = inputs.pointCount, frames = inputs.frames.count
        let coords = try XCTUnwrap(reportBlock("gb-coords", in: html))
        XCTAssertEqual(coords.count, frames * n * 4)
        let limits = AxisLimits.fitting(allFrames: inputs.frames + [inputs.test!.points], margin: 0)
        var worst = 0.0
        for f in 0..<frames {
            for i in 0..<(2 * n) {
                let o = 2 * (f * 2 * n + i)
                let q = Double(UInt16(coords[o]) | UInt16(coords[o + 1]) << 8)
                let (low, high) = i % 2 == 0 ? (limits.xMin, limits.xMax) : (limits.yMin, limits.yMax)
                let back = low + q / 65534 * (high - low)
                worst = max(worst, abs(back - Double(inputs.frames[f][i])) / (high - low))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1.0 / 65534, "worst relative coordinate error")
        XCTAssertEqual(reportBlock("gb-labels", in: html), inputs.labels)
        let predictions = try XCTUnwrap(reportBlock("gb-predictions", in: html))
        XCTAssertEqual(Array(predictions[0..<n]), [UInt8](repeating: 255, count: n), "epoch 0 has no predictions")
        XCTAssertEqual(Array(predictions[n..<(2 * n)]), inputs.predictions[1])
        XCTAssertEqual(reportBlock("gb-test-predictions", in: html), inputs.test!.predictions)
    }

    func testSpriteSheetsHoldEveryImageAsItsOwnTile() throws {
        var rng = SplitMix64(seed: 9, stream: .sampling)
        let train = randomImages(10_050, &rng), test = randomImages(70, &rng)
        let layout = SpriteLayout(side: 28)
        let sheets = try spriteSheetPNGs([train, test], layout: layout)
        XCTAssertEqual(sheets.count, 2, "10,120 tiles make one full sheet and one of 120")
        let dir = try renderOutputDirectory("report-sprites")
        var decoded: [RGBAImage] = []
        for (s, sheet) in sheets.enumerated() {
            try sheet.write(to: URL(fileURLWithPath: "\(dir)/sheet\(s).png"))
            decoded.append(try readPNG("\(dir)/sheet\(s).png"))
        }
        XCTAssertEqual(decoded.map(\.width), [2800, 2800])
        XCTAssertEqual(decoded.map(\.height), [2800, 56])
        // Tile g on its sheet holds image g of train followed by test, pixel for pixel.
        let all = train + test
        for g in [0, 1, 99, 100, 9_999, 10_000, 10_049, 10_050, 10_119] {
            let sheet = decoded[g / 10_000], k = g % 10_000
            for (y, x) in [(0, 0), (13, 7), (27, 27)] {
                let pixel = sheet.pixel(x: (k % 100) * 28 + x, y: (k / 100) * 28 + y)
                XCTAssertEqual(pixel.red, all[g * 784 + y * 28 + x], "tile \(g) pixel (\(x), \(y))")
            }
        }
    }

    func testMismatchedInputsThrowErrorsNamingThePart() throws {
        let path = try renderOutputDirectory("report-bad") + "/report.html"
        var inputs = syntheticReportRun(perClass: 10, testCount: 5)
        inputs.frames[1].removeLast()
        XCTAssertThrowsError(try writeReport(inputs, to: path)) { error in
            XCTAssertTrue("\(error)".contains("frame 1 holds 199 floats"), "\(error)")
        }
        inputs = syntheticReportRun(perClass: 10, testCount: 5)
        inputs.test!.predictions.removeLast()
        XCTAssertThrowsError(try writeReport(inputs, to: path)) { error in
            XCTAssertTrue("\(error)".contains("4 test predictions for 5 test labels"), "\(error)")
        }
        inputs = syntheticReportRun(perClass: 10, testCount: 5)
        inputs.predictions[2][7] = 12
        XCTAssertThrowsError(try writeReport(inputs, to: path)) { error in
            XCTAssertTrue("\(error)".contains("prediction 12 of point 7 in frame 2"), "\(error)")
        }
        inputs = syntheticReportRun(perClass: 10, testCount: 5)
        inputs.figures = [("missing", "/nonexistent/figure.png")]
        XCTAssertThrowsError(try writeReport(inputs, to: path)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/figure.png"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing is written for bad inputs")
    }

    func testUnwritableDirectoryThrowsErrorNamingThePath() {
        let inputs = syntheticReportRun(perClass: 5, testCount: 0)
        XCTAssertThrowsError(try writeReport(inputs, to: "/proc/nonexistent/report.html")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/proc/nonexistent/report.html: cannot write report"), "\(error)")
        }
    }
}

final class ReportSizeTests: XCTestCase {
    /// 60,000 points x 11 frames and 10,000 test points with MNIST itself when GLASSBOX_DATA is set
    /// (`make test`), else with digit-like stroke images.
    func testSixtyThousandPointsElevenFramesStayUnderThirtyMegabytes() throws {
        let real = mnistImages("train-images-idx3-ubyte").flatMap { train in
            mnistImages("t10k-images-idx3-ubyte").map { (train, $0) }
        }
        let source = real == nil ? "stroke images" : "MNIST images"
        let start = Date()
        var inputs = syntheticReportRun(perClass: 6_000, frames: 11, testCount: 10_000,
                                        images: real == nil ? strokeImages : { count, _ in [UInt8](repeating: 0, count: count * 784) })
        if let real {
            inputs.images = Array(real.0.prefix(60_000 * 784))
            inputs.test!.images = Array(real.1.prefix(10_000 * 784))
        }
        let built = Date()
        let path = try renderOutputDirectory("report-large") + "/report.html"
        try writeReport(inputs, to: path)
        let written = Date()
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        print(String(format: "report 60,000 x 11 + 10,000 test (%@): %.1f MB, inputs %.2f s, writeReport %.2f s",
                     source, Double(size) / 1e6, built.timeIntervalSince(start), written.timeIntervalSince(built)))
        XCTAssertLessThan(size, 30_000_000, "report of \(size) bytes with \(source)")
    }
}

final class ReportChromiumTests: XCTestCase {
    /// The Chromium binary, or a skip that says how to get one.
    private func chromium() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["GLASSBOX_CHROMIUM"], "/usr/bin/chromium",
                          "/usr/bin/chromium-browser"].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("headless Chromium not found (apt-get install -y chromium, or set GLASSBOX_CHROMIUM)")
        }
        return found
    }

    /// Runs Chromium headless with `arguments`, killed after `timeout` seconds; returns stdout.
    private func runChromium(_ binary: String, _ arguments: [String], timeout: TimeInterval = 90) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--force-device-scale-factor=1"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.cancel()
        return String(decoding: data, as: UTF8.self)
    }

    func testCanvasDrawsPointsAndSliderChangesTheFrame() throws {
        let binary = try chromium()
        let dir = try renderOutputDirectory("report-chromium")
        var inputs = syntheticReportRun(perClass: 200, frames: 3, testCount: 300, images: strokeImages)
        inputs.title = "Glassbox report — synthetic run"
        let figurePath = dir + "/map.png"
        try writePNG(drawScatter(points: inputs.frames.last!, labels: inputs.labels, title: "Epoch 2",
                                 limits: AxisLimits.fitting(allFrames: inputs.frames)), to: figurePath)
        inputs.figures = [("The final map", figurePath)]
        inputs.metricColumns = ["epoch", "acc"]
        inputs.metricRows = [["1", "0.7"], ["2", "0.98"]]
        inputs.settings = [("seed", "5")]
        let path = dir + "/report.html"
        try writeReport(inputs, to: path)

        let dom = try runChromium(binary, ["--virtual-time-budget=5000", "--window-size=1400,1000", "--dump-dom",
                                           "file://\(path)#selftest"])
        guard let open = dom.range(of: "<pre id=\"selftest\">"),
              let close = dom.range(of: "</pre>", range: open.upperBound..<dom.endIndex) else {
            return XCTFail("no <pre id=\"selftest\"> in Chromium's DOM (\(dom.count) characters): \(dom.suffix(400))")
        }
        let text = dom[open.upperBound..<close.lowerBound].replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        print("report self-test: \(text)")
        XCTAssertNil(result["error"], "script error: \(result["error"] ?? "")")
        XCTAssertEqual(result["stage"] as? String, "done", "the self-test did not finish")
        let painted = result["painted"] as? Int ?? 0, changed = result["changedPixels"] as? Int ?? 0
        XCTAssertGreaterThan(painted, inputs.pointCount, "epoch 0 should paint several pixels per point")
        XCTAssertGreaterThan(changed, painted / 4, "moving the slider to the last frame should redraw the map")
        XCTAssertEqual(result["position"] as? Double, Double(inputs.frames.count - 1))
        XCTAssertEqual(result["epochLabel"] as? String, "Epoch \(inputs.frames.count - 1)")
        let hover = try XCTUnwrap(result["hover"] as? [String: Any])
        XCTAssertNotEqual(hover["found"] as? Int, -1, "hit-testing should find the point under the cursor")
        XCTAssertEqual(hover["distance"] as? Double ?? 99, 0, accuracy: 0.5)
        let tile0 = inputs.images[0..<784].reduce(0) { $0 + Int($1) }
        XCTAssertEqual(result["tile0Sum"] as? Int, tile0, "the sprite sheet should hold image 0 as tile 0")
        XCTAssertEqual(result["inspector"] as? String, "Training image #\(hover["probe"] as? Int ?? -1)")
        let zeroZero = zip(inputs.test!.labels, inputs.test!.predictions).filter { $0 == 0 && $1 == 0 }.count
        XCTAssertEqual(result["selected"] as? Int, zeroZero, "confusion cell (0, 0) selects its test images")

        let shot = dir + "/screenshot.png"
        _ = try runChromium(binary, ["--virtual-time-budget=3000", "--window-size=1400,1000", "--screenshot=\(shot)",
                                     "file://\(path)"])
        let image = try readPNG(shot)
        XCTAssertEqual(image.width, 1400)
        let classesSeen = Palette.tab10.filter { countPixels(near: $0, in: image, tolerance: 2) > 50 }.count
        XCTAssertEqual(classesSeen, 10, "all ten class colours should be on the screenshot")
        let white = countPixels(near: .white, in: image, tolerance: 3)
        XCTAssertLessThan(white, image.width * image.height * 9 / 10, "the screenshot is nearly blank")
    }

    /// At 1,024, 1,400 and 1,920 px no part of the page sticks out: not the page past the window, not a
    /// table past its panel (the confusion matrix with MNIST's four-digit counts was cut off at 1,400 px).
    func testReportFitsWindowsFrom1024PixelsWide() throws {
        let binary = try chromium()
        let dir = try renderOutputDirectory("report-fit")
        var inputs = syntheticReportRun(perClass: 100, frames: 2, testCount: 300, images: strokeImages)
        // MNIST's test set: about 1,000 per class on the diagonal, a few dozen off it.
        inputs.confusion = (0..<10).map { t in (0..<10).map { p in t == p ? 1135 - 17 * t : (t + p) % 4 == 0 ? 23 : 4 } }
        inputs.metricColumns = ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds"]
        inputs.metricRows = [["1", "0.2514", "0.9231", "0.0812", "0.9751", "21.4"]]
        inputs.settings = [("dataset", "mnist"), ("UMAP", "warm, n_neighbors 40")]
        let path = dir + "/report.html"
        try writeReport(inputs, to: path)
        for width in [1024, 1400, 1920] {
            let dom = try runChromium(binary, ["--virtual-time-budget=5000", "--window-size=\(width),900", "--dump-dom",
                                               "file://\(path)#selftest"])
            guard let open = dom.range(of: "<pre id=\"selftest\">"),
                  let close = dom.range(of: "</pre>", range: open.upperBound..<dom.endIndex) else {
                return XCTFail("no <pre id=\"selftest\"> at \(width) px (\(dom.count) characters): \(dom.suffix(400))")
            }
            let text = dom[open.upperBound..<close.lowerBound].replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&amp;", with: "&")
            let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            let layout = try XCTUnwrap(result["layout"] as? [String: Any], "no layout at \(width) px: \(text)")
            let page = layout["pageWidth"] as? Int ?? .max, window = layout["windowWidth"] as? Int ?? 0
            XCTAssertEqual(window, width)
            XCTAssertLessThanOrEqual(page, window, "at \(width) px the page is \(page) px wide")
            XCTAssertEqual((layout["overflowing"] as? [String]) ?? ["?"], [], "at \(width) px these stick out of their box")
            _ = try runChromium(binary, ["--virtual-time-budget=3000", "--window-size=\(width),900",
                                         "--screenshot=\(dir)/screenshot-\(width).png", "file://\(path)"])
        }
    }
}
