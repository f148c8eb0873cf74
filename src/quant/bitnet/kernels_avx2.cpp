// AVX2 ternary GEMM: maddubs (u8 codes x i8 activations) for W2A8, FMA for f32 activations.
// Compiled with simd_flags['avx2']; reached only through select_variant.
#define RAI_SIMD_FN gemm_rows_avx2
#define RAI_DOT1(acc, c, x) (acc) = _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((c), (x)), _mm256_set1_epi16(1)))
// Four maddubs results (each |lane| <= 2 * 2 * 128 = 512) sum in int16 without overflow.
#define RAI_DOT4(acc, c0, x0, c1, x1, c2, x2, c3, x3)                                                   \
    do {                                                                                                 \
        const __m256i s01_ = _mm256_add_epi16(_mm256_maddubs_epi16((c0), (x0)), _mm256_maddubs_epi16((c1), (x1))); \
        const __m256i s23_ = _mm256_add_epi16(_mm256_maddubs_epi16((c2), (x2)), _mm256_maddubs_epi16((c3), (x3))); \
        (acc) = _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_add_epi16(s01_, s23_), _mm256_set1_epi16(1))); \
    } while (0)
#include "kernels_simd.inc"
