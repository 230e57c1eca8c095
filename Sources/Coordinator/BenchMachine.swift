import ArgumentParser
import Core

/// The machine lines at the top of `glassbox-coordinator bench`: figures mean little without the CPU,
/// the kernels it runs and the BLAS core beside them.
func printBenchMachine() {
    let cpu = CPUFeatures.current
    print("cpu: \(cpu.model.isEmpty ? "unknown model" : cpu.model); vector extensions: "
          + (cpu.vectorExtensions.isEmpty ? "none beyond SSE" : cpu.vectorExtensions.joined(separator: " ")))
    print("kernels: \(compiledKernels)")
    print(BLASCore.describe(environment: BLASCore.environment))
}

/// The convolution kernels this build runs (one path per build for now: the choice at run time is issue 11's
/// next step, and an AVX-512 path would go beside this one).
private var compiledKernels: String {
    #if GLASSBOX_SSE42  // passed with -target-cpu haswell by the Makefile
    return "avx2 (SIMD8 with FMA, built for -target-cpu haswell)"
    #else
    return "generic (built without -target-cpu: SIMD8 as pairs of SSE operations)"
    #endif
}
