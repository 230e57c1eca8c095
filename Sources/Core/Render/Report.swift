// report.html: one self-contained page per run with every figure, the metrics table, the run
// settings and an interactive explorer of the hidden-layer maps. Everything the page needs travels
// inside it, so it opens from disk with no server and no network:
// - map coordinates as 16-bit integers quantised to the limits common to all frames (65535 marks a
//   point that is not finite), little-endian, base64;
// - labels and predictions as bytes (255: no prediction for that frame), base64;
// - the 28x28 images as grey PNG sprite sheets of 100 x 100 tiles, training images first, then
//   test images; a sheet stays small enough for any browser to decode;
// - the figures as PNG data: URIs.
// The page's style and script are in ReportTemplate.swift.

import Dispatch
import Foundation

/// The test set as placed in the final training map.
public struct ReportTestSet: Sendable {
    /// `[x0, y0, x1, y1, ...]`: M points in the coordinates of the last frame.
    public var points: [Float]
    /// M true classes.
    public var labels: [UInt8]
    /// M predicted classes of the trained network.
    public var predictions: [UInt8]
    /// M images of `side * side` grey pixels one after another, or empty (no images on hover).
    public var images: [UInt8]

    public init(points: [Float], labels: [UInt8], predictions: [UInt8], images: [UInt8] = []) {
        self.points = points
        self.labels = labels
        self.predictions = predictions
        self.images = images
    }
}

/// Everything `writeReport` puts on the page.
public struct ReportInputs: Sendable {
    /// The page title, e.g. the run's name.
    public var title: String
    /// Run settings as (name, value) rows, in the order to show them.
    public var settings: [(name: String, value: String)]
    /// Column names of the metrics table.
    public var metricColumns: [String]
    /// Rows of the metrics table, already formatted, each as long as `metricColumns`.
    public var metricRows: [[String]]
    /// PNG files to embed, in order, each with a caption.
    public var figures: [(caption: String, pngPath: String)]
    /// One map per epoch, epoch 0 (before training) first: `[x0, y0, x1, y1, ...]` of the same N
    /// training points, aligned so that a point moves smoothly from frame to frame.
    public var frames: [[Float]]
    /// A name per frame (`Epoch 0`, ...); empty for `Epoch 0` ... `Epoch F-1`.
    public var epochLabels: [String]
    /// N true classes (0-9).
    public var labels: [UInt8]
    /// Per frame, the network's N predicted classes at that epoch, or empty for a frame without
    /// predictions; the whole array may be empty.
    public var predictions: [[UInt8]]
    /// N images of `imageSide * imageSide` grey pixels (0 black, 255 white), or empty.
    public var images: [UInt8]
    /// Side of the square images in pixels.
    public var imageSide: Int
    /// The test set in the final map, if any.
    public var test: ReportTestSet?
    /// The test confusion matrix `confusion[true][predicted]`; empty to count it from `test`.
    public var confusion: [[Int]]
    /// `reportSpriteSheets(images:testImages:imageSide:)` of `images` and `test.images`, when the
    /// caller keeps them to rebuild a page often (a run's page after every epoch); nil encodes them.
    public var spriteSheets: [Data]?

    public init(title: String, settings: [(name: String, value: String)] = [],
                metricColumns: [String] = [], metricRows: [[String]] = [],
                figures: [(caption: String, pngPath: String)] = [], frames: [[Float]],
                epochLabels: [String] = [], labels: [UInt8], predictions: [[UInt8]] = [],
                images: [UInt8] = [], imageSide: Int = 28, test: ReportTestSet? = nil,
                confusion: [[Int]] = []) {
        self.title = title
        self.settings = settings
        self.metricColumns = metricColumns
        self.metricRows = metricRows
        self.figures = figures
        self.frames = frames
        self.epochLabels = epochLabels
        self.labels = labels
        self.predictions = predictions
        self.images = images
        self.imageSide = imageSide
        self.test = test
        self.confusion = confusion
    }

    /// N, the number of training points.
    public var pointCount: Int { labels.count }
}

/// The inputs of a report do not fit together; the message says which part and how.
public struct ReportInputError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "report inputs: \(message)" }
}

/// Writes `inputs` as one self-contained HTML page at `path`, replacing any file there atomically.
///
/// Throws `ReportInputError` when the inputs disagree in size and `RenderFileError` when a figure
/// cannot be read or the page cannot be written.
public func writeReport(_ inputs: ReportInputs, to path: String) throws {
    try inputs.validate()
    let page = try ReportPage(inputs).html()
    do {
        try page.write(to: URL(fileURLWithPath: path), options: .atomic)  // a reader never sees half a page
    } catch {
        throw RenderFileError(path: path, reason: "cannot write report: \(error.localizedDescription)")
    }
}

// MARK: - Checks

extension ReportInputs {
    func validate() throws {
        let n = pointCount
        guard !frames.isEmpty else { throw ReportInputError("no frames: at least the epoch-0 map is needed") }
        for (f, frame) in frames.enumerated() where frame.count != 2 * n {
            throw ReportInputError("frame \(f) holds \(frame.count) floats; \(n) labels need \(2 * n) (x, y per point)")
        }
        // The page colours classes 0-9 (tab10) and keeps 255 for "no prediction".
        if let i = labels.firstIndex(where: { $0 > 9 }) {
            throw ReportInputError("label \(labels[i]) of point \(i) is not a class 0-9")
        }
        for (f, p) in predictions.enumerated() {
            if let i = p.firstIndex(where: { $0 > 9 }) {
                throw ReportInputError("prediction \(p[i]) of point \(i) in frame \(f) is not a class 0-9")
            }
        }
        guard epochLabels.isEmpty || epochLabels.count == frames.count else {
            throw ReportInputError("\(epochLabels.count) epoch labels for \(frames.count) frames")
        }
        guard predictions.isEmpty || predictions.count == frames.count else {
            throw ReportInputError("predictions for \(predictions.count) frames, but there are \(frames.count) frames")
        }
        for (f, p) in predictions.enumerated() where !p.isEmpty && p.count != n {
            throw ReportInputError("frame \(f) has \(p.count) predictions for \(n) points")
        }
        guard imageSide > 0 && imageSide <= 256 else {
            throw ReportInputError("image side \(imageSide) is outside 1...256")
        }
        let tile = imageSide * imageSide
        guard images.isEmpty || images.count == n * tile else {
            throw ReportInputError("\(images.count) image bytes for \(n) points of \(tile) pixels (\(n * tile) expected)")
        }
        for (r, row) in metricRows.enumerated() where row.count != metricColumns.count {
            throw ReportInputError("metrics row \(r) has \(row.count) cells for \(metricColumns.count) columns")
        }
        if let test {
            let m = test.labels.count
            guard test.points.count == 2 * m else {
                throw ReportInputError("test points hold \(test.points.count) floats for \(m) test labels (\(2 * m) expected)")
            }
            guard test.predictions.count == m else {
                throw ReportInputError("\(test.predictions.count) test predictions for \(m) test labels")
            }
            if let j = (test.labels + test.predictions).firstIndex(where: { $0 > 9 }) {
                throw ReportInputError("test \(j < m ? "label" : "prediction") of test point \(j % max(m, 1)) is not a class 0-9")
            }
            guard test.images.isEmpty || test.images.count == m * tile else {
                throw ReportInputError("\(test.images.count) test image bytes for \(m) images of \(tile) pixels")
            }
        }
        guard confusion.allSatisfy({ $0.count == confusion.count }) else {
            throw ReportInputError("the confusion matrix is not square (\(confusion.map(\.count)) cells per row)")
        }
    }
}

// MARK: - Encodings

/// Every frame's `[x, y, ...]` (then `extra`, e.g. the test points) as little-endian UInt16 pairs:
/// 0 at the low limit, 65534 at the high one, 65535 for a coordinate that is not finite.
func quantizedCoordinates(_ frames: [[Float]], limits: AxisLimits) -> [UInt8] {
    let total = frames.reduce(0) { $0 + $1.count }
    var out = [UInt8](repeating: 0, count: total * 2)
    let scaleX = 65534 / (limits.xMax - limits.xMin), scaleY = 65534 / (limits.yMax - limits.yMin)
    out.withUnsafeMutableBufferPointer { dst in
        var o = 0
        for frame in frames {
            frame.withUnsafeBufferPointer { src in
                for i in 0..<src.count {
                    let v = Double(src[i])
                    var q: UInt16 = 65535
                    if v.isFinite {
                        let t = i % 2 == 0 ? (v - limits.xMin) * scaleX : (v - limits.yMin) * scaleY
                        q = UInt16(min(max(t.rounded(), 0), 65534))
                    }
                    dst[o] = UInt8(truncatingIfNeeded: q)
                    dst[o + 1] = UInt8(truncatingIfNeeded: q >> 8)
                    o += 2
                }
            }
        }
    }
    return out
}

/// Layout of the image sprite sheets: tiles in rows of `columns`, `tilesPerSheet` to a sheet.
struct SpriteLayout {
    var side: Int
    var columns = 100
    var tilesPerSheet = 10_000

    func sheetCount(tiles: Int) -> Int { (tiles + tilesPerSheet - 1) / tilesPerSheet }

    /// Width and height in pixels of sheet `s` of `tiles` tiles in all.
    func sheetSize(_ s: Int, tiles: Int) -> (width: Int, height: Int) {
        let here = min(tilesPerSheet, tiles - s * tilesPerSheet)
        let rows = (here + columns - 1) / columns
        return (min(here, columns) * side, rows * side)
    }
}

/// Grey PNG sprite sheets of `sources` taken as one list of tiles (each `side * side` bytes, the
/// sources one after another), compressed in parallel.
func spriteSheetPNGs(_ sources: [[UInt8]], layout: SpriteLayout) throws -> [Data] {
    let tileBytes = layout.side * layout.side
    let counts = sources.map { $0.count / tileBytes }
    let tiles = counts.reduce(0, +)
    let sheets = layout.sheetCount(tiles: tiles)
    let results = SharedArray(repeating: Data?.none, count: sheets)
    DispatchQueue.concurrentPerform(iterations: sheets) { s in
        let (width, height) = layout.sheetSize(s, tiles: tiles)
        var pixels = [UInt8](repeating: 0, count: width * height)
        let first = s * layout.tilesPerSheet
        pixels.withUnsafeMutableBufferPointer { dst in
            for g in first..<min(first + layout.tilesPerSheet, tiles) {
                // Which source holds global tile g, and where.
                var local = g, source = 0
                while local >= counts[source] { local -= counts[source]; source += 1 }
                let k = g - first
                let x0 = (k % layout.columns) * layout.side, y0 = (k / layout.columns) * layout.side
                sources[source].withUnsafeBufferPointer { src in
                    for row in 0..<layout.side {
                        let from = src.baseAddress! + local * tileBytes + row * layout.side
                        (dst.baseAddress! + (y0 + row) * width + x0).update(from: from, count: layout.side)
                    }
                }
            }
        }
        results[s] = greyPNG(pixels, width: width, height: height)
    }
    return try results.array.enumerated().map { s, data in
        guard let data else {
            let (w, h) = layout.sheetSize(s, tiles: tiles)
            throw RenderFileError(path: "sprite sheet \(s)", reason: "libpng could not encode a \(w)x\(h) grey image")
        }
        return data
    }
}

/// The page's image sprite sheets (PNG), training images first: the slowest part of a page and the
/// same for every page of a run, so a caller that rebuilds the page keeps them in `spriteSheets`.
public func reportSpriteSheets(images: [UInt8], testImages: [UInt8], imageSide: Int = 28) throws -> [Data] {
    try spriteSheetPNGs([images, testImages], layout: SpriteLayout(side: imageSide))
}

/// `text` with the five HTML-special characters escaped, for element content and attributes.
public func htmlEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

/// `n` with thin groups of three digits: 60000 -> "60,000".
func groupedDigits(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

/// Width and height from a PNG's IHDR chunk, or nil if `data` does not start like a PNG.
public func pngDimensions(_ data: Data) -> (width: Int, height: Int)? {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    guard data.count >= 24, Array(data.prefix(8)) == signature else { return nil }
    let bytes = Array(data[data.startIndex + 16..<data.startIndex + 24])
    func be32(_ i: Int) -> Int { bytes[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
    return (be32(0), be32(4))
}

// MARK: - The page

/// What the page's script reads from the `gb-meta` block.
private struct ReportMeta: Encodable {
    struct Limits: Encodable { var xMin, xMax, yMin, yMax: Double }
    struct Sprites: Encodable {
        var sheets, side, columns, tilesPerSheet: Int
        /// Tile of training point i is `train + i` when `train` is not nil; of test point j, `test + j`.
        var train: Int?
        var test: Int?
    }
    var points: Int
    var testPoints: Int
    var frames: Int
    var epochLabels: [String]
    var hasPredictions: [Bool]
    var limits: Limits
    var sprites: Sprites
}

/// The page assembled as UTF-8 bytes.
private struct ReportPage {
    let inputs: ReportInputs
    let limits: AxisLimits
    let layout: SpriteLayout
    let confusion: [[Int]]

    init(_ inputs: ReportInputs) {
        self.inputs = inputs
        limits = AxisLimits.fitting(allFrames: inputs.frames + [inputs.test?.points ?? []], margin: 0)
        layout = SpriteLayout(side: inputs.imageSide)
        if inputs.confusion.isEmpty, let test = inputs.test {
            confusion = confusionCounts(trueLabels: test.labels, predicted: test.predictions)
        } else {
            confusion = inputs.confusion
        }
    }

    func html() throws -> Data {
        let figures = try inputs.figures.map { figure -> (caption: String, data: Data) in
            guard let data = FileManager.default.contents(atPath: figure.pngPath) else {
                throw RenderFileError(path: figure.pngPath, reason: "cannot read figure for the report")
            }
            return (figure.caption, data)
        }
        let sprites = try inputs.spriteSheets
            ?? reportSpriteSheets(images: inputs.images, testImages: inputs.test?.images ?? [], imageSide: inputs.imageSide)

        var page = Data()
        page.reserveCapacity(sprites.reduce(0) { $0 + $1.count } * 4 / 3 + inputs.frames.count * inputs.pointCount * 6
                             + figures.reduce(0) { $0 + $1.data.count } * 4 / 3 + 200_000)
        func put(_ s: String) { page.append(contentsOf: Array(s.utf8)) }
        func putBlock(_ id: String, _ bytes: [UInt8]) {
            put("<script type=\"application/octet-stream\" id=\"\(id)\">")
            page.append(Data(bytes).base64EncodedData())
            put("</script>\n")
        }

        let title = htmlEscaped(inputs.title)
        put("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <style>\(reportStyle)</style>
            </head>
            <body>
            <header class="gb-header"><div class="gb-wrap">
            <h1>\(title)</h1>
            <p class="gb-sub">\(summaryLine())</p>
            <nav>\(navigation(figureCount: figures.count))</nav>
            </div></header>
            <main class="gb-wrap">

            """)
        put(explorerMarkup())
        if !figures.isEmpty { put(figuresSection(figures)) }
        if !inputs.metricColumns.isEmpty { put(metricsSection()) }
        if !inputs.settings.isEmpty { put(settingsSection()) }
        put("""
            </main>
            <footer class="gb-wrap gb-footer">Written by Glassbox. This page is self-contained: \
            it needs no server and makes no network requests.</footer>

            """)

        put("<script type=\"application/json\" id=\"gb-meta\">\(try metaJSON(sheets: sprites.count))</script>\n")
        let test = inputs.test
        putBlock("gb-coords", quantizedCoordinates(inputs.frames, limits: limits))
        putBlock("gb-labels", inputs.labels)
        putBlock("gb-predictions", predictionBytes())
        putBlock("gb-test-coords", quantizedCoordinates([test?.points ?? []], limits: limits))
        putBlock("gb-test-labels", test?.labels ?? [])
        putBlock("gb-test-predictions", test?.predictions ?? [])
        for (s, sheet) in sprites.enumerated() {
            put("<img class=\"gb-sprite\" hidden alt=\"\" data-sheet=\"\(s)\" src=\"data:image/png;base64,")
            page.append(sheet.base64EncodedData())
            put("\">\n")
        }
        put("<script>\(reportScript)</script>\n</body>\n</html>\n")
        return page
    }

    private func summaryLine() -> String {
        var parts = ["\(groupedDigits(inputs.pointCount)) training points",
                     "\(inputs.frames.count) maps (epoch 0 to \(inputs.frames.count - 1))"]
        if let test = inputs.test { parts.append("\(groupedDigits(test.labels.count)) test points") }
        return parts.joined(separator: " · ")
    }

    private func navigation(figureCount: Int) -> String {
        var links = ["<a href=\"#explorer\">Explorer</a>"]
        if figureCount > 0 { links.append("<a href=\"#figures\">Figures</a>") }
        if !inputs.metricColumns.isEmpty { links.append("<a href=\"#metrics\">Metrics</a>") }
        if !inputs.settings.isEmpty { links.append("<a href=\"#settings\">Settings</a>") }
        return links.joined()
    }

    /// Per frame N bytes: the predictions, or 255 for every point of a frame without them.
    private func predictionBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(inputs.frames.count * inputs.pointCount)
        for f in 0..<inputs.frames.count {
            let p = f < inputs.predictions.count ? inputs.predictions[f] : []
            out += p.isEmpty ? [UInt8](repeating: 255, count: inputs.pointCount) : p
        }
        return out
    }

    private func metaJSON(sheets: Int) throws -> String {
        let n = inputs.pointCount
        let hasTrainImages = !inputs.images.isEmpty
        let hasTestImages = !(inputs.test?.images.isEmpty ?? true)
        let meta = ReportMeta(
            points: n, testPoints: inputs.test?.labels.count ?? 0, frames: inputs.frames.count,
            epochLabels: inputs.epochLabels.isEmpty ? (0..<inputs.frames.count).map { "Epoch \($0)" } : inputs.epochLabels,
            hasPredictions: (0..<inputs.frames.count).map { $0 < inputs.predictions.count && !inputs.predictions[$0].isEmpty },
            limits: .init(xMin: limits.xMin, xMax: limits.xMax, yMin: limits.yMin, yMax: limits.yMax),
            sprites: .init(sheets: sheets, side: layout.side, columns: layout.columns, tilesPerSheet: layout.tilesPerSheet,
                           train: hasTrainImages ? 0 : nil,
                           test: hasTestImages ? (hasTrainImages ? n : 0) : nil))
        let json = String(decoding: try JSONEncoder().encode(meta), as: UTF8.self)
        // Inside <script>, "<" could start "</script>" or "<!--"; JSON allows it escaped.
        return json.replacingOccurrences(of: "<", with: "\\u003c")
    }

    private func explorerMarkup() -> String {
        let hasTest = inputs.test != nil
        let testControls = hasTest ? """
            <label class="gb-check"><input type="checkbox" id="gb-show-test"> Test points</label>
            <label class="gb-check"><input type="checkbox" id="gb-show-mis"> Misclassified test</label>
            """ : ""
        let last = inputs.frames.count - 1
        return """
            <section id="explorer" class="gb-card">
            <div class="gb-card-head"><h2>Explorer</h2>
            <p class="gb-hint">Hidden-layer map of every training image, epoch by epoch. Hover or tap a point \
            to see its image; Ctrl + scroll (or pinch) zooms, drag pans, double-click resets.</p></div>
            <div class="gb-toolbar">
            <button type="button" id="gb-play" class="gb-button gb-primary" aria-label="Play">▶ Play</button>
            <input type="range" id="gb-epoch" min="0" max="\(last)" step="1" value="\(last)" aria-label="Epoch">
            <span id="gb-epoch-label" class="gb-epoch-label"></span>
            <div class="gb-segmented" role="group" aria-label="Colour by">
            <button type="button" data-mode="0" class="gb-on">Label</button>\
            <button type="button" data-mode="1">Prediction</button>\
            <button type="button" data-mode="2">Correct / wrong</button>
            </div>
            \(testControls)
            </div>
            <div class="gb-explorer">
            <div class="gb-map-column">
            <div class="gb-map-wrap"><canvas id="gb-map" aria-label="Map of the hidden layer"></canvas>
            <div id="gb-status" class="gb-status"></div>
            <div class="gb-zoom"><button type="button" id="gb-zoom-in" title="Zoom in">+</button>\
            <button type="button" id="gb-zoom-out" title="Zoom out">−</button>\
            <button type="button" id="gb-reset" title="Show the whole map">Reset</button></div>
            <div id="gb-toast" class="gb-toast" hidden>Hold Ctrl and scroll to zoom</div></div>
            <div id="gb-legend" class="gb-legend"></div>
            </div>
            <aside class="gb-side">
            <div class="gb-panel gb-inspector">
            <canvas id="gb-inspect-img" class="gb-empty" width="112" height="112"></canvas>
            <div class="gb-inspect-text">
            <div id="gb-inspect-title" class="gb-inspect-title">Hover over a point</div>
            <div id="gb-inspect-body" class="gb-inspect-body">Its image, label and prediction appear here.</div>
            </div>
            <div id="gb-inspect-history" class="gb-history"></div>
            </div>
            \(confusionPanel())
            \(hasTest ? """
                <div class="gb-panel"><div class="gb-panel-head"><h3 id="gb-gallery-title">Misclassified test images</h3>\
                <button type="button" id="gb-clear" class="gb-link" hidden>Clear</button></div>
                <div class="gb-gallery-wrap"><canvas id="gb-gallery"></canvas></div>
                <p class="gb-hint">Bar under an image: the predicted class's colour. Click an image to find it in the map.</p></div>
                """ : "")
            </aside>
            </div>
            </section>

            """
    }

    /// A white-to-navy shade for t in 0...1: on a page, where most cells are zero, a light ramp
    /// reads better than the figure's viridis.
    private func confusionShade(_ t: Double) -> RGBColor {
        let stops = [RGBColor(hex: 0xF7FBFF), RGBColor(hex: 0x6BAED6), RGBColor(hex: 0x08306B)]
        let x = min(max(t, 0), 1) * 2, i = min(Int(x), 1), f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return RGBColor(red: a.red + (b.red - a.red) * f, green: a.green + (b.green - a.green) * f,
                        blue: a.blue + (b.blue - a.blue) * f)
    }

    /// The confusion matrix as a table, cells shaded by the square root of the count (so single
    /// mistakes show); the script makes cells clickable.
    private func confusionPanel() -> String {
        guard !confusion.isEmpty else { return "" }
        let maxCount = max(confusion.joined().max() ?? 0, 1)
        let total = confusion.joined().reduce(0, +)
        let correct = confusion.indices.reduce(0) { $0 + confusion[$1][$1] }
        var rows = "<tr><th class=\"gb-corner\">true \\ pred</th>"
        rows += confusion.indices.map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        for (t, row) in confusion.enumerated() {
            rows += "<tr><th>\(t)</th>"
            for (p, count) in row.enumerated() {
                let shade = (Double(count) / Double(maxCount)).squareRoot()
                let color = confusionShade(shade)
                let (r, g, b) = color.bytes
                let ink = count == 0 ? "#98a2b3" : color.luminance < 0.45 ? "#fff" : "#111"
                let diagonal = t == p ? " gb-diag" : ""
                rows += "<td class=\"gb-cell\(diagonal)\" data-t=\"\(t)\" data-p=\"\(p)\" style=\"background:rgb(\(r),\(g),\(b));color:\(ink)\" "
                    + "title=\"true \(t), predicted \(p): \(count)\">\(count)</td>"
            }
            rows += "</tr>\n"
        }
        let accuracy = total > 0 ? String(format: "%.2f %%", 100 * Double(correct) / Double(total)) : "n/a"
        return """
            <div class="gb-panel"><div class="gb-panel-head"><h3>Test confusion matrix</h3>\
            <span class="gb-muted">accuracy \(accuracy)</span></div>
            <table class="gb-confusion" id="gb-confusion">\(rows)</table>
            <p class="gb-hint">Click a cell to highlight those test images in the map.</p></div>
            """
    }

    private func figuresSection(_ figures: [(caption: String, data: Data)]) -> String {
        var out = "<section id=\"figures\" class=\"gb-card\"><div class=\"gb-card-head\"><h2>Figures</h2></div>\n<div class=\"gb-figures\">\n"
        for figure in figures {
            let caption = htmlEscaped(figure.caption)
            let size = pngDimensions(figure.data).map { " width=\"\($0.width)\" height=\"\($0.height)\"" } ?? ""
            out += "<figure><img alt=\"\(caption)\"\(size) src=\"data:image/png;base64,\(figure.data.base64EncodedString())\">"
                + "<figcaption>\(caption)</figcaption></figure>\n"
        }
        return out + "</div></section>\n"
    }

    private func metricsSection() -> String {
        // A column whose cells are all numbers (or empty) is right-aligned, header included.
        let numeric = inputs.metricColumns.indices.map { c in
            inputs.metricRows.allSatisfy { row in
                let cell = row[c].trimmingCharacters(in: .whitespaces)
                return cell.isEmpty || Double(cell) != nil
            }
        }
        func cellClass(_ c: Int) -> String { numeric[c] ? " class=\"gb-num\"" : "" }
        let head = inputs.metricColumns.enumerated().map { "<th\(cellClass($0))>\(htmlEscaped($1))</th>" }.joined()
        let body = inputs.metricRows.map { row in
            "<tr>" + row.enumerated().map { "<td\(cellClass($0))>\(htmlEscaped($1))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        return """
            <section id="metrics" class="gb-card"><div class="gb-card-head"><h2>Metrics</h2></div>
            <div class="gb-scroll"><table class="gb-table"><thead><tr>\(head)</tr></thead>
            <tbody>\(body)</tbody></table></div></section>

            """
    }

    private func settingsSection() -> String {
        let rows = inputs.settings.map { "<tr><th>\(htmlEscaped($0.name))</th><td>\(htmlEscaped($0.value))</td></tr>" }
        return """
            <section id="settings" class="gb-card"><div class="gb-card-head"><h2>Run settings</h2></div>
            <table class="gb-table gb-settings"><tbody>\(rows.joined(separator: "\n"))</tbody></table></section>

            """
    }
}
