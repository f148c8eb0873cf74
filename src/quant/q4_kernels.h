// CPU kernels of the 4-bit formats: a scalar reference (the oracle) and fast variants chosen at
// run time with rai::cpu::select_variant. Pointers are host memory; sizes are validated above.
#pragma once
#include <cstdint>

#include "q4_format.h"

namespace rai::q4 {

// Quantises elements [0, n) of src (blocks of `bs`, absmax[b] = max |x|, codes high nibble first).
// `absmax` receives num_blocks(n, bs) floats, `codes` codes_bytes(n) bytes.
using QuantizeFn = void (*)(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes,
                            float *absmax);
// dst[i] = code[q(i)] * absmax[i / bs] for i in [begin, begin + count), written to dst[0..count).
// `absmax` holds the decoded per-block scales.
using DequantizeFn = void (*)(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                              int32_t type, void *dst, Elem elem);

void quantize_ref(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax);
void dequantize_ref(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                    int32_t type, void *dst, Elem elem);

void quantize_avx2(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax);
void dequantize_avx2(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                     int32_t type, void *dst, Elem elem);

// Dispatched entry points (the variant the CPU features and the global mask select).
void quantize(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax);
void dequantize(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs, int32_t type,
                void *dst, Elem elem);
const char *kernel_level();

// ---- double quantisation (scalar: the statistics are 1/64 of the data or less)

// The offset: mean of absmax. Canonical order, identical on the GPU: 256 partial sums in double
// (partial j adds absmax[j], absmax[j+256], ... in order), combined by a pairwise tree
// (stride 128, 64, ..., 1), divided by nb in double, rounded once to fp32.
float mean_absmax(const float *absmax, int64_t nb);
// 8-bit blockwise quantisation with a 256-entry code (bnb kQuantizeBlockwise General8bit).
void quantize_8bit_blockwise(const float *src, int64_t n, int64_t bs, const float *code, uint8_t *out,
                             float *absmax2);
// absmax[b] = code8[a8[b]] * absmax2[b / nbs] + offset (two fp32 roundings, no FMA).
void decode_nested_absmax(const uint8_t *absmax8, const float *absmax2, const float *code8, float offset,
                          int64_t nb, int64_t nbs, float *out);

// ---- 4-bit linear on the CPU (fp32 accumulation)

// y[M,N] = x[M,K] . W^T (+ bias), W given by codes/absmax (decoded scales) in row-major [N,K].
// x, bias and y are in `elem`.
void linear_forward_cpu(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
                        const void *x, int64_t M, const void *bias, void *y, Elem elem);
// dx[M,K] = dy[M,N] . W.
void linear_backward_input_cpu(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N,
                               int64_t K, const void *dy, int64_t M, void *dx, Elem elem);

// Inner kernels of the linear (per backend). dot4: out[m] = sum_k x[m*K + k] * w[k] for m < M <= 4.
using DotRowsFn = void (*)(const float *w, const float *x, int64_t M, int64_t K, float *out);
// Blocked NT GEMM on fp32, accumulating: y[m*ldy + n] += sum_k x[m*K + k] * w[n*K + k], m < M, n < N.
using GemmNTFn = void (*)(const float *x, const float *w, int64_t M, int64_t N, int64_t K, float *y, int64_t ldy);
// acc[m*K + k] += sum_n dy[m*ldd + n] * w[n*K + k] for m < M, n < N (NN GEMM, accumulating).
using GemmNNAccFn = void (*)(const float *dy, int64_t ldd, const float *w, int64_t M, int64_t N, int64_t K,
                             float *acc);

// Fused GEMV for M <= 4: y[m*N + n] = sum_k x[m*K + k] * W[n, k] with W decoded on the fly.
using GemvFn = void (*)(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
                        const float *x, int64_t M, float *y);
void gemv_ref(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
              const float *x, int64_t M, float *y);
void gemv_avx2(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
               const float *x, int64_t M, float *y);

void dot_rows_ref(const float *w, const float *x, int64_t M, int64_t K, float *out);
void gemm_nt_ref(const float *x, const float *w, int64_t M, int64_t N, int64_t K, float *y, int64_t ldy);
void gemm_nn_acc_ref(const float *dy, int64_t ldd, const float *w, int64_t M, int64_t N, int64_t K, float *acc);
void dot_rows_avx2(const float *w, const float *x, int64_t M, int64_t K, float *out);
void gemm_nt_avx2(const float *x, const float *w, int64_t M, int64_t N, int64_t K, float *y, int64_t ldy);
void gemm_nn_acc_avx2(const float *dy, int64_t ldd, const float *w, int64_t M, int64_t N, int64_t K, float *acc);

// Element conversion of a contiguous run (used for activations).
void to_f32(const void *src, Elem elem, int64_t n, float *dst);
void from_f32(const float *src, int64_t n, void *dst, Elem elem);

// M up to which the linear uses the fused per-row GEMV instead of dequantise + GEMM.
constexpr int64_t kGemvMaxM = 4;

}  // namespace rai::q4
