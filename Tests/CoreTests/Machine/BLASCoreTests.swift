import Foundation
import XCTest

@testable import Core

/// The BLAS core decision (issue 11: never run on OpenBLAS's wrong guess) and the CPU features it reads.
final class BLASCoreTests: XCTestCase {
    private let sapphireRapids = CPUFeatures(avx2: true, fma: true, avx512f: true, avx512bw: true, avx512dq: true,
                                             avx512vl: true, avx512bf16: true, model: "Intel(R) Xeon(R) Processor")
    private let zen3 = CPUFeatures(avx2: true, fma: true, amd: true, model: "AMD EPYC 7B13")
    private let haswell = CPUFeatures(avx2: true, fma: true, model: "Intel(R) Xeon(R) CPU E5-2666 v3")
    private let sseOnly = CPUFeatures(model: "Intel(R) Core(TM)2 Duo")

    func testDecisionTable() {
        let rows: [(String, CPUFeatures, core: String, user: String?, BLASCore.Decision)] = [
            ("Prescott on AVX-512", sapphireRapids, "Prescott", nil, .reexec(core: "SkylakeX", was: "Prescott")),
            ("Haswell on AVX-512", sapphireRapids, "Haswell", nil, .reexec(core: "SkylakeX", was: "Haswell")),
            ("SkylakeX on AVX-512", sapphireRapids, "SkylakeX", nil, .keep(core: "SkylakeX")),
            ("Cooperlake on AVX-512", sapphireRapids, "Cooperlake", nil, .keep(core: "Cooperlake")),
            ("Zen on Zen 3", zen3, "Zen", nil, .keep(core: "Zen")),
            ("Prescott on Zen 3", zen3, "Prescott", nil, .reexec(core: "Zen", was: "Prescott")),
            ("Haswell on Haswell", haswell, "Haswell", nil, .keep(core: "Haswell")),
            ("Sandybridge on Haswell", haswell, "Sandybridge", nil, .reexec(core: "Haswell", was: "Sandybridge")),
            ("Nehalem on Haswell", haswell, "Nehalem", nil, .reexec(core: "Haswell", was: "Nehalem")),
            ("Core2 on Haswell", haswell, "Core2", nil, .reexec(core: "Haswell", was: "Core2")),
            ("Prescott on an SSE-only CPU", sseOnly, "Prescott", nil, .keep(core: "Prescott")),
            ("a core this table does not know", sapphireRapids, "Zen5", nil, .keep(core: "Zen5")),
            ("user override on AVX-512", sapphireRapids, "Prescott", "Haswell", .userChoice(core: "Haswell")),
            ("user override on Zen 3", zen3, "Zen", "Prescott", .userChoice(core: "Prescott")),
            ("an empty variable is unset", sapphireRapids, "Prescott", "", .reexec(core: "SkylakeX", was: "Prescott")),
            ("lower-case core name", haswell, "prescott", nil, .reexec(core: "Haswell", was: "prescott")),
        ]
        for (name, cpu, core, user, expected) in rows {
            XCTAssertEqual(BLASCore.decide(cpu: cpu, core: core, userSetting: user), expected, name)
        }
    }

    func testDescriptionSaysWhoChoseTheCore() {
        let own = BLASCore.describe(environment: [:])
        XCTAssertTrue(own.hasPrefix("BLAS: OpenBLAS "), own)
        XCTAssertTrue(own.hasSuffix("core \(BLASCore.current)"), own)
        let replaced = BLASCore.describe(environment: [BLASCore.environmentKey: "SkylakeX", BLASCore.replacedKey: "Prescott"])
        XCTAssertTrue(replaced.hasSuffix("(was Prescott; set by glassbox)"), replaced)
        let user = BLASCore.describe(environment: [BLASCore.environmentKey: "Haswell"])
        XCTAssertTrue(user.hasSuffix("(OPENBLAS_CORETYPE=Haswell set by the user)"), user)
    }

    func testCPUFeaturesAgreeWithProcCPUInfo() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("/proc/cpuinfo has no flags line")
        }
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let cpu = CPUFeatures.current
        XCTAssertEqual(cpu.avx2, flags.contains("avx2"), "avx2")
        XCTAssertEqual(cpu.fma, flags.contains("fma"), "fma")
        XCTAssertEqual(cpu.avx512f, flags.contains("avx512f"), "avx512f")
        XCTAssertEqual(cpu.avx512bw, flags.contains("avx512bw"), "avx512bw")
        XCTAssertEqual(cpu.avx512dq, flags.contains("avx512dq"), "avx512dq")
        XCTAssertEqual(cpu.avx512vl, flags.contains("avx512vl"), "avx512vl")
        XCTAssertEqual(cpu.avx512bf16, flags.contains("avx512_bf16"), "avx512_bf16")
        XCTAssertEqual(cpu.amd, cpuinfo.contains("AuthenticAMD"), "vendor")
        XCTAssertFalse(cpu.model.isEmpty)
    }

    func testThisProcessRunsTheCoreTheDecisionKeeps() {
        // The test runner does not re-exec itself: on a machine where OpenBLAS guesses wrong this names
        // the core it should have chosen, which is what the executables run.
        let environment = ProcessInfo.processInfo.environment
        let decision = BLASCore.decide(cpu: .current, core: BLASCore.current, userSetting: environment[BLASCore.environmentKey])
        if case .reexec(let core, let was) = decision {
            XCTFail("OpenBLAS chose \(was) on \(CPUFeatures.current.model); glassbox would restart with \(core)")
        }
    }
}
