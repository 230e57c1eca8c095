import ArgumentParser
import Core

/// The data sets a run can name instead of a directory.
public enum DatasetName: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// MNIST in data/mnist, where `make data` puts it.
    case mnist
    /// Fashion-MNIST where the Debian package dataset-fashion-mnist installs it.
    case fashionMNIST = "fashion-mnist"

    /// Where the named data set's files are.
    public var source: DatasetSource {
        switch self {
        case .mnist: return .mnist()
        case .fashionMNIST: return .fashionMNIST
        }
    }
}

/// Where the images come from: `--data DIR` or `--dataset NAME`. The coordinator's `train` and
/// `neighbors` and the worker take the same group, so a spawned worker is started with
/// `arguments` and loads the coordinator's files.
public struct DataSourceOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Directory holding the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            + "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz); overrides --dataset. "
            + "A worker must load the same files as its coordinator.",
        valueName: "dir"))
    public var data: String?

    @Option(help: ArgumentHelp(
        "The data set to load when --data is not given: mnist (from data/mnist; `make data` fetches it) or "
            + "fashion-mnist (from \(DatasetSource.fashionMNISTDirectory), Debian's dataset-fashion-mnist).",
        valueName: "name"))
    public var dataset: DatasetName = .mnist

    public init() {}

    /// The directory or named data set these options select.
    public var source: DatasetSource { data.map { .directory($0) } ?? dataset.source }

    /// Reads, checks and fingerprints the selected data set (see `DatasetSource.load`).
    public func load() throws -> DatasetSplit { try DatasetSource.load(source) }

    /// Whether `arguments` (a command line, program name excluded) give --data or --dataset. The parsed
    /// options cannot tell a defaulted --dataset from a given one; a worker receives the coordinator's data
    /// set only when neither was given.
    public static func areGiven(in arguments: [String]) -> Bool {
        let options = arguments.prefix { $0 != "--" }
        return options.contains { argument in
            ["--data", "--dataset"].contains { argument == $0 || argument.hasPrefix($0 + "=") }
        }
    }

    /// The same choice as command-line arguments, for a worker this process starts.
    public var arguments: [String] { data.map { ["--data", $0] } ?? ["--dataset", dataset.rawValue] }
}
