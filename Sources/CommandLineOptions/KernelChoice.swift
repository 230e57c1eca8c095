import ArgumentParser
import Core

/// The help of `--kernels`, the same in every program that runs the network.
public let kernelsHelp = ArgumentHelp(
    "The network's kernels (convolutions and dense products): auto (the widest this CPU runs: avx512 where it has "
        + "AVX-512 F/BW/DQ/VL, else avx2), avx2, avx512, or reference (the slow readable loops the others are "
        + "tested against). Every path gives the same bits, so workers on unlike CPUs agree; forcing one is for "
        + "tests and benchmarks. A path given to the coordinator is the run's: every worker is told it when it joins "
        + "(one whose CPU cannot run it is refused); with auto each worker runs its widest.",
    valueName: "auto|avx2|avx512|reference")

/// Refuses a `--kernels` value this CPU cannot honour, in one line naming what it lacks.
public func validateKernels(_ choice: String) throws {
    do {
        _ = try KernelPath.resolve(choice)
    } catch {
        throw ValidationError("--kernels: \(error)")
    }
}

/// Makes `choice` this process' kernel path; returns the line to log.
public func selectKernels(_ choice: String) throws -> String {
    let path = try KernelPath.resolve(choice)
    KernelPath.current = path
    let cpu = CPUFeatures.current
    return "kernels: \(path.rawValue)" + (choice == "auto" ? " (the widest of \(KernelPath.supported.map(\.rawValue).joined(separator: ", ")) on "
        + "\(cpu.model.isEmpty ? "this CPU" : cpu.model))" : " (--kernels)") + "; \(BLASCore.describe(environment: BLASCore.environment))"
}
