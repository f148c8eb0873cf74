// AVX2 + FMA kernels for gemm_cpu.h; compiled with -mavx2 -mfma, called only through
// select_variant. Per output element the accumulation order depends only on K.
#include <immintrin.h>

#include <cmath>

#include "gemm_cpu.h"

namespace rai::adapters::cpu {

namespace {

inline float hsum(__m256 v) {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

// One element's dot product over [k0, k1): eight lanes, then a fixed reduction, then the tail.
// The 4x4 block below performs exactly this sequence for each of its sixteen elements.
inline float dot(const float *a, const float *b, int64_t k0, int64_t k1) {
    __m256 acc = _mm256_setzero_ps();
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    float s = hsum(acc);
    for (; k < k1; ++k) s = std::fma(a[k], b[k], s);
    return s;
}

}  // namespace

void gemm_nt_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc) {
    constexpr int64_t kBlockN = 64;
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t k1 = k0 + kBlockK < K ? k0 + kBlockK : K;
        for (int64_t j0 = 0; j0 < N; j0 += kBlockN) {
            const int64_t j1 = j0 + kBlockN < N ? j0 + kBlockN : N;
            int64_t i = 0;
            for (; i + 4 <= M; i += 4) {
                const float *a0 = A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
                int64_t j = j0;
                for (; j + 4 <= j1; j += 4) {
                    const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
                    __m256 c[4][4];
                    for (auto &row : c)
                        for (auto &v : row) v = _mm256_setzero_ps();
                    int64_t k = k0;
                    for (; k + 8 <= k1; k += 8) {
                        const __m256 va[4] = {_mm256_loadu_ps(a0 + k), _mm256_loadu_ps(a1 + k), _mm256_loadu_ps(a2 + k),
                                              _mm256_loadu_ps(a3 + k)};
                        const __m256 vb[4] = {_mm256_loadu_ps(b0 + k), _mm256_loadu_ps(b1 + k), _mm256_loadu_ps(b2 + k),
                                              _mm256_loadu_ps(b3 + k)};
                        for (int x = 0; x < 4; ++x)
                            for (int y = 0; y < 4; ++y) c[x][y] = _mm256_fmadd_ps(va[x], vb[y], c[x][y]);
                    }
                    const float *ap[4] = {a0, a1, a2, a3};
                    const float *bp[4] = {b0, b1, b2, b3};
                    for (int x = 0; x < 4; ++x)
                        for (int y = 0; y < 4; ++y) {
                            float s = hsum(c[x][y]);
                            for (int64_t kk = k; kk < k1; ++kk) s = std::fma(ap[x][kk], bp[y][kk], s);
                            C[(i + x) * ldc + j + y] += alpha * s;
                        }
                }
                for (; j < j1; ++j)
                    for (int x = 0; x < 4; ++x) C[(i + x) * ldc + j] += alpha * dot(A + (i + x) * lda, B + j * ldb, k0, k1);
            }
            for (; i < M; ++i)
                for (int64_t j = j0; j < j1; ++j) C[i * ldc + j] += alpha * dot(A + i * lda, B + j * ldb, k0, k1);
        }
    }
}

void gemm_nn_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc) {
    constexpr int64_t kBlockN = 256;
    alignas(32) float acc[4][kBlockN];
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t k1 = k0 + kBlockK < K ? k0 + kBlockK : K;
        for (int64_t j0 = 0; j0 < N; j0 += kBlockN) {
            const int64_t nb = (j0 + kBlockN < N ? j0 + kBlockN : N) - j0;
            for (int64_t i = 0; i < M; i += 4) {
                const int rows = static_cast<int>(M - i < 4 ? M - i : 4);
                for (int x = 0; x < rows; ++x)
                    for (int64_t j = 0; j < nb; ++j) acc[x][j] = 0.0f;
                for (int64_t k = k0; k < k1; ++k) {
                    const float *b = B + k * ldb + j0;
                    for (int x = 0; x < rows; ++x) {
                        const float av = A[(i + x) * lda + k];
                        const __m256 va = _mm256_set1_ps(av);
                        float *ac = acc[x];
                        int64_t j = 0;
                        for (; j + 8 <= nb; j += 8)
                            _mm256_store_ps(ac + j, _mm256_fmadd_ps(va, _mm256_loadu_ps(b + j), _mm256_load_ps(ac + j)));
                        for (; j < nb; ++j) ac[j] = std::fma(av, b[j], ac[j]);
                    }
                }
                for (int x = 0; x < rows; ++x) {
                    float *c = C + (i + x) * ldc + j0;
                    for (int64_t j = 0; j < nb; ++j) c[j] += alpha * acc[x][j];
                }
            }
        }
    }
}

}  // namespace rai::adapters::cpu
