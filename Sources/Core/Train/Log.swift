import Foundation

/// Progress and event lines, written unbuffered so they show up at once in logs and pipes.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug = 0, info, warning, error
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    public init?(name: String) {
        guard let l = LogLevel.allCases.first(where: { "\($0)" == name }) else { return nil }
        self = l
    }
}

/// How a `Log` writes its lines: `text` for people, `json` (one object a line) for log shippers.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// One line of the log with everything either format shows.
public struct LogRecord: Sendable, Encodable {
    /// UTC, ISO 8601 with milliseconds (`utcTimestamp`).
    public var time: String
    public var level: LogLevel
    /// The log's prefix, e.g. "coordinator" or "worker host:12 rank 1".
    public var source: String
    public var message: String
    /// The structured fields of a training progress line; nil for every other line.
    public var progress: TrainingProgress?

    public init(time: String, level: LogLevel, source: String, message: String, progress: TrainingProgress? = nil) {
        self.time = time; self.level = level; self.source = source; self.message = message; self.progress = progress
    }

    enum CodingKeys: String, CodingKey { case time, level, source, message }

    /// The fields of `progress` sit beside time, level, source and message in the same object.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode("\(level)", forKey: .level)
        try container.encode(source, forKey: .source)
        try container.encode(message, forKey: .message)
        try progress?.encode(to: encoder)
    }

    /// The line as `format` writes it, without its newline: text `TIME [source level] message`
    /// (the level only when it is not info), or one JSON object with sorted keys.
    public func rendered(as format: LogFormat) -> String {
        switch format {
        case .text:
            let tag = level == .info ? "" : " \(level)"
            return "\(time) [\(source)\(tag)] \(message)"
        case .json:
            // Every field is a string or a number (non-finite ones as strings), so encoding cannot fail.
            return String(decoding: (try? LogRecord.encoder.encode(self)) ?? Data(), as: UTF8.self)
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        return encoder
    }()
}

/// Writes lines at or above `level`, each with the UTC time and `prefix`, in `format`: info and debug
/// to standard output, warnings and errors to standard error.
public struct Log: Sendable {
    public var level: LogLevel
    /// Prefix of every line, e.g. "glassbox" or "worker 2".
    public var prefix: String
    public var format: LogFormat

    public init(level: LogLevel = .info, prefix: String = "glassbox", format: LogFormat = .text) {
        self.level = level; self.prefix = prefix; self.format = format
    }

    /// Logs `line` at `level`.
    public func callAsFunction(_ line: String, _ level: LogLevel = .info) {
        write(line, level, progress: nil)
    }

    /// A training progress line (info). On a terminal, text progress lines redraw in place until the
    /// next other line; in a pipe or file each is a line of its own.
    public func progress(_ fields: TrainingProgress) {
        write(fields.message, .info, progress: fields)
    }

    /// The line as written now.
    func record(_ message: String, _ level: LogLevel, progress: TrainingProgress?) -> LogRecord {
        LogRecord(time: utcTimestamp(Date()), level: level, source: prefix, message: message, progress: progress)
    }

    private func write(_ message: String, _ level: LogLevel, progress: TrainingProgress?) {
        guard level >= self.level else { return }
        let record = record(message, level, progress: progress)
        let toStandardError = level >= .warning
        let redraw = progress != nil && format == .text && isatty(STDOUT_FILENO) == 1
        TerminalLine.shared.write(record.rendered(as: format), redraw: redraw, toStandardError: toStandardError)
    }
}

/// The progress line left open on standard output (drawn without its newline), process-wide because the
/// terminal is: the next line of any log first ends it.
final class TerminalLine: @unchecked Sendable {
    static let shared = TerminalLine()
    private let lock = NSLock()
    private var state = ProgressRedraw()

    func write(_ line: String, redraw: Bool, toStandardError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        let (close, text) = state.next(line, redraw: redraw)
        if !close.isEmpty { FileHandle.standardOutput.write(Data(close.utf8)) }
        (toStandardError ? FileHandle.standardError : FileHandle.standardOutput).write(Data(text.utf8))
    }
}

/// What to write for each line so that progress lines redraw in place: a redrawn line returns the
/// carriage, writes itself and erases the rest of the old one (ESC [K), and leaves its newline out;
/// any other line first ends an open progress line (`close`, always for standard output).
public struct ProgressRedraw: Sendable, Equatable {
    /// Whether a redrawn line is on the terminal without its newline.
    public private(set) var isOpen = false

    public init() {}

    /// What to write for `line`: `close` to standard output first, then `text` to the line's stream.
    public mutating func next(_ line: String, redraw: Bool) -> (close: String, text: String) {
        if redraw {
            isOpen = true
            return ("", "\r" + line + "\u{1B}[K")
        }
        let close = isOpen ? "\n" : ""
        isOpen = false
        return (close, line + "\n")
    }
}

/// `date` in UTC as ISO 8601 with milliseconds, e.g. `2026-12-06T21:30:05.123Z` (rounded to the nearest
/// millisecond, as Foundation's `ISO8601DateFormatter` does).
public func utcTimestamp(_ date: Date) -> String {
    let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
    let msPerDay: Int64 = 86_400_000
    let days = milliseconds >= 0 ? milliseconds / msPerDay : (milliseconds - msPerDay + 1) / msPerDay
    let ms = Int(milliseconds - days * msPerDay)
    let (year, month, day) = civilDate(daysSince1970: days)
    return "\(zeroPadded(year, 4))-\(zeroPadded(month, 2))-\(zeroPadded(day, 2))T\(zeroPadded(ms / 3_600_000, 2)):"
        + "\(zeroPadded(ms / 60_000 % 60, 2)):\(zeroPadded(ms / 1000 % 60, 2)).\(zeroPadded(ms % 1000, 3))Z"
}

/// The proleptic Gregorian date of a day count from 1970-01-01: eras of 400 years (146,097 days) counted
/// from 0000-03-01, so that the leap day ends each year.
func civilDate(daysSince1970: Int64) -> (year: Int, month: Int, day: Int) {
    let z = daysSince1970 + 719_468  // days from 0000-03-01
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthFromMarch = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (Int(year), Int(month), Int(day))
}

/// `v` in decimal with leading zeros to `width` digits.
public func zeroPadded(_ v: Int, _ width: Int) -> String {
    let digits = String(v)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
