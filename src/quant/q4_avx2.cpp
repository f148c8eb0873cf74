// AVX2 (+FMA, F16C) kernels of the 4-bit formats. Compiled with -mavx2 -mfma -mf16c and
// -ffp-contract=off into a separate static library; reached only through select_variant.
// Quantise and dequantise are bit-identical to the scalar reference (same fp32 operations in the
// same order; thresholds compared with ordered, quiet, strict '>').
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <vector>

#include "q4_kernels.h"

namespace rai::q4 {

namespace {

template <Elem E>
inline __m256 load8(const void *src, int64_t i) {
    switch (E) {
    case Elem::F32: return _mm256_loadu_ps(static_cast<const float *>(src) + i);
    case Elem::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(src) + i)));
    default: {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(src) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    }
}

template <Elem E>
inline void store8(void *dst, int64_t j, __m256 v) {
    switch (E) {
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

// Two levels: x > t7 picks the half, then 7 thresholds of that half (count of strict '>').
inline __m256i nf4_codes8(__m256 x) {
    const __m256 upper = _mm256_cmp_ps(x, _mm256_set1_ps(kNF4Thresholds[7]), _CMP_GT_OQ);
    __m256i c = _mm256_and_si256(_mm256_castps_si256(upper), _mm256_set1_epi32(8));
    for (int t = 0; t < 7; ++t) {
        const __m256 thr = _mm256_blendv_ps(_mm256_set1_ps(kNF4Thresholds[t]), _mm256_set1_ps(kNF4Thresholds[8 + t]), upper);
        c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(x, thr, _CMP_GT_OQ)));
    }
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

// Four vectors of eight codes (elements 0..31 in order) -> 16 bytes, high nibble first.
inline void pack32(__m256i a, __m256i b, __m256i c, __m256i d, uint8_t *out) {
    const __m256i ab = _mm256_packus_epi32(a, b);  // 16-bit: a0-3 b0-3 | a4-7 b4-7
    const __m256i cd = _mm256_packus_epi32(c, d);
    const __m256i bytes = _mm256_packus_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const __m256i pairs = _mm256_maddubs_epi16(ordered, _mm256_set1_epi16(0x0110));  // e0 * 16 + e1
    const __m256i packed = _mm256_packus_epi16(pairs, pairs);
    const __m256i lo = _mm256_permute4x64_epi64(packed, 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out), _mm256_castsi256_si128(lo));
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

// Byte planes of a 16-entry fp32 codebook for _mm256_shuffle_epi8: planes[k] holds byte k of every
// value, repeated in both 128-bit lanes. Lane-local shuffles are cheap on every AVX2 core
// (cross-lane permutes are not on some).
struct BytePlanes {
    __m256i p[4];
    explicit BytePlanes(const float *code) {
        alignas(32) uint8_t b[4][32];
        for (int q = 0; q < 16; ++q) {
            const uint32_t u = f32_bits(code[q]);
            for (int k = 0; k < 4; ++k) b[k][q] = b[k][q + 16] = static_cast<uint8_t>(u >> (8 * k));
        }
        for (int k = 0; k < 4; ++k) p[k] = _mm256_load_si256(reinterpret_cast<const __m256i *>(b[k]));
    }
};

// 32 codes (16 bytes, element 0 in the high nibble of byte 0) -> 32 exact codebook values in
// four vectors; w[j] holds the elements {4j..4j+3} in its low lane and {16+4j..16+4j+3} in its
// high lane.
inline void decode32(const uint8_t *p, const BytePlanes &t, __m256 w[4]) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    const __m128i m = _mm_set1_epi8(0x0f);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m);
    const __m128i lo = _mm_and_si128(raw, m);
    const __m256i idx = _mm256_set_m128i(_mm_unpackhi_epi8(hi, lo), _mm_unpacklo_epi8(hi, lo));
    const __m256i b0 = _mm256_shuffle_epi8(t.p[0], idx), b1 = _mm256_shuffle_epi8(t.p[1], idx);
    const __m256i b2 = _mm256_shuffle_epi8(t.p[2], idx), b3 = _mm256_shuffle_epi8(t.p[3], idx);
    const __m256i l01 = _mm256_unpacklo_epi8(b0, b1), h01 = _mm256_unpackhi_epi8(b0, b1);
    const __m256i l23 = _mm256_unpacklo_epi8(b2, b3), h23 = _mm256_unpackhi_epi8(b2, b3);
    w[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(l01, l23));
    w[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(l01, l23));
    w[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(h01, h23));
    w[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(h01, h23));
}

template <Elem E>
inline void store4(void *dst, int64_t j, __m128 v) {
    switch (E) {
    case Elem::F32: _mm_storeu_ps(static_cast<float *>(dst) + j, v); break;
    case Elem::F16:
        _mm_storel_epi64(reinterpret_cast<__m128i *>(static_cast<uint16_t *>(dst) + j),
                         _mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        break;
    default: {
        const __m128i u = _mm_castps_si128(v);
        const __m128i absu = _mm_and_si128(u, _mm_set1_epi32(0x7fffffff));
        const __m128i is_nan = _mm_cmpgt_epi32(absu, _mm_set1_epi32(0x7f800000));
        const __m128i lsb = _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(1));
        const __m128i rounded = _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(u, _mm_set1_epi32(0x7fff)), lsb), 16);
        const __m128i quiet = _mm_or_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(0x40));
        const __m128i r = _mm_blendv_epi8(rounded, quiet, is_nan);
        _mm_storel_epi64(reinterpret_cast<__m128i *>(static_cast<uint16_t *>(dst) + j), _mm_packus_epi32(r, r));
        break;
    }
    }
}

}  // namespace

namespace {

template <Elem E, bool FP4>
void quantize_impl(const void *src, int64_t n, int64_t bs, uint8_t *codes, float *absmax) {
    constexpr int32_t type = FP4 ? kFP4 : kNF4;
    const int64_t nb = num_blocks(n, bs);
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t start = b * bs;
        const int64_t end = start + bs < n ? start + bs : n;
        __m256 vm = _mm256_set1_ps(-FLT_MAX);
        int64_t i = start;
        for (; i + 8 <= end; i += 8) vm = _mm256_max_ps(abs8(load8<E>(src, i)), vm);  // NaN lanes keep vm
        float m = hmax8(vm);
        for (; i < end; ++i) m = fmax_ignore_nan(m, std::fabs(load_elem(src, E, i)));
        if (end - start < bs) m = fmax_ignore_nan(m, 0.0f);
        absmax[b] = m;
        const float inv = 1.0f / m;
        const __m256 vinv = _mm256_set1_ps(inv);
        i = start;
        auto codes8 = [&](int64_t at) {
            const __m256 x = _mm256_mul_ps(load8<E>(src, at), vinv);
            return FP4 ? fp4_codes8(x) : nf4_codes8(x);
        };
        for (; i + 32 <= end; i += 32) pack32(codes8(i), codes8(i + 8), codes8(i + 16), codes8(i + 24), codes + (i >> 1));
        for (; i + 8 <= end; i += 8) {
            const uint32_t packed = pack8(codes8(i));
            std::memcpy(codes + (i >> 1), &packed, 4);
        }
        for (; i < end; i += 2) {
            const uint8_t hi = quantize_4bit(type, load_elem(src, E, i) * inv);
            const uint8_t lo = quantize_4bit(type, (i + 1 < end ? load_elem(src, E, i + 1) : 0.0f) * inv);
            codes[i >> 1] = static_cast<uint8_t>(hi << 4 | lo);
        }
    }
}

template <Elem E>
void dequantize_impl(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                     int32_t type, void *dst) {
    const float *code = codebook(type);
    const __m256 lut_lo = _mm256_loadu_ps(code), lut_hi = _mm256_loadu_ps(code + 8);
    int shift = 0;
    while ((int64_t{1} << shift) < bs) ++shift;
    int64_t j = 0;
    auto scalar = [&](int64_t jj) {
        const int64_t i = begin + jj;
        const int q = (codes[i >> 1] >> ((i & 1) ? 0 : 4)) & 0xf;
        store_elem(dst, E, jj, code[q] * absmax[i >> shift]);
    };
    const BytePlanes planes(code);
    for (; j < count && ((begin + j) & 7) != 0; ++j) scalar(j);
    for (; j + 8 <= count && ((begin + j) & 31) != 0; j += 8) {
        const int64_t i = begin + j;
        const __m256 v = decode8(load_u32(codes + (i >> 1)), lut_lo, lut_hi);
        store8<E>(dst, j, _mm256_mul_ps(v, _mm256_set1_ps(absmax[i >> shift])));
    }
    for (; j + 32 <= count; j += 32) {  // 32 elements never straddle a block (blocks are >= 32)
        const int64_t i = begin + j;
        __m256 w[4];
        decode32(codes + (i >> 1), planes, w);
        const __m256 scale = _mm256_set1_ps(absmax[i >> shift]);
        for (int q = 0; q < 4; ++q) {
            const __m256 v = _mm256_mul_ps(w[q], scale);
            store4<E>(dst, j + 4 * q, _mm256_castps256_ps128(v));
            store4<E>(dst, j + 16 + 4 * q, _mm256_extractf128_ps(v, 1));
        }
    }
    for (; j + 8 <= count; j += 8) {
        const int64_t i = begin + j;
        const __m256 v = decode8(load_u32(codes + (i >> 1)), lut_lo, lut_hi);
        store8<E>(dst, j, _mm256_mul_ps(v, _mm256_set1_ps(absmax[i >> shift])));
    }
    for (; j < count; ++j) scalar(j);
}

}  // namespace

void quantize_avx2(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax) {
    const bool fp4 = type == kFP4;
    switch (elem) {
    case Elem::F32:
        fp4 ? quantize_impl<Elem::F32, true>(src, n, bs, codes, absmax) : quantize_impl<Elem::F32, false>(src, n, bs, codes, absmax);
        break;
    case Elem::F16:
        fp4 ? quantize_impl<Elem::F16, true>(src, n, bs, codes, absmax) : quantize_impl<Elem::F16, false>(src, n, bs, codes, absmax);
        break;
    default:
        fp4 ? quantize_impl<Elem::BF16, true>(src, n, bs, codes, absmax)
            : quantize_impl<Elem::BF16, false>(src, n, bs, codes, absmax);
        break;
    }
}

void dequantize_avx2(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                     int32_t type, void *dst, Elem elem) {
    switch (elem) {
    case Elem::F32: dequantize_impl<Elem::F32>(codes, absmax, begin, count, bs, type, dst); break;
    case Elem::F16: dequantize_impl<Elem::F16>(codes, absmax, begin, count, bs, type, dst); break;
    default: dequantize_impl<Elem::BF16>(codes, absmax, begin, count, bs, type, dst); break;
    }
}

namespace {

// One weight row against MR activation rows, decoding 8 codes per step straight into registers.
// Requires the row to start at an element index that is a multiple of 8: 8-code groups then
// never straddle a quant block (blocks are multiples of 32), so each block's partial sums are
// scaled once by its absmax.
template <int MR>
void gemv_row(const uint8_t *codes, const float *absmax, int shift, int64_t rb, int64_t K, const float *x, float *out,
              __m256 lut_lo, __m256 lut_hi, const float *code) {
    __m256 acc[MR];
    float tail[MR];
    for (int m = 0; m < MR; ++m) {
        acc[m] = _mm256_setzero_ps();
        tail[m] = 0.0f;
    }
    const int64_t bs = int64_t{1} << shift;
    int64_t k = 0;
    while (k < K) {
        const int64_t blk = (rb + k) >> shift;
        const int64_t seg_end = std::min(K, (blk + 1) * bs - rb);
        __m256 p0[MR], p1[MR];
        for (int m = 0; m < MR; ++m) p0[m] = p1[m] = _mm256_setzero_ps();
        int64_t kk = k;
        for (; kk + 16 <= seg_end; kk += 16) {
            const __m256 w0 = decode8(load_u32(codes + ((rb + kk) >> 1)), lut_lo, lut_hi);
            const __m256 w1 = decode8(load_u32(codes + ((rb + kk) >> 1) + 4), lut_lo, lut_hi);
            for (int m = 0; m < MR; ++m) {
                p0[m] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + m * K + kk), p0[m]);
                p1[m] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + m * K + kk + 8), p1[m]);
            }
        }
        for (; kk + 8 <= seg_end; kk += 8) {
            const __m256 w0 = decode8(load_u32(codes + ((rb + kk) >> 1)), lut_lo, lut_hi);
            for (int m = 0; m < MR; ++m) p0[m] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + m * K + kk), p0[m]);
        }
        const float a = absmax[blk];
        const __m256 scale = _mm256_set1_ps(a);
        for (int m = 0; m < MR; ++m) acc[m] = _mm256_fmadd_ps(_mm256_add_ps(p0[m], p1[m]), scale, acc[m]);
        for (; kk < seg_end; ++kk) {  // only at the end of a row whose length is not a multiple of 8
            const int64_t i = rb + kk;
            const float w = code[(codes[i >> 1] >> ((i & 1) ? 0 : 4)) & 0xf] * a;
            for (int m = 0; m < MR; ++m) tail[m] += w * x[m * K + kk];
        }
        k = seg_end;
    }
    for (int m = 0; m < MR; ++m) out[m] = hsum8(acc[m]) + tail[m];
}

}  // namespace

namespace {

// The fast GEMV row for K % 32 == 0: xs holds the activations rearranged into decode32's order,
// so each 32-code chunk is 4 plain loads and 4 FMAs per activation row.
template <int MR>
void gemv_row32(const uint8_t *codes, const float *absmax, int shift, int64_t rb, int64_t K, const float *xs,
                float *out, const BytePlanes &planes) {
    constexpr int CH = MR <= 2 ? 4 : 2;  // independent FMA chains per row
    __m256 acc[MR];
    for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
    const int64_t bs = int64_t{1} << shift;
    const int64_t chunks = K / 32;
    int64_t c = 0;
    while (c < chunks) {
        const int64_t blk = (rb + c * 32) >> shift;
        const int64_t cend = std::min(chunks, ((blk + 1) * bs - rb) / 32);
        __m256 p[MR][CH];
        for (int m = 0; m < MR; ++m)
            for (int h = 0; h < CH; ++h) p[m][h] = _mm256_setzero_ps();
        for (; c < cend; ++c) {
            __m256 w[4];
            decode32(codes + ((rb + c * 32) >> 1), planes, w);
            for (int m = 0; m < MR; ++m) {
                const float *xr = xs + m * K + c * 32;
                for (int q = 0; q < 4; ++q) p[m][q % CH] = _mm256_fmadd_ps(w[q], _mm256_loadu_ps(xr + 8 * q), p[m][q % CH]);
            }
        }
        const __m256 scale = _mm256_set1_ps(absmax[blk]);
        for (int m = 0; m < MR; ++m) {
            __m256 sum = p[m][0];
            for (int h = 1; h < CH; ++h) sum = _mm256_add_ps(sum, p[m][h]);
            acc[m] = _mm256_fmadd_ps(sum, scale, acc[m]);
        }
    }
    for (int m = 0; m < MR; ++m) out[m] = hsum8(acc[m]);
}

}  // namespace

void gemv_avx2(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
               const float *x, int64_t M, float *y) {
    const float *code = codebook(type);
    const __m256 lut_lo = _mm256_loadu_ps(code), lut_hi = _mm256_loadu_ps(code + 8);
    int shift = 0;
    while ((int64_t{1} << shift) < bs) ++shift;
    float out[4];
    if (K % 32 == 0) {
        // Rearrange x once: within each 32-chunk, [0..3, 16..19, 4..7, 20..23, 8..11, 24..27, 12..15, 28..31].
        std::vector<float> xs(static_cast<std::size_t>(M * K));
        for (int64_t m = 0; m < M; ++m)
            for (int64_t c = 0; c < K; c += 32)
                for (int q = 0; q < 4; ++q)
                    for (int e = 0; e < 4; ++e) {
                        xs[static_cast<std::size_t>(m * K + c + 8 * q + e)] = x[m * K + c + 4 * q + e];
                        xs[static_cast<std::size_t>(m * K + c + 8 * q + 4 + e)] = x[m * K + c + 16 + 4 * q + e];
                    }
        const BytePlanes planes(code);
        for (int64_t n = 0; n < N; ++n) {
            switch (M) {
            case 1: gemv_row32<1>(codes, absmax, shift, n * K, K, xs.data(), out, planes); break;
            case 2: gemv_row32<2>(codes, absmax, shift, n * K, K, xs.data(), out, planes); break;
            case 3: gemv_row32<3>(codes, absmax, shift, n * K, K, xs.data(), out, planes); break;
            default: gemv_row32<4>(codes, absmax, shift, n * K, K, xs.data(), out, planes); break;
            }
            for (int64_t m = 0; m < M; ++m) y[m * N + n] = out[m];
        }
        return;
    }
    std::vector<float> row;
    for (int64_t n = 0; n < N; ++n) {
        const int64_t rb = n * K;
        if ((rb & 7) != 0) {  // odd row starts (K not a multiple of 8): decode the row, then dot
            row.resize(static_cast<std::size_t>(K));
            dequantize_impl<Elem::F32>(codes, absmax, rb, K, bs, type, row.data());
            dot_rows_avx2(row.data(), x, M, K, out);
        } else {
            switch (M) {
            case 1: gemv_row<1>(codes, absmax, shift, rb, K, x, out, lut_lo, lut_hi, code); break;
            case 2: gemv_row<2>(codes, absmax, shift, rb, K, x, out, lut_lo, lut_hi, code); break;
            case 3: gemv_row<3>(codes, absmax, shift, rb, K, x, out, lut_lo, lut_hi, code); break;
            default: gemv_row<4>(codes, absmax, shift, rb, K, x, out, lut_lo, lut_hi, code); break;
            }
        }
        for (int64_t m = 0; m < M; ++m) y[m * N + n] = out[m];
    }
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
