import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which OpenBLAS kernels ("core") this process runs, and whether they fit the CPU.
///
/// Debian's OpenBLAS 0.3.21 does not know recent CPUs and falls back to old kernels (`Prescott`, SSE3, on a
/// Sapphire Rapids Xeon: sgemm at a quarter of its speed). It reads `OPENBLAS_CORETYPE` only when the library
/// is loaded, so the fix is to run the program again with the variable set: `prepareProcess` does that.
public enum BLASCore {
    /// What to do about the core OpenBLAS chose.
    public enum Decision: Equatable, Sendable {
        /// The core fits the CPU (or is one this table does not know, so not second-guessed).
        case keep(core: String)
        /// The user set OPENBLAS_CORETYPE: respected as given.
        case userChoice(core: String)
        /// OpenBLAS fell back to `was`, weaker than the CPU: run again with OPENBLAS_CORETYPE=`core`.
        case reexec(core: String, was: String)
    }

    /// The environment variable that OpenBLAS reads at load time.
    public static let environmentKey = "OPENBLAS_CORETYPE"
    /// Set beside OPENBLAS_CORETYPE when Glassbox chose it: the core OpenBLAS had picked itself.
    public static let replacedKey = "GLASSBOX_BLAS_REPLACED"

    /// The best OpenBLAS 0.3.21 core for `cpu`, or nil if it has neither AVX2+FMA nor AVX-512.
    public static func bestCore(for cpu: CPUFeatures) -> String? {
        if cpu.hasAVX512Core { return "SkylakeX" }
        if cpu.avx2 && cpu.fma { return cpu.amd ? "Zen" : "Haswell" }
        return nil
    }

    /// The widest vectors a core's kernels use: 0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512; nil for a name not in
    /// OpenBLAS 0.3.21's x86-64 list (a newer library's core, taken as fitting).
    static func tier(of core: String) -> Int? {
        switch core.lowercased() {
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
             "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat":
            return 0
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator":
            return 1
        case "haswell", "zen":
            return 2
        case "skylakex", "cooperlake", "sapphirerapids":
            return 3
        default:
            return nil
        }
    }

    /// The decision for OpenBLAS's own choice `core` on `cpu`, given the user's OPENBLAS_CORETYPE (nil if
    /// unset). Pure: the table test covers it.
    public static func decide(cpu: CPUFeatures, core: String, userSetting: String?) -> Decision {
        if let user = userSetting, !user.isEmpty { return .userChoice(core: user) }
        guard let best = bestCore(for: cpu), let have = tier(of: core), let want = tier(of: best), have < want else {
            return .keep(core: core)
        }
        return .reexec(core: best, was: core)
    }

    /// The core OpenBLAS runs, as it names it (e.g. "Zen", "Prescott").
    public static var current: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// "OpenBLAS 0.3.21", from the library's configuration string.
    public static var version: String {
        guard let config = openblas_get_config().map({ String(cString: $0) }) else { return "OpenBLAS" }
        return config.split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// One line for logs and the benchmark: library, core, and who chose it.
    public static func describe(environment: [String: String]) -> String {
        var line = "BLAS: \(version), core \(current)"
        if let was = environment[replacedKey] {
            line += " (was \(was); set by glassbox)"
        } else if let user = environment[environmentKey], !user.isEmpty {
            line += " (\(environmentKey)=\(user) set by the user)"
        }
        return line
    }

    /// Runs this program again with OPENBLAS_CORETYPE set if OpenBLAS fell back to kernels weaker than the
    /// CPU; otherwise returns, having logged any core that was not OpenBLAS's own choice. Call at the top
    /// of main, before any BLAS call and before any other thread starts.
    public static func prepareProcess(program: String) {
        let log = Log(prefix: program)
        let environment = self.environment
        switch decide(cpu: .current, core: current, userSetting: environment[environmentKey]) {
        case .userChoice:
            log(describe(environment: environment))
        case .keep:
            break
        case .reexec(let core, let was):
            setenv(environmentKey, core, 1)
            setenv(replacedKey, was, 1)
            let failure = execSelf()
            // Still here: the exec failed; run on with the weaker core rather than not at all.
            unsetenv(environmentKey)
            unsetenv(replacedKey)
            log("BLAS: could not restart with \(environmentKey)=\(core) (\(String(cString: strerror(failure)))); "
                + "running on OpenBLAS's \(was) kernels", .warning)
        }
    }

    /// This process' OPENBLAS_CORETYPE and GLASSBOX_BLAS_REPLACED (absent ones left out).
    public static var environment: [String: String] {
        var result: [String: String] = [:]
        for key in [environmentKey, replacedKey] {
            if let value = getenv(key) { result[key] = String(cString: value) }
        }
        return result
    }

    /// Replaces this process by itself with the same arguments; returns only on failure, with its errno.
    private static func execSelf() -> Int32 {
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        _ = arguments.withUnsafeBufferPointer { glassbox_exec_self($0.baseAddress!) }
        let failure = errno
        arguments.forEach { free($0) }
        return failure
    }
}
