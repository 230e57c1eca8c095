// Glassbox's kernels on 16-float vectors: the 32 -> 32 channel 2x2 convolutions and the matrix product of
// the dense layers, each built for AVX-512 and for AVX2 + FMA from one source. Each function carries
// its own target attribute, so this target is compiled for baseline x86-64 like the rest: call a
// function only after checking that the CPU has its features (`KernelPath.supported`).
//
// Layouts are those of `Layers/Conv2x2.swift`: the padded NHWC layout with 32 channels, images of
// (size + 1) x (size + 1) pixels, and `tap_offsets` the four taps' flat pixel offsets (their negatives for
// the input gradient). Every output lane does the very fused multiply-adds of the Swift kernels in the
// same order, so both widths give the same bits as the Swift path.
#ifndef GLASSBOX_CONV_KERNELS_H
#define GLASSBOX_CONV_KERNELS_H

#include <stddef.h>

/// output[q] = bias + sum over taps t and input channels of input[q + tap_offsets[t]] . weights[t], for
/// every valid pixel q; `bias` may be NULL (zero). weights: [4][32 in][32 out]. `size` must be even.
void glassbox_conv32_apply_avx512(const float *input, float *output, const float *weights, const float *bias,
                                  const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images);
void glassbox_conv32_apply_avx2(const float *input, float *output, const float *weights, const float *bias,
                                const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images);

/// kernel_gradient[t] += input shifted by tap t, transposed, times output_gradient, over every padded
/// pixel (the output gradient's pad pixels are zero). kernel_gradient: [4][32 in][32 out].
void glassbox_conv32_weight_gradient_avx512(const float *input, const float *output_gradient,
                                            float *kernel_gradient, const ptrdiff_t tap_offsets[4],
                                            ptrdiff_t size, ptrdiff_t images);
void glassbox_conv32_weight_gradient_avx2(const float *input, const float *output_gradient,
                                          float *kernel_gradient, const ptrdiff_t tap_offsets[4],
                                          ptrdiff_t size, ptrdiff_t images);

/// The backward pass of a 32 -> 32 convolution whose output gradient is mostly zero (it comes from a max-pool):
/// kernel_gradient[t] += input shifted by tap t, transposed, times output_gradient (as the weight gradient
/// above), and input_gradient[q] = sum over taps t of output_gradient[q - tap_offsets[t]] . transposed_kernel[t]
/// for every valid pixel q (pad pixels untouched), transposed_kernel: [4][32 out][32 in]. Products whose
/// output gradient is zero (or -0) are skipped; the others are taken in the dense kernels' order. The output
/// gradient's pad pixels and the size + 2 pixels of slack before it must be zero.
void glassbox_conv32_backward_sparse_avx512(const float *input, const float *output_gradient, float *kernel_gradient,
                                            const float *transposed_kernel, float *input_gradient,
                                            const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images);
void glassbox_conv32_backward_sparse_avx2(const float *input, const float *output_gradient, float *kernel_gradient,
                                          const float *transposed_kernel, float *input_gradient,
                                          const ptrdiff_t tap_offsets[4], ptrdiff_t size, ptrdiff_t images);

/// c[i][j] = scale * (c[i][j] + sum over l < k of a(i, l) * b[l][j]) for i < m, j < n, where
/// a(i, l) = a[i * a_row + l * a_col] (a row-major matrix, or with the strides swapped its transpose),
/// b has row stride ldb and c row stride ldc. The sum is a chain of fused multiply-adds in order of l,
/// onto c's value, for every element alike (then one multiplication when scale != 1), so the result is
/// the same on both widths and for any tiling: the dense layers' bits depend on no BLAS library.
void glassbox_gemm_accumulate_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row,
                                     ptrdiff_t a_col, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                                     float scale);
void glassbox_gemm_accumulate_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row,
                                   ptrdiff_t a_col, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                                   float scale);

/// Floats per panel row of `glassbox_gemm_pack_*`: 16 (AVX2) or 32 (AVX-512).
ptrdiff_t glassbox_gemm_panel_width_avx512(void);
ptrdiff_t glassbox_gemm_panel_width_avx2(void);

/// Copies b (k x n, row stride ldb; n a multiple of the panel width w) into panels: for each block of w
/// columns, its k rows of w floats back to back (k * n floats in all).
void glassbox_gemm_pack_avx512(ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb, float *panels);
void glassbox_gemm_pack_avx2(ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb, float *panels);

/// `glassbox_gemm_accumulate_*` with b already packed by the same build's `glassbox_gemm_pack_*` (the same
/// bits): for a b used by many products, such as a layer's kernel between two weight updates.
void glassbox_gemm_accumulate_packed_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row,
                                            ptrdiff_t a_col, const float *panels, float *c, ptrdiff_t ldc, float scale);
void glassbox_gemm_accumulate_packed_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t a_row,
                                          ptrdiff_t a_col, const float *panels, float *c, ptrdiff_t ldc, float scale);

#endif
