// swift-tools-version:6.0
import PackageDescription

// Compiler flags that need a particular CPU (e.g. `-target-cpu haswell` for AVX2/FMA) are passed
// by the Makefile with -Xswiftc after checking /proc/cpuinfo, never here.
let package = Package(
    name: "Glassbox",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "glassbox-coordinator", targets: ["Coordinator"]),
        .executable(name: "glassbox-worker", targets: ["Worker"]),
        .library(name: "Core", targets: ["Core"]),
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Cluster", targets: ["Cluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `train --metrics-listen`: Prometheus' text format and the small HTTP server of `Monitoring`.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CGif", path: "Sources/CGif",
                       providers: [.apt(["libgif-dev"])]),
        // Glassbox's own C (CPU features, flush-to-zero, exec): compiled for baseline x86-64, never -mavx2.
        .target(name: "CKernels"),
        // The convolution kernels in C on 16-float registers: one source, built per function for AVX-512 and
        // for AVX2 (target attributes, so the target itself stays baseline); entered only after a CPU check.
        .target(name: "CVectorKernels"),
        .target(name: "Core", dependencies: ["CKernels", "CVectorKernels", "CBLAS", "CZlib", "CPNG", "CCairo", "CGif"],
                // report.html's style sheet and script, compiled in as byte arrays (`PackageResources`).
                resources: [.embedInCode("Render/Resources/report.css"), .embedInCode("Render/Resources/report.js")]),
        .target(name: "Protocol", dependencies: ["CZMQ"]),
        .target(name: "Cluster", dependencies: ["Core", "Protocol"]),
        // The options and argument types both executables parse (they never import each other).
        .target(name: "CommandLineOptions", dependencies: [
            "Core", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `/metrics`, the live page and the run's files over HTTP (SwiftNIO); only the coordinator imports it.
        .target(name: "Monitoring", dependencies: [
            "Core", "Cluster",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "Coordinator", dependencies: [
            "CKernels", "Core", "Protocol", "Cluster", "CommandLineOptions", "Monitoring",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Worker", dependencies: [
            "CKernels", "Core", "Protocol", "Cluster", "CommandLineOptions",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "CoreTests", dependencies: ["Core", "CVectorKernels"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Core", "Protocol"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Core", "Protocol", "Cluster"]),
        .testTarget(name: "CommandLineOptionsTests", dependencies: [
            "CommandLineOptions", "Core", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Core"]),
        // The coordinator's own files (metrics, checkpoint and event JSON), through `@testable import`.
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Cluster", "Core", "Protocol"]),
    ]
)
