import Foundation

/// Which build of the network's kernels (the 32-channel convolutions and the dense layers' products: nearly
/// all its arithmetic) a process runs. One build of the programs carries them all and picks at start-up:
/// `avx2` (the Swift SIMD8 convolutions of `Conv2x2` and the AVX2 build of `CVectorKernels`' products, for
/// any x86-64 CPU with AVX2 + FMA), `avx512` (`CVectorKernels` built for AVX-512 throughout) and
/// `reference` (the readable one-element-at-a-time loops every fast path is tested against; slow). Every
/// output element is the same chain of fused multiply-adds in the same order on all three, so they give the
/// same bits: a cluster of mixed CPUs trains the weights of one process (the tests compare every path the
/// CPU runs bit for bit, and train with two workers on different paths).
public enum KernelPath: String, CaseIterable, Sendable, Comparable {
    case reference
    case avx2
    case avx512

    public static func < (a: KernelPath, b: KernelPath) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Whether a CPU with `features` can run this path.
    public func runs(on features: CPUFeatures) -> Bool {
        switch self {
        case .reference: true
        case .avx2: features.avx2 && features.fma
        case .avx512: features.hasAVX512Core && features.fma
        }
    }

    /// The paths this machine's CPU runs, narrowest first.
    public static let supported: [KernelPath] = allCases.filter { $0.runs(on: .current) }

    /// The widest path this machine's CPU runs.
    public static var widest: KernelPath { supported.last ?? .reference }

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
        case .reference: "nothing"
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
