// One source for both widths: 16-float vectors (GCC/Clang vector extensions) that a function built for
// AVX-512 keeps in one zmm register and one built for AVX2 in two ymm registers. The wider build also
// computes more pixels (apply) or input channels (weight gradient) per pass, as it has 32 registers.
// Neither changes any lane's sequence of fused multiply-adds.
#include "conv_kernels.h"

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));  // for unaligned loads and stores

#define LOAD(p) (*(const v16u *)(p))
#define STORE(p, v) (*(v16u *)(p) = (v))
#define SPLAT(x) ((v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})
#define FMA(a, b, c) __builtin_elementwise_fma(a, b, c)

// P neighbouring output pixels x 32 channels, from flat float offset q: 2P accumulators.
#define DEFINE_APPLY_PIXELS(SUFFIX, TARGET, P)                                                               \
    __attribute__((target(TARGET))) static inline void apply_##P##_##SUFFIX(                                 \
        const float *input, float *output, const float *weights, const float *bias,                           \
        const ptrdiff_t offs[4], ptrdiff_t q) {                                                               \
        v16 zero = SPLAT(0.0f);                                                                               \
        v16 b0 = bias ? LOAD(bias) : zero, b1 = bias ? LOAD(bias + 16) : zero;                               \
        v16 acc[P][2];                                                                                        \
        for (int p = 0; p < P; p++) { acc[p][0] = b0; acc[p][1] = b1; }                                      \
        for (int t = 0; t < 4; t++) {                                                                         \
            const float *x = input + q + offs[t];                                                             \
            const float *w = weights + t * 1024;                                                              \
            for (int ci = 0; ci < 32; ci++, w += 32) {                                                        \
                v16 w0 = LOAD(w), w1 = LOAD(w + 16);                                                          \
                for (int p = 0; p < P; p++) {                                                                 \
                    v16 s = SPLAT(x[32 * p + ci]);                                                            \
                    acc[p][0] = FMA(s, w0, acc[p][0]);                                                        \
                    acc[p][1] = FMA(s, w1, acc[p][1]);                                                        \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        for (int p = 0; p < P; p++) {                                                                         \
            STORE(output + q + 32 * p, acc[p][0]);                                                            \
            STORE(output + q + 32 * p + 16, acc[p][1]);                                                       \
        }                                                                                                     \
    }

// Rows of `size` valid pixels, WIDE at a time, then 2 at a time for what is left (size is even).
#define DEFINE_APPLY(SUFFIX, TARGET, WIDE)                                                                   \
    __attribute__((target(TARGET))) void glassbox_conv32_apply_##SUFFIX(                                     \
        const float *input, float *output, const float *weights, const float *bias,                           \
        const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images) {                                   \
        const ptrdiff_t pitch = size + 1;                                                                     \
        const ptrdiff_t offs[4] = {tap_offsets[0] * 32, tap_offsets[1] * 32, tap_offsets[2] * 32,            \
                                   tap_offsets[3] * 32};                                                      \
        for (ptrdiff_t n = 0; n < images; n++) {                                                              \
            for (ptrdiff_t i = 0; i < size; i++) {                                                            \
                const ptrdiff_t row = n * pitch * pitch + i * pitch;                                          \
                ptrdiff_t j = 0;                                                                              \
                for (; j + (WIDE) <= size; j += (WIDE))                                                       \
                    apply_##WIDE##_##SUFFIX(input, output, weights, bias, offs, (row + j) * 32);              \
                for (; j < size; j += 2)                                                                      \
                    apply_2_##SUFFIX(input, output, weights, bias, offs, (row + j) * 32);                     \
            }                                                                                                 \
        }                                                                                                     \
    }

// Per block of pixels, for each tap and group of CI input channels, 2 CI accumulators (CI in x 32 out)
// stay in registers while the output gradient's rows stream through.
#define DEFINE_WEIGHT_GRADIENT(SUFFIX, TARGET, CI)                                                            \
    __attribute__((target(TARGET))) void glassbox_conv32_weight_gradient_##SUFFIX(                           \
        const float *input, const float *output_gradient, float *kernel_gradient,                             \
        const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images) {                                   \
        const ptrdiff_t pixels = images * (size + 1) * (size + 1);                                            \
        const ptrdiff_t block = 96;                                                                           \
        for (ptrdiff_t start = 0; start < pixels; start += block) {                                           \
            const ptrdiff_t end = start + block < pixels ? start + block : pixels;                            \
            for (int t = 0; t < 4; t++) {                                                                     \
                const float *xt = input + tap_offsets[t] * 32;                                                \
                for (int ci = 0; ci < 32; ci += (CI)) {                                                       \
                    float *k = kernel_gradient + t * 1024 + ci * 32;                                          \
                    v16 acc[CI][2];                                                                           \
                    for (int c = 0; c < (CI); c++) { acc[c][0] = LOAD(k + 32 * c); acc[c][1] = LOAD(k + 32 * c + 16); } \
                    const float *d = output_gradient + start * 32;                                            \
                    const float *x = xt + start * 32 + ci;                                                    \
                    for (ptrdiff_t p = start; p < end; p++, d += 32, x += 32) {                               \
                        v16 d0 = LOAD(d), d1 = LOAD(d + 16);                                                  \
                        for (int c = 0; c < (CI); c++) {                                                      \
                            v16 s = SPLAT(x[c]);                                                              \
                            acc[c][0] = FMA(s, d0, acc[c][0]);                                                \
                            acc[c][1] = FMA(s, d1, acc[c][1]);                                                \
                        }                                                                                     \
                    }                                                                                         \
                    for (int c = 0; c < (CI); c++) { STORE(k + 32 * c, acc[c][0]); STORE(k + 32 * c + 16, acc[c][1]); } \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

#if defined(__x86_64__)
#define AVX2 "avx2,fma"
#define AVX512 "avx512f,avx512vl,avx512bw,avx512dq,fma"
DEFINE_APPLY_PIXELS(avx2, AVX2, 2)
DEFINE_APPLY(avx2, AVX2, 2)  // the width of the Swift kernel: 8 ymm accumulators of 16
DEFINE_APPLY_PIXELS(avx512, AVX512, 2)
DEFINE_APPLY_PIXELS(avx512, AVX512, 4)
DEFINE_APPLY(avx512, AVX512, 4)
DEFINE_WEIGHT_GRADIENT(avx2, AVX2, 2)
DEFINE_WEIGHT_GRADIENT(avx512, AVX512, 4)
#endif
