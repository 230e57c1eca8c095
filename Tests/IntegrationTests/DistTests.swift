import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The release tarball from `make dist` (its path in GLASSBOX_DIST, which `make test` sets): its
/// programs carry the Swift runtime and run with the toolchain hidden.
final class DistTests: XCTestCase {
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToEnd("/usr/bin/env", arguments)
    }

    /// The folder the toolchain's Swift runtime is loaded from: where the test build's (dynamically linked)
    /// coordinator finds libswiftCore.so.
    private func swiftRuntimeFolder() throws -> String {
        let ldd = try run(["ldd", buildDirectory.appendingPathComponent("glassbox-coordinator").path])
        guard let line = ldd.output.split(separator: "\n").first(where: { $0.contains("libswiftCore.so => /") }),
              let path = line.split(separator: " ").first(where: { $0.hasPrefix("/") }) else {
            throw XCTSkip("the test build does not load libswiftCore.so from a toolchain:\n\(ldd.output)")
        }
        return (String(path) as NSString).deletingLastPathComponent
    }

    func testTarballProgramsRunWithTheSwiftToolchainHidden() throws {
        guard let tarball = ProcessInfo.processInfo.environment["GLASSBOX_DIST"] else {
            throw XCTSkip("GLASSBOX_DIST is not set (make test builds the tarball with `make dist` and sets it)")
        }
        guard getuid() == 0 else { throw XCTSkip("hiding the toolchain with a bind mount needs root") }
        let data = try mnistDirectory()
        let dir = try temporaryDirectory(self, "dist")
        let untar = try run(["tar", "-C", dir, "-xzf", tarball])
        XCTAssertEqual(untar.status, 0, untar.output)
        let top = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("glassbox-") })
        let bin = "\(dir)/\(top)/bin"
        for file in ["README-deploy.md", "MNIST-SHA256", "VERSION", "deploy/systemd/glassbox-worker@.service",
                     "deploy/slurm/glassbox.sbatch"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(top)/\(file)"), "the tarball lacks \(file)")
        }
        for program in ["glassbox-coordinator", "glassbox-worker"] {
            let ldd = try run(["ldd", "\(bin)/\(program)"])
            XCTAssertEqual(ldd.status, 0, ldd.output)
            XCTAssertFalse(ldd.output.contains("libswift"), "\(program) still loads the Swift runtime:\n\(ldd.output)")
            XCTAssertFalse(ldd.output.contains("not found"), ldd.output)
        }

        // An empty folder mounted over the toolchain's runtime, in a mount namespace of the test's own.
        let runtime = try swiftRuntimeFolder()
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        func hidden(_ command: String) throws -> (status: Int32, output: String) {
            try run(["unshare", "--mount", "--", "/bin/sh", "-c",
                     "mount --bind '\(empty)' '\(runtime)' && ls '\(runtime)' | wc -l && \(command)"])
        }
        let probe = try hidden("true")
        XCTAssertEqual(probe.status, 0, probe.output)
        XCTAssertTrue(probe.output.hasPrefix("0\n"), "the runtime folder was not hidden:\n\(probe.output)")
        for program in ["glassbox-coordinator", "glassbox-worker"] {
            let help = try hidden("'\(bin)/\(program)' --help")
            XCTAssertEqual(help.status, 0, help.output)
            XCTAssertTrue(help.output.contains("USAGE: \(program)"), help.output)
        }
        let training = try hidden("'\(bin)/glassbox-coordinator' train --data '\(data)' --limit-train 2000 --epochs 1 "
                                  + "--no-maps --spawn-workers 1 --out '\(dir)/run'")
        XCTAssertEqual(training.status, 0, training.output)
        XCTAssertTrue(training.output.contains("test accuracy"), training.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/weights.safetensors"))
    }
}
