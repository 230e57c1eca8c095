import Foundation
import XCTest

/// The Python environment the tests that read Glassbox's files with other people's code use: the
/// repository's `.venv-python` (gitignored), made with `python3 -m venv` and filled from PyPI the first
/// time a test needs it (pip needs the network once; later runs reuse it). `make test` thus makes it.
enum PythonEnvironment {
    /// What the readers need: TensorBoard's own event reader, and numpy, matplotlib and safetensors for
    /// the README's snippet (Pillow comes with matplotlib).
    static let requirements = ["tensorboard==2.21.*", "numpy==2.4.*", "matplotlib==3.11.*", "safetensors==0.8.*"]
    static let modules = ["tensorboard", "numpy", "matplotlib", "safetensors", "PIL"]

    /// The repository root: this file is Tests/IntegrationTests/PythonSupport.swift.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The environment's python, made or completed first if `modules` do not all import; a test that
    /// cannot get one fails with pip's or venv's own words.
    static func python() throws -> String {
        let venv = repository + "/.venv-python"
        let python = venv + "/bin/python"
        let log = NSTemporaryDirectory() + "glassbox-venv-\(getpid()).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        func run(_ path: String, _ arguments: [String], timeout: Double) throws -> (Int32, String) {
            let process = try RunningProcess(path: path, arguments, outputPath: log)
            let status = process.wait(timeout: timeout)
            return (status, process.output)
        }
        let importAll = "import " + modules.joined(separator: ", ")
        if FileManager.default.isExecutableFile(atPath: python), try run(python, ["-c", importAll], timeout: 120).0 == 0 {
            return python
        }
        if !FileManager.default.isExecutableFile(atPath: python) {
            let (status, output) = try run("/usr/bin/python3", ["-m", "venv", venv], timeout: 120)
            guard status == 0 else { throw Failure("python3 -m venv \(venv) failed (python3-venv installed?): \(output)") }
        }
        let (status, output) = try run(python, ["-m", "pip", "install", "-q", "--timeout", "60"] + requirements, timeout: 900)
        guard status == 0 else { throw Failure("pip install \(requirements.joined(separator: " ")) into \(venv): \(output)") }
        return python
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
