import ArgumentParser
import Core
import Protocol

@main
struct GlassboxWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox-worker",
        abstract: "A Glassbox training worker that connects to a coordinator over ZeroMQ.")
    func run() throws { print("glassbox-worker: not yet implemented") }
}
