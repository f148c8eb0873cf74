// cuBLASLt GEMMs with plans cached per thread (lt_gemm.cu), for every CUDA capability.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "error_util.cuh"

// Returns from the calling function with a rai status when a cuBLAS call fails.
#define RAICUDA_LT(expr, err, what)                                                                     \
    do {                                                                                                \
        const cublasStatus_t raicuda_lt_ = (expr);                                                      \
        if (raicuda_lt_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            std::snprintf((err)->message, sizeof((err)->message), "%s failed: cuBLAS status %d", what,   \
                          static_cast<int>(raicuda_lt_));                                               \
            return raicuda_lt_ == CUBLAS_STATUS_ALLOC_FAILED ? RAI_ERROR_OUT_OF_MEMORY : RAI_ERROR_BACKEND; \
        }                                                                                               \
    } while (0)

namespace raicuda::lt {

// One GEMM's shape: row-major D[M,N] = alpha·op(A)·op(B) + beta·C (+ bias[N]), C == D. op(A) is
// [M,K]: A stored [M,K] (lda), or [K,M] when ta. op(B) is [K,N]: B stored [K,N] (ldb), or [N,K]
// when tb. A and B in ab_type, C/D (and the bias) in c_type; fp32 accumulation and scales.
// Mapped onto cuBLASLt's column-major Dᵀ = op(B)ᵀ·op(A)ᵀ.
struct Gemm {
    bool ta = false, tb = false;
    int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
    cudaDataType_t ab_type = CUDA_R_32F, c_type = CUDA_R_32F;
    const void *bias = nullptr;  // CUBLASLT_EPILOGUE_BIAS when set
};

// Runs one GEMM through a cached cuBLASLt plan (lt_gemm.cu). `no_algo` given: a missing
// algorithm sets it and runs nothing.
int lt_gemm(int32_t ordinal, cudaStream_t s, const Gemm &g, float alpha, const void *A, const void *B, float beta,
            void *C, raicuda_err *err, bool *no_algo = nullptr);
}  // namespace raicuda::lt
