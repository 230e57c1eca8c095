import ArgumentParser
import CommandLineOptions
import Core
import XCTest

/// The options both executables parse: wrong values are refused by the parser with the choices named,
/// and every choice reads back as itself.
final class CommandLineOptionsTests: XCTestCase {
    /// A command that takes a log level, as `train`, `neighbors` and the worker do.
    private struct LogLevelCommand: ParsableArguments {
        @Option var logLevel = LogLevelArgument(.info)
    }

    /// A command that takes the neighbour-search place, as `train` does.
    private struct PlaceCommand: ParsableArguments {
        @Option var umapNeighbors: NeighborSearchPlace = .local
    }

    /// A command that takes a log format, as `train`, `neighbors` and the worker do.
    private struct LogFormatCommand: ParsableArguments {
        @Option var logFormat: LogFormat = .text
    }

    func testEveryLogFormatRoundTripsAndOthersAreRefused() throws {
        XCTAssertEqual(LogFormat.allValueStrings, ["text", "json"])
        for format in LogFormat.allCases {
            XCTAssertEqual(try LogFormatCommand.parse(["--log-format", format.rawValue]).logFormat, format)
        }
        XCTAssertThrowsError(try LogFormatCommand.parse(["--log-format", "xml"])) { error in
            let message = LogFormatCommand.message(for: error)
            XCTAssertTrue(message.contains("'json'") && message.contains("xml"), message)
        }
    }

    func testUnknownDatasetIsRefusedNamingTheChoices() {
        XCTAssertThrowsError(try DataSourceOptions.parse(["--dataset", "bogus"])) { error in
            let message = DataSourceOptions.message(for: error)
            for word in ["bogus", "--dataset", "'mnist'", "'fashion-mnist'"] {
                XCTAssertTrue(message.contains(word), "\"\(message)\" does not name \(word)")
            }
        }
    }

    func testUnknownLogLevelIsRefusedNamingTheChoices() {
        XCTAssertThrowsError(try LogLevelCommand.parse(["--log-level", "bogus"])) { error in
            let message = LogLevelCommand.message(for: error)
            for word in ["bogus", "--log-level", "'debug'", "'info'", "'warning'", "'error'"] {
                XCTAssertTrue(message.contains(word), "\"\(message)\" does not name \(word)")
            }
        }
    }

    func testLogLevelIsNotReadFromItsRawValue() {
        XCTAssertThrowsError(try LogLevelCommand.parse(["--log-level", "1"]))
        XCTAssertEqual(LogLevelArgument.allValueStrings, ["debug", "info", "warning", "error"])
    }

    func testUnknownNeighborSearchPlaceIsRefusedNamingTheChoices() {
        XCTAssertThrowsError(try PlaceCommand.parse(["--umap-neighbors", "gpu"])) { error in
            let message = PlaceCommand.message(for: error)
            XCTAssertTrue(message.contains("'local'") && message.contains("'workers'"), message)
        }
    }

    func testEveryDatasetNameRoundTrips() throws {
        XCTAssertEqual(DatasetName.allValueStrings, ["mnist", "fashion-mnist"])
        for name in DatasetName.allCases {
            XCTAssertEqual(DatasetName(argument: name.defaultValueDescription), name)
            XCTAssertEqual(try DataSourceOptions.parse(["--dataset", name.defaultValueDescription]).dataset, name)
        }
    }

    func testEveryLogLevelRoundTrips() throws {
        for level in LogLevel.allCases {
            XCTAssertEqual(LogLevelArgument(argument: "\(level)")?.level, level)
            XCTAssertEqual(try LogLevelCommand.parse(["--log-level", "\(level)"]).logLevel, LogLevelArgument(level))
        }
    }

    func testEveryNeighborSearchPlaceRoundTrips() throws {
        XCTAssertEqual(NeighborSearchPlace.allValueStrings, ["local", "workers"])
        for place in NeighborSearchPlace.allCases {
            XCTAssertEqual(try PlaceCommand.parse(["--umap-neighbors", place.defaultValueDescription]).umapNeighbors, place)
        }
    }

    func testDefaultsAreMNISTAndInfo() throws {
        let options = try DataSourceOptions.parse([])
        XCTAssertNil(options.data)
        XCTAssertEqual(options.dataset, .mnist)
        XCTAssertEqual(options.source, .mnist())
        XCTAssertEqual(try LogLevelCommand.parse([]).logLevel, LogLevelArgument(.info))
    }

    func testDataDirectoryOverridesTheDatasetName() throws {
        let options = try DataSourceOptions.parse(["--dataset", "fashion-mnist", "--data", "/tmp/idx"])
        XCTAssertEqual(options.source, .directory("/tmp/idx"))
        XCTAssertEqual(try DataSourceOptions.parse(["--dataset", "fashion-mnist"]).source, .fashionMNIST)
    }

    /// The arguments a coordinator passes to the workers it spawns parse back to the same choice.
    func testWorkerArgumentsParseBackToTheSameSource() throws {
        for given in [[], ["--dataset", "fashion-mnist"], ["--data", "/srv/mnist"], ["--dataset", "mnist", "--data", "d"]] {
            let options = try DataSourceOptions.parse(given)
            XCTAssertEqual(try DataSourceOptions.parse(options.arguments).source, options.source, "\(given)")
        }
    }

    func testDataOptionsAreGivenOnlyWhenNamed() {
        for given in [["--data", "d"], ["--dataset", "mnist"], ["--data=d"], ["--dataset=mnist", "--threads", "2"]] {
            XCTAssertTrue(DataSourceOptions.areGiven(in: given), "\(given)")
        }
        for notGiven in [[], ["--connect", "tcp://h:5555", "--cache", "/tmp/c"], ["--database"], ["--", "--data"]] {
            XCTAssertFalse(DataSourceOptions.areGiven(in: notGiven), "\(notGiven)")
        }
    }

    func testHelpListsTheChoicesAndDefaults() {
        let help = DataSourceOptions.helpMessage(columns: 200)
        XCTAssertTrue(help.contains("values: mnist, fashion-mnist; default: mnist"), help)
        let levels = LogLevelCommand.helpMessage(columns: 200)
        XCTAssertTrue(levels.contains("values: debug, info, warning, error; default: info"), levels)
    }
}
