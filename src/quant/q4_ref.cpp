// Scalar reference kernels of the 4-bit formats: simple, obviously right, and the oracle every
// fast path is tested against.
#include <cfloat>
#include <vector>

#include "q4_kernels.h"

namespace rai::q4 {

void quantize_ref(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax) {
    const int64_t nb = num_blocks(n, bs);
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t start = b * bs;
        const int64_t end = start + bs < n ? start + bs : n;
        float m = -FLT_MAX;  // bnb's initial value; a full block of NaN keeps it
        for (int64_t i = start; i < end; ++i) m = fmax_ignore_nan(m, std::fabs(load_elem(src, elem, i)));
        if (end - start < bs) m = fmax_ignore_nan(m, 0.0f);  // the zero padding of a partial block
        absmax[b] = m;
        const float inv = 1.0f / m;  // fp32 reciprocal; an all-zero block gives inf, then 0 * inf = NaN
        for (int64_t i = start; i < end; i += 2) {
            const uint8_t hi = quantize_4bit(type, load_elem(src, elem, i) * inv);
            const uint8_t lo = quantize_4bit(type, (i + 1 < end ? load_elem(src, elem, i + 1) : 0.0f) * inv);
            codes[i >> 1] = static_cast<uint8_t>(hi << 4 | lo);
        }
    }
}

void dequantize_ref(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs,
                    int32_t type, void *dst, Elem elem) {
    const float *code = codebook(type);
    int shift = 0;  // bs is a power of two: i / bs == i >> shift
    while ((int64_t{1} << shift) < bs) ++shift;
    for (int64_t j = 0; j < count; ++j) {
        const int64_t i = begin + j;
        const int q = (codes[i >> 1] >> ((i & 1) ? 0 : 4)) & 0xf;
        store_elem(dst, elem, j, code[q] * absmax[i >> shift]);
    }
}

float mean_absmax(const float *absmax, int64_t nb) {
    double partial[256] = {};
    for (int64_t i = 0; i < nb; ++i) partial[i & 255] += static_cast<double>(absmax[i]);
    for (int stride = 128; stride >= 1; stride >>= 1)
        for (int j = 0; j < stride; ++j) partial[j] += partial[j + stride];
    return static_cast<float>(partial[0] / static_cast<double>(nb));
}

void quantize_8bit_blockwise(const float *src, int64_t n, int64_t bs, const float *code, uint8_t *out,
                             float *absmax2) {
    const int64_t nb = num_blocks(n, bs);
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t start = b * bs;
        const int64_t end = start + bs < n ? start + bs : n;
        float m = -FLT_MAX;
        for (int64_t i = start; i < end; ++i) m = fmax_ignore_nan(m, std::fabs(src[i]));
        if (end - start < bs) m = fmax_ignore_nan(m, 0.0f);
        absmax2[b] = m;
        const float inv = 1.0f / m;
        for (int64_t i = start; i < end; ++i) out[i] = quantize_8bit(code, src[i] * inv);
    }
}

void decode_nested_absmax(const uint8_t *absmax8, const float *absmax2, const float *code8, float offset,
                          int64_t nb, int64_t nbs, float *out) {
    for (int64_t j = 0; j * nbs < nb; ++j) {
        const float a2 = absmax2[j];
        const int64_t end = (j + 1) * nbs < nb ? (j + 1) * nbs : nb;
        for (int64_t b = j * nbs; b < end; ++b) {
            const float scaled = code8[absmax8[b]] * a2;
            out[b] = scaled + offset;
        }
    }
}

void gemv_ref(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
              const float *x, int64_t M, float *y) {
    std::vector<float> w(static_cast<std::size_t>(K));
    float out[kGemvMaxM];
    for (int64_t n = 0; n < N; ++n) {
        dequantize_ref(codes, absmax, n * K, K, bs, type, w.data(), Elem::F32);
        dot_rows_ref(w.data(), x, M, K, out);
        for (int64_t m = 0; m < M; ++m) y[m * N + n] = out[m];
    }
}

void dot_rows_ref(const float *w, const float *x, int64_t M, int64_t K, float *out) {
    for (int64_t m = 0; m < M; ++m) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k) acc += x[m * K + k] * w[k];
        out[m] = acc;
    }
}

void gemm_nt_ref(const float *x, const float *w, int64_t M, int64_t N, int64_t K, float *y, int64_t ldy) {
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k) acc += x[m * K + k] * w[n * K + k];
            y[m * ldy + n] += acc;
        }
}

void gemm_nn_acc_ref(const float *dy, int64_t ldd, const float *w, int64_t M, int64_t N, int64_t K, float *acc) {
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            const float d = dy[m * ldd + n];
            const float *wr = w + n * K;
            float *a = acc + m * K;
            for (int64_t k = 0; k < K; ++k) a[k] += d * wr[k];
        }
}

void to_f32(const void *src, Elem elem, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; ++i) dst[i] = load_elem(src, elem, i);
}

void from_f32(const float *src, int64_t n, void *dst, Elem elem) {
    for (int64_t i = 0; i < n; ++i) store_elem(dst, elem, i, src[i]);
}

}  // namespace rai::q4
