// AVX2 (+FMA, F16C) kernels of the 4-bit formats. Compiled with -mavx2 -mfma -mf16c and
// -ffp-contract=off into a separate static library; reached only through select_variant.
// Quantise and dequantise are bit-identical to the scalar reference (same fp32 operations in the
// same order; thresholds compared with ordered, quiet, strict '>').
#include <immintrin.h>

#include <cfloat>

#include "q4_kernels.h"

namespace rai::q4 {

namespace {

inline __m256 load8(const void *src, Elem e, int64_t i) {
    switch (e) {
    case Elem::F32: return _mm256_loadu_ps(static_cast<const float *>(src) + i);
    case Elem::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(src) + i)));
    default: {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(src) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    }
}

inline void store8(void *dst, Elem e, int64_t j, __m256 v) {
    switch (e) {
    case Elem::F32: _mm256_storeu_ps(static_cast<float *>(dst) + j, v); break;
    case Elem::F16:
        _mm_storeu_si128(reinterpret_cast<__m128i *>(static_cast<uint16_t *>(dst) + j),
                         _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        break;
    default: {
        const __m256i u = _mm256_castps_si256(v);
        const __m256i absu = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
        const __m256i is_nan = _mm256_cmpgt_epi32(absu, _mm256_set1_epi32(0x7f800000));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        const __m256i rounded =
            _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
        const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
        const __m256i r = _mm256_blendv_epi8(rounded, quiet, is_nan);
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(static_cast<uint16_t *>(dst) + j),
                         _mm256_castsi256_si128(packed));
        break;
    }
    }
}

inline __m256 abs8(__m256 v) { return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }

inline float hmax8(__m256 v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    float m = t[0];
    for (int i = 1; i < 8; ++i) m = fmax_ignore_nan(m, t[i]);
    return m;
}

inline float hsum8(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

inline __m256i nf4_codes8(__m256 x) {
    __m256i c = _mm256_setzero_si256();
    for (int t = 0; t < 15; ++t)
        c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_set1_ps(kNF4Thresholds[t]), _CMP_GT_OQ)));
    return c;
}

inline __m256i fp4_codes8(__m256 x) {
    const __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    const __m256 a = abs8(x);
    __m256i c = _mm256_setzero_si256();
    for (int t = 0; t < 7; ++t)
        c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(kFP4Thresholds[t]), _CMP_GT_OQ)));
    const __m256i lut = _mm256_setr_epi32(0, 1, 6, 7, 4, 5, 2, 3);
    return _mm256_add_epi32(_mm256_permutevar8x32_epi32(lut, c), _mm256_and_si256(neg, _mm256_set1_epi32(8)));
}

// Eight codes (int32 lanes) -> four bytes, first element in the high nibble.
inline uint32_t pack8(__m256i c) {
    const __m256i p = _mm256_or_si256(_mm256_slli_epi64(c, 4), _mm256_srli_epi64(c, 32));
    const __m256i sel = _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                         0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i r = _mm256_shuffle_epi8(p, sel);
    const uint32_t lo = static_cast<uint32_t>(_mm256_extract_epi16(r, 0)) & 0xffffu;
    const uint32_t hi = static_cast<uint32_t>(_mm256_extract_epi16(r, 8)) & 0xffffu;
    return lo | hi << 16;
}

// Eight values from four code bytes (the element at an index multiple of 8, high nibble first).
inline __m256 decode8(uint32_t bytes, __m256 lut_lo, __m256 lut_hi) {
    const __m256i shifts = _mm256_setr_epi32(4, 0, 12, 8, 20, 16, 28, 24);
    const __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(bytes)), shifts),
                                         _mm256_set1_epi32(0xf));
    const __m256 lo = _mm256_permutevar8x32_ps(lut_lo, idx);
    const __m256 hi = _mm256_permutevar8x32_ps(lut_hi, idx);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

inline uint32_t load_u32(const uint8_t *p) {
    uint32_t u;
    std::memcpy(&u, p, 4);
    return u;
}

}  // namespace

void quantize_avx2(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax) {
    const int64_t nb = num_blocks(n, bs);
    const bool fp4 = type == kFP4;
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t start = b * bs;
        const int64_t end = start + bs < n ? start + bs : n;
        __m256 vm = _mm256_set1_ps(-FLT_MAX);
        int64_t i = start;
        for (; i + 8 <= end; i += 8) vm = _mm256_max_ps(abs8(load8(src, elem, i)), vm);  // NaN lanes keep vm
        float m = hmax8(vm);
        for (; i < end; ++i) m = fmax_ignore_nan(m, std::fabs(load_elem(src, elem, i)));
        if (end - start < bs) m = fmax_ignore_nan(m, 0.0f);
        absmax[b] = m;
        const float inv = 1.0f / m;
        const __m256 vinv = _mm256_set1_ps(inv);
        i = start;
        for (; i + 8 <= end; i += 8) {
            const __m256 x = _mm256_mul_ps(load8(src, elem, i), vinv);
            const uint32_t packed = pack8(fp4 ? fp4_codes8(x) : nf4_codes8(x));
            std::memcpy(codes + (i >> 1), &packed, 4);
        }
        for (; i < end; i += 2) {
            const uint8_t hi = quantize_4bit(type, load_elem(src, elem, i) * inv);
            const uint8_t lo = quantize_4bit(type, (i + 1 < end ? load_elem(src, elem, i + 1) : 0.0f) * inv);
            codes[i >> 1] = static_cast<uint8_t>(hi << 4 | lo);
        }
    }
}

void dequantize_avx2(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                     int32_t type, void *dst, Elem elem) {
    const float *code = codebook(type);
    const __m256 lut_lo = _mm256_loadu_ps(code), lut_hi = _mm256_loadu_ps(code + 8);
    int shift = 0;
    while ((int64_t{1} << shift) < bs) ++shift;
    int64_t j = 0;
    auto scalar = [&](int64_t jj) {
        const int64_t i = begin + jj;
        const int q = (codes[i >> 1] >> ((i & 1) ? 0 : 4)) & 0xf;
        store_elem(dst, elem, jj, code[q] * absmax[i >> shift]);
    };
    for (; j < count && ((begin + j) & 7) != 0; ++j) scalar(j);
    for (; j + 8 <= count; j += 8) {
        const int64_t i = begin + j;
        const __m256 v = decode8(load_u32(codes + (i >> 1)), lut_lo, lut_hi);
        store8(dst, elem, j, _mm256_mul_ps(v, _mm256_set1_ps(absmax[i >> shift])));
    }
    for (; j < count; ++j) scalar(j);
}

void dot_rows_avx2(const float *w, const float *x, int64_t M, int64_t K, float *out) {
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        const int64_t mr = M - m0 < 4 ? M - m0 : 4;
        __m256 a0[4], a1[4];
        for (int r = 0; r < 4; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            const __m256 w0 = _mm256_loadu_ps(w + k), w1 = _mm256_loadu_ps(w + k + 8);
            for (int r = 0; r < mr; ++r) {
                const float *xr = x + (m0 + r) * K + k;
                a0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xr), w0, a0[r]);
                a1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 8), w1, a1[r]);
            }
        }
        for (int r = 0; r < mr; ++r) {
            float s = hsum8(_mm256_add_ps(a0[r], a1[r]));
            const float *xr = x + (m0 + r) * K;
            for (int64_t kk = k; kk < K; ++kk) s += xr[kk] * w[kk];
            out[m0 + r] = s;
        }
    }
}

namespace {

// y[MR x NR] += x[MR rows] . w[NR rows]^T over k in [0, kc).
template <int MR, int NR>
inline void nt_tile(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t kc, float *y, int64_t ldy) {
    __m256 acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 wv[NR];
        for (int j = 0; j < NR; ++j) wv[j] = _mm256_loadu_ps(w + j * ldw + k);
        for (int i = 0; i < MR; ++i) {
            const __m256 xv = _mm256_loadu_ps(x + i * ldx + k);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            float s = hsum8(acc[i][j]);
            for (int64_t kk = k; kk < kc; ++kk) s += x[i * ldx + kk] * w[j * ldw + kk];
            y[i * ldy + j] += s;
        }
}

template <int MR>
inline void nt_row_tiles(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t N, int64_t kc, float *y,
                         int64_t ldy) {
    int64_t n = 0;
    for (; n + 3 <= N; n += 3) nt_tile<MR, 3>(x, ldx, w + n * ldw, ldw, kc, y + n, ldy);
    if (N - n == 2) nt_tile<MR, 2>(x, ldx, w + n * ldw, ldw, kc, y + n, ldy);
    else if (N - n == 1) nt_tile<MR, 1>(x, ldx, w + n * ldw, ldw, kc, y + n, ldy);
}

// acc[MR rows x 16 columns] += dy[MR rows, N] . w[N, 16 columns].
template <int MR>
inline void nn_tile16(const float *dy, int64_t ldd, const float *w, int64_t ldw, int64_t N, float *acc, int64_t lda) {
    __m256 a[MR][2];
    for (int i = 0; i < MR; ++i) {
        a[i][0] = _mm256_loadu_ps(acc + i * lda);
        a[i][1] = _mm256_loadu_ps(acc + i * lda + 8);
    }
    for (int64_t n = 0; n < N; ++n) {
        const __m256 w0 = _mm256_loadu_ps(w + n * ldw), w1 = _mm256_loadu_ps(w + n * ldw + 8);
        for (int i = 0; i < MR; ++i) {
            const __m256 d = _mm256_broadcast_ss(dy + i * ldd + n);
            a[i][0] = _mm256_fmadd_ps(d, w0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(d, w1, a[i][1]);
        }
    }
    for (int i = 0; i < MR; ++i) {
        _mm256_storeu_ps(acc + i * lda, a[i][0]);
        _mm256_storeu_ps(acc + i * lda + 8, a[i][1]);
    }
}

template <int MR>
inline void nn_rows(const float *dy, int64_t ldd, const float *w, int64_t N, int64_t K, float *acc) {
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) nn_tile16<MR>(dy, ldd, w + k, K, N, acc + k, K);
    for (int i = 0; i < MR; ++i)
        for (int64_t n = 0; n < N; ++n) {
            const float d = dy[i * ldd + n];
            for (int64_t kk = k; kk < K; ++kk) acc[i * K + kk] += d * w[n * K + kk];
        }
}

}  // namespace

void gemm_nt_avx2(const float *x, const float *w, int64_t M, int64_t N, int64_t K, float *y, int64_t ldy) {
    constexpr int64_t kKc = 256;  // k-chunk: 64 rows of w x 256 floats = 64 KiB stays in L2
    for (int64_t k0 = 0; k0 < K; k0 += kKc) {
        const int64_t kc = K - k0 < kKc ? K - k0 : kKc;
        int64_t m = 0;
        for (; m + 4 <= M; m += 4) nt_row_tiles<4>(x + m * K + k0, K, w + k0, K, N, kc, y + m * ldy, ldy);
        switch (M - m) {
        case 3: nt_row_tiles<3>(x + m * K + k0, K, w + k0, K, N, kc, y + m * ldy, ldy); break;
        case 2: nt_row_tiles<2>(x + m * K + k0, K, w + k0, K, N, kc, y + m * ldy, ldy); break;
        case 1: nt_row_tiles<1>(x + m * K + k0, K, w + k0, K, N, kc, y + m * ldy, ldy); break;
        default: break;
        }
    }
}

void gemm_nn_acc_avx2(const float *dy, int64_t ldd, const float *w, int64_t M, int64_t N, int64_t K, float *acc) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) nn_rows<4>(dy + m * ldd, ldd, w, N, K, acc + m * K);
    switch (M - m) {
    case 3: nn_rows<3>(dy + m * ldd, ldd, w, N, K, acc + m * K); break;
    case 2: nn_rows<2>(dy + m * ldd, ldd, w, N, K, acc + m * K); break;
    case 1: nn_rows<1>(dy + m * ldd, ldd, w, N, K, acc + m * K); break;
    default: break;
    }
}

}  // namespace rai::q4
