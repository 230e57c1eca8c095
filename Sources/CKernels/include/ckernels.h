// Glassbox's own C: the few things Swift cannot say itself (CPU feature bits, the SSE control register,
// exec). Compiled for baseline x86-64 (never with -mavx2): it runs before the program knows whether the
// CPU can execute the AVX2 code the Swift targets were compiled to.
#ifndef GLASSBOX_CKERNELS_H
#define GLASSBOX_CKERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// What the CPU (and the OS, for the wide registers' state) supports, from cpuid and xgetbv.
/// All false on an architecture other than x86-64.
typedef struct {
    bool avx2;
    bool fma;
    bool avx512f;
    bool avx512bw;
    bool avx512dq;
    bool avx512vl;
    bool avx512bf16;
    /// The SHA extensions, with the SSSE3 and SSE4.1 that `glassbox_sha256_blocks_shani` also uses.
    bool sha;
    /// The vendor string is "AuthenticAMD".
    bool amd;
    /// The brand string ("AMD EPYC 7B13 ..."), NUL-terminated; empty if the CPU has none.
    char model[49];
} glassbox_cpu_features;

/// Reads the CPU's features. Cheap (a few cpuid instructions); safe on any x86-64 CPU.
glassbox_cpu_features glassbox_read_cpu_features(void);

/// Exits the process with status 1 and one line on stderr naming `program` if the CPU lacks AVX2 or
/// FMA: for binaries whose Swift code was compiled for `-target-cpu haswell`, which would otherwise die of
/// SIGILL at their first vector instruction. Call it before any such code runs.
void glassbox_exit_unless_avx2_fma(const char *program);

/// Sets flush-to-zero and denormals-are-zero (MXCSR bits 0x8000 and 0x0040) on the calling thread:
/// subnormal results become 0 and subnormal inputs read as 0. Per-thread state, so every compute thread
/// must call it. No-op where the architecture has no MXCSR.
void glassbox_enable_flush_to_zero(void);

/// Clears both bits on the calling thread (IEEE gradual underflow again): for tests and measurements.
void glassbox_disable_flush_to_zero(void);

/// Whether the calling thread has both flush-to-zero and denormals-are-zero set.
bool glassbox_flush_to_zero_enabled(void);

/// Replaces this process with /proc/self/exe run with `argv` (NULL-terminated), keeping the environment.
/// Returns only on failure, with errno set.
int glassbox_exec_self(char *const argv[]);

/// A 64-bit counter in memory shared between processes (a `MAP_SHARED` mapping), read and written with
/// sequentially consistent atomics: the stores before `glassbox_shared_store` are visible to another process
/// that reads the stored value with `glassbox_shared_load`, and the loads after it.
uint64_t glassbox_shared_load(const uint64_t *counter);
void glassbox_shared_store(uint64_t *counter, uint64_t value);

/// SHA-256's compression function over `count` consecutive 64-byte blocks, on the SHA extensions: the same
/// state as the plain one. Call only when `glassbox_read_cpu_features().sha`.
void glassbox_sha256_blocks_shani(uint32_t state[8], const uint8_t *blocks, size_t count);

/// Sets the calling thread's nice value (Linux: per thread, not the whole process). 0 on success, else
/// -1 with errno set.
int glassbox_set_thread_nice(int nice_value);

/// Lowers the calling thread to the lowest CPU priority: Linux's SCHED_IDLE (it runs only on a core no
/// other thread wants), else nice 19. Returns 1 for SCHED_IDLE, 2 for nice 19, 0 if neither was allowed.
/// An unprivileged thread cannot raise itself back: call it only on threads that stay low.
int glassbox_set_thread_idle(void);

#endif
