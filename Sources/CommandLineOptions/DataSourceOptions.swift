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

    // Optional so that a worker can tell "nothing given" (receive the coordinator's data set) from the
    // default; everyone else reads `dataset`, which is mnist when nothing was given.
    @Option(name: .customLong("dataset"), help: ArgumentHelp(
        "The data set to load when --data is not given: mnist (from data/mnist; `make data` fetches it) or "
            + "fashion-mnist (from \(DatasetSource.fashionMNISTDirectory), Debian's dataset-fashion-mnist) "
            + "(default: mnist).",
        valueName: "name"))
    var datasetChoice: DatasetName?

    public init() {}

    /// The named data set: the one given, or mnist.
    public var dataset: DatasetName { datasetChoice ?? .mnist }

    /// Whether --data or --dataset was given at all.
    public var isGiven: Bool { data != nil || datasetChoice != nil }

    /// The directory or named data set these options select.
    public var source: DatasetSource { data.map { .directory($0) } ?? dataset.source }

    /// Reads, checks and fingerprints the selected data set (see `DatasetSource.load`).
    public func load() throws -> DatasetSplit { try DatasetSource.load(source) }

    /// The same choice as command-line arguments, for a worker this process starts.
    public var arguments: [String] { data.map { ["--data", $0] } ?? ["--dataset", dataset.rawValue] }
}
