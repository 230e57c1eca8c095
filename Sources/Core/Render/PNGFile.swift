// PNG files through libpng's simplified `png_image` API, which reports errors by return value
// (the classic API needs setjmp, which Swift cannot use).

import CPNG
import Foundation

/// An 8-bit RGBA image, rows top to bottom, 4 bytes per pixel, straight (not premultiplied) alpha.
public struct RGBAImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 4` bytes: R, G, B, A per pixel.
    public var pixels: [UInt8]

    /// An image over `pixels`, which must hold exactly `width * height * 4` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 4,
                     "RGBAImage \(width)x\(height) needs \(width * height * 4) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one opaque colour.
    public init(width: Int, height: Int, color: RGBColor) {
        let (r, g, b) = color.bytes
        var pixels = [UInt8](repeating: 255, count: width * height * 4)
        for i in stride(from: 0, to: pixels.count, by: 4) {
            pixels[i] = r
            pixels[i + 1] = g
            pixels[i + 2] = b
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The pixel at column `x`, row `y`.
    public func pixel(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8) {
        let i = (y * width + x) * 4
        return (pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
    }
}

/// A figure or animation file could not be written or read.
public struct RenderFileError: Error, CustomStringConvertible, Sendable {
    /// The file concerned.
    public let path: String
    /// What went wrong, in the words of the library that failed.
    public let reason: String

    /// An error about `path`; `reason` completes "path: ...".
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Writes `image` as an 8-bit RGBA PNG at `path`, replacing any file there.
public func writePNG(_ image: RGBAImage, to path: String) throws {
    var png = png_image()
    png.version = UInt32(GB_PNG_IMAGE_VERSION)
    png.width = UInt32(image.width)
    png.height = UInt32(image.height)
    png.format = UInt32(GB_PNG_FORMAT_RGBA)
    errno = 0
    let ok = image.pixels.withUnsafeBytes { bytes in
        png_image_write_to_file(&png, path, 0, bytes.baseAddress, Int32(image.width * 4), nil)
    }
    if ok == 0 {
        // libpng says only "Write Error"; the system's reason (a full or read-only disk) is in errno.
        let system = errno == 0 ? "" : " (\(String(cString: strerror(errno))))"
        let reason = pngMessage(png)
        png_image_free(&png)
        throw RenderFileError(path: path, reason: "cannot write PNG: \(reason)\(system)")
    }
}

/// Reads any PNG at `path`, converted to 8-bit RGBA.
public func readPNG(_ path: String) throws -> RGBAImage {
    var png = png_image()
    png.version = UInt32(GB_PNG_IMAGE_VERSION)
    guard png_image_begin_read_from_file(&png, path) != 0 else {
        let reason = pngMessage(png)
        png_image_free(&png)
        throw RenderFileError(path: path, reason: "cannot read PNG: \(reason)")
    }
    png.format = UInt32(GB_PNG_FORMAT_RGBA)
    let width = Int(png.width), height = Int(png.height)
    var pixels = [UInt8](repeating: 0, count: width * height * 4)
    let ok = pixels.withUnsafeMutableBytes { bytes in
        png_image_finish_read(&png, nil, bytes.baseAddress, Int32(width * 4), nil)
    }
    guard ok != 0 else {
        let reason = pngMessage(png)
        png_image_free(&png)
        throw RenderFileError(path: path, reason: "cannot decode PNG: \(reason)")
    }
    return RGBAImage(width: width, height: height, pixels: pixels)
}

/// libpng's error text, a NUL-terminated `char[64]` inside the `png_image`.
private func pngMessage(_ png: png_image) -> String {
    withUnsafeBytes(of: png.message) { raw in
        let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        return text.isEmpty ? "unknown libpng error" : text
    }
}

/// An 8-bit grey PNG of `pixels` (rows top to bottom) in memory, or nil if libpng fails.
func greyPNG(_ pixels: [UInt8], width: Int, height: Int) -> Data? {
    var png = png_image()
    png.version = UInt32(GB_PNG_IMAGE_VERSION)
    png.width = UInt32(width)
    png.height = UInt32(height)
    png.format = UInt32(GB_PNG_FORMAT_GRAY)
    // PNG_IMAGE_FLAG_FAST (0x02, a macro Swift does not import): for MNIST sheets about 3x
    // faster (1.2 s against 3.5 s for 70,000 images) for about 4 % more bytes.
    png.flags = 0x02
    // Deflate never grows data by more than a few bytes per 16 KiB block; rows add a filter byte.
    var capacity = png_alloc_size_t(width * height + height + width * height / 1000 + 4096)
    for _ in 0..<2 {
        var buffer = [UInt8](repeating: 0, count: Int(capacity))
        var written = capacity
        let ok = buffer.withUnsafeMutableBytes { out in
            pixels.withUnsafeBytes { src in
                png_image_write_to_memory(&png, out.baseAddress, &written, 0, src.baseAddress, Int32(width), nil)
            }
        }
        png_image_free(&png)
        if ok != 0 { return Data(buffer[0..<Int(written)]) }
        // On a short buffer libpng reports the size it needs in `written`.
        guard written > capacity else { return nil }
        capacity = written
    }
    return nil
}
