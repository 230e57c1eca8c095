#include "ckernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

// XCR0 by inline assembly: the _xgetbv intrinsic would need -mxsave for this whole file.
static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

glassbox_cpu_features glassbox_read_cpu_features(void) {
    glassbox_cpu_features f;
    memset(&f, 0, sizeof f);
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    unsigned int maxLeaf = a;
    f.amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "Auth" "enti" "cAMD"

    __cpuid(1, a, b, c, d);
    bool osxsave = c & (1u << 27);
    bool fma = c & (1u << 12);
    // The OS must save the ymm state (XCR0 bits 1, 2) for AVX, and opmask/zmm state (bits 5-7) for AVX-512.
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    bool ymm = (xcr0 & 0x6) == 0x6;
    bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;
    f.fma = ymm && fma;
    if (maxLeaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f.avx2 = ymm && (b & (1u << 5));
        f.avx512f = zmm && (b & (1u << 16));
        f.avx512dq = zmm && (b & (1u << 17));
        f.avx512bw = zmm && (b & (1u << 30));
        f.avx512vl = zmm && (b & (1u << 31));
        __cpuid_count(7, 1, a, b, c, d);
        f.avx512bf16 = zmm && (a & (1u << 5));
    }

    unsigned int maxExtended = __get_cpuid_max(0x80000000u, NULL);
    if (maxExtended >= 0x80000004u) {
        unsigned int words[12];
        for (unsigned int i = 0; i < 3; i++) {
            __cpuid(0x80000002u + i, words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]);
        }
        memcpy(f.model, words, 48);
        f.model[48] = 0;
    }
    return f;
}

void glassbox_enable_flush_to_zero(void) {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}

void glassbox_disable_flush_to_zero(void) {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_OFF);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_OFF);
}

bool glassbox_flush_to_zero_enabled(void) {
    return _MM_GET_FLUSH_ZERO_MODE() == _MM_FLUSH_ZERO_ON && _MM_GET_DENORMALS_ZERO_MODE() == _MM_DENORMALS_ZERO_ON;
}

#else

glassbox_cpu_features glassbox_read_cpu_features(void) {
    glassbox_cpu_features f;
    memset(&f, 0, sizeof f);
    return f;
}

void glassbox_enable_flush_to_zero(void) {}

void glassbox_disable_flush_to_zero(void) {}

bool glassbox_flush_to_zero_enabled(void) { return false; }

#endif

void glassbox_exit_unless_avx2_fma(const char *program) {
#if defined(__x86_64__)
    glassbox_cpu_features f = glassbox_read_cpu_features();
    if (f.avx2 && f.fma) return;
    fprintf(stderr, "%s: this build needs a CPU with AVX2 and FMA (x86-64-v3, e.g. Intel Haswell or AMD Zen and "
                    "later), and this one (%s) lacks %s; rebuild from source on this machine (make build)\n",
            program, f.model[0] ? f.model : "unknown model", f.avx2 ? "FMA" : (f.fma ? "AVX2" : "AVX2 and FMA"));
    exit(1);
#else
    (void)program;
#endif
}

int glassbox_exec_self(char *const argv[]) {
    return execv("/proc/self/exe", argv);
}

uint64_t glassbox_shared_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

void glassbox_shared_store(uint64_t *counter, uint64_t value) {
    __atomic_store_n(counter, value, __ATOMIC_SEQ_CST);
}

int glassbox_set_thread_nice(int nice_value) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    return setpriority(PRIO_PROCESS, (id_t)tid, nice_value);
}
