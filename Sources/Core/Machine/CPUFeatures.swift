import CKernels

/// The vector extensions of the CPU this process runs on (as usable: the OS saves their registers).
public struct CPUFeatures: Sendable, Equatable {
    public var avx2 = false
    public var fma = false
    public var avx512f = false
    public var avx512bw = false
    public var avx512dq = false
    public var avx512vl = false
    public var avx512bf16 = false
    /// The SHA extensions (with SSSE3 and SSE4.1), which SHA-256 uses where present.
    public var sha = false
    /// Made by AMD (OpenBLAS names its AVX2 kernels for AMD `Zen`).
    public var amd = false
    /// The CPU's brand string, e.g. "AMD EPYC 7B13 64-Core Processor"; empty if it has none.
    public var model = ""

    public init(avx2: Bool = false, fma: Bool = false, avx512f: Bool = false, avx512bw: Bool = false,
                avx512dq: Bool = false, avx512vl: Bool = false, avx512bf16: Bool = false, sha: Bool = false,
                amd: Bool = false, model: String = "") {
        self.avx2 = avx2; self.fma = fma; self.avx512f = avx512f; self.avx512bw = avx512bw
        self.avx512dq = avx512dq; self.avx512vl = avx512vl; self.avx512bf16 = avx512bf16; self.sha = sha
        self.amd = amd; self.model = model
    }

    /// This machine's CPU, read by cpuid.
    public static let current: CPUFeatures = {
        var f = glassbox_read_cpu_features()
        let model = withUnsafeBytes(of: &f.model) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return CPUFeatures(avx2: f.avx2, fma: f.fma, avx512f: f.avx512f, avx512bw: f.avx512bw,
                           avx512dq: f.avx512dq, avx512vl: f.avx512vl, avx512bf16: f.avx512bf16, sha: f.sha,
                           amd: f.amd, model: model.trimmingSpaces)
    }()

    /// AVX-512 F, BW, DQ and VL: what Skylake-X class kernels (OpenBLAS `SkylakeX`) need.
    public var hasAVX512Core: Bool { avx512f && avx512bw && avx512dq && avx512vl }

    /// The extensions present, by their /proc/cpuinfo names, e.g. ["avx2", "fma"].
    public var vectorExtensions: [String] {
        [("avx2", avx2), ("fma", fma), ("avx512f", avx512f), ("avx512bw", avx512bw), ("avx512dq", avx512dq),
         ("avx512vl", avx512vl), ("avx512_bf16", avx512bf16)].filter(\.1).map(\.0)
    }
}

extension String {
    /// Without leading and trailing spaces (brand strings are padded on some CPUs).
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
