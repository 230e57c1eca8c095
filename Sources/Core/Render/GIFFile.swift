// Animated GIFs through giflib: one global 256-colour palette for every frame, GIF89a, an optional
// NETSCAPE2.0 loop extension and a graphics control block per frame for the delay.

import CGif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `frames` (all of one size) as an animated GIF89a at `path`, each frame shown for
/// `delayMs` milliseconds (rounded to GIF's centiseconds), looping forever if `loopForever`.
///
/// Colours are mapped to `GIFPalette`'s 256 colours (tab10, greys and a 6x6x6 cube); alpha is
/// composited over white.
public func writeAnimatedGIF(frames: [RGBAImage], delayMs: Int = 500, loopForever: Bool = true,
                             to path: String) throws {
    guard let first = frames.first else {
        throw RenderFileError(path: path, reason: "cannot write GIF: no frames")
    }
    if let odd = frames.first(where: { $0.width != first.width || $0.height != first.height }) {
        throw RenderFileError(path: path, reason: "cannot write GIF: frame of \(odd.width)x\(odd.height) "
                              + "among frames of \(first.width)x\(first.height)")
    }
    // giflib's EGifOpenFileName creates files readable by the owner only; open here with 0644
    // (less the umask) as for any other output file.
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
        throw RenderFileError(path: path, reason: "cannot write GIF: \(String(cString: strerror(errno)))")
    }
    var openError: Int32 = 0
    guard let gif = EGifOpenFileHandle(fd, &openError) else {
        close(fd)
        throw RenderFileError(path: path, reason: "cannot write GIF: \(gifErrorText(openError))")
    }
    // Every giflib call below reports failure as GIF_ERROR with the code in gif.pointee.Error.
    func check(_ result: Int32, _ step: String) throws {
        guard result == GIF_OK else {
            let reason = "cannot write GIF (\(step)): \(gifErrorText(gif.pointee.Error))"
            var ignored: Int32 = 0
            EGifCloseFile(gif, &ignored)
            unlink(path)
            throw RenderFileError(path: path, reason: reason)
        }
    }

    EGifSetGifVersion(gif, true)
    let colorMap = GIFPalette.colors.withUnsafeBufferPointer { GifMakeMapObject(256, $0.baseAddress) }
    defer { GifFreeMapObject(colorMap) }
    try check(EGifPutScreenDesc(gif, Int32(first.width), Int32(first.height), 8, 0, colorMap),
              "screen descriptor")
    if loopForever {
        // NETSCAPE2.0 application extension; sub-block 1 holds the loop count, 0 = forever.
        let identifier = Array("NETSCAPE2.0".utf8)
        let loopCount: [UInt8] = [1, 0, 0]
        try check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), "loop extension")
        try check(EGifPutExtensionBlock(gif, Int32(identifier.count), identifier), "loop extension")
        try check(EGifPutExtensionBlock(gif, Int32(loopCount.count), loopCount), "loop extension")
        try check(EGifPutExtensionTrailer(gif), "loop extension")
    }

    var control = GraphicsControlBlock()
    control.DisposalMode = DISPOSE_DO_NOT
    control.UserInputFlag = false
    control.DelayTime = Int32(min(max((delayMs + 5) / 10, 0), 65535))
    control.TransparentColor = NO_TRANSPARENT_COLOR
    var controlBytes = [UInt8](repeating: 0, count: 4)
    let controlLength = EGifGCBToExtension(&control, &controlBytes)

    var indices = [GifPixelType](repeating: 0, count: first.width * first.height)
    for frame in frames {
        GIFPalette.quantize(frame, into: &indices)
        try check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, Int32(controlLength), controlBytes),
                  "graphics control block")
        try check(EGifPutImageDesc(gif, 0, 0, Int32(frame.width), Int32(frame.height), false, nil),
                  "image descriptor")
        try check(indices.withUnsafeMutableBufferPointer {
            EGifPutLine(gif, $0.baseAddress, Int32($0.count))
        }, "pixels")
    }
    var closeError: Int32 = 0
    guard EGifCloseFile(gif, &closeError) == GIF_OK else {
        throw RenderFileError(path: path, reason: "cannot write GIF (close): \(gifErrorText(closeError))")
    }
}

/// What `readGIFInfo` finds in a GIF: enough to check an animation without decoding it by eye.
public struct GIFInfo: Sendable, Equatable {
    public var frameCount: Int
    /// Each frame's delay from its graphics control block, in centiseconds (0 where it has none).
    public var delaysCs: [Int]
    /// Whether a NETSCAPE2.0 extension asks to loop forever.
    public var loopsForever: Bool
    /// The header's signature and version, e.g. `GIF89a`.
    public var version: String
    public var width: Int
    public var height: Int
}

/// Reads the structure of the GIF at `path` (frame count, delays, looping, version, size).
public func readGIFInfo(_ path: String) throws -> GIFInfo {
    let version = try gifHeader(path)
    return try withDecodedGIF(path) { gif in
        let frameCount = Int(gif.pointee.ImageCount)
        var delays: [Int] = []
        var loopsForever = containsLoopForever(gif.pointee.ExtensionBlocks, Int(gif.pointee.ExtensionBlockCount))
        for i in 0..<frameCount {
            var control = GraphicsControlBlock()
            let found = DGifSavedExtensionToGCB(gif, Int32(i), &control) == GIF_OK
            delays.append(found ? Int(control.DelayTime) : 0)
            let image = gif.pointee.SavedImages[i]
            loopsForever = loopsForever
                || containsLoopForever(image.ExtensionBlocks, Int(image.ExtensionBlockCount))
        }
        return GIFInfo(frameCount: frameCount, delaysCs: delays, loopsForever: loopsForever, version: version,
                       width: Int(gif.pointee.SWidth), height: Int(gif.pointee.SHeight))
    }
}

/// Decodes every frame of the GIF at `path` to opaque RGBA at the screen's size, each frame drawn
/// over the previous one (transparency and disposal are ignored: our GIFs have neither).
func readGIFFrames(_ path: String) throws -> [RGBAImage] {
    try withDecodedGIF(path) { gif in
        let width = Int(gif.pointee.SWidth), height = Int(gif.pointee.SHeight)
        var pixels = [UInt8](repeating: 255, count: width * height * 4)
        var frames: [RGBAImage] = []
        for i in 0..<Int(gif.pointee.ImageCount) {
            let image = gif.pointee.SavedImages[i]
            let desc = image.ImageDesc
            guard let map = desc.ColorMap ?? gif.pointee.SColorMap else {
                throw RenderFileError(path: path, reason: "GIF frame \(i) has no colour map")
            }
            for row in 0..<Int(desc.Height) where Int(desc.Top) + row < height {
                for col in 0..<Int(desc.Width) where Int(desc.Left) + col < width {
                    let index = Int(image.RasterBits[row * Int(desc.Width) + col])
                    let color = map.pointee.Colors[min(index, Int(map.pointee.ColorCount) - 1)]
                    let o = ((Int(desc.Top) + row) * width + Int(desc.Left) + col) * 4
                    pixels[o] = color.Red
                    pixels[o + 1] = color.Green
                    pixels[o + 2] = color.Blue
                }
            }
            frames.append(RGBAImage(width: width, height: height, pixels: pixels))
        }
        return frames
    }
}

/// Opens and fully decodes the GIF at `path` with DGifSlurp, and runs `body` on it.
private func withDecodedGIF<T>(_ path: String, _ body: (UnsafeMutablePointer<GifFileType>) throws -> T) throws -> T {
    var openError: Int32 = 0
    guard let gif = DGifOpenFileName(path, &openError) else {
        throw RenderFileError(path: path, reason: "cannot read GIF: \(gifErrorText(openError))")
    }
    defer {
        var ignored: Int32 = 0
        DGifCloseFile(gif, &ignored)
    }
    guard DGifSlurp(gif) == GIF_OK else {
        throw RenderFileError(path: path, reason: "cannot decode GIF: \(gifErrorText(gif.pointee.Error))")
    }
    return try body(gif)
}

/// The 6 signature bytes at the start of a GIF file (`GIF87a` or `GIF89a`).
private func gifHeader(_ path: String) throws -> String {
    guard let file = fopen(path, "rb") else {
        throw RenderFileError(path: path, reason: "cannot open GIF: \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var header = [UInt8](repeating: 0, count: 6)
    guard fread(&header, 1, 6, file) == 6 else {
        throw RenderFileError(path: path, reason: "not a GIF: shorter than its 6-byte header")
    }
    return String(decoding: header, as: UTF8.self)
}

/// Whether the extension blocks hold NETSCAPE2.0 with loop count 0. giflib keeps the
/// application identifier as one block and the data sub-block as the following CONTINUE block.
private func containsLoopForever(_ blocks: UnsafeMutablePointer<ExtensionBlock>?, _ count: Int) -> Bool {
    guard let blocks, count > 1 else { return false }
    let netscape = Array("NETSCAPE2.0".utf8)
    for i in 0..<(count - 1) where blocks[i].Function == APPLICATION_EXT_FUNC_CODE {
        let id = UnsafeBufferPointer(start: blocks[i].Bytes, count: Int(blocks[i].ByteCount))
        let data = UnsafeBufferPointer(start: blocks[i + 1].Bytes, count: Int(blocks[i + 1].ByteCount))
        if id.elementsEqual(netscape) && data.count >= 3 && data[0] == 1 && data[1] == 0 && data[2] == 0 {
            return true
        }
    }
    return false
}

private func gifErrorText(_ code: Int32) -> String {
    guard let text = GifErrorString(code) else { return "giflib error \(code)" }
    return String(cString: text)
}

/// The one palette of every GIF frame: tab10 at 0-9, a 6x6x6 colour cube (levels 0, 51, ..., 255,
/// black and white included) at 10-225, and 30 greys between the cube's levels at 226-255.
enum GIFPalette {
    static let cubeLevels = 6
    static let cubeStart = 10
    static let greyStart = cubeStart + cubeLevels * cubeLevels * cubeLevels
    static let greyLevels = 256 - greyStart

    /// The 256 entries as 8-bit (r, g, b).
    static let entries: [(UInt8, UInt8, UInt8)] = {
        var entries = Palette.tab10.map { $0.bytes }.map { ($0.red, $0.green, $0.blue) }
        for r in 0..<cubeLevels {
            for g in 0..<cubeLevels {
                for b in 0..<cubeLevels {
                    entries.append((UInt8(r * 51), UInt8(g * 51), UInt8(b * 51)))
                }
            }
        }
        // Steps of 255/31 never land on a multiple of 51, so these greys add to the cube's six.
        for k in 1...greyLevels {
            let v = UInt8((Double(k) * 255 / 31).rounded())
            entries.append((v, v, v))
        }
        return entries
    }()

    static var colors: [GifColorType] {
        entries.map { GifColorType(Red: $0.0, Green: $0.1, Blue: $0.2) }
    }

    /// Palette index of the nearest entry for every colour with 5 bits per channel
    /// (index `r5 << 10 | g5 << 5 | b5`), judged at the centre of each 8x8x8 cell.
    static let lookup: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 1 << 15)
        let searched = Array(0..<cubeStart) + Array(greyStart..<256)
        for key in 0..<(1 << 15) {
            let r = (key >> 10) * 8 + 4, g = ((key >> 5) & 31) * 8 + 4, b = (key & 31) * 8 + 4
            // The nearest cube point is found by rounding each channel; only the tab10 colours and
            // the greys need a search.
            let cube = cubeStart + ((r + 25) / 51 * cubeLevels + (g + 25) / 51) * cubeLevels + (b + 25) / 51
            var best = cube, bestDistance = distance(entries[cube], r, g, b)
            for i in searched {
                let d = distance(entries[i], r, g, b)
                if d < bestDistance { best = i; bestDistance = d }
            }
            table[key] = UInt8(best)
        }
        // Colours of the palette map to themselves, tab10 winning a cell it shares with a grey.
        for i in (0..<256).reversed() {
            let (r, g, b) = entries[i]
            table[Int(r >> 3) << 10 | Int(g >> 3) << 5 | Int(b >> 3)] = UInt8(i)
        }
        return table
    }()

    private static func distance(_ e: (UInt8, UInt8, UInt8), _ r: Int, _ g: Int, _ b: Int) -> Int {
        let dr = Int(e.0) - r, dg = Int(e.1) - g, db = Int(e.2) - b
        return dr * dr + dg * dg + db * db
    }

    /// Maps every pixel of `image` (composited over white) to its palette index.
    static func quantize(_ image: RGBAImage, into indices: inout [GifPixelType]) {
        precondition(indices.count == image.width * image.height)
        lookup.withUnsafeBufferPointer { table in
            image.pixels.withUnsafeBufferPointer { px in
                indices.withUnsafeMutableBufferPointer { out in
                    for i in 0..<out.count {
                        let a = Int(px[4 * i + 3]), white = 255 * (255 - a)
                        let r = (Int(px[4 * i]) * a + white) / 255
                        let g = (Int(px[4 * i + 1]) * a + white) / 255
                        let b = (Int(px[4 * i + 2]) * a + white) / 255
                        out[i] = table[(r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)]
                    }
                }
            }
        }
    }
}
