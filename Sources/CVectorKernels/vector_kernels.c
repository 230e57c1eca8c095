// One source for both widths: 16-float vectors (GCC/Clang vector extensions) that a function built for
// AVX-512 keeps in one zmm register and one built for AVX2 in two ymm registers. The wider build also
// computes more pixels (apply) or input channels (weight gradient) per pass, as it has 32 registers.
// Neither changes any lane's sequence of fused multiply-adds.
#include "vector_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// The backward pass of a convolution whose output gradient comes from a 2x2 max-pool: at most one pixel of
// each window has a nonzero gradient in each channel (none where the ReLU clipped the maximum or dropout
// dropped it), so at least three quarters of its values are zero (on MNIST 90-98 %: BENCHMARKS.md). These
// kernels skip the products with a zero output gradient, and take the others in the order the dense kernels
// do: each value is the dense chain of fused multiply-adds without its zero terms (the readable reference
// skips the same terms).

// Bit c of the result is set where row[c] != 0 (NaN counts as nonzero; -0 as zero).
__attribute__((target("avx2"))) static inline uint32_t nonzero_mask_avx2(const float *row) {
    const __m256 zero = _mm256_setzero_ps();
    uint32_t m = 0;
    for (int v = 0; v < 4; v++)
        m |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + 8 * v), zero, _CMP_NEQ_UQ)) << (8 * v);
    return m;
}
__attribute__((target("avx512f"))) static inline uint32_t nonzero_mask_avx512(const float *row) {
    const __m512 zero = _mm512_setzero_ps();
    return (uint32_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(row), zero, _CMP_NEQ_UQ)
         | (uint32_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(row + 16), zero, _CMP_NEQ_UQ) << 16;
}

// Pixels per block of the weight gradient: each channel's pixels with a nonzero gradient are listed per block.
#define SPARSE_BLOCK 128

// TAPS taps per pass over a channel's list: 2 TAPS accumulators of 16 floats (a column of the kernel
// gradient) stay in registers.
#define DEFINE_SPARSE_BACKWARD(SUFFIX, TARGET, TAPS)                                                          \
    __attribute__((target(TARGET))) void glassbox_conv32_backward_sparse_##SUFFIX(                            \
        const float *input, const float *output_gradient, float *kernel_gradient,                             \
        const float *transposed_kernel, float *input_gradient, const ptrdiff_t tap_offsets[4],                \
        ptrdiff_t size, ptrdiff_t images) {                                                                   \
        const ptrdiff_t pitch = size + 1, pixels = images * pitch * pitch, before = pitch + 1;                \
        const ptrdiff_t offs[4] = {tap_offsets[0] * 32, tap_offsets[1] * 32, tap_offsets[2] * 32,            \
                                   tap_offsets[3] * 32};                                                      \
        /* masks of pixels [-before, pixels): the transposed taps reach before the first image (zero slack) */ \
        uint32_t *masks_ = malloc((size_t)(pixels + before) * sizeof(uint32_t));                              \
        float *columns = aligned_alloc(64, 32 * 128 * sizeof(float));                                         \
        if (!masks_ || !columns) abort();                                                                     \
        uint32_t *masks = masks_ + before;                                                                    \
        for (ptrdiff_t p = -before; p < pixels; p++) masks[p] = nonzero_mask_##SUFFIX(output_gradient + p * 32); \
        /* the kernel gradient by output channel: columns[co][t * 32 + ci] */                                 \
        for (int t = 0; t < 4; t++)                                                                           \
            for (int ci = 0; ci < 32; ci++)                                                                   \
                for (int co = 0; co < 32; co++) columns[co * 128 + t * 32 + ci] = kernel_gradient[t * 1024 + ci * 32 + co]; \
        int32_t lists[32][SPARSE_BLOCK];                                                                      \
        int counts[32];                                                                                       \
        for (ptrdiff_t start = 0; start < pixels; start += SPARSE_BLOCK) {                                    \
            const ptrdiff_t end = start + SPARSE_BLOCK < pixels ? start + SPARSE_BLOCK : pixels;              \
            for (int co = 0; co < 32; co++) counts[co] = 0;                                                   \
            for (ptrdiff_t p = start; p < end; p++)                                                           \
                for (uint32_t m = masks[p]; m; m &= m - 1) {                                                  \
                    const int co = __builtin_ctz(m);                                                          \
                    lists[co][counts[co]++] = (int32_t)p;                                                     \
                }                                                                                             \
            for (int co = 0; co < 32; co++) {                                                                 \
                if (counts[co] == 0) continue;                                                                \
                for (int t0 = 0; t0 < 4; t0 += (TAPS)) {                                                      \
                    float *column = columns + co * 128 + t0 * 32;                                             \
                    v16 acc[TAPS][2];                                                                         \
                    for (int t = 0; t < (TAPS); t++) { acc[t][0] = LOAD(column + 32 * t); acc[t][1] = LOAD(column + 32 * t + 16); } \
                    const float *xt[TAPS];                                                                    \
                    for (int t = 0; t < (TAPS); t++) xt[t] = input + offs[t0 + t];                            \
                    const float *const dc = output_gradient + co;                                             \
                    for (int i = 0; i < counts[co]; i++) {                                                    \
                        const ptrdiff_t p = (ptrdiff_t)lists[co][i] * 32;                                     \
                        const v16 s = SPLAT(dc[p]);                                                           \
                        for (int t = 0; t < (TAPS); t++) {                                                    \
                            acc[t][0] = FMA(LOAD(xt[t] + p), s, acc[t][0]);                                   \
                            acc[t][1] = FMA(LOAD(xt[t] + p + 16), s, acc[t][1]);                              \
                        }                                                                                     \
                    }                                                                                         \
                    for (int t = 0; t < (TAPS); t++) { STORE(column + 32 * t, acc[t][0]); STORE(column + 32 * t + 16, acc[t][1]); } \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        for (int t = 0; t < 4; t++)                                                                           \
            for (int ci = 0; ci < 32; ci++)                                                                   \
                for (int co = 0; co < 32; co++) kernel_gradient[t * 1024 + ci * 32 + co] = columns[co * 128 + t * 32 + ci]; \
        /* the input gradient: per valid pixel q, taps in order, then the nonzero channels of q - offset in order */ \
        for (ptrdiff_t n = 0; n < images; n++) {                                                              \
            for (ptrdiff_t i = 0; i < size; i++) {                                                            \
                const ptrdiff_t row = n * pitch * pitch + i * pitch;                                          \
                for (ptrdiff_t q = row; q < row + size; q++) {                                                \
                    v16 a0 = SPLAT(0.0f), a1 = SPLAT(0.0f);                                                   \
                    for (int t = 0; t < 4; t++) {                                                             \
                        const ptrdiff_t p = q - tap_offsets[t];                                               \
                        const float *d = output_gradient + p * 32;                                            \
                        const float *w = transposed_kernel + t * 1024;                                        \
                        for (uint32_t m = masks[p]; m; m &= m - 1) {                                          \
                            const int co = __builtin_ctz(m);                                                  \
                            const v16 s = SPLAT(d[co]);                                                       \
                            a0 = FMA(s, LOAD(w + co * 32), a0);                                               \
                            a1 = FMA(s, LOAD(w + co * 32 + 16), a1);                                          \
                        }                                                                                     \
                    }                                                                                         \
                    STORE(input_gradient + q * 32, a0);                                                       \
                    STORE(input_gradient + q * 32 + 16, a1);                                                  \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        free(columns);                                                                                        \
        free(masks_);                                                                                         \
    }

// One tile of R rows x CV vectors of 16 columns: R x CV accumulators loaded from c, a chain over l, stored
// (scaled). Columns past n are left to the caller's scalar tail.
#define DEFINE_GEMM_TILE(SUFFIX, TARGET, R, CV)                                                               \
    __attribute__((target(TARGET))) static inline void gemm_tile_##R##_##SUFFIX(                              \
        ptrdiff_t k, const float *a, ptrdiff_t a_row, ptrdiff_t a_col, const float *b, ptrdiff_t ldb,         \
        float *c, ptrdiff_t ldc, float scale) {                                                               \
        v16 acc[R][CV];                                                                                       \
        for (int r = 0; r < (R); r++)                                                                         \
            for (int v = 0; v < (CV); v++) acc[r][v] = LOAD(c + r * ldc + 16 * v);                           \
        for (ptrdiff_t l = 0; l < k; l++) {                                                                   \
            v16 bv[CV];                                                                                       \
            for (int v = 0; v < (CV); v++) bv[v] = LOAD(b + l * ldb + 16 * v);                               \
            for (int r = 0; r < (R); r++) {                                                                   \
                v16 s = SPLAT(a[r * a_row + l * a_col]);                                                      \
                for (int v = 0; v < (CV); v++) acc[r][v] = FMA(s, bv[v], acc[r][v]);                          \
            }                                                                                                 \
        }                                                                                                     \
        for (int r = 0; r < (R); r++)                                                                         \
            for (int v = 0; v < (CV); v++)                                                                    \
                STORE(c + r * ldc + 16 * v, scale == 1.0f ? acc[r][v] : acc[r][v] * SPLAT(scale));            \
    }

// Rows in tiles of R, the last rows in one tile of what is left (a lone row would be one slow chain).
#define GEMM_ROWS(SUFFIX, KIND, R, m, k, a, a_row, a_col, b, ldb, c, ldc, scale)                               \
    do {                                                                                                      \
        ptrdiff_t i_ = 0;                                                                                     \
        for (; i_ + (R) <= (m); i_ += (R))                                                                    \
            gemm_tile_##R##_##SUFFIX##_##KIND(k, (a) + i_ * (a_row), a_row, a_col, b, ldb, (c) + i_ * (ldc), ldc, scale); \
        const float *a_ = (a) + i_ * (a_row);                                                                 \
        float *c_ = (c) + i_ * (ldc);                                                                         \
        switch ((m) - i_) {                                                                                   \
        case 5: gemm_tile_5_##SUFFIX##_##KIND(k, a_, a_row, a_col, b, ldb, c_, ldc, scale); break;            \
        case 4: gemm_tile_4_##SUFFIX##_##KIND(k, a_, a_row, a_col, b, ldb, c_, ldc, scale); break;            \
        case 3: gemm_tile_3_##SUFFIX##_##KIND(k, a_, a_row, a_col, b, ldb, c_, ldc, scale); break;            \
        case 2: gemm_tile_2_##SUFFIX##_##KIND(k, a_, a_row, a_col, b, ldb, c_, ldc, scale); break;            \
        case 1: gemm_tile_1_##SUFFIX##_##KIND(k, a_, a_row, a_col, b, ldb, c_, ldc, scale); break;            \
        default: break;                                                                                       \
        }                                                                                                     \
    } while (0)

#define DEFINE_GEMM_TILES(SUFFIX, TARGET, CV)                                                                 \
    DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 6, CV) DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 5, CV)            \
    DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 4, CV) DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 3, CV)            \
    DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 2, CV) DEFINE_GEMM_TILE(SUFFIX##_wide, TARGET, 1, CV)            \
    DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 6, 1) DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 5, 1)                \
    DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 4, 1) DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 3, 1)                \
    DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 2, 1) DEFINE_GEMM_TILE(SUFFIX##_one, TARGET, 1, 1)

// When b is the bigger operand, column blocks are outer: each block of b (k x 16 CV) is first copied into
// a contiguous panel, which every row tile then reads (b's rows may be kilobytes apart). Otherwise row
// tiles are outer and b (small) stays in cache. Columns past the last 16 are scalar chains with the same
// fused multiply-adds, all of a row's at once.
#define DEFINE_GEMM(SUFFIX, TARGET, CV)                                                                       \
    DEFINE_GEMM_TILES(SUFFIX, TARGET, CV)                                                                     \
    /* columns [0, n) of b (n a multiple of 16 CV) as panels: per block of 16 CV columns, its k rows */       \
    __attribute__((target(TARGET))) static void gemm_pack_##SUFFIX(ptrdiff_t k, ptrdiff_t n, const float *b,  \
                                                                  ptrdiff_t ldb, float *panels) {             \
        const ptrdiff_t wide = 16 * (CV);                                                                     \
        for (ptrdiff_t j = 0; j < n; j += wide)                                                               \
            for (ptrdiff_t l = 0; l < k; l++)                                                                 \
                for (int v = 0; v < (CV); v++) STORE(panels + j * k + l * wide + 16 * v, LOAD(b + l * ldb + j + 16 * v)); \
    }                                                                                                         \
    __attribute__((target(TARGET))) void glassbox_gemm_accumulate_##SUFFIX(                                   \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,             \
        const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float scale) {                                \
        const ptrdiff_t wide = 16 * (CV);                                                                     \
        const ptrdiff_t wideColumns = n / wide * wide;                                                        \
        const ptrdiff_t vectorColumns = n / 16 * 16;                                                          \
        if (n >= m && wideColumns > 0) {                                                                      \
            float *panel = malloc((size_t)(k * wide) * sizeof(float));                                        \
            for (ptrdiff_t j = 0; j < wideColumns; j += wide) {                                               \
                gemm_pack_##SUFFIX(k, wide, b + j, ldb, panel);                                               \
                GEMM_ROWS(SUFFIX, wide, 6, m, k, a, a_row, a_col, panel, wide, c + j, ldc, scale);            \
            }                                                                                                 \
            free(panel);                                                                                      \
        } else if (wideColumns > 0) {                                                                         \
            /* all of b's wide column blocks packed once, then row tiles outer */                             \
            float *panels = malloc((size_t)(k * wideColumns) * sizeof(float));                                \
            gemm_pack_##SUFFIX(k, wideColumns, b, ldb, panels);                                               \
            for (ptrdiff_t i = 0; i < m; i += 6) {                                                            \
                const ptrdiff_t rows = m - i < 6 ? m - i : 6;                                                 \
                for (ptrdiff_t j = 0; j < wideColumns; j += wide)                                             \
                    GEMM_ROWS(SUFFIX, wide, 6, rows, k, a + i * a_row, a_row, a_col, panels + j * k, wide,   \
                              c + i * ldc + j, ldc, scale);                                                   \
            }                                                                                                 \
            free(panels);                                                                                     \
        }                                                                                                     \
        for (ptrdiff_t j = wideColumns; j < vectorColumns; j += 16)                                           \
            GEMM_ROWS(SUFFIX, one, 6, m, k, a, a_row, a_col, b + j, ldb, c + j, ldc, scale);                  \
        const ptrdiff_t tail = n - vectorColumns;                                                             \
        for (ptrdiff_t i = 0; tail > 0 && i < m; i++) {                                                       \
            float acc[16];                                                                                    \
            for (ptrdiff_t j = 0; j < tail; j++) acc[j] = c[i * ldc + vectorColumns + j];                    \
            for (ptrdiff_t l = 0; l < k; l++) {                                                               \
                const float x = a[i * a_row + l * a_col];                                                     \
                for (ptrdiff_t j = 0; j < tail; j++) acc[j] = __builtin_fmaf(x, b[l * ldb + vectorColumns + j], acc[j]); \
            }                                                                                                 \
            for (ptrdiff_t j = 0; j < tail; j++) c[i * ldc + vectorColumns + j] = scale == 1.0f ? acc[j] : acc[j] * scale; \
        }                                                                                                     \
    }

#define DEFINE_GEMM_PACKED(SUFFIX, TARGET, CV)                                                                \
    ptrdiff_t glassbox_gemm_panel_width_##SUFFIX(void) { return 16 * (CV); }                                  \
    __attribute__((target(TARGET))) void glassbox_gemm_pack_##SUFFIX(ptrdiff_t k, ptrdiff_t n, const float *b, \
                                                                      ptrdiff_t ldb, float *panels) {         \
        gemm_pack_##SUFFIX(k, n, b, ldb, panels);                                                             \
    }                                                                                                         \
    __attribute__((target(TARGET))) void glassbox_gemm_accumulate_packed_##SUFFIX(                            \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row, ptrdiff_t a_col,             \
        const float *panels, float *c, ptrdiff_t ldc, float scale) {                                          \
        const ptrdiff_t wide = 16 * (CV);                                                                     \
        for (ptrdiff_t j = 0; j < n; j += wide)                                                               \
            GEMM_ROWS(SUFFIX, wide, 6, m, k, a, a_row, a_col, panels + j * k, wide, c + j, ldc, scale);       \
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
DEFINE_GEMM(avx2, AVX2, 1)      // tiles of 6 rows x 16 columns: 12 of the 16 ymm registers
DEFINE_GEMM(avx512, AVX512, 2)  // 6 x 32: 12 of the 32 zmm registers
DEFINE_GEMM_PACKED(avx2, AVX2, 1)
DEFINE_GEMM_PACKED(avx512, AVX512, 2)
DEFINE_SPARSE_BACKWARD(avx2, AVX2, 2)     // 8 ymm accumulators
DEFINE_SPARSE_BACKWARD(avx512, AVX512, 4) // 8 zmm accumulators
#endif
