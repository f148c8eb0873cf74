// AVX-512 VNNI ternary GEMM: vpdpbusd (u8 codes x i8 activations, int32 accumulation) on 256-bit
// vectors (AVX512VL), FMA for f32 activations. Compiled with simd_flags['avx512']; reached only
// through select_variant when AVX512F/BW/VL and VNNI are usable.
#define RAI_SIMD_FN gemm_rows_avx512
#define RAI_SIMD_VNNI 1
#define RAI_DOT1(acc, c, x) (acc) = _mm256_dpbusd_epi32((acc), (c), (x))
#define RAI_DOT4(acc, c0, x0, c1, x1, c2, x2, c3, x3) \
    do {                                               \
        (acc) = _mm256_dpbusd_epi32((acc), (c0), (x0)); \
        (acc) = _mm256_dpbusd_epi32((acc), (c1), (x1)); \
        (acc) = _mm256_dpbusd_epi32((acc), (c2), (x2)); \
        (acc) = _mm256_dpbusd_epi32((acc), (c3), (x3)); \
    } while (0)
#include "kernels_simd.inc"
