import Cluster
import CommandLineOptions
import Core
import Foundation

/// The settings of `train` that shape a run's numbers and outputs: as given, else with `--resume` the
/// checkpoint's, else the defaults. So `train --resume DIR` alone continues a run as it was started;
/// an option given again must agree with the checkpoint (`Checkpoint.difference` names the first that
/// does not). `--epochs` may differ: a resumed run can train for longer.
struct TrainChoices {
    static let defaultEpochs = 10, defaultSeed: UInt64 = 1, defaultMicroBatch = 25, defaultNeighbors = 40
    static let defaultUMAPMode = MapStage.Mode.warm

    var epochs: Int
    var seed: UInt64
    var microBatch: Int
    /// Training images to use (nil: all).
    var limitTrain: Int?
    var maps: Bool
    var umapMode: MapStage.Mode
    var nNeighbors: Int
    var dataSource: DataSourceOptions

    /// `saved` is the checkpoint's settings with `--resume`; `dataGiven` whether --data or --dataset was
    /// on the command line (a parsed `DataSourceOptions` cannot tell a defaulted --dataset from a given one).
    init(_ command: TrainCommand, saved: CheckpointSettings?, dataGiven: Bool) throws {
        let run = saved?.run
        epochs = command.epochs ?? run?.epochs ?? Self.defaultEpochs
        seed = command.seed ?? saved?.seed ?? Self.defaultSeed
        microBatch = command.microBatch ?? saved?.microBatchSize ?? Self.defaultMicroBatch
        limitTrain = command.limitTrain ?? saved?.trainingImages
        maps = command.noMaps ? false : run?.maps ?? true
        nNeighbors = command.nNeighbors ?? run?.nNeighbors ?? Self.defaultNeighbors
        if let mode = command.umapMode {
            umapMode = mode
        } else if let name = run?.umapMode {
            guard let mode = MapStage.Mode(rawValue: name) else {
                throw RunError("--resume: the checkpoint's UMAP mode \"\(name)\" is not one of "
                               + MapStage.Mode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            umapMode = mode
        } else {
            umapMode = Self.defaultUMAPMode
        }
        dataSource = command.dataSource
        if !dataGiven, let arguments = run?.dataArguments {
            guard arguments.count == 2 else {
                throw RunError("--resume: the checkpoint's data set \(arguments) is not --data DIR or --dataset NAME")
            }
            switch arguments[0] {
            case "--data": dataSource.data = arguments[1]
            case "--dataset":
                guard let name = DatasetName(rawValue: arguments[1]) else {
                    throw RunError("--resume: the checkpoint's data set \"\(arguments[1])\" is not one this build knows")
                }
                dataSource.dataset = name
            default:
                throw RunError("--resume: the checkpoint's data set \(arguments) is not --data DIR or --dataset NAME")
            }
        }
    }

    /// What the checkpoint records of these choices (the data directory made absolute, so that a run
    /// resumed from another directory finds it).
    var recorded: RunChoices {
        var data = dataSource.arguments
        if data.first == "--data", let dir = data.last, !dir.hasPrefix("/") {
            data[1] = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dir)
        }
        return RunChoices(epochs: epochs, dataArguments: data, maps: maps, umapMode: umapMode.rawValue,
                          nNeighbors: nNeighbors)
    }
}
