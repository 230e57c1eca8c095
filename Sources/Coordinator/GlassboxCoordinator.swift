import ArgumentParser
import Core

@main
struct GlassboxCoordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox-coordinator",
        abstract: "Train the Glassbox CNN and watch its hidden representation organise itself.",
        subcommands: [TrainCommand.self, EmbedCommand.self, NeighborsCommand.self, BenchCommand.self, KeygenCommand.self],
        defaultSubcommand: TrainCommand.self)

    static func main() {
        FlushToZero.enable()
        main(nil)
    }
}
