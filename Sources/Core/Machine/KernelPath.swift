import Foundation

/// Which build of the 32-channel convolution kernels (most of the network's arithmetic) a process runs.
/// One build of the programs carries both and picks at start-up: `avx2` (the Swift SIMD8 kernels of
/// `Conv2x2`, for any x86-64 CPU with AVX2 + FMA) and `avx512` (the C kernels of `CConvKernels` on
/// 16-float registers). Every output lane does the same fused multiply-adds in the same order on both, so
/// they give the same bits: a cluster of mixed CPUs still agrees with one process (the tests compare the
/// paths bit for bit wherever the CPU runs both).
public enum KernelPath: String, CaseIterable, Sendable, Comparable {
    case avx2
    case avx512

    public static func < (a: KernelPath, b: KernelPath) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Whether a CPU with `features` can run this path.
    public func runs(on features: CPUFeatures) -> Bool {
        switch self {
        case .avx2: features.avx2 && features.fma
        case .avx512: features.hasAVX512Core && features.fma
        }
    }

    /// The paths this machine's CPU runs, narrowest first.
    public static let supported: [KernelPath] = allCases.filter { $0.runs(on: .current) }

    /// The widest path this machine's CPU runs (`avx2` where it runs none: the programs stop before any
    /// kernel on such a CPU).
    public static var widest: KernelPath { supported.last ?? .avx2 }

    /// The path `choice` names on this machine ("auto": the widest), or an error naming what the CPU lacks.
    public static func resolve(_ choice: String) throws -> KernelPath {
        if choice == "auto" { return widest }
        guard let path = KernelPath(rawValue: choice) else {
            throw KernelPathError("unknown kernels '\(choice)'; expected auto, "
                                  + allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard supported.contains(path) else {
            throw KernelPathError("this CPU (\(CPUFeatures.current.model.isEmpty ? "unnamed" : CPUFeatures.current.model)) "
                                  + "cannot run the \(path.rawValue) kernels: it has "
                                  + "\(CPUFeatures.current.vectorExtensions.joined(separator: " ")), the \(path.rawValue) "
                                  + "kernels need \(path.requirements); use --kernels "
                                  + "\(supported.map(\.rawValue).joined(separator: " or "))")
        }
        return path
    }

    /// The CPU extensions the path needs, by their /proc/cpuinfo names.
    public var requirements: String {
        switch self {
        case .avx2: "avx2 fma"
        case .avx512: "avx512f avx512bw avx512dq avx512vl fma"
        }
    }

    /// The process' path: what `CNNEngine`s use unless told otherwise. The widest the CPU runs until the
    /// program sets it (`--kernels`), once, at start-up.
    public static var current: KernelPath {
        get { currentLock.withLock { currentValue } }
        set {
            precondition(supported.contains(newValue), "the CPU cannot run the \(newValue.rawValue) kernels")
            currentLock.withLock { currentValue = newValue }
        }
    }
    private nonisolated(unsafe) static var currentValue = widest
    private static let currentLock = NSLock()
}

/// A `--kernels` choice this machine cannot honour.
public struct KernelPathError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
