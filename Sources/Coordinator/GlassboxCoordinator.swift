import ArgumentParser
import CKernels
import Core

@main
struct GlassboxCoordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox-coordinator",
        abstract: "Train the Glassbox CNN and watch its hidden representation organise itself.",
        subcommands: [TrainCommand.self, LaunchCommand.self, EmbedCommand.self, NeighborsCommand.self, BenchCommand.self,
                      KeygenCommand.self, RenderCommand.self],
        defaultSubcommand: TrainCommand.self)

    static func main() {
        #if GLASSBOX_SSE42  // the Makefile passes it with -target-cpu haswell: stop here rather than at SIGILL
        glassbox_exit_unless_avx2_fma("glassbox-coordinator")
        #endif
        BLASCore.prepareProcess(program: "glassbox-coordinator")
        FlushToZero.enable()
        main(nil)
    }
}
