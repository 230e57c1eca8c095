import ArgumentParser
import Core

/// The machine lines at the top of `glassbox-coordinator bench`: figures mean little without the CPU,
/// the kernels it runs and the BLAS core beside them.
func printBenchMachine() {
    let cpu = CPUFeatures.current
    print("cpu: \(cpu.model.isEmpty ? "unknown model" : cpu.model); vector extensions: "
          + (cpu.vectorExtensions.isEmpty ? "none beyond SSE" : cpu.vectorExtensions.joined(separator: " ")))
    print("kernels: \(KernelPath.current.rawValue) (this CPU runs \(KernelPath.supported.map(\.rawValue).joined(separator: ", ")))")
    print(BLASCore.describe(environment: BLASCore.environment))
}
