// fp32 matrix products for the adapters' CPU path, dispatched through rai::cpu::select_variant
// (AVX2+FMA, else the scalar reference). Every output element is accumulated in an order that
// depends only on K (never on its row or the number of rows), so a row computed inside a mixed
// batch is bit-identical to the same row computed alone.
#pragma once
#include <cstdint>

namespace rai::adapters::cpu {

// C[M,N] = alpha * A[M,K] · B[N,K]ᵀ + beta * C   (both operands K-contiguous; nn.Linear form)
void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
             int64_t ldb, float beta, float *C, int64_t ldc);
// C[M,N] = alpha * A[M,K] · B[K,N] + beta * C
void gemm_nn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
             int64_t ldb, float beta, float *C, int64_t ldc);
// General form: op(A) is A or Aᵀ (A stored [K,M] when ta), op(B) is B [K,N] or Bᵀ (B stored
// [N,K] when tb). Transposed A operands are copied to a contiguous scratch first.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
          const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

const char *gemm_variant_name();

// The kernels behind the dispatch (one set per ISA). beta has already been applied to C; they
// add alpha * partial products block by block.
using GemmFn = void (*)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                        int64_t ldb, float *C, int64_t ldc);
void gemm_nt_scalar(int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t);
void gemm_nn_scalar(int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t);
void gemm_nt_avx2(int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t);
void gemm_nn_avx2(int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t);

// Block sizes shared by every variant, so the accumulation order is the same for each.
constexpr int64_t kBlockK = 512;

}  // namespace rai::adapters::cpu
