// The figures of the reference experiment. Each function takes plain arrays and returns an image;
// the caller writes it with `writePNG` or collects frames for `writeAnimatedGIF`.

/// The 2-D map of labelled points: `points` is `[x0, y0, x1, y1, ...]`, one label (0-9) per point,
/// drawn as small squares in tab10 inside fixed `limits`, with a colour bar of the classes.
///
/// Points are drawn in an interleaved order, batched by colour in small chunks, so that no class
/// is painted wholesale over another even when the input is sorted by label.
public func drawScatter(points: [Float], labels: [UInt8], title: String, limits: AxisLimits,
                        size: (width: Int, height: Int) = (800, 600), colorBar: Bool = true,
                        pointSize: Double = 2, xTitle: String = "UMAP 1", yTitle: String = "UMAP 2")
    -> RGBAImage {
    let map = MapFigure(size: size, limits: limits, title: title, colorBar: colorBar,
                        xTitle: xTitle, yTitle: yTitle)
    map.drawLabelledPoints(points, labels: labels, pointSize: pointSize)
    return map.finish()
}

/// The final training map coloured by label with `test` points (`[x0, y0, ...]`, placed by the
/// same embedding) drawn on top as gold stars with thin black edges, a `test data` legend and a
/// dashed grid.
public func drawTrainTestMap(train: [Float], trainLabels: [UInt8], test: [Float], limits: AxisLimits,
                             title: String, size: (width: Int, height: Int) = (800, 600),
                             pointSize: Double = 2, starRadius: Double = 4.5,
                             xTitle: String = "UMAP 1", yTitle: String = "UMAP 2") -> RGBAImage {
    let map = MapFigure(size: size, limits: limits, title: title, colorBar: true,
                        xTitle: xTitle, yTitle: yTitle)
    map.frame.drawGrid(on: map.canvas, xTicks: map.xTicks, yTicks: map.yTicks)
    map.drawLabelledPoints(train, labels: trainLabels, pointSize: pointSize)
    let stars = map.pixelPoints(test)
    map.canvas.withClip(map.frame.area) {
        map.canvas.drawMarkers(.star, at: stars, radius: starRadius, fill: .gold, edge: .black,
                               edgeWidth: 0.4)
    }
    let legend = [(label: "test data", swatch: LegendSwatch.marker(.star, fill: .gold, edge: .black))]
    drawLegend(on: map.canvas, in: map.frame, entries: legend,
               avoiding: map.pixelPoints(train) + stars)
    return map.finish()
}

/// Training curves: an `Accuracy` panel (acc, val acc) and a `loss` panel (loss, val loss) side by
/// side; x is the epoch (1, 2, ...); training in red, validation in blue, with markers, legends and
/// a dashed grid. Arrays may be empty or of different lengths.
public func drawAccuracyLoss(acc: [Double], valAcc: [Double], loss: [Double], valLoss: [Double],
                             size: (width: Int, height: Int) = (1200, 480)) -> RGBAImage {
    let canvas = Canvas(width: size.width, height: size.height)
    let half = Double(size.width) / 2
    drawSeriesPanel(on: canvas, in: PixelRect(x: 0, y: 0, width: half, height: Double(size.height)),
                    title: "Accuracy", yTitle: "accuracy",
                    series: [("acc", acc, .red), ("val acc", valAcc, .blue)])
    drawSeriesPanel(on: canvas, in: PixelRect(x: half, y: 0, width: half, height: Double(size.height)),
                    title: "loss", yTitle: "loss",
                    series: [("loss", loss, .red), ("val loss", valLoss, .blue)])
    return canvas.image()
}

/// The confusion matrix `counts[true][predicted]` from label arrays of equal length; labels at or
/// above `classes` are ignored.
public func confusionCounts(trueLabels: [UInt8], predicted: [UInt8], classes: Int = 10) -> [[Int]] {
    precondition(trueLabels.count == predicted.count,
                 "\(trueLabels.count) true labels but \(predicted.count) predictions")
    var counts = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (t, p) in zip(trueLabels, predicted) where Int(t) < classes && Int(p) < classes {
        counts[Int(t)][Int(p)] += 1
    }
    return counts
}

/// A confusion matrix (`counts[true][predicted]`, square) as a viridis heat map with each count
/// written in its cell, row 0 at the top, axis titles `predicted` and `true`, and a colour bar.
public func drawConfusionMatrix(counts: [[Int]], title: String,
                                size: (width: Int, height: Int) = (700, 620)) -> RGBAImage {
    let n = counts.count
    precondition(counts.allSatisfy { $0.count == n }, "confusion matrix must be square")
    let canvas = Canvas(width: size.width, height: size.height)
    let maxCount = max(counts.joined().max() ?? 0, 1)
    let ticks = Ticks.categories(n)
    // y runs from n at the bottom to 0 at the top, so row 0 is drawn first from the top.
    let limits = AxisLimits(xMin: 0, xMax: Double(n), yMin: Double(n), yMax: 0)
    let barWidth = 20.0, barSpace = 110.0
    var frame = PlotFrame.layout(in: PixelRect(x: 0, y: 0, width: Double(size.width), height: Double(size.height)),
                                 limits: limits, yTicks: ticks, canvas: canvas, hasXTitle: true,
                                 hasYTitle: true, rightMargin: barSpace)
    // Square cells: shrink the longer side of the plot area.
    let side = min(frame.area.width, frame.area.height)
    frame.area.x += ((frame.area.width - side) / 2).rounded()
    frame.area.width = side
    frame.area.height = side

    let cell = side / Double(max(n, 1))
    let textSize = min(13, cell * 0.32)
    for (row, rowCounts) in counts.enumerated() {
        for (col, count) in rowCounts.enumerated() {
            let color = Palette.viridis(Double(count) / Double(maxCount))
            let x0 = frame.x(Double(col)).rounded(), x1 = frame.x(Double(col + 1)).rounded()
            let y0 = frame.y(Double(row)).rounded(), y1 = frame.y(Double(row + 1)).rounded()
            canvas.fillRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0, color: color)
            canvas.drawText(String(count), x: (x0 + x1) / 2, y: (y0 + y1) / 2, size: textSize,
                            color: color.luminance < 0.45 ? .white : .black, align: .center,
                            baseline: .middle)
        }
    }
    frame.drawAxes(on: canvas, title: title, xTicks: ticks, yTicks: ticks, xTitle: "predicted",
                   yTitle: "true")

    let barTicks = Ticks.nice(from: 0, to: Double(maxCount), target: 6)
    let bar = PixelRect(x: frame.area.right + 24, y: frame.area.y, width: barWidth, height: frame.area.height)
    drawColorBar(on: canvas, in: bar, colors: (0..<256).map { Palette.viridis(Double($0) / 255) },
                 ticks: zip(barTicks.values, barTicks.labels).map { ($0 / Double(maxCount), $1) },
                 title: "count")
    return canvas.image()
}

/// A `rows` x `cols` grid of `side` x `side` grey images (`images` holds them one after another,
/// 0 black to 255 white), each enlarged `scale` times and titled with its label.
public func drawImageGrid(images: [UInt8], labels: [UInt8], rows: Int = 10, cols: Int = 10,
                          side: Int = 28, scale: Int = 3, title: String = "MNIST training images")
    -> RGBAImage {
    let count = min(images.count / (side * side), labels.count, rows * cols)
    let cellImage = Double(side * scale), labelHeight = 18.0, gap = 10.0, top = 50.0
    let width = Int(Double(cols) * (cellImage + gap) + gap)
    let height = Int(top + Double(rows) * (labelHeight + cellImage + gap) + gap)
    let canvas = Canvas(width: width, height: height)
    canvas.drawText(title, x: Double(width) / 2, y: top - 16, size: FontSize.title, align: .center,
                    baseline: .bottom)
    for i in 0..<count {
        let x = gap + Double(i % cols) * (cellImage + gap)
        let y = top + Double(i / cols) * (labelHeight + cellImage + gap)
        canvas.drawText(String(labels[i]), x: x + cellImage / 2, y: y + labelHeight - 4,
                        size: FontSize.tick, align: .center, baseline: .bottom)
        let pixels = Array(images[(i * side * side)..<((i + 1) * side * side)])
        canvas.drawGrayImage(pixels, width: side, height: side, x: x, y: y + labelHeight,
                             scale: Double(scale))
    }
    return canvas.image()
}

// MARK: - Shared layout

/// A 2-D map figure: title, plot area with fixed limits, optional class colour bar.
private struct MapFigure {
    let canvas: Canvas
    let frame: PlotFrame
    let title: String
    let colorBar: Bool
    let xTicks: Ticks
    let yTicks: Ticks
    let xTitle: String
    let yTitle: String

    init(size: (width: Int, height: Int), limits: AxisLimits, title: String, colorBar: Bool,
         xTitle: String, yTitle: String) {
        canvas = Canvas(width: size.width, height: size.height)
        xTicks = Ticks.nice(from: limits.xMin, to: limits.xMax)
        yTicks = Ticks.nice(from: limits.yMin, to: limits.yMax)
        frame = PlotFrame.layout(in: PixelRect(x: 0, y: 0, width: Double(size.width), height: Double(size.height)),
                                 limits: limits, yTicks: yTicks, canvas: canvas, hasXTitle: !xTitle.isEmpty,
                                 hasYTitle: !yTitle.isEmpty, rightMargin: colorBar ? 80 : 20)
        self.title = title
        self.colorBar = colorBar
        self.xTitle = xTitle
        self.yTitle = yTitle
    }

    /// Pixel positions of the finite points of `[x0, y0, x1, y1, ...]`.
    func pixelPoints(_ points: [Float]) -> [CanvasPoint] {
        var result: [CanvasPoint] = []
        result.reserveCapacity(points.count / 2)
        for i in stride(from: 0, to: points.count - 1, by: 2) where points[i].isFinite && points[i + 1].isFinite {
            result.append((frame.x(Double(points[i])), frame.y(Double(points[i + 1]))))
        }
        return result
    }

    /// Draws point i in tab10 colour `labels[i]` (mod 10), in `interleavedOrder`, each chunk of
    /// `chunk` points filled one colour at a time (colour order rotating between chunks).
    func drawLabelledPoints(_ points: [Float], labels: [UInt8], pointSize: Double, chunk: Int = 1024) {
        let n = points.count / 2
        precondition(labels.count == n, "\(n) points but \(labels.count) labels")
        let classes = Palette.tab10.count
        var buckets = [[CanvasPoint]](repeating: [], count: classes)
        let order = interleavedOrder(count: n)
        canvas.withClip(frame.area) {
            for (chunkIndex, start) in stride(from: 0, to: n, by: chunk).enumerated() {
                for i in order[start..<min(start + chunk, n)] {
                    let x = points[2 * i], y = points[2 * i + 1]
                    guard x.isFinite && y.isFinite else { continue }
                    buckets[Int(labels[i]) % classes].append((frame.x(Double(x)), frame.y(Double(y))))
                }
                for k in 0..<classes {
                    let label = (k + chunkIndex) % classes
                    canvas.fillSquares(buckets[label], side: pointSize, color: Palette.tab10[label])
                    buckets[label].removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// Draws axes, title and colour bar over the data and returns the image.
    func finish() -> RGBAImage {
        frame.drawAxes(on: canvas, title: title, xTicks: xTicks, yTicks: yTicks, xTitle: xTitle, yTitle: yTitle)
        if colorBar {
            let bar = PixelRect(x: frame.area.right + 22, y: frame.area.y, width: 18, height: frame.area.height)
            drawClassColorBar(on: canvas, in: bar)
        }
        return canvas.image()
    }
}

/// A fixed permutation of 0..<count that visits far-apart indices in turn (i * step mod count with
/// step near count / golden ratio and coprime to count), so a label-sorted input is drawn mixed.
func interleavedOrder(count: Int) -> [Int] {
    guard count > 2 else { return Array(0..<count) }
    var step = Int(Double(count) * 0.618_034)
    while gcd(step, count) != 1 { step += 1 }
    var order = [Int](repeating: 0, count: count)
    var j = 0
    for i in 0..<count {
        order[i] = j
        j += step
        if j >= count { j -= count }
    }
    return order
}

private func gcd(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

/// One panel of line series against epoch 1, 2, ... with circle markers, dashed grid and legend.
private func drawSeriesPanel(on canvas: Canvas, in outer: PixelRect, title: String, yTitle: String,
                             series: [(label: String, values: [Double], color: RGBColor)]) {
    let epochs = series.map(\.values.count).max() ?? 0
    var ys = DataRange()
    series.forEach { $0.values.forEach { ys.include($0) } }
    let (yMin, yMax) = ys.padded(by: 0.05)
    let xPad = max(0.05 * Double(max(epochs - 1, 1)), 0.5)
    let limits = AxisLimits(xMin: 1 - xPad, xMax: Double(max(epochs, 1)) + xPad, yMin: yMin, yMax: yMax)
    let xTicks = Ticks.nice(from: limits.xMin, to: limits.xMax, target: 8, minStep: 1)
    let yTicks = Ticks.nice(from: yMin, to: yMax)
    let frame = PlotFrame.layout(in: outer, limits: limits, yTicks: yTicks, canvas: canvas,
                                 hasXTitle: true, hasYTitle: true)
    frame.drawGrid(on: canvas, xTicks: xTicks, yTicks: yTicks)
    var drawn: [CanvasPoint] = []
    for s in series {
        let points: [CanvasPoint] = s.values.enumerated().filter { $0.element.isFinite }.map {
            (frame.x(Double($0.offset + 1)), frame.y($0.element))
        }
        canvas.strokeLine(points, color: s.color, width: 1.8)
        canvas.drawMarkers(.circle, at: points, radius: 3.5, fill: s.color)
        // The legend keeps clear of the lines as well as of their markers.
        for (a, b) in zip(points, points.dropFirst()) {
            drawn += (0..<8).map { k -> CanvasPoint in
                let t = Double(k) / 8
                return (a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)
            }
        }
        drawn += points.suffix(1)
    }
    frame.drawAxes(on: canvas, title: title, xTicks: xTicks, yTicks: yTicks, xTitle: "epoch", yTitle: yTitle)
    drawLegend(on: canvas, in: frame,
               entries: series.map { ($0.label, LegendSwatch.line($0.color, marker: .circle)) },
               avoiding: drawn)
}
