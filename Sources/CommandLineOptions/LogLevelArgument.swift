import ArgumentParser
import Core

/// `--log-level debug|info|warning|error`: Core's `LogLevel` read and shown by name. A wrapper rather than
/// a conformance of `LogLevel` itself, because ArgumentParser shows the default of a `RawRepresentable`
/// and `CaseIterable` type by its raw value, and `LogLevel`'s raw values are the Ints that order it.
public struct LogLevelArgument: ExpressibleByArgument, CaseIterable, CustomStringConvertible, Equatable, Sendable {
    /// The level the option names.
    public let level: LogLevel

    public init(_ level: LogLevel) { self.level = level }

    public init?(argument: String) {
        guard let level = LogLevel(name: argument) else { return nil }
        self.level = level
    }

    public static let allCases = LogLevel.allCases.map(LogLevelArgument.init)

    /// The level's name: how `--help` lists the choices and the default, and how a spawned worker is
    /// passed it.
    public var description: String { "\(level)" }
}
