// AVX2 variants of the compressor loops (compiled with -mavx2 -mfma; called only through
// rai::cpu::select_variant when the CPU has them).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "gc_kernels.h"

namespace rai::gc::kern {

namespace {

void ef_add_avx2(const float *g, const float *r, float *m, std::size_t n) {
    if (r == nullptr) {
        if (m != g) std::memcpy(m, g, n * sizeof(float));
        return;
    }
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(m + i, _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_loadu_ps(r + i)));
    for (; i < n; ++i) m[i] = g[i] + r[i];
}

void abs_stats_avx2(const float *x, std::size_t n, double *sum_abs, double *sum_sq) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_and_ps(_mm256_loadu_ps(x + i), absmask);
        const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        a0 = _mm256_add_pd(a0, lo);
        a1 = _mm256_add_pd(a1, hi);
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    alignas(32) double ta[4], ts[4];
    _mm256_store_pd(ta, _mm256_add_pd(a0, a1));
    _mm256_store_pd(ts, _mm256_add_pd(s0, s1));
    double a = (ta[0] + ta[1]) + (ta[2] + ta[3]);
    double s = (ts[0] + ts[1]) + (ts[2] + ts[3]);
    for (; i < n; ++i) {
        const double v = x[i];
        a += std::fabs(v);
        s += v * v;
    }
    *sum_abs = a;
    *sum_sq = s;
}

void pack_sign_avx2(const float *x, std::size_t n, uint8_t *bits) {
    std::size_t i = 0;
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        // ordered less-than: NaN gives 0, like the scalar x < 0
        const __m256 lt = _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_LT_OQ);
        bits[i / 8] = static_cast<uint8_t>(_mm256_movemask_ps(lt));
    }
    if (i < n) {
        uint8_t v = 0;
        for (std::size_t j = 0; i + j < n; ++j) v |= static_cast<uint8_t>((x[i + j] < 0.0f) << j);
        bits[i / 8] = v;
    }
}

// bit j of the index -> bit 2j (no pdep: it is microcoded and slow on some AMD CPUs)
constexpr uint8_t kSpread[16] = {0x00, 0x01, 0x04, 0x05, 0x10, 0x11, 0x14, 0x15,
                                 0x40, 0x41, 0x44, 0x45, 0x50, 0x51, 0x54, 0x55};

// 8 elements at a time: keep and sign masks from two compares, spread into the 2-bit codes;
// kept |x| summed in double lanes.
void pack_ternary_avx2(const float *x, std::size_t n, float thr, uint8_t *codes, double *kept_sum,
                       uint64_t *kept_count) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 vthr = _mm256_set1_ps(thr), zero = _mm256_setzero_ps();
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    uint64_t cnt = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 a = _mm256_and_ps(v, absmask);
        const __m256 keep = _mm256_cmp_ps(a, vthr, _CMP_GT_OQ);
        const __m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
        const uint32_t k = static_cast<uint32_t>(_mm256_movemask_ps(keep));
        const uint32_t m = static_cast<uint32_t>(_mm256_movemask_ps(neg)) & k;
        const uint32_t p = k & ~m;
        codes[i / 4] = static_cast<uint8_t>(kSpread[p & 15] | (kSpread[m & 15] << 1));
        codes[i / 4 + 1] = static_cast<uint8_t>(kSpread[p >> 4] | (kSpread[m >> 4] << 1));
        cnt += static_cast<uint64_t>(__builtin_popcount(k));
        const __m256 kept = _mm256_and_ps(a, keep);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(kept)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(kept, 1)));
    }
    alignas(32) double t[4];
    _mm256_store_pd(t, _mm256_add_pd(s0, s1));
    double kept = (t[0] + t[1]) + (t[2] + t[3]);
    for (std::size_t b = i / 4; b < (n + 3) / 4; ++b) {
        uint32_t v = 0;
        for (std::size_t j = 0; j < 4 && 4 * b + j < n; ++j) {
            const float xi = x[4 * b + j], a = std::fabs(xi);
            if (a > thr) {
                kept += a;
                ++cnt;
                v |= (xi < 0.0f ? 2u : 1u) << (2 * j);
            }
        }
        codes[b] = static_cast<uint8_t>(v);
    }
    *kept_sum = kept;
    *kept_count = cnt;
}

const Kernels kAvx2{"avx2", ef_add_avx2, abs_stats_avx2, pack_sign_avx2, pack_ternary_avx2};

}  // namespace

const Kernels &avx2_kernels() { return kAvx2; }

}  // namespace rai::gc::kern
