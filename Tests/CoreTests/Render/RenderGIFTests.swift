import Foundation
import XCTest
@testable import Core

final class RenderGIFTests: XCTestCase {
    private func frames(_ count: Int) -> [RGBAImage] {
        let (points, labels) = clusteredPoints(perClass: 100)
        let limits = AxisLimits.fitting(allFrames: [points])
        return (0..<count).map { epoch in
            let moved = points.map { $0 * Float(1 + epoch) / Float(count) }
            return drawScatter(points: moved, labels: labels, title: "Epoch \(epoch)", limits: limits,
                               size: (320, 240))
        }
    }

    func testAnimationIsGIF89aWithDelaysAndLoopExtension() throws {
        let path = try renderOutputDirectory("gif") + "/mnist.gif"
        try writeAnimatedGIF(frames: frames(4), delayMs: 500, to: path)
        let info = try readGIFInfo(path)
        XCTAssertEqual(info.frameCount, 4)
        XCTAssertEqual(info.delaysCs, [50, 50, 50, 50])
        XCTAssertTrue(info.loopsForever)
        XCTAssertEqual(info.version, "GIF89a")
        XCTAssertEqual(info.width, 320)
        XCTAssertEqual(info.height, 240)
        let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(6)
        XCTAssertEqual(String(decoding: header, as: UTF8.self), "GIF89a")
    }

    func testDecodedFramesShowEveryClassColourExactly() throws {
        let path = try renderOutputDirectory("gif") + "/colours.gif"
        let written = frames(3)
        try writeAnimatedGIF(frames: written, to: path)
        let decoded = try readGIFFrames(path)
        XCTAssertEqual(decoded.count, 3)
        for (label, color) in Palette.tab10.enumerated() {
            let n = countPixels(near: color, in: decoded[2], tolerance: 0)
            XCTAssertGreaterThan(n, 50, "class \(label): \(n) pixels of its colour in the last frame")
        }
        XCTAssertNotEqual(decoded[0], decoded[2], "frames should differ")
        try writePNG(decoded[2], to: try renderOutputDirectory("gif") + "/colours-frame2.png")
    }

    func testAnimationWithoutLoopHasNoLoopExtension() throws {
        let path = try renderOutputDirectory("gif") + "/once.gif"
        try writeAnimatedGIF(frames: frames(2), delayMs: 120, loopForever: false, to: path)
        let info = try readGIFInfo(path)
        XCTAssertFalse(info.loopsForever)
        XCTAssertEqual(info.delaysCs, [12, 12])
    }

    func testPaletteMapsClassColoursBlackAndWhiteExactly() {
        let colors = Palette.tab10 + [.black, .white]
        let image = RGBAImage(width: colors.count, height: 1, pixels: colors.flatMap { c -> [UInt8] in
            let (r, g, b) = c.bytes
            return [r, g, b, 255]
        })
        var indices = [UInt8](repeating: 0, count: colors.count)
        GIFPalette.quantize(image, into: &indices)
        for (color, index) in zip(colors, indices) {
            let entry = GIFPalette.entries[Int(index)]
            XCTAssertTrue(entry == color.bytes, "\(color) mapped to \(entry)")
        }
        XCTAssertEqual(GIFPalette.entries.count, 256)
    }

    func testGIFToUnwritableDirectoryThrowsErrorNamingThePath() {
        let path = "/proc/nonexistent/x.gif"
        XCTAssertThrowsError(try writeAnimatedGIF(frames: [RGBAImage(width: 2, height: 2, color: .white)], to: path)) {
            XCTAssertTrue(String(describing: $0).contains(path), "\($0)")
        }
        XCTAssertThrowsError(try readGIFInfo("/nonexistent/none.gif")) {
            XCTAssertTrue(String(describing: $0).contains("/nonexistent/none.gif"), "\($0)")
        }
    }
}
