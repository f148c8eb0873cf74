// BitNet b1.58 quantization: absmean weights, absmax activations, RMSNorm + quantize, STE.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../../core/cuda_plugin.h"
#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../core/params.h"
#include "../../core/tensor_check.h"
#include "../../core/tensor_copy.h"
#include "bitnet.h"
#include "../../core/half.h"

namespace rai::bitnet {

namespace {

constexpr std::size_t kWeightParamsV1 = sizeof(rai_bitnet_weight_params);
constexpr std::size_t kActParamsV1 = sizeof(rai_bitnet_act_params);
constexpr std::size_t kWeightInfoV1 = sizeof(rai_ternary_weight_info);

std::string fmt(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

bool finite(float v) { return std::fabs(v) <= FLT_MAX; }

// Contiguous f32 view of an f32 / bf16 / f16 tensor (copied when it is not f32).
const float *as_f32(const TensorCheck &t, std::vector<float> &storage) {
    const rai_dtype d = t.tensor().dtype;
    if (dtype::equal(d, dtype::f32)) return static_cast<const float *>(t.data());
    const auto n = static_cast<std::size_t>(t.numel());
    storage.resize(n);
    const auto *src = static_cast<const uint16_t *>(t.data());
    if (dtype::equal(d, dtype::bf16))
        for (std::size_t i = 0; i < n; ++i) storage[i] = half::bf16_to_f32(src[i]);
    else
        for (std::size_t i = 0; i < n; ++i) storage[i] = half::f16_to_f32(src[i]);
    return storage.data();
}

void require_cpu(const rai_context &ctx, const char *what) {
    require(!is_cuda(ctx), RAI_ERROR_UNSUPPORTED,
            std::string(what) + " runs on the CPU only: use a CPU context and host tensors");
}

// Activation scales: one per token ([tokens] or x's leading shape) or [1] with per_tensor.
void check_token_scales(TensorCheck &s, const TensorCheck &x, int64_t tokens, bool per_tensor) {
    s.dtype(dtype::f32).contiguous();
    const rai_tensor &st = s.tensor();
    const rai_tensor &xt = x.tensor();
    if (per_tensor) {
        require(s.numel() == 1, RAI_ERROR_SHAPE_MISMATCH,
                "scales: per_tensor takes one scale, got shape " + s.shape_string());
        return;
    }
    bool ok = st.ndim == 1 && st.shape[0] == tokens;
    if (!ok && st.ndim == xt.ndim - 1 && st.ndim > 0) {
        ok = true;
        for (int32_t i = 0; i < st.ndim; ++i) ok = ok && st.shape[i] == xt.shape[i];
    }
    if (!ok && xt.ndim == 1) ok = s.numel() == 1 && st.ndim <= 1;
    require(ok, RAI_ERROR_SHAPE_MISMATCH,
            "scales: expected one scale per token ([" + std::to_string(tokens) + "] or x's shape without its last "
            "dimension), got " + s.shape_string());
}

// Checks x (f32 or bf16, ndim >= 1, last dim > 0) and returns [tokens, hidden].
std::pair<int64_t, int64_t> token_shape(TensorCheck &x, const rai_context &ctx, bool bf16_ok) {
    if (bf16_ok) x.dtype_in({dtype::f32, dtype::bf16});
    else x.dtype(dtype::f32);
    x.contiguous().on(ctx);
    const rai_tensor &t = x.tensor();
    require(t.ndim >= 1, RAI_ERROR_SHAPE_MISMATCH, "x: needs at least one dimension (hidden), got a scalar");
    const int64_t hidden = t.shape[t.ndim - 1];
    require(hidden > 0, RAI_ERROR_SHAPE_MISMATCH, "x: the last dimension (hidden) must be > 0, got shape " +
                                                      x.shape_string());
    return {x.numel() / hidden, hidden};
}

void same_shape(const char *name, TensorCheck &out, const TensorCheck &in) {
    const rai_tensor &t = in.tensor();
    bool ok = out.tensor().ndim == t.ndim;
    for (int32_t i = 0; ok && i < t.ndim; ++i) ok = out.tensor().shape[i] == t.shape[i];
    require(ok, RAI_ERROR_SHAPE_MISMATCH, std::string(name) + ": shape mismatch: expected " + in.shape_string() +
                                              ", got " + out.shape_string());
}

}  // namespace

// ------------------------------------------------------------------ parameters

void init_weight_params(rai_bitnet_weight_params *p, std::size_t size) {
    init_params(p, size, kWeightParamsV1, "params");
}
void init_act_params(rai_bitnet_act_params *p, std::size_t size) { init_params(p, size, kActParamsV1, "params"); }
void init_weight_info(rai_ternary_weight_info *p, std::size_t size) { init_params(p, size, kWeightInfoV1, "info"); }

WeightQuant weight_quant_from(const rai_bitnet_weight_params *pp, int64_t cols) {
    const rai_bitnet_weight_params p = read_params(pp, kWeightParamsV1, "params");
    WeightQuant q;
    require(p.granularity >= 0 && p.granularity <= 2, RAI_ERROR_INVALID_ARGUMENT,
            "params->granularity is " + std::to_string(p.granularity) + ", expected GROUP (0), ROW (1) or TENSOR (2)");
    q.gran = static_cast<Gran>(p.granularity);
    require(p.eps_mode == RAI_BITNET_EPS_RUST || p.eps_mode == RAI_BITNET_EPS_CLAMP, RAI_ERROR_INVALID_ARGUMENT,
            "params->eps_mode is " + std::to_string(p.eps_mode) + ", expected RUST (0) or CLAMP (1)");
    require(p.round_mode == RAI_BITNET_ROUND_HALF_AWAY || p.round_mode == RAI_BITNET_ROUND_HALF_EVEN,
            RAI_ERROR_INVALID_ARGUMENT,
            "params->round_mode is " + std::to_string(p.round_mode) + ", expected HALF_AWAY (0) or HALF_EVEN (1)");
    q.eps_mode = p.eps_mode;
    q.round_mode = p.round_mode;
    q.eps = p.eps == 0.0f ? 1e-5f : p.eps;
    require(finite(q.eps) && q.eps > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->eps is " + fmt(p.eps) + ", expected a finite value > 0");
    if (q.gran == Gran::Group) {
        q.group = p.group_size == 0 ? 64 : static_cast<int64_t>(p.group_size);
        require(p.group_size <= static_cast<uint64_t>(INT64_MAX) && q.group > 0 && cols % q.group == 0,
                RAI_ERROR_INVALID_ARGUMENT,
                "params->group_size " + std::to_string(q.group) + " does not divide in = " + std::to_string(cols) +
                    " (the number of weight columns)");
    } else {
        q.group = cols;
    }
    return q;
}

ActQuant act_quant_from(const rai_bitnet_act_params *pp) {
    const rai_bitnet_act_params p = read_params(pp, kActParamsV1, "params");
    ActQuant q;
    q.bits = p.bits == 0 ? 8 : p.bits;
    require(q.bits >= 2 && q.bits <= 8, RAI_ERROR_INVALID_ARGUMENT,
            "params->bits is " + std::to_string(p.bits) + ", expected 2..8 (0 = 8)");
    q.qmax = (1 << (q.bits - 1)) - 1;
    require(p.scale_mode == RAI_BITNET_ACT_RUST || p.scale_mode == RAI_BITNET_ACT_OFFICIAL, RAI_ERROR_INVALID_ARGUMENT,
            "params->scale_mode is " + std::to_string(p.scale_mode) + ", expected RUST (0) or OFFICIAL (1)");
    require(p.round_mode == RAI_BITNET_ROUND_HALF_AWAY || p.round_mode == RAI_BITNET_ROUND_HALF_EVEN,
            RAI_ERROR_INVALID_ARGUMENT,
            "params->round_mode is " + std::to_string(p.round_mode) + ", expected HALF_AWAY (0) or HALF_EVEN (1)");
    require(p.per_tensor == 0 || p.per_tensor == 1, RAI_ERROR_INVALID_ARGUMENT,
            "params->per_tensor is " + std::to_string(p.per_tensor) + ", expected 0 or 1");
    q.scale_mode = p.scale_mode;
    q.round_mode = p.round_mode;
    q.per_tensor = p.per_tensor == 1;
    q.eps = p.eps == 0.0f ? 1e-5f : p.eps;
    require(finite(q.eps) && q.eps > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->eps is " + fmt(p.eps) + ", expected a finite value > 0");
    return q;
}

ScaleMap scale_map_from(TensorCheck &s, int64_t rows, int64_t cols, const char *name) {
    s.dtype(dtype::f32).contiguous();
    const rai_tensor &t = s.tensor();
    ScaleMap m;
    m.rows = rows;
    m.cols = cols;
    m.group = cols;
    if ((t.ndim == 0) || (t.ndim == 1 && t.shape[0] == 1)) {
        m.gran = Gran::Tensor;
    } else if (t.ndim == 1 && t.shape[0] == rows) {
        m.gran = Gran::Row;
    } else if (t.ndim == 2 && t.shape[0] == rows && t.shape[1] > 0 && cols % t.shape[1] == 0) {
        m.gran = Gran::Group;
        m.group = cols / t.shape[1];
    } else {
        throw Error(RAI_ERROR_SHAPE_MISMATCH, std::string(name) + ": shape " + s.shape_string() +
                                                  " is not a scale layout of a [" + std::to_string(rows) + ", " +
                                                  std::to_string(cols) + "] weight: expected [1] (tensor), [" +
                                                  std::to_string(rows) + "] (row) or [" + std::to_string(rows) +
                                                  ", G] with G dividing " + std::to_string(cols) + " (groups)");
    }
    return m;
}

void check_trits(const int8_t *t, int64_t rows, int64_t cols, const char *name) {
    const int64_t n = rows * cols;
    // Blocks of 64 without an early exit (so the compiler vectorizes the test); the element loop
    // below then names the first bad value, if any.
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        unsigned bad = 0;
        for (int j = 0; j < 64; ++j) bad |= static_cast<uint8_t>(t[i + j] + 1) > 2u;
        if (bad) break;
    }
    for (; i < n; ++i)
        if (t[i] < -1 || t[i] > 1)
            throw Error(RAI_ERROR_INVALID_ARGUMENT, std::string(name) + "[" + std::to_string(i / cols) + ", " +
                                                        std::to_string(i % cols) + "] is " + std::to_string(t[i]) +
                                                        ", expected -1, 0 or +1");
}

void require_host(const TensorCheck &t, const char *name) {
    require(t.on_host(), RAI_ERROR_DEVICE_MISMATCH,
            std::string(name) + ": must be in host memory (CPU or CUDA_HOST): this function takes host tensors, "
                                "got one on CUDA device " + std::to_string(t.tensor().device.device_id));
}

const raicuda_bitnet_v1 &cuda_table() {
    const auto *t = static_cast<const raicuda_bitnet_v1 *>(cuda::require_capability(RAICUDA_BITNET_CAPABILITY));
    require(t->struct_size >= sizeof(raicuda_bitnet_v1), RAI_ERROR_UNSUPPORTED,
            "the CUDA plugin's bitnet table is older than this librai");
    return *t;
}

// ------------------------------------------------------------------ weights

namespace {

// clamp(round(t), -1, 1) for the two rounding modes, as threshold tests (exact for every t).
inline int8_t trit_of(float t, int32_t round_mode) {
    if (round_mode == RAI_BITNET_ROUND_HALF_EVEN) return static_cast<int8_t>((t > 0.5f) - (t < -0.5f));
    return static_cast<int8_t>((t >= 0.5f) - (t <= -0.5f));
}

// trit_of over the first multiple of 16 of n values (x / scale or x * inv), with SSE2 on x86-64:
// the same IEEE divide or multiply and the same threshold comparisons, (t > 0.5) - (t < -0.5)
// from the comparison masks. Returns how many it wrote; the caller finishes the tail.
inline int64_t trits_simd(const float *x, int64_t n, bool divide, float scale, float inv, int32_t round_mode,
                          int8_t *out) {
    int64_t i = 0;
#if defined(__SSE2__)
    const __m128 vs = _mm_set1_ps(scale), vinv = _mm_set1_ps(inv), ph = _mm_set1_ps(0.5f), nh = _mm_set1_ps(-0.5f);
    const bool even = round_mode == RAI_BITNET_ROUND_HALF_EVEN;
    const auto four = [&](const float *p) {
        const __m128 v = _mm_loadu_ps(p);
        const __m128 t = divide ? _mm_div_ps(v, vs) : _mm_mul_ps(v, vinv);
        const __m128 pos = even ? _mm_cmpgt_ps(t, ph) : _mm_cmpge_ps(t, ph);
        const __m128 neg = even ? _mm_cmplt_ps(t, nh) : _mm_cmple_ps(t, nh);
        return _mm_sub_epi32(_mm_castps_si128(neg), _mm_castps_si128(pos));  // masks are -1: pos - neg
    };
    for (; i + 16 <= n; i += 16) {
        const __m128i a = _mm_packs_epi32(four(x + i), four(x + i + 4));
        const __m128i b = _mm_packs_epi32(four(x + i + 8), four(x + i + 12));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), _mm_packs_epi16(a, b));
    }
#else
    (void)x, (void)n, (void)divide, (void)scale, (void)inv, (void)round_mode, (void)out;
#endif
    return i;
}

// round(v) for |v| <= 130, without a libm call: half-even by the 1.5 * 2^23 trick, half-away by
// truncating v +- 0.49999997. Both were checked against nearbyint / round for every float in
// [-130, 130] (only the sign of a zero result can differ, which int8 codes cannot see).
inline float round_small(float v, int32_t round_mode) {
    if (round_mode == RAI_BITNET_ROUND_HALF_EVEN) {
        const float magic = 12582912.0f;
        return (v + magic) - magic;
    }
    return static_cast<float>(static_cast<int32_t>(v + std::copysign(0.49999997f, v)));
}

// Sum of |w| over rows [r0, r1) x columns [c0, c1), in double, in a fixed order (eight partial
// sums by column index, then added in order).
double abs_sum(const float *w, int64_t cols, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t r = r0; r < r1; ++r) {
        const float *row = w + r * cols;
        int64_t c = c0;
#if defined(__SSE2__)
        // The same eight partial sums, two per SSE2 register (gcc leaves this loop scalar).
        __m128d p01 = _mm_loadu_pd(part), p23 = _mm_loadu_pd(part + 2), p45 = _mm_loadu_pd(part + 4),
                p67 = _mm_loadu_pd(part + 6);
        const __m128d no_sign = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
        for (; c + 8 <= c1; c += 8) {
            const __m128 lo = _mm_loadu_ps(row + c), hi = _mm_loadu_ps(row + c + 4);
            p01 = _mm_add_pd(p01, _mm_and_pd(_mm_cvtps_pd(lo), no_sign));
            p23 = _mm_add_pd(p23, _mm_and_pd(_mm_cvtps_pd(_mm_movehl_ps(lo, lo)), no_sign));
            p45 = _mm_add_pd(p45, _mm_and_pd(_mm_cvtps_pd(hi), no_sign));
            p67 = _mm_add_pd(p67, _mm_and_pd(_mm_cvtps_pd(_mm_movehl_ps(hi, hi)), no_sign));
        }
        _mm_storeu_pd(part, p01);
        _mm_storeu_pd(part + 2, p23);
        _mm_storeu_pd(part + 4, p45);
        _mm_storeu_pd(part + 6, p67);
#endif
        for (; c + 8 <= c1; c += 8)
            for (int j = 0; j < 8; ++j) part[j] += std::fabs(static_cast<double>(row[c + j]));
        for (; c < c1; ++c) part[0] += std::fabs(static_cast<double>(row[c]));
    }
    double s = 0;
    for (double v : part) s += v;
    return s;
}

}  // namespace

void quantize_weights_raw(const WeightQuant &q, const float *w, int64_t rows, int64_t cols, int8_t *trits,
                          float *scales) {
    // One granule: rows [r0, r1) x columns [c0, c1).
    auto quantize_run = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1, float *scale_out) {
        const double sum = abs_sum(w, cols, r0, r1, c0, c1);
        if (!(sum <= 1e300)) {
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t c = c0; c < c1; ++c)
                    if (!(finite(w[r * cols + c])))
                        throw Error(RAI_ERROR_INVALID_ARGUMENT,
                                    "w[" + std::to_string(r) + ", " + std::to_string(c) + "] is not finite");
        }
        const double count = static_cast<double>((r1 - r0) * (c1 - c0));
        const float mean = static_cast<float>(sum / count);
        const bool rust = q.eps_mode == RAI_BITNET_EPS_RUST;
        const float scale = rust ? (mean == 0.0f ? 1.0f : mean) : (mean > q.eps ? mean : q.eps);
        const float inv = 1.0f / scale;
        for (int64_t r = r0; r < r1; ++r) {
            const float *row = w + r * cols;
            int8_t *out = trits + r * cols;
            const int64_t c = c0 + trits_simd(row + c0, c1 - c0, rust, scale, inv, q.round_mode, out + c0);
            if (rust)
                for (int64_t j = c; j < c1; ++j) out[j] = trit_of(row[j] / scale, q.round_mode);
            else
                for (int64_t j = c; j < c1; ++j) out[j] = trit_of(row[j] * inv, q.round_mode);
        }
        *scale_out = scale;
    };
    switch (q.gran) {
    case Gran::Tensor: quantize_run(0, rows, 0, cols, scales); break;
    case Gran::Row:
        for (int64_t r = 0; r < rows; ++r) quantize_run(r, r + 1, 0, cols, scales + r);
        break;
    case Gran::Group: {
        const int64_t per_row = cols / q.group;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t g = 0; g < per_row; ++g)
                quantize_run(r, r + 1, g * q.group, (g + 1) * q.group, scales + r * per_row + g);
        break;
    }
    }
}

void quantize_weights(rai_context &ctx, const rai_bitnet_weight_params *params, const rai_tensor *w_,
                      const rai_tensor *trits_, const rai_tensor *scales_) {
    TensorCheck w("w", w_);
    w.dtype_in({dtype::f32, dtype::bf16, dtype::f16}).ndim(2).contiguous().on(ctx);
    const int64_t rows = w.dim(0), cols = w.dim(1);
    require(rows > 0 && cols > 0, RAI_ERROR_SHAPE_MISMATCH, "w: shape " + w.shape_string() + " has no elements");
    const WeightQuant q = weight_quant_from(params, cols);
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).shape({rows, cols}).contiguous().on(ctx);
    TensorCheck scales("scales", scales_);
    ScaleMap expect;
    expect.gran = q.gran;
    expect.rows = rows;
    expect.cols = cols;
    expect.group = q.group;
    const std::vector<int64_t> shape = expect.shape();
    scales.dtype(dtype::f32).contiguous().on(ctx);
    if (shape.size() == 1) scales.shape({shape[0]});
    else scales.shape({shape[0], shape[1]});
    require_cpu(ctx, "weight quantization");
    std::vector<float> storage;
    const float *wf = as_f32(w, storage);
    std::vector<int8_t> t(static_cast<std::size_t>(rows * cols));
    std::vector<float> s(static_cast<std::size_t>(expect.count()));
    quantize_weights_raw(q, wf, rows, cols, t.data(), s.data());  // nothing written on error
    std::memcpy(trits.data(), t.data(), t.size());
    std::memcpy(scales.data(), s.data(), s.size() * sizeof(float));
}

void dequantize_weights(rai_context &ctx, const rai_tensor *trits_, const rai_tensor *scales_, const rai_tensor *w_) {
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).ndim(2).contiguous().on(ctx);
    const int64_t rows = trits.dim(0), cols = trits.dim(1);
    TensorCheck scales("scales", scales_);
    scales.on(ctx);
    const ScaleMap m = scale_map_from(scales, rows, cols, "scales");
    TensorCheck w("w", w_);
    w.dtype(dtype::f32).shape({rows, cols}).contiguous().on(ctx);
    require_cpu(ctx, "weight dequantization");
    const auto *t = static_cast<const int8_t *>(trits.data());
    check_trits(t, rows, cols, "trits");
    const auto *s = static_cast<const float *>(scales.data());
    auto *out = static_cast<float *>(w.data());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            out[r * cols + c] = static_cast<float>(t[r * cols + c]) * s[m.index(r, c / m.group)];
}

// ------------------------------------------------------------------ activations

namespace {

// out[i] = round(clamp(x[i] / s or x[i] * s, lo, hi)) with the rounding mode hoisted out of the
// loop. gcc does not vectorize the float -> int conversion of round_small, so on x86-64 blocks of
// 16 go through SSE2 (the baseline) with the same IEEE operations in the same order: one multiply
// or divide, max/min for the clamp (the caller has rejected NaN), the same rounding, and a
// saturating pack that never saturates (the values are already within the int8 range).
template <bool kDivide, bool kHalfEven>
void quantize_loop(const float *x, int64_t n, float s, float lo, float hi, int8_t *out) {
    constexpr int32_t mode = kHalfEven ? RAI_BITNET_ROUND_HALF_EVEN : RAI_BITNET_ROUND_HALF_AWAY;
    int64_t i = 0;
#if defined(__SSE2__)
    const __m128 vs = _mm_set1_ps(s), vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi);
    const __m128 sign = _mm_set1_ps(-0.0f), half = _mm_set1_ps(0.49999997f), magic = _mm_set1_ps(12582912.0f);
    const auto four = [&](const float *p) {
        __m128 v = _mm_loadu_ps(p);
        v = kDivide ? _mm_div_ps(v, vs) : _mm_mul_ps(v, vs);
        v = _mm_min_ps(_mm_max_ps(v, vlo), vhi);
        v = kHalfEven ? _mm_sub_ps(_mm_add_ps(v, magic), magic) : _mm_add_ps(v, _mm_or_ps(half, _mm_and_ps(v, sign)));
        return _mm_cvttps_epi32(v);
    };
    for (; i + 16 <= n; i += 16) {
        const __m128i a = _mm_packs_epi32(four(x + i), four(x + i + 4));
        const __m128i b = _mm_packs_epi32(four(x + i + 8), four(x + i + 12));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), _mm_packs_epi16(a, b));
    }
#endif
    for (; i < n; ++i) out[i] = static_cast<int8_t>(round_small(clampf(kDivide ? x[i] / s : x[i] * s, lo, hi), mode));
}

}  // namespace

void quantize_act_row(const ActQuant &q, const float *x, int64_t hidden, float absmax, int8_t *out, float *scale) {
    const float qmax = static_cast<float>(q.qmax);
    const bool even = q.round_mode == RAI_BITNET_ROUND_HALF_EVEN;
    // clamp(round(v), lo, hi) == round(clamp(v, lo, hi)) for integer bounds.
    if (q.scale_mode == RAI_BITNET_ACT_RUST) {
        const float s = absmax == 0.0f ? 1.0f : absmax / qmax;
        if (even) quantize_loop<true, true>(x, hidden, s, -qmax, qmax, out);
        else quantize_loop<true, false>(x, hidden, s, -qmax, qmax, out);
        *scale = s;
    } else {
        const float s = qmax / (absmax > q.eps ? absmax : q.eps);
        if (even) quantize_loop<false, true>(x, hidden, s, -qmax - 1.0f, qmax, out);
        else quantize_loop<false, false>(x, hidden, s, -qmax - 1.0f, qmax, out);
        *scale = s;
    }
}

namespace {
float absmax_checked(const float *x, int64_t n, int64_t token) {
    float mv[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) {
            const float a = std::fabs(x[i + j]);  // NaN never wins a > comparison: checked below
            mv[j] = a > mv[j] ? a : mv[j];
        }
    float m = 0.0f;
    for (float v : mv) m = v > m ? v : m;
    for (; i < n; ++i) {
        const float a = std::fabs(x[i]);
        m = a > m ? a : m;
    }
    bool bad = !(m <= FLT_MAX);  // an infinity
    if (!bad)
        for (int64_t k = 0; k < n; ++k) bad |= x[k] != x[k];  // a NaN
    if (bad)
        for (int64_t i = 0; i < n; ++i)
            if (!(std::fabs(x[i]) <= FLT_MAX))
                throw Error(RAI_ERROR_INVALID_ARGUMENT,
                            "x: token " + std::to_string(token) + " element " + std::to_string(i) + " is not finite");
    return m;
}
}  // namespace

void quantize_act_raw(const ActQuant &q, const float *x, int64_t tokens, int64_t hidden, int8_t *out, float *scales) {
    if (q.per_tensor) {
        float m = 0.0f;
        for (int64_t t = 0; t < tokens; ++t) {
            const float a = absmax_checked(x + t * hidden, hidden, t);
            m = a > m ? a : m;
        }
        for (int64_t t = 0; t < tokens; ++t) quantize_act_row(q, x + t * hidden, hidden, m, out + t * hidden, scales);
        if (tokens == 0) quantize_act_row(q, x, 0, 0.0f, out, scales);
        return;
    }
    // Every token is checked before the first write, so a non-finite value leaves out untouched.
    std::vector<float> absmax(static_cast<std::size_t>(tokens));
    for (int64_t t = 0; t < tokens; ++t) absmax[static_cast<std::size_t>(t)] = absmax_checked(x + t * hidden, hidden, t);
    for (int64_t t = 0; t < tokens; ++t)
        quantize_act_row(q, x + t * hidden, hidden, absmax[static_cast<std::size_t>(t)], out + t * hidden, scales + t);
}

float rms_inverse(const float *x, int64_t hidden, float norm_eps) {
    double partial[256];
    for (int j = 0; j < 256; ++j) {
        double s = 0.0;
        for (int64_t i = j; i < hidden; i += 256) {
            const double v = static_cast<double>(x[i]);
            s += v * v;
        }
        partial[j] = s;
    }
    for (int stride = 128; stride >= 1; stride /= 2)
        for (int j = 0; j < stride; ++j) partial[j] += partial[j + stride];
    const double mean = partial[0] / static_cast<double>(hidden);
    return static_cast<float>(1.0 / std::sqrt(mean + static_cast<double>(norm_eps)));
}

namespace {

// The CUDA activation-quantization arguments both entry points share (quantize_activations and
// rmsnorm_quantize, which then sets the RMSNorm fields), and their launch on the context's stream.
raicuda_bitnet_act_args cuda_act_args(const ActQuant &q, TensorCheck &x, int64_t tokens, int64_t hidden,
                                      TensorCheck &qt, TensorCheck &s) {
    raicuda_bitnet_act_args a{};
    a.x = x.data();
    a.x_type = dtype::equal(x.tensor().dtype, dtype::bf16) ? RAICUDA_BITNET_BF16 : RAICUDA_BITNET_F32;
    a.bits = q.bits;
    a.qmax = q.qmax;
    a.scale_mode = q.scale_mode;
    a.round_mode = q.round_mode;
    a.per_tensor = q.per_tensor ? 1 : 0;
    a.eps = q.eps;
    a.rows = tokens;
    a.cols = hidden;
    a.q = static_cast<int8_t *>(qt.data());
    a.scales = static_cast<float *>(s.data());
    return a;
}

void launch_cuda_act_quant(rai_context &ctx, const raicuda_bitnet_act_args &a) {
    const raicuda_bitnet_v1 &t = cuda_table();
    cuda::check([&](raicuda_err *e) { return t.act_quant(ordinal(ctx), ctx.stream, &a, e); });
}

}  // namespace

void quantize_activations(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *x_,
                          const rai_tensor *q_, const rai_tensor *scales_) {
    const ActQuant q = act_quant_from(params);
    TensorCheck x("x", x_);
    const auto [tokens, hidden] = token_shape(x, ctx, true);
    TensorCheck qt("q", q_);
    qt.dtype(dtype::i8).contiguous().on(ctx);
    same_shape("q", qt, x);
    TensorCheck s("scales", scales_);
    s.on(ctx);
    check_token_scales(s, x, tokens, q.per_tensor);
    if (is_cuda(ctx)) {
        launch_cuda_act_quant(ctx, cuda_act_args(q, x, tokens, hidden, qt, s));
        return;
    }
    std::vector<float> storage;
    const float *xf = as_f32(x, storage);
    const std::size_t n = static_cast<std::size_t>(tokens * hidden), ns = static_cast<std::size_t>(q.per_tensor ? 1 : tokens);
    auto *qdst = static_cast<int8_t *>(qt.data());
    auto *sdst = static_cast<float *>(s.data());
    // quantize_act_raw validates every token before writing, so it may write straight into the
    // outputs unless they share memory with the input (then through temporaries).
    const std::size_t xbytes = n * sizeof(float), sbytes = ns * sizeof(float);
    if (!bytes_overlap(xf, xbytes, qdst, n) && !bytes_overlap(xf, xbytes, sdst, sbytes) &&
        !bytes_overlap(qdst, n, sdst, sbytes)) {
        quantize_act_raw(q, xf, tokens, hidden, qdst, sdst);
        return;
    }
    std::vector<float> sc(ns);
    std::vector<int8_t> out(n);
    quantize_act_raw(q, xf, tokens, hidden, out.data(), sc.data());
    std::memcpy(qdst, out.data(), out.size());
    std::memcpy(sdst, sc.data(), sc.size() * sizeof(float));
}

void dequantize_activations(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *q_,
                            const rai_tensor *scales_, const rai_tensor *x_) {
    const ActQuant q = act_quant_from(params);
    TensorCheck qt("q", q_);
    qt.dtype(dtype::i8).contiguous().on(ctx);
    const rai_tensor &t = qt.tensor();
    require(t.ndim >= 1 && t.shape[t.ndim - 1] > 0, RAI_ERROR_SHAPE_MISMATCH,
            "q: needs a last dimension (hidden) > 0, got shape " + qt.shape_string());
    const int64_t hidden = t.shape[t.ndim - 1];
    const int64_t tokens = qt.numel() / hidden;
    TensorCheck s("scales", scales_);
    s.on(ctx);
    check_token_scales(s, qt, tokens, q.per_tensor);
    TensorCheck x("x", x_);
    x.dtype(dtype::f32).contiguous().on(ctx);
    same_shape("x", x, qt);
    if (is_cuda(ctx)) {
        const raicuda_bitnet_v1 &tb = cuda_table();
        cuda::check([&](raicuda_err *e) {
            return tb.act_dequant(ordinal(ctx), ctx.stream, static_cast<const int8_t *>(qt.data()),
                                  static_cast<const float *>(s.data()), tokens, hidden, q.per_tensor ? 1 : 0,
                                  q.scale_mode, static_cast<float *>(x.data()), e);
        });
        return;
    }
    const auto *qv = static_cast<const int8_t *>(qt.data());
    const auto *sv = static_cast<const float *>(s.data());
    auto *out = static_cast<float *>(x.data());
    for (int64_t r = 0; r < tokens; ++r) {
        const float sc = sv[q.per_tensor ? 0 : r];
        for (int64_t i = 0; i < hidden; ++i) {
            const float v = static_cast<float>(qv[r * hidden + i]);
            out[r * hidden + i] = q.scale_mode == RAI_BITNET_ACT_RUST ? v * sc : v / sc;
        }
    }
}

void rmsnorm_quantize(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *x_,
                      const rai_tensor *gamma_, float norm_eps, const rai_tensor *q_, const rai_tensor *scales_) {
    const ActQuant q = act_quant_from(params);
    TensorCheck x("x", x_);
    const auto [tokens, hidden] = token_shape(x, ctx, true);
    const float *gamma = nullptr;
    if (gamma_ != nullptr) {
        TensorCheck g("gamma", gamma_);
        g.dtype(dtype::f32).shape({hidden}).contiguous().on(ctx);
        gamma = static_cast<const float *>(g.data());
    }
    require(!(norm_eps > FLT_MAX) && norm_eps == norm_eps, RAI_ERROR_INVALID_ARGUMENT,
            "norm_eps is " + fmt(norm_eps) + ", expected a finite value");
    const float eps = norm_eps > 0.0f ? norm_eps : 1e-6f;
    TensorCheck qt("q", q_);
    qt.dtype(dtype::i8).contiguous().on(ctx);
    same_shape("q", qt, x);
    TensorCheck s("scales", scales_);
    s.on(ctx);
    check_token_scales(s, x, tokens, q.per_tensor);
    if (is_cuda(ctx)) {
        raicuda_bitnet_act_args a = cuda_act_args(q, x, tokens, hidden, qt, s);
        a.rmsnorm = 1;
        a.norm_eps = eps;
        a.gamma = gamma;
        launch_cuda_act_quant(ctx, a);
        return;
    }
    std::vector<float> storage;
    const float *xf = as_f32(x, storage);
    std::vector<float> y(static_cast<std::size_t>(tokens * hidden));
    for (int64_t r = 0; r < tokens; ++r) {
        const float *xr = xf + r * hidden;
        absmax_checked(xr, hidden, r);
        const float inv = rms_inverse(xr, hidden, eps);
        float *yr = y.data() + r * hidden;
        for (int64_t i = 0; i < hidden; ++i) {
            const float v = xr[i] * inv;
            yr[i] = gamma ? v * gamma[i] : v;
        }
    }
    std::vector<float> sc(static_cast<std::size_t>(q.per_tensor ? 1 : tokens));
    std::vector<int8_t> out(static_cast<std::size_t>(tokens * hidden));
    quantize_act_raw(q, y.data(), tokens, hidden, out.data(), sc.data());
    std::memcpy(qt.data(), out.data(), out.size());
    std::memcpy(s.data(), sc.data(), sc.size() * sizeof(float));
}

// ------------------------------------------------------------------ STE

void ste_forward(rai_context &ctx, const rai_tensor *x_, float scale, float lo, float hi, int32_t round_mode,
                 const rai_tensor *y_) {
    TensorCheck x("x", x_);
    x.dtype(dtype::f32).contiguous().on(ctx);
    TensorCheck y("y", y_);
    y.dtype(dtype::f32).contiguous().on(ctx);
    same_shape("y", y, x);
    require(finite(scale) && scale > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "scale is " + fmt(scale) + ", expected a finite value > 0");
    require(finite(lo) && finite(hi) && lo <= hi, RAI_ERROR_INVALID_ARGUMENT,
            "lo, hi are " + fmt(lo) + ", " + fmt(hi) + ", expected finite values with lo <= hi");
    require(round_mode == RAI_BITNET_ROUND_HALF_AWAY || round_mode == RAI_BITNET_ROUND_HALF_EVEN,
            RAI_ERROR_INVALID_ARGUMENT,
            "round_mode is " + std::to_string(round_mode) + ", expected HALF_AWAY (0) or HALF_EVEN (1)");
    const int64_t n = x.numel();
    if (is_cuda(ctx)) {
        const raicuda_bitnet_v1 &t = cuda_table();
        cuda::check([&](raicuda_err *e) {
            return t.ste_forward(ordinal(ctx), ctx.stream, static_cast<const float *>(x.data()), n, scale, lo, hi,
                                 round_mode, static_cast<float *>(y.data()), e);
        });
        return;
    }
    const auto *xv = static_cast<const float *>(x.data());
    auto *yv = static_cast<float *>(y.data());
    for (int64_t i = 0; i < n; ++i) yv[i] = clampf(round_with(xv[i] / scale, round_mode), lo, hi) * scale;
}

void ste_backward(rai_context &ctx, const rai_tensor *gy_, const rai_tensor *gx_) {
    TensorCheck gy("grad_y", gy_);
    gy.dtype(dtype::f32).on(ctx);
    TensorCheck gx("grad_x", gx_);
    gx.dtype(dtype::f32).on(ctx);
    same_shape("grad_x", gx, gy);
    tensor_copy(ctx, gy_, gx_);
}

}  // namespace rai::bitnet
