import Foundation
import XCTest
@testable import Core

/// A fresh directory for a test's files. With GLASSBOX_RENDER_KEEP=/some/dir the files go there
/// and stay, so a person can look at them.
func renderOutputDirectory(_ name: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["GLASSBOX_RENDER_KEEP"]
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-render-\(UUID().uuidString)").path
    let dir = base + "/" + name
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// How many pixels are within `tolerance` of `color` in every channel.
func countPixels(near color: RGBColor, in image: RGBAImage, tolerance: Int = 8) -> Int {
    let (r, g, b) = color.bytes
    var count = 0
    for i in stride(from: 0, to: image.pixels.count, by: 4)
    where abs(Int(image.pixels[i]) - Int(r)) <= tolerance
        && abs(Int(image.pixels[i + 1]) - Int(g)) <= tolerance
        && abs(Int(image.pixels[i + 2]) - Int(b)) <= tolerance {
        count += 1
    }
    return count
}

/// `perClass` points around each of ten centres on a circle, labels 0-9 in blocks (sorted).
func clusteredPoints(perClass: Int, seed: UInt64 = 1, spread: Double = 1.2) -> (points: [Float], labels: [UInt8]) {
    var rng = SplitMix64(seed: seed, stream: .sampling)
    var points: [Float] = []
    var labels: [UInt8] = []
    for label in 0..<10 {
        let angle = Double(label) * 2 * Double.pi / 10
        let (cx, cy) = (8 * cos(angle), 8 * sin(angle))
        for _ in 0..<perClass {
            points.append(Float(cx + spread * rng.nextGaussian()))
            points.append(Float(cy + spread * rng.nextGaussian()))
            labels.append(UInt8(label))
        }
    }
    return (points, labels)
}

final class RenderPNGTests: XCTestCase {
    func testPNGRoundTripKeepsEveryByte() throws {
        var rng = SplitMix64(seed: 3, stream: .sampling)
        let image = RGBAImage(width: 37, height: 23,
                              pixels: (0..<(37 * 23 * 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let path = try renderOutputDirectory("png") + "/roundtrip.png"
        try writePNG(image, to: path)
        let back = try readPNG(path)
        XCTAssertEqual(back.width, 37)
        XCTAssertEqual(back.height, 23)
        XCTAssertEqual(back.pixels, image.pixels)
    }

    func testUnwritableDirectoryThrowsErrorNamingThePath() {
        let path = "/proc/nonexistent/x.png"
        XCTAssertThrowsError(try writePNG(RGBAImage(width: 2, height: 2, color: .white), to: path)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains(path), "error does not name the path: \(text)")
            XCTAssertEqual((error as? RenderFileError)?.path, path)
        }
    }

    func testReadingAMissingOrNonPNGFileThrows() throws {
        XCTAssertThrowsError(try readPNG("/nonexistent/none.png")) { error in
            XCTAssertTrue(String(describing: error).contains("/nonexistent/none.png"), "\(error)")
        }
        let path = try renderOutputDirectory("png") + "/not-a-png.png"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try readPNG(path))
    }
}

final class RenderCanvasTests: XCTestCase {
    func testCanvasImageIsStraightRGBAInByteOrder() {
        let canvas = Canvas(width: 4, height: 3, background: RGBColor(hex: 0x102030))
        canvas.fillRect(x: 0, y: 0, width: 2, height: 3, color: .red)
        canvas.fillRect(x: 2, y: 0, width: 2, height: 3, color: .black, alpha: 0.5)
        let image = canvas.image()
        XCTAssertTrue(image.pixel(x: 0, y: 0) == (255, 0, 0, 255), "\(image.pixel(x: 0, y: 0))")
        XCTAssertTrue(image.pixel(x: 3, y: 2) == (8, 16, 24, 255), "\(image.pixel(x: 3, y: 2))")
    }

    func testStarMarkerIsFilledWithAnEdge() {
        let canvas = Canvas(width: 40, height: 40)
        canvas.drawMarkers(.star, at: [(20, 20)], radius: 15, fill: .gold, edge: .black, edgeWidth: 1)
        let image = canvas.image()
        XCTAssertTrue(image.pixel(x: 20, y: 20) == (255, 215, 0, 255), "centre \(image.pixel(x: 20, y: 20))")
        XCTAssertGreaterThan(countPixels(near: .black, in: image, tolerance: 60), 20)
        XCTAssertTrue(image.pixel(x: 2, y: 38) == (255, 255, 255, 255), "corner should stay white")
    }
}

final class RenderAxesTests: XCTestCase {
    func testNiceTicksUseOneTwoFiveSteps() {
        XCTAssertEqual(Ticks.nice(from: 0, to: 10).values, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(Ticks.nice(from: -13.7, to: 21.2).labels, ["-10", "-5", "0", "5", "10", "15", "20"])
        XCTAssertEqual(Ticks.nice(from: 0.9012, to: 0.9934).labels, ["0.92", "0.94", "0.96", "0.98"])
        XCTAssertEqual(Ticks.nice(from: 0.5, to: 3.5, target: 8, minStep: 1).values, [1, 2, 3])
        XCTAssertEqual(Ticks.nice(from: 0, to: 1135).labels, ["0", "200", "400", "600", "800", "1000"])
    }

    func testTickLabelsHaveNoFloatingPointNoise() {
        XCTAssertEqual(formatTick(0.1 + 0.2, step: 0.1), "0.3")
        XCTAssertEqual(formatTick(-0.0000001, step: 0.5), "0.0")
        XCTAssertEqual(formatTick(-2.5, step: 0.5), "-2.5")
        XCTAssertEqual(formatTick(0.05, step: 0.05), "0.05")
    }

    func testLimitsFitEveryFrameWithMargin() {
        let limits = AxisLimits.fitting(allFrames: [[0, 0, 10, 5], [-10, 2, 3, .nan]], margin: 0.1)
        XCTAssertEqual(limits, AxisLimits(xMin: -12, xMax: 12, yMin: -0.5, yMax: 5.5))
        XCTAssertEqual(AxisLimits.fitting(allFrames: []), AxisLimits(xMin: -1, xMax: 1, yMin: -1, yMax: 1))
    }

    func testInterleavedOrderIsAPermutation() {
        for n in [0, 1, 2, 3, 10, 60_000] {
            XCTAssertEqual(interleavedOrder(count: n).sorted(), Array(0..<n))
        }
    }
}
