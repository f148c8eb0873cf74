// Shared by the adapters' CUDA files: element access in the three activation dtypes, the
// plugin's scratch memory, and the cuBLASLt GEMM (core/lt_gemm.cuh) under the adapters' names.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "cuda_adapters_abi.h"
#include "error_util.cuh"
#include "launch.cuh"
#include "lt_gemm.cuh"
#include "scratch.cuh"

namespace raicuda::adp {

using lt::Gemm;
using lt::lt_gemm;

__device__ __forceinline__ float ld(const void *p, int t, int64_t i) {
    if (t == RAICUDA_F32) return static_cast<const float *>(p)[i];
    if (t == RAICUDA_BF16) return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    return __half2float(static_cast<const __half *>(p)[i]);
}
__device__ __forceinline__ void st(void *p, int t, int64_t i, float v) {
    if (t == RAICUDA_F32) static_cast<float *>(p)[i] = v;
    else if (t == RAICUDA_BF16) static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16(v);
    else static_cast<__half *>(p)[i] = __float2half(v);
}
inline cudaDataType_t cuda_type(int t) { return t == RAICUDA_F32 ? CUDA_R_32F : t == RAICUDA_BF16 ? CUDA_R_16BF : CUDA_R_16F; }
inline size_t type_size(int t) { return t == RAICUDA_F32 ? 4 : 2; }
// Exact block count ceil(n / threads) for kernels without a grid-stride loop (no cap).
inline unsigned ceil_blocks(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }


// Tile edge of the epilogue and expand kernels (T and B tiles staged through shared memory).
constexpr int kTile = 32;

// Stream-ordered scratch memory from the plugin's pool (core/scratch.cuh).
using raicuda::Scratch;

// Row-major C[M,N] (fp32) = alpha·op(A)·op(B) + beta·C, A and B in `type` (a raicuda_fp).
inline int gemm_rm(int32_t ordinal, cudaStream_t s, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const void *A, int64_t lda, const void *B, int64_t ldb, int type, float beta, float *C, int64_t ldc,
                   raicuda_err *err) {
    Gemm g;
    g.ta = ta, g.tb = tb, g.M = M, g.N = N, g.K = K, g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    g.ab_type = cuda_type(type), g.c_type = CUDA_R_32F;
    return lt_gemm(ordinal, s, g, alpha, A, B, beta, C, err);
}
// The forward fast path (lora_fast.cu): no DoRA, no dropout in effect, a dense base, adapters
// in the act dtype.
int lora_forward_fast(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err);

}  // namespace raicuda::adp
