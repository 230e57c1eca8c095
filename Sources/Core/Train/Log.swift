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

public struct Log: Sendable {
    public var level: LogLevel
    /// Prefix of every line, e.g. "glassbox" or "worker 2".
    public var prefix: String

    public init(level: LogLevel = .info, prefix: String = "glassbox") {
        self.level = level; self.prefix = prefix
    }

    public func callAsFunction(_ line: String, _ level: LogLevel = .info) {
        guard level >= self.level else { return }
        let tag = level == .info ? "" : " \(level)"
        let text = "[\(prefix)\(tag)] \(line)\n"
        let handle = level >= .warning ? FileHandle.standardError : FileHandle.standardOutput
        handle.write(Data(text.utf8))
    }
}
