// A Cairo image surface with the drawing operations the charts need. Coordinates are pixels,
// origin top left, y down.

import CCairo

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in canvas pixels.
public typealias CanvasPoint = (x: Double, y: Double)

/// Horizontal placement of text relative to its anchor point.
public enum TextAlign: Sendable {
    case left, center, right
}

/// Vertical placement of text relative to its anchor point.
public enum TextBaseline: Sendable {
    /// The anchor is on the text's baseline.
    case baseline
    /// The anchor is at the top of the tallest letters.
    case top
    /// The anchor is halfway between ascent and descent.
    case middle
    /// The anchor is below the lowest descender.
    case bottom
}

/// Shapes of scatter-plot markers.
public enum MarkerShape: Sendable {
    case circle
    /// A five-pointed star, point up (matplotlib's `*`).
    case star
}

/// An RGB drawing surface backed by Cairo. Not thread-safe: one owner draws at a time.
public final class Canvas: @unchecked Sendable {
    public let width: Int
    public let height: Int
    /// Font family of all text (fontconfig name).
    public static let fontFamily = "DejaVu Sans"

    private let surface: OpaquePointer
    private let cr: OpaquePointer

    /// A `width` x `height` canvas filled with `background`.
    public init(width: Int, height: Int, background: RGBColor = .white) {
        precondition(width > 0 && height > 0, "Canvas needs a positive size, got \(width)x\(height)")
        self.width = width
        self.height = height
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        precondition(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS,
                     "cairo could not create a \(width)x\(height) surface")
        cr = cairo_create(surface)
        fill(background)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    // MARK: Areas

    /// Paints the whole canvas (inside the current clip) with `color`.
    public func fill(_ color: RGBColor) {
        setColor(color)
        cairo_paint(cr)
    }

    /// Fills the rectangle with top-left corner (`x`, `y`).
    public func fillRect(x: Double, y: Double, width: Double, height: Double, color: RGBColor,
                         alpha: Double = 1) {
        setColor(color, alpha: alpha)
        cairo_rectangle(cr, x, y, width, height)
        cairo_fill(cr)
    }

    /// Outlines the rectangle; with an odd `lineWidth` and integer corners the edge is snapped to
    /// pixel centres so it draws crisp.
    public func strokeRect(x: Double, y: Double, width: Double, height: Double, color: RGBColor,
                           lineWidth: Double = 1) {
        let offset = Int(lineWidth.rounded()) % 2 == 1 ? 0.5 : 0
        setColor(color)
        cairo_set_line_width(cr, lineWidth)
        cairo_set_dash(cr, nil, 0, 0)
        cairo_rectangle(cr, x + offset, y + offset, width - 2 * offset, height - 2 * offset)
        cairo_stroke(cr)
    }

    /// Fills an axis-aligned square of side `side` about each point, as one path: the fast way to
    /// draw many scatter points of one colour. Corners snap to whole pixels, so squares of whole
    /// sides come out crisp, in exactly `color`.
    public func fillSquares(_ centers: [CanvasPoint], side: Double, color: RGBColor) {
        guard !centers.isEmpty else { return }
        let half = side / 2
        for c in centers {
            cairo_rectangle(cr, (c.x - half).rounded(), (c.y - half).rounded(), side, side)
        }
        setColor(color)
        cairo_fill(cr)
    }

    // MARK: Lines and markers

    /// Strokes the polyline through `points`; `dash` lists on/off lengths in pixels (empty: solid).
    public func strokeLine(_ points: [CanvasPoint], color: RGBColor, width: Double = 1,
                           dash: [Double] = [], alpha: Double = 1) {
        guard points.count > 1 else { return }
        cairo_move_to(cr, points[0].x, points[0].y)
        for p in points.dropFirst() {
            cairo_line_to(cr, p.x, p.y)
        }
        setColor(color, alpha: alpha)
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_dash(cr, dash, Int32(dash.count), 0)
        cairo_stroke(cr)
        cairo_set_dash(cr, nil, 0, 0)
    }

    /// Draws a marker of `radius` at each centre, filled with `fill`. Without `edge` all markers
    /// are filled as one path (fast); with `edge` each marker is filled and outlined in turn, so a
    /// later marker covers the outlines of those beneath it, as in matplotlib.
    public func drawMarkers(_ shape: MarkerShape, at centers: [CanvasPoint], radius: Double,
                            fill: RGBColor, edge: RGBColor? = nil, edgeWidth: Double = 0.5) {
        guard !centers.isEmpty else { return }
        let star = shape == .star ? Canvas.starOutline(radius: radius) : []
        func addPath(_ c: CanvasPoint) {
            switch shape {
            case .circle:
                cairo_new_sub_path(cr)
                cairo_arc(cr, c.x, c.y, radius, 0, 2 * Double.pi)
            case .star:
                cairo_move_to(cr, c.x + star[0].x, c.y + star[0].y)
                for v in star.dropFirst() {
                    cairo_line_to(cr, c.x + v.x, c.y + v.y)
                }
                cairo_close_path(cr)
            }
        }
        guard let edge else {
            centers.forEach(addPath)
            setColor(fill)
            cairo_fill(cr)
            return
        }
        cairo_set_line_width(cr, edgeWidth)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER)
        cairo_set_dash(cr, nil, 0, 0)
        for c in centers {
            addPath(c)
            setColor(fill)
            cairo_fill_preserve(cr)
            setColor(edge)
            cairo_stroke(cr)
        }
    }

    /// The 10 vertices of a five-pointed star around the origin, first point straight up; the inner
    /// radius is 0.382 of the outer, as in a regular pentagram.
    static func starOutline(radius: Double) -> [CanvasPoint] {
        (0..<10).map { k in
            let r = k % 2 == 0 ? radius : radius * 0.381_966
            let angle = -Double.pi / 2 + Double(k) * Double.pi / 5
            return (r * cos(angle), r * sin(angle))
        }
    }

    // MARK: Text

    /// Draws `text` at (`x`, `y`) placed by `align` and `baseline`, turned by `rotation` radians
    /// (clockwise, as y points down) about the anchor.
    public func drawText(_ text: String, x: Double, y: Double, size: Double, color: RGBColor = .black,
                         align: TextAlign = .left, baseline: TextBaseline = .baseline,
                         rotation: Double = 0, bold: Bool = false) {
        guard !text.isEmpty else { return }
        setFont(size: size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, text, &extents)
        var font = cairo_font_extents_t()
        cairo_font_extents(cr, &font)
        let dx: Double
        switch align {
        case .left: dx = 0
        case .center: dx = -extents.x_advance / 2
        case .right: dx = -extents.x_advance
        }
        let dy: Double
        switch baseline {
        case .baseline: dy = 0
        case .top: dy = font.ascent
        case .middle: dy = (font.ascent - font.descent) / 2
        case .bottom: dy = -font.descent
        }
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_rotate(cr, rotation)
        cairo_move_to(cr, dx, dy)
        setColor(color)
        cairo_show_text(cr, text)
        cairo_new_path(cr)
        cairo_restore(cr)
    }

    /// The advance width of `text` in pixels at `size`.
    public func textWidth(_ text: String, size: Double, bold: Bool = false) -> Double {
        setFont(size: size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, text, &extents)
        return extents.x_advance
    }

    // MARK: Images and clipping

    /// Draws a `width` x `height` 8-bit grey image (0 black, 255 white) with its top-left corner at
    /// (`x`, `y`), each pixel enlarged to a `scale` x `scale` block.
    public func drawGrayImage(_ gray: [UInt8], width: Int, height: Int, x: Double, y: Double,
                              scale: Double) {
        precondition(gray.count == width * height, "grey image \(width)x\(height) needs \(width * height) bytes")
        let image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))!
        defer { cairo_surface_destroy(image) }
        cairo_surface_flush(image)
        let stride = Int(cairo_image_surface_get_stride(image))
        let data = cairo_image_surface_get_data(image)!
        data.withMemoryRebound(to: UInt32.self, capacity: stride / 4 * height) { words in
            for row in 0..<height {
                for col in 0..<width {
                    let v = UInt32(gray[row * width + col])
                    words[row * stride / 4 + col] = 0xFF00_0000 | v << 16 | v << 8 | v
                }
            }
        }
        cairo_surface_mark_dirty(image)
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, image, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_rectangle(cr, 0, 0, Double(width), Double(height))
        cairo_fill(cr)
        cairo_restore(cr)
    }

    /// Runs `body` with drawing restricted to the given rectangle.
    public func withClip<T>(x: Double, y: Double, width: Double, height: Double,
                            _ body: () throws -> T) rethrows -> T {
        cairo_save(cr)
        cairo_rectangle(cr, x, y, width, height)
        cairo_clip(cr)
        defer { cairo_restore(cr) }
        return try body()
    }

    /// The canvas as straight-alpha RGBA.
    public func image() -> RGBAImage {
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = cairo_image_surface_get_data(surface)!
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        // Cairo's ARGB32 is one native-endian UInt32 per pixel, colour premultiplied by alpha.
        data.withMemoryRebound(to: UInt32.self, capacity: stride / 4 * height) { words in
            pixels.withUnsafeMutableBufferPointer { out in
                for row in 0..<height {
                    for col in 0..<width {
                        let argb = words[row * stride / 4 + col]
                        let a = argb >> 24
                        let o = (row * width + col) * 4
                        out[o + 3] = UInt8(a)
                        guard a != 0 else { continue }
                        out[o] = UInt8(Canvas.unpremultiply((argb >> 16) & 0xFF, a))
                        out[o + 1] = UInt8(Canvas.unpremultiply((argb >> 8) & 0xFF, a))
                        out[o + 2] = UInt8(Canvas.unpremultiply(argb & 0xFF, a))
                    }
                }
            }
        }
        return RGBAImage(width: width, height: height, pixels: pixels)
    }

    @inline(__always)
    private static func unpremultiply(_ c: UInt32, _ a: UInt32) -> UInt32 {
        a == 255 ? c : min(255, (c * 255 + a / 2) / a)
    }

    // MARK: State

    private func setColor(_ color: RGBColor, alpha: Double = 1) {
        if alpha >= 1 {
            cairo_set_source_rgb(cr, color.red, color.green, color.blue)
        } else {
            cairo_set_source_rgba(cr, color.red, color.green, color.blue, alpha)
        }
    }

    private func setFont(size: Double, bold: Bool) {
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }
}
