// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Glassbox's readers of untrusted bytes, kept out of the main package so that
// `swift build` and `make test` never build them. Built by `make fuzz` with
//   swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
//     --disable-dead-strip --scratch-path ../.build-fuzz
// (Both sanitizers go in one -Xswiftc -sanitize=fuzzer,address: the driver keeps only the last -sanitize.)
// Each executable defines `LLVMFuzzerTestOneInput` (libFuzzer supplies `main`), and writes its seed
// corpus, made with the library's own encoders, when GLASSBOX_FUZZ_SEEDS names a directory.

// The executables have no top-level code: libFuzzer's `main` calls in.
let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

// Each fuzz target: executable name, source folder, the library product whose reader it fuzzes.
let fuzzTargets = [("fuzz-wire", "FuzzWire", "Protocol"), ("fuzz-idx", "FuzzIDX", "Core"),
                   ("fuzz-safetensors", "FuzzSafetensors", "Core"), ("fuzz-npy", "FuzzNPY", "Core"),
                   ("fuzz-umap-model", "FuzzUMAPModel", "Core"), ("fuzz-checkpoint", "FuzzCheckpoint", "Cluster")]

let package = Package(
    name: "GlassboxFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        // The main package, whatever its checkout's folder is called.
        .package(name: "Glassbox", path: ".."),
    ],
    targets: [.target(name: "FuzzSupport")] + fuzzTargets.map { name, folder, library in
        .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: library, package: "Glassbox")],
                          path: "Sources/" + folder, swiftSettings: fuzzTarget)
    }
)
