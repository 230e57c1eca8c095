import Foundation

/// Keeps lines that a peer can trigger at will (a refused CURVE key, a malformed message, a refused hello)
/// from flooding the log: the first line of each kind in a window is logged in full, the others in that
/// window are only counted, and once the window has passed one summary line gives their number. A flood
/// of 1,000 bad peers thus costs two lines per kind and window, and every kind still shows up once.
/// Thread-safe: the pool's server thread and the ZAP handler's thread share one.
public final class RepeatedLineLimiter: @unchecked Sendable {
    /// One kind's current window: when it began and how many lines it has held back.
    private struct Window {
        var start: Double
        var heldBack: Int
    }

    /// Seconds a window lasts.
    public let window: Double
    private let lock = NSLock()
    private var windows: [String: Window] = [:]

    /// A limiter whose windows last `window` seconds.
    public init(window: Double = 10) {
        self.window = window
    }

    /// One occurrence of `kind` at time `t`: the lines to log now, in order. That is `line` for the first
    /// of its window (after the summary of the previous window, if it held lines back), nothing otherwise.
    public func note(_ kind: String, _ line: @autoclosure () -> String, at t: Double) -> [String] {
        lock.withLock {
            if var current = windows[kind], t - current.start < window {
                current.heldBack += 1
                windows[kind] = current
                return []
            }
            let summary = windows[kind].flatMap { summaryLine(kind, $0) }
            windows[kind] = Window(start: t, heldBack: 0)
            return (summary.map { [$0] } ?? []) + [line()]
        }
    }

    /// The summaries of the windows that ended by `t` and held lines back; those windows are closed, so a
    /// later occurrence of their kind is logged in full again.
    public func due(at t: Double) -> [String] {
        lock.withLock {
            var lines: [String] = []
            for (kind, current) in windows.sorted(by: { $0.key < $1.key }) where t - current.start >= window {
                if let line = summaryLine(kind, current) { lines.append(line) }
                windows[kind] = nil
            }
            return lines
        }
    }

    /// Every window's summary regardless of time (the end of a run), all windows closed.
    public func flush() -> [String] { due(at: .infinity) }

    private func summaryLine(_ kind: String, _ window: Window) -> String? {
        guard window.heldBack > 0 else { return nil }
        return "\(kind): \(window.heldBack) more in the last \(Int(self.window.rounded())) s "
            + "(each kind is logged once per \(Int(self.window.rounded())) s, then counted)"
    }
}
