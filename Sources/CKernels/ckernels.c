#define _GNU_SOURCE  /* SCHED_IDLE */
#include "ckernels.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
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
    bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
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
        f.sha = ssse3 && sse41 && (b & (1u << 29));
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

// ---- SHA-256 with the x86 SHA extensions (FIPS 180-4 section 6.2.2, four rounds per step of the schedule) ----

static const uint32_t glassbox_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3")))
void glassbox_sha256_blocks_shani(uint32_t state[8], const uint8_t *blocks, size_t count) {
    // The instructions keep the working variables as ABEF and CDGH; the state is ABCD EFGH.
    __m128i abcd = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(abcd, 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, cdab, 0xF0);
    // Each 32-bit word of the block is big-endian.
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (size_t n = 0; n < count; n++) {
        const uint8_t *block = blocks + 64 * n;
        __m128i saveABEF = abef, saveCDGH = cdgh;
        __m128i w[4];  // the last four groups of four schedule words
        for (int i = 0; i < 16; i++) {
            __m128i words;
            if (i < 4) {
                words = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), byteswap);
            } else {
                // W[t..t+3] from W[t-16..t-1]: sigma0 terms (msg1), W[t-7..t-4], then the sigma1 terms (msg2).
                __m128i t = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                words = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
            }
            w[i & 3] = words;
            __m128i wk = _mm_add_epi32(words, _mm_loadu_si128((const __m128i *)&glassbox_sha256_k[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, saveABEF);
        cdgh = _mm_add_epi32(cdgh, saveCDGH);
    }
    __m128i reversed = _mm_shuffle_epi32(abef, 0x1B);  // lanes A B E F
    __m128i swapped = _mm_shuffle_epi32(cdgh, 0xB1);   // lanes G H C D
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(reversed, swapped, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(swapped, reversed, 8));
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

void glassbox_sha256_blocks_shani(uint32_t state[8], const uint8_t *blocks, size_t count) {
    (void)state; (void)blocks; (void)count;  // never called: no CPU here has the x86 SHA extensions
}

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

int glassbox_set_thread_idle(void) {
#ifdef SCHED_IDLE
    struct sched_param param = { .sched_priority = 0 };
    if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) return 1;
#endif
    return glassbox_set_thread_nice(19) == 0 ? 2 : 0;
}

