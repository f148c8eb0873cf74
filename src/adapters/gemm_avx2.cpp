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
            // 2x4 register block: 8 accumulators + 2 A + 4 B vectors fit the 16 ymm registers.
            int64_t i = 0;
            for (; i + 2 <= M; i += 2) {
                const float *a0 = A + i * lda, *a1 = a0 + lda;
                int64_t j = j0;
                for (; j + 4 <= j1; j += 4) {
                    const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
                    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00,
                           c12 = c00, c13 = c00;
                    int64_t k = k0;
                    for (; k + 8 <= k1; k += 8) {
                        const __m256 va0 = _mm256_loadu_ps(a0 + k), va1 = _mm256_loadu_ps(a1 + k);
                        __m256 vb = _mm256_loadu_ps(b0 + k);
                        c00 = _mm256_fmadd_ps(va0, vb, c00);
                        c10 = _mm256_fmadd_ps(va1, vb, c10);
                        vb = _mm256_loadu_ps(b1 + k);
                        c01 = _mm256_fmadd_ps(va0, vb, c01);
                        c11 = _mm256_fmadd_ps(va1, vb, c11);
                        vb = _mm256_loadu_ps(b2 + k);
                        c02 = _mm256_fmadd_ps(va0, vb, c02);
                        c12 = _mm256_fmadd_ps(va1, vb, c12);
                        vb = _mm256_loadu_ps(b3 + k);
                        c03 = _mm256_fmadd_ps(va0, vb, c03);
                        c13 = _mm256_fmadd_ps(va1, vb, c13);
                    }
                    const __m256 c[2][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}};
                    const float *ap[2] = {a0, a1};
                    const float *bp[4] = {b0, b1, b2, b3};
                    for (int x = 0; x < 2; ++x)
                        for (int y = 0; y < 4; ++y) {
                            float sum = hsum(c[x][y]);
                            for (int64_t kk = k; kk < k1; ++kk) sum = std::fma(ap[x][kk], bp[y][kk], sum);
                            C[(i + x) * ldc + j + y] += alpha * sum;
                        }
                }
                for (; j < j1; ++j)
                    for (int x = 0; x < 2; ++x) C[(i + x) * ldc + j] += alpha * dot(A + (i + x) * lda, B + j * ldb, k0, k1);
            }
            for (; i < M; ++i)
                for (int64_t j = j0; j < j1; ++j) C[i * ldc + j] += alpha * dot(A + i * lda, B + j * ldb, k0, k1);
        }
    }
}

void gemm_nn_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc) {
    // Per element: acc = 0; acc = fma(a[i,k], b[k,j], acc) for k in the K block; C += alpha·acc.
    // Register blocks of 4 rows x 16 columns (8 accumulators), then 8 columns, then scalars.
    const __m256 valpha = _mm256_set1_ps(alpha);
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
        const int64_t k1 = k0 + kBlockK < K ? k0 + kBlockK : K;
        int64_t i = 0;
        for (; i < M; i += 4) {
            const int rows = static_cast<int>(M - i < 4 ? M - i : 4);
            if (rows < 4) {  // tail rows one at a time (same per-element sequence, no duplicated work)
                for (int x = 0; x < rows; ++x) {
                    const float *ar = A + (i + x) * lda;
                    float *cr = C + (i + x) * ldc;
                    int64_t j = 0;
                    for (; j + 32 <= N; j += 32) {
                        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
                        for (int64_t k = k0; k < k1; ++k) {
                            const __m256 va = _mm256_set1_ps(ar[k]);
                            const float *br = B + k * ldb + j;
                            c0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(br), c0);
                            c1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(br + 8), c1);
                            c2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(br + 16), c2);
                            c3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(br + 24), c3);
                        }
                        const __m256 cs[4] = {c0, c1, c2, c3};
                        for (int q = 0; q < 4; ++q)
                            _mm256_storeu_ps(cr + j + 8 * q,
                                             _mm256_add_ps(_mm256_loadu_ps(cr + j + 8 * q), _mm256_mul_ps(valpha, cs[q])));
                    }
                    for (; j + 8 <= N; j += 8) {
                        __m256 c0 = _mm256_setzero_ps();
                        for (int64_t k = k0; k < k1; ++k)
                            c0 = _mm256_fmadd_ps(_mm256_set1_ps(ar[k]), _mm256_loadu_ps(B + k * ldb + j), c0);
                        _mm256_storeu_ps(cr + j, _mm256_add_ps(_mm256_loadu_ps(cr + j), _mm256_mul_ps(valpha, c0)));
                    }
                    for (; j < N; ++j) {
                        float acc = 0.0f;
                        for (int64_t k = k0; k < k1; ++k) acc = std::fma(ar[k], B[k * ldb + j], acc);
                        cr[j] += alpha * acc;
                    }
                }
                continue;
            }
            const float *a[4];
            for (int x = 0; x < 4; ++x) a[x] = A + (i + (x < rows ? x : 0)) * lda;
            int64_t j = 0;
            for (; j + 16 <= N; j += 16) {
                __m256 c[4][2];
                for (auto &row : c) row[0] = row[1] = _mm256_setzero_ps();
                for (int64_t k = k0; k < k1; ++k) {
                    const __m256 b0 = _mm256_loadu_ps(B + k * ldb + j), b1 = _mm256_loadu_ps(B + k * ldb + j + 8);
                    for (int x = 0; x < 4; ++x) {
                        const __m256 va = _mm256_set1_ps(a[x][k]);
                        c[x][0] = _mm256_fmadd_ps(va, b0, c[x][0]);
                        c[x][1] = _mm256_fmadd_ps(va, b1, c[x][1]);
                    }
                }
                for (int x = 0; x < rows; ++x) {
                    float *cp = C + (i + x) * ldc + j;
                    _mm256_storeu_ps(cp, _mm256_add_ps(_mm256_loadu_ps(cp), _mm256_mul_ps(valpha, c[x][0])));
                    _mm256_storeu_ps(cp + 8, _mm256_add_ps(_mm256_loadu_ps(cp + 8), _mm256_mul_ps(valpha, c[x][1])));
                }
            }
            for (; j + 8 <= N; j += 8) {
                __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                for (int64_t k = k0; k < k1; ++k) {
                    const __m256 b0 = _mm256_loadu_ps(B + k * ldb + j);
                    for (int x = 0; x < 4; ++x) c[x] = _mm256_fmadd_ps(_mm256_set1_ps(a[x][k]), b0, c[x]);
                }
                for (int x = 0; x < rows; ++x) {
                    float *cp = C + (i + x) * ldc + j;
                    _mm256_storeu_ps(cp, _mm256_add_ps(_mm256_loadu_ps(cp), _mm256_mul_ps(valpha, c[x])));
                }
            }
            for (; j < N; ++j)
                for (int x = 0; x < rows; ++x) {
                    float acc = 0.0f;
                    for (int64_t k = k0; k < k1; ++k) acc = std::fma(a[x][k], B[k * ldb + j], acc);
                    C[(i + x) * ldc + j] += alpha * acc;
                }
        }
    }
}

}  // namespace rai::adapters::cpu
