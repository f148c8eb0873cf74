#include "gemm_cpu.h"

#include <cmath>
#include <vector>

#include "../core/cpu_features.h"

namespace rai::adapters::cpu {

namespace {

struct Kernels {
    GemmFn nt;
    GemmFn nn;
};

const rai::cpu::Variant<Kernels> kVariants[] = {
    {rai::cpu::kAvx2Level, "avx2", {gemm_nt_avx2, gemm_nn_avx2}},
    {0, "scalar", {gemm_nt_scalar, gemm_nn_scalar}},
};

void apply_beta(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < M; ++i) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; ++j) c[j] = 0.0f;
        else
            for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
}

}  // namespace

const char *gemm_variant_name() { return rai::cpu::select_variant(kVariants).name; }

// Scalar reference: per element, per K block, a sequential sum over k; then C += alpha * sum.
// The AVX2 kernel sums eight interleaved lanes; results agree within float rounding.
void gemm_nt_scalar(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc) {
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t k1 = k0 + kBlockK < K ? k0 + kBlockK : K;
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                const float *a = A + i * lda, *b = B + j * ldb;
                float s = 0.0f;
                for (int64_t k = k0; k < k1; ++k) s = std::fma(a[k], b[k], s);
                C[i * ldc + j] += alpha * s;
            }
    }
}

void gemm_nn_scalar(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc) {
    std::vector<float> acc(static_cast<std::size_t>(N));
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t k1 = k0 + kBlockK < K ? k0 + kBlockK : K;
        for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < N; ++j) acc[static_cast<std::size_t>(j)] = 0.0f;
            for (int64_t k = k0; k < k1; ++k) {
                const float a = A[i * lda + k];
                const float *b = B + k * ldb;
                for (int64_t j = 0; j < N; ++j) acc[static_cast<std::size_t>(j)] = std::fma(a, b[j], acc[static_cast<std::size_t>(j)]);
            }
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] += alpha * acc[static_cast<std::size_t>(j)];
        }
    }
}

void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    apply_beta(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0.0f) return;
    rai::cpu::select_variant(kVariants).fn.nt(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

void gemm_nn(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    apply_beta(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0.0f) return;
    rai::cpu::select_variant(kVariants).fn.nn(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
          int64_t ldb, float beta, float *C, int64_t ldc) {
    std::vector<float> at;
    if (ta) {  // A stored [K, M]: make it [M, K]
        at.resize(static_cast<std::size_t>(M * K));
        for (int64_t k = 0; k < K; ++k)
            for (int64_t i = 0; i < M; ++i) at[static_cast<std::size_t>(i * K + k)] = A[k * lda + i];
        A = at.data();
        lda = K;
    }
    if (tb) gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else gemm_nn(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace rai::adapters::cpu
