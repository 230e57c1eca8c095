// Colours of the figures: matplotlib's tab10 for the ten classes and a viridis-like ramp for heat
// maps.

/// An opaque colour with channels in 0...1.
public struct RGBColor: Sendable, Equatable {
    public var red: Double
    public var green: Double
    public var blue: Double

    /// A colour from channels in 0...1.
    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// A colour from `0xRRGGBB`.
    public init(hex: UInt32) {
        self.init(red: Double((hex >> 16) & 0xFF) / 255,
                  green: Double((hex >> 8) & 0xFF) / 255,
                  blue: Double(hex & 0xFF) / 255)
    }

    /// A grey of the given level (0 black, 1 white).
    public init(grey level: Double) {
        self.init(red: level, green: level, blue: level)
    }

    /// The channels as 8-bit values, rounded.
    public var bytes: (red: UInt8, green: UInt8, blue: UInt8) {
        func byte(_ v: Double) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
        return (byte(red), byte(green), byte(blue))
    }

    /// Relative luminance (Rec. 709 weights on the stored values), used to pick readable text.
    public var luminance: Double { 0.2126 * red + 0.7152 * green + 0.0722 * blue }

    public static let black = RGBColor(grey: 0)
    public static let white = RGBColor(grey: 1)
    /// matplotlib's `'r'`.
    public static let red = RGBColor(red: 1, green: 0, blue: 0)
    /// matplotlib's `'b'`.
    public static let blue = RGBColor(red: 0, green: 0, blue: 1)
    /// matplotlib's `'gold'` (#FFD700), the colour of test points.
    public static let gold = RGBColor(hex: 0xFFD700)
}

/// The palettes used by the charts.
public enum Palette {
    /// matplotlib's tab10, one colour per class 0-9.
    public static let tab10: [RGBColor] = [
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
        0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
    ].map { RGBColor(hex: $0) }

    /// viridis sampled at t = 0, 1/8, ..., 1 (matplotlib's values); `viridis(_:)` interpolates.
    static let viridisStops: [RGBColor] = [
        0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21918C,
        0x28AE80, 0x5EC962, 0xADDC30, 0xFDE725,
    ].map { RGBColor(hex: $0) }

    /// A viridis-like sequential colour for t in 0...1 (dark purple to yellow); t is clamped.
    public static func viridis(_ t: Double) -> RGBColor {
        let x = min(max(t.isNaN ? 0 : t, 0), 1) * Double(viridisStops.count - 1)
        let i = min(Int(x), viridisStops.count - 2)
        let f = x - Double(i)
        let a = viridisStops[i], b = viridisStops[i + 1]
        return RGBColor(red: a.red + (b.red - a.red) * f,
                        green: a.green + (b.green - a.green) * f,
                        blue: a.blue + (b.blue - a.blue) * f)
    }
}
