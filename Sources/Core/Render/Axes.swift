// What every chart shares: data limits, "nice" ticks, the data-to-pixel mapping of a panel, and
// the drawing of grids, axes, legends and colour bars.

/// Data limits of a plot. A map's limits are computed once for all frames so the frames line up.
public struct AxisLimits: Sendable, Equatable {
    public var xMin: Double
    public var xMax: Double
    public var yMin: Double
    public var yMax: Double

    /// Limits from their four values; a reversed pair (min above max) flips that axis.
    public init(xMin: Double, xMax: Double, yMin: Double, yMax: Double) {
        self.xMin = xMin
        self.xMax = xMax
        self.yMin = yMin
        self.yMax = yMax
    }

    /// Limits that hold every finite point of every frame (each `[x0, y0, x1, y1, ...]`), widened
    /// on each side by `margin` times the span. A zero span is widened to 1; no points gives -1...1.
    public static func fitting(allFrames: [[Float]], margin: Double = 0.05) -> AxisLimits {
        var xs = DataRange(), ys = DataRange()
        for frame in allFrames {
            for i in stride(from: 0, to: frame.count - 1, by: 2) {
                xs.include(Double(frame[i]))
                ys.include(Double(frame[i + 1]))
            }
        }
        let (xMin, xMax) = xs.padded(by: margin)
        let (yMin, yMax) = ys.padded(by: margin)
        return AxisLimits(xMin: xMin, xMax: xMax, yMin: yMin, yMax: yMax)
    }
}

/// The smallest and largest finite value seen.
struct DataRange {
    private(set) var low = Double.infinity
    private(set) var high = -Double.infinity

    mutating func include(_ v: Double) {
        guard v.isFinite else { return }
        low = min(low, v)
        high = max(high, v)
    }

    /// The range widened by `margin` times its span on each side; a single value gets ±0.5 and an
    /// empty range -1...1.
    func padded(by margin: Double) -> (Double, Double) {
        guard low <= high else { return (-1, 1) }
        guard high > low else { return (low - 0.5, high + 0.5) }
        let pad = (high - low) * margin
        return (low - pad, high + pad)
    }
}

/// Tick positions in data units with their labels.
struct Ticks {
    var values: [Double]
    var labels: [String]

    /// Ticks at a step of 1, 2 or 5 times a power of ten (at least `minStep`), as close to
    /// `target` of them between `low` and `high` as such steps allow (fewer on a tie), labelled
    /// with as many decimals as the step needs.
    static func nice(from low: Double, to high: Double, target: Int = 6, minStep: Double = 0) -> Ticks {
        let lo = min(low, high), hi = max(low, high)
        guard hi > lo, lo.isFinite, hi.isFinite else { return Ticks(values: [], labels: []) }
        func tickCount(_ step: Double) -> Int {
            Int((hi / step).rounded(.down) - (lo / step).rounded(.up)) + 1
        }
        let magnitude = powerOfTen(atMost: (hi - lo) / Double(max(target, 1)))
        let candidates = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50].map { $0 * magnitude }
        let step = max(candidates.filter { $0 >= minStep }.min { a, b in
            let da = abs(tickCount(a) - target), db = abs(tickCount(b) - target)
            return da != db ? da < db : a > b
        } ?? minStep, minStep)
        let first = (lo / step).rounded(.up), last = (hi / step).rounded(.down)
        guard last >= first else { return Ticks(values: [], labels: []) }
        let values = stride(from: first, through: last, by: 1).map { $0 * step }
        return Ticks(values: values, labels: values.map { formatTick($0, step: step) })
    }

    /// Ticks at the centres of `count` categories laid out on 0...count, labelled 0, 1, ...
    static func categories(_ count: Int) -> Ticks {
        Ticks(values: (0..<count).map { Double($0) + 0.5 }, labels: (0..<count).map { String($0) })
    }
}

/// The largest power of ten at or below `x` (1 for non-positive or non-finite `x`).
func powerOfTen(atMost x: Double) -> Double {
    guard x > 0, x.isFinite else { return 1 }
    var p = 1.0
    while p * 10 <= x { p *= 10 }
    while p > x { p /= 10 }
    return p
}

/// `value` written with the decimals that `step` needs (0.25 -> 2, 5 -> 0), no exponent.
func formatTick(_ value: Double, step: Double) -> String {
    var decimals = 0
    var scaled = step.magnitude
    while decimals < 8 && (scaled - scaled.rounded()).magnitude > 1e-6 * max(1, scaled) {
        scaled *= 10
        decimals += 1
    }
    var unit = 1
    for _ in 0..<decimals { unit *= 10 }
    let n = Int((value * Double(unit)).rounded())
    let whole = String(n.magnitude / UInt(unit))
    let sign = n < 0 ? "-" : ""
    guard decimals > 0 else { return sign + whole }
    let fraction = String(n.magnitude % UInt(unit))
    return sign + whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

/// A rectangle in canvas pixels.
struct PixelRect {
    var x: Double
    var y: Double
    var width: Double
    var height: Double
    var right: Double { x + width }
    var bottom: Double { y + height }

    func contains(_ p: CanvasPoint) -> Bool {
        p.x >= x && p.x <= right && p.y >= y && p.y <= bottom
    }
}

extension Canvas {
    /// Runs `body` with drawing restricted to `rect`.
    func withClip<T>(_ rect: PixelRect, _ body: () throws -> T) rethrows -> T {
        try withClip(x: rect.x, y: rect.y, width: rect.width, height: rect.height, body)
    }
}

/// Chart text sizes in pixels.
enum FontSize {
    static let title = 17.0
    static let axisTitle = 14.0
    static let tick = 12.0
    static let legend = 12.0
}

/// One panel of a chart: its plot area in pixels and the data limits it shows.
struct PlotFrame {
    var area: PixelRect
    var limits: AxisLimits

    /// Pixel column of data value `v`.
    func x(_ v: Double) -> Double {
        area.x + (v - limits.xMin) / (limits.xMax - limits.xMin) * area.width
    }

    /// Pixel row of data value `v` (up is larger unless the limits are reversed).
    func y(_ v: Double) -> Double {
        area.bottom - (v - limits.yMin) / (limits.yMax - limits.yMin) * area.height
    }

    /// Lays out a panel inside `outer`: room for a title on top, tick labels and axis titles on
    /// the left and bottom, and `rightMargin` pixels on the right.
    static func layout(in outer: PixelRect, limits: AxisLimits, yTicks: Ticks, canvas: Canvas,
                       hasXTitle: Bool, hasYTitle: Bool, rightMargin: Double = 20) -> PlotFrame {
        let labelWidth = yTicks.labels.map { canvas.textWidth($0, size: FontSize.tick) }.max() ?? 0
        let left = 14 + (hasYTitle ? FontSize.axisTitle + 10 : 0) + labelWidth + 8
        let top = 46.0
        let bottom = 8 + FontSize.tick + 10 + (hasXTitle ? FontSize.axisTitle + 12 : 0) + 8
        let area = PixelRect(x: (outer.x + left).rounded(), y: outer.y + top,
                             width: (outer.width - left - rightMargin).rounded(),
                             height: (outer.height - top - bottom).rounded())
        return PlotFrame(area: area, limits: limits)
    }

    /// Dashed light-grey grid lines at the ticks; draw before the data.
    func drawGrid(on canvas: Canvas, xTicks: Ticks, yTicks: Ticks) {
        let grey = RGBColor(grey: 0.72)
        for v in xTicks.values {
            let px = x(v).rounded() + 0.5
            canvas.strokeLine([(px, area.y), (px, area.bottom)], color: grey, width: 1, dash: [4, 3])
        }
        for v in yTicks.values {
            let py = y(v).rounded() + 0.5
            canvas.strokeLine([(area.x, py), (area.right, py)], color: grey, width: 1, dash: [4, 3])
        }
    }

    /// The panel title, frame, outward ticks with labels and the axis titles; draw after the data.
    func drawAxes(on canvas: Canvas, title: String, xTicks: Ticks, yTicks: Ticks,
                  xTitle: String = "", yTitle: String = "") {
        let ink = RGBColor.black
        canvas.strokeRect(x: area.x, y: area.y, width: area.width + 1, height: area.height + 1, color: ink)
        for (v, label) in zip(xTicks.values, xTicks.labels) {
            let px = x(v).rounded() + 0.5
            canvas.strokeLine([(px, area.bottom + 1), (px, area.bottom + 6)], color: ink)
            canvas.drawText(label, x: px, y: area.bottom + 8, size: FontSize.tick, align: .center,
                            baseline: .top)
        }
        for (v, label) in zip(yTicks.values, yTicks.labels) {
            let py = y(v).rounded() + 0.5
            canvas.strokeLine([(area.x - 5, py), (area.x, py)], color: ink)
            canvas.drawText(label, x: area.x - 8, y: py, size: FontSize.tick, align: .right,
                            baseline: .middle)
        }
        canvas.drawText(title, x: area.x + area.width / 2, y: area.y - 14, size: FontSize.title,
                        align: .center, baseline: .bottom)
        canvas.drawText(xTitle, x: area.x + area.width / 2, y: area.bottom + 8 + FontSize.tick + 12,
                        size: FontSize.axisTitle, align: .center, baseline: .top)
        let labelWidth = yTicks.labels.map { canvas.textWidth($0, size: FontSize.tick) }.max() ?? 0
        canvas.drawText(yTitle, x: area.x - 8 - labelWidth - 10, y: area.y + area.height / 2,
                        size: FontSize.axisTitle, align: .center, baseline: .bottom,
                        rotation: -Double.pi / 2)
    }
}

/// How a legend entry shows its series.
enum LegendSwatch {
    /// A short line with an optional marker in its middle.
    case line(RGBColor, marker: MarkerShape?)
    /// A single marker with an optional edge colour.
    case marker(MarkerShape, fill: RGBColor, edge: RGBColor?)
}

/// Draws a boxed legend in the corner of `frame` that covers the fewest of `avoiding` (pixel
/// positions of the data), preferring upper right, upper left, lower left, lower right on ties.
func drawLegend(on canvas: Canvas, in frame: PlotFrame, entries: [(label: String, swatch: LegendSwatch)],
                avoiding points: [CanvasPoint] = []) {
    guard !entries.isEmpty else { return }
    let padding = 8.0, rowHeight = 20.0, swatchWidth = 30.0, inset = 10.0
    let textWidth = entries.map { canvas.textWidth($0.label, size: FontSize.legend) }.max() ?? 0
    let width = (padding * 2 + swatchWidth + 8 + textWidth).rounded()
    let height = (padding * 2 + rowHeight * Double(entries.count)).rounded()
    let a = frame.area
    let left = a.x + inset, right = a.right - inset - width
    let top = a.y + inset, bottom = a.bottom - inset - height
    let corners = [(right, top), (left, top), (left, bottom), (right, bottom)].map {
        PixelRect(x: $0.0.rounded(), y: $0.1.rounded(), width: width, height: height)
    }
    let box = corners.min { lhs, rhs in
        points.lazy.filter(lhs.contains).count < points.lazy.filter(rhs.contains).count
    } ?? corners[0]

    canvas.fillRect(x: box.x, y: box.y, width: box.width, height: box.height, color: .white, alpha: 0.85)
    canvas.strokeRect(x: box.x, y: box.y, width: box.width, height: box.height, color: RGBColor(grey: 0.8))
    for (row, entry) in entries.enumerated() {
        let cy = box.y + padding + rowHeight * (Double(row) + 0.5)
        let x0 = box.x + padding, x1 = x0 + swatchWidth
        switch entry.swatch {
        case let .line(color, marker):
            canvas.strokeLine([(x0, cy), (x1, cy)], color: color, width: 1.5)
            if let marker {
                canvas.drawMarkers(marker, at: [((x0 + x1) / 2, cy)], radius: 3.5, fill: color)
            }
        case let .marker(shape, fill, edge):
            canvas.drawMarkers(shape, at: [((x0 + x1) / 2, cy)], radius: 7, fill: fill, edge: edge)
        }
        canvas.drawText(entry.label, x: x1 + 8, y: cy, size: FontSize.legend, baseline: .middle)
    }
}

/// A vertical colour bar: `colors` stacked bottom to top in equal bands, each tick a fraction of
/// the height from the bottom with its label on the right.
func drawColorBar(on canvas: Canvas, in rect: PixelRect, colors: [RGBColor],
                  ticks: [(fraction: Double, label: String)], title: String = "") {
    let band = rect.height / Double(colors.count)
    for (i, color) in colors.enumerated() {
        // Bands overlap by a pixel so no background shows between them.
        let top = rect.bottom - band * Double(i + 1)
        canvas.fillRect(x: rect.x, y: top.rounded(.down), width: rect.width,
                        height: (band + 1).rounded(.up), color: color)
    }
    canvas.strokeRect(x: rect.x, y: rect.y, width: rect.width + 1, height: rect.height + 1, color: .black)
    for tick in ticks {
        let py = (rect.bottom - tick.fraction * rect.height).rounded() + 0.5
        canvas.strokeLine([(rect.right + 1, py), (rect.right + 5, py)], color: .black)
        canvas.drawText(tick.label, x: rect.right + 8, y: py, size: FontSize.tick, baseline: .middle)
    }
    canvas.drawText(title, x: rect.x + rect.width / 2, y: rect.y - 8, size: FontSize.tick,
                    align: .center, baseline: .bottom)
}

/// The colour bar of the ten classes: tab10 bands labelled 0-9 at their centres.
func drawClassColorBar(on canvas: Canvas, in rect: PixelRect) {
    let n = Palette.tab10.count
    drawColorBar(on: canvas, in: rect, colors: Palette.tab10,
                 ticks: (0..<n).map { ((Double($0) + 0.5) / Double(n), String($0)) })
}
