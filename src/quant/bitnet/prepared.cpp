// The prepared ternary weight, the CPU / CUDA GEMM driver, BitLinear and the worker pool.
#include "prepared.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../../core/cpu_features.h"
#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../core/params.h"
#include "../../core/thread_pool.h"
#include "../../core/half.h"

namespace rai::bitnet {

// ------------------------------------------------------------------ prepared codes

void prepare_codes(const int8_t *trits, int64_t rows, int64_t cols, uint8_t *out) {
    const int64_t kp = round_up(cols, kPrepBlock);
    const int64_t row_bytes = kp / 4;
    for (int64_t r = 0; r < rows; ++r) {
        const int8_t *t = trits + r * cols;
        uint8_t *o = out + r * row_bytes;
        for (int64_t b = 0; b < kp / kPrepBlock; ++b)
            for (int64_t p = 0; p < 32; ++p) {
                uint32_t byte = 0;
                for (int s = 0; s < 4; ++s) {
                    const int64_t c = b * kPrepBlock + 32 * s + p;
                    const uint32_t code = c < cols ? static_cast<uint32_t>(t[c] + 1) : 1u;
                    byte |= code << (6 - 2 * s);
                }
                o[b * 32 + p] = static_cast<uint8_t>(byte);
            }
    }
}

void unprepare_codes(const uint8_t *codes, int64_t rows, int64_t cols, int8_t *trits) {
    const int64_t row_bytes = round_up(cols, kPrepBlock) / 4;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            trits[r * cols + c] = static_cast<int8_t>(prepared_trit(codes + r * row_bytes, c));
}

// ------------------------------------------------------------------ rai_ternary_weight

namespace {

void upload(const rai_context &ctx, std::unique_ptr<cuda::DeviceMemory> &dst, const void *src, std::size_t bytes) {
    dst = std::make_unique<cuda::DeviceMemory>(ctx.device.device_id, bytes);
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(ctx.device.device_id, dst->get(), src, bytes, RAICUDA_HOST_TO_DEVICE, ctx.stream, e);
    });
}

void download(const rai_context &ctx, void *dst, const cuda::DeviceMemory &src, std::size_t bytes) {
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(ctx.device.device_id, dst, src.get(), bytes, RAICUDA_DEVICE_TO_HOST, ctx.stream, e);
    });
}

std::string device_string(const rai_device &d) {
    return d.device_type == RAI_DEVICE_CUDA ? "CUDA device " + std::to_string(d.device_id) : std::string("the CPU");
}

void require_same_device(const rai_context &ctx, const rai_device &d, const char *what) {
    const bool ctx_cuda = is_cuda(ctx);
    const bool ok = ctx_cuda ? (d.device_type == RAI_DEVICE_CUDA && d.device_id == ctx.device.device_id)
                             : d.device_type != RAI_DEVICE_CUDA;
    require(ok, RAI_ERROR_DEVICE_MISMATCH,
            std::string(what) + " lives on " + device_string(d) + ", the context computes on " +
                device_string(ctx.device));
}

void check_scales_finite(const float *s, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!(std::fabs(s[i]) <= FLT_MAX))
            throw Error(RAI_ERROR_INVALID_ARGUMENT, "scales[" + std::to_string(i) + "] is not finite");
}

}  // namespace

std::unique_ptr<rai_ternary_weight> weight_create_raw(const rai_context &ctx, const int8_t *trits, int64_t rows,
                                                      int64_t cols, const ScaleMap &smap, const float *scales) {
    auto w = std::make_unique<rai_ternary_weight>();
    w->device = is_cuda(ctx) ? ctx.device : rai_device{RAI_DEVICE_CPU, 0};
    w->rows = rows;
    w->cols = cols;
    w->kp = round_up(cols, kPrepBlock);
    w->smap = smap;
    w->scales.assign(scales, scales + smap.count());
    int64_t nz = 0;
    for (int64_t i = 0; i < rows * cols; ++i) nz += trits[i] != 0;
    w->nonzero = nz;
    w->codes.resize(w->packed_bytes());
    prepare_codes(trits, rows, cols, w->codes.data());
    if (is_cuda(ctx)) {
        upload(ctx, w->d_codes, w->codes.data(), w->codes.size());
        upload(ctx, w->d_scales, w->scales.data(), w->scales.size() * sizeof(float));
        std::vector<uint8_t>().swap(w->codes);
    }
    return w;
}

rai_ternary_weight *weight_create(rai_context &ctx, const rai_tensor *trits_, const rai_tensor *scales_) {
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).ndim(2).contiguous();
    require_host(trits, "trits");
    const int64_t rows = trits.dim(0), cols = trits.dim(1);
    require(rows > 0 && cols > 0, RAI_ERROR_SHAPE_MISMATCH, "trits: shape " + trits.shape_string() + " has no elements");
    TensorCheck scales("scales", scales_);
    require_host(scales, "scales");
    const ScaleMap smap = scale_map_from(scales, rows, cols, "scales");
    const auto *t = static_cast<const int8_t *>(trits.data());
    check_trits(t, rows, cols, "trits");
    const auto *s = static_cast<const float *>(scales.data());
    check_scales_finite(s, smap.count());
    return weight_create_raw(ctx, t, rows, cols, smap, s).release();
}

void weight_info(const rai_ternary_weight &w, rai_ternary_weight_info *info) {
    require_struct_size(info, sizeof(rai_ternary_weight_info), "info", "rai_ternary_weight_info_init");
    rai_ternary_weight_info t{};
    t.granularity = static_cast<int32_t>(w.smap.gran);
    t.out_features = static_cast<uint64_t>(w.rows);
    t.in_features = static_cast<uint64_t>(w.cols);
    t.group_size = static_cast<uint64_t>(w.smap.group);
    t.scale_count = static_cast<uint64_t>(w.smap.count());
    t.packed_bytes = w.packed_bytes();
    t.nonzero = static_cast<uint64_t>(w.nonzero);
    const double all = static_cast<double>(w.rows) * static_cast<double>(w.cols);
    t.sparsity = all > 0 ? 1.0 - static_cast<double>(w.nonzero) / all : 1.0;
    const double rust_bytes = static_cast<double>((w.cols + 31) / 32) * 8.0 * static_cast<double>(w.rows) +
                              4.0 * static_cast<double>(w.smap.count());
    t.compression_ratio = rust_bytes > 0 ? 4.0 * all / rust_bytes : 0.0;
    t.device = w.device;
    write_out_struct(info, t);
}

void weight_unpack(rai_context &ctx, const rai_ternary_weight &w, const rai_tensor *trits_, const rai_tensor *scales_) {
    require_same_device(ctx, w.device, "weight");
    std::unique_ptr<TensorCheck> trits, scales;
    if (trits_ != nullptr) {
        trits = std::make_unique<TensorCheck>("trits", trits_);
        trits->dtype(dtype::i8).shape({w.rows, w.cols}).contiguous();
        require_host(*trits, "trits");
    }
    if (scales_ != nullptr) {
        scales = std::make_unique<TensorCheck>("scales", scales_);
        scales->dtype(dtype::f32).contiguous();
        require_host(*scales, "scales");
        const std::vector<int64_t> shape = w.smap.shape();
        if (shape.size() == 1) scales->shape({shape[0]});
        else scales->shape({shape[0], shape[1]});
    }
    if (trits) {
        const uint8_t *codes = w.codes.data();
        std::vector<uint8_t> staging;
        if (w.device.device_type == RAI_DEVICE_CUDA) {
            staging.resize(w.packed_bytes());
            download(ctx, staging.data(), *w.d_codes, staging.size());
            codes = staging.data();
        }
        unprepare_codes(codes, w.rows, w.cols, static_cast<int8_t *>(trits->data()));
    }
    if (scales) std::memcpy(scales->data(), w.scales.data(), w.scales.size() * sizeof(float));
}

// ------------------------------------------------------------------ CPU GEMM

namespace {

GemmRowsFn select_gemm() {
    static const cpu::Variant<GemmRowsFn> kVariants[] = {
        {cpu::kAvx512Level | RAI_CPU_AVX512VNNI, "avx512-vnni", gemm_rows_avx512},
        {cpu::kAvx2Level, "avx2", gemm_rows_avx2},
        {0, "scalar", gemm_rows_scalar},
    };
    return cpu::select_variant(kVariants).fn;
}

struct RowsJob {
    GemmRowsFn fn;
    const GemmProblem *p;
};

void rows_trampoline(void *ctx, int64_t b, int64_t e) {
    auto *job = static_cast<RowsJob *>(ctx);
    job->fn(*job->p, b, e);
}

}  // namespace

void cpu_gemm(const rai_ternary_weight &w, const CpuGemmArgs &a) {
    if (a.m == 0) return;
    GemmProblem p;
    p.w = w.codes.data();
    p.n = w.rows;
    p.k = w.cols;
    p.kp = w.kp;
    p.ws = w.scales.data();
    p.scale_kind = w.smap.gran == Gran::Tensor ? kScaleTensor : (w.smap.gran == Gran::Row ? kScaleRow : kScaleGroup);
    p.group = w.smap.group;
    p.groups = w.smap.per_row();
    p.m = a.m;
    p.x_kind = a.x_kind;
    p.x_padded = true;
    // The fast kernels read whole 128-column blocks: pad x with zeros when k is not a multiple.
    std::vector<float> xf;
    std::vector<int8_t> xi;
    if (w.kp == w.cols) {
        p.x = a.x;
        p.x_stride = w.cols;
    } else if (a.x_kind == kXF32) {
        xf.assign(static_cast<std::size_t>(a.m * w.kp), 0.0f);
        for (int64_t b = 0; b < a.m; ++b)
            std::memcpy(xf.data() + b * w.kp, static_cast<const float *>(a.x) + b * w.cols, sizeof(float) * w.cols);
        p.x = xf.data();
        p.x_stride = w.kp;
    } else {
        xi.assign(static_cast<std::size_t>(a.m * w.kp), 0);
        for (int64_t b = 0; b < a.m; ++b)
            std::memcpy(xi.data() + b * w.kp, static_cast<const int8_t *>(a.x) + b * w.cols, w.cols);
        p.x = xi.data();
        p.x_stride = w.kp;
    }
    std::vector<int32_t> xsum;
    if (a.x_kind == kXI8) {
        const bool single = a.y_kind == kYI32 || p.scale_kind != kScaleGroup;
        const int64_t ng = single ? 1 : p.groups;
        const int64_t gsz = single ? w.cols : p.group;
        xsum.assign(static_cast<std::size_t>(a.m * ng), 0);
        for (int64_t b = 0; b < a.m; ++b) {
            const int8_t *x = static_cast<const int8_t *>(p.x) + b * p.x_stride;
            for (int64_t g = 0; g < ng; ++g) {
                int32_t s = 0;
                for (int64_t c = g * gsz; c < (g + 1) * gsz; ++c) s += x[c];
                xsum[static_cast<std::size_t>(b * ng + g)] = s;
            }
        }
        p.xsum = xsum.data();
    }
    p.xs = a.xs;
    p.xs_count = a.xs_count;
    p.xs_divide = a.xs_divide;
    p.bias = a.bias;
    p.y = a.y;
    p.y_kind = a.y_kind;
    p.y_stride = w.rows;
    RowsJob job{select_gemm(), &p};
    const int64_t work_per_row = (w.kp / 4 + 1) * a.m;
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / work_per_row);
    parallel::parallel_for(w.rows, grain, rows_trampoline, &job);
}

// ------------------------------------------------------------------ tensor-level GEMM

namespace {

// x [..., in] and y [..., out] with the same leading dimensions; returns m.
int64_t check_xy(const rai_context &ctx, TensorCheck &x, TensorCheck &y, int64_t in, int64_t out) {
    x.contiguous().on(ctx);
    y.contiguous().on(ctx);
    const rai_tensor &xt = x.tensor(), &yt = y.tensor();
    require(xt.ndim >= 1, RAI_ERROR_SHAPE_MISMATCH, "x: needs at least one dimension, got a scalar");
    require(xt.shape[xt.ndim - 1] == in, RAI_ERROR_SHAPE_MISMATCH,
            "x: the last dimension is " + std::to_string(xt.shape[xt.ndim - 1]) + ", the weight has in = " +
                std::to_string(in) + " (x shape " + x.shape_string() + ")");
    bool ok = yt.ndim == xt.ndim && yt.shape[yt.ndim - 1] == out;
    for (int32_t i = 0; ok && i + 1 < xt.ndim; ++i) ok = yt.shape[i] == xt.shape[i];
    if (!ok) {
        std::vector<int64_t> want(xt.shape, xt.shape + xt.ndim);
        want.back() = out;
        throw Error(RAI_ERROR_SHAPE_MISMATCH, "y: shape mismatch: expected " +
                                                  format_shape(want.data(), static_cast<int32_t>(want.size())) +
                                                  ", got " + y.shape_string());
    }
    return x.numel() / in;
}

const float *check_bias(const rai_context &ctx, const rai_tensor *bias_, int64_t out) {
    if (bias_ == nullptr) return nullptr;
    TensorCheck b("bias", bias_);
    b.dtype(dtype::f32).shape({out}).contiguous().on(ctx);
    return static_cast<const float *>(b.data());
}

std::vector<float> to_f32(const TensorCheck &x) {
    std::vector<float> v(static_cast<std::size_t>(x.numel()));
    const auto *s = static_cast<const uint16_t *>(x.data());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = half::bf16_to_f32(s[i]);
    return v;
}

raicuda_bitnet_gemm_args cuda_args(const rai_ternary_weight &w) {
    raicuda_bitnet_gemm_args g{};
    g.w = static_cast<const uint8_t *>(w.d_codes->get());
    g.n = w.rows;
    g.k = w.cols;
    g.kp = w.kp;
    g.ws = static_cast<const float *>(w.d_scales->get());
    g.scale_kind = w.smap.gran == Gran::Tensor ? kScaleTensor : (w.smap.gran == Gran::Row ? kScaleRow : kScaleGroup);
    g.group = w.smap.group;
    g.groups = w.smap.per_row();
    return g;
}

}  // namespace

void gemm(rai_context &ctx, const rai_ternary_weight &w, const rai_tensor *x_, const rai_tensor *xs_,
          const rai_bitnet_act_params *act, const rai_tensor *bias_, const rai_tensor *y_) {
    require_same_device(ctx, w.device, "weight");
    const ActQuant aq = act_quant_from(act);
    TensorCheck x("x", x_);
    x.dtype_in({dtype::f32, dtype::bf16, dtype::i8});
    TensorCheck y("y", y_);
    y.dtype_in({dtype::f32, dtype::i32});
    const int64_t m = check_xy(ctx, x, y, w.cols, w.rows);
    const bool x_i8 = dtype::equal(x.tensor().dtype, dtype::i8);
    const bool y_i32 = dtype::equal(y.tensor().dtype, dtype::i32);
    if (y_i32)
        require(x_i8 && xs_ == nullptr && bias_ == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                "y: an i32 output (the raw integer dot) takes i8 x with x_scales and bias NULL");
    const float *xs = nullptr;
    int64_t xs_count = 0;
    if (x_i8 && !y_i32) {
        require(xs_ != nullptr, RAI_ERROR_INVALID_ARGUMENT, "x_scales must not be NULL for i8 x with an f32 y");
        TensorCheck s("x_scales", xs_);
        s.dtype(dtype::f32).contiguous().on(ctx);
        require(s.numel() == m || s.numel() == 1, RAI_ERROR_SHAPE_MISMATCH,
                "x_scales: expected " + std::to_string(m) + " scales (one per row of x) or 1, got shape " +
                    s.shape_string());
        xs = static_cast<const float *>(s.data());
        xs_count = s.numel();
    } else if (!x_i8) {
        require(xs_ == nullptr, RAI_ERROR_INVALID_ARGUMENT, "x_scales must be NULL for float x");
    }
    const float *bias = check_bias(ctx, bias_, w.rows);
    if (is_cuda(ctx)) {
        raicuda_bitnet_gemm_args g = cuda_args(w);
        g.x_type = x_i8 ? RAICUDA_BITNET_I8
                        : (dtype::equal(x.tensor().dtype, dtype::bf16) ? RAICUDA_BITNET_BF16 : RAICUDA_BITNET_F32);
        g.m = m;
        g.x = x.data();
        g.xs = xs;
        g.xs_count = xs_count;
        g.xs_divide = aq.scale_mode == RAI_BITNET_ACT_OFFICIAL ? 1 : 0;
        g.y_type = y_i32 ? RAICUDA_BITNET_I32 : RAICUDA_BITNET_F32;
        g.bias = bias;
        g.y = y.data();
        const raicuda_bitnet_v1 &t = cuda_table();
        cuda::check([&](raicuda_err *e) { return t.gemm(ordinal(ctx), ctx.stream, &g, e); });
        return;
    }
    std::vector<float> xconv;
    CpuGemmArgs a;
    a.m = m;
    if (x_i8) {
        a.x = x.data();
        a.x_kind = kXI8;
    } else if (dtype::equal(x.tensor().dtype, dtype::bf16)) {
        xconv = to_f32(x);
        a.x = xconv.data();
    } else {
        a.x = x.data();
    }
    a.xs = xs;
    a.xs_count = xs_count;
    a.xs_divide = aq.scale_mode == RAI_BITNET_ACT_OFFICIAL;
    a.bias = bias;
    a.y = y.data();
    a.y_kind = y_i32 ? kYI32 : kYF32;
    cpu_gemm(w, a);
}

// ------------------------------------------------------------------ BitLinear

namespace {

std::unique_ptr<rai_bitlinear> make_layer(rai_context &ctx, std::unique_ptr<rai_ternary_weight> w,
                                          const rai_bitnet_act_params *ap, const rai_tensor *bias_) {
    auto layer = std::make_unique<rai_bitlinear>();
    layer->act = act_quant_from(ap);
    if (bias_ != nullptr) {
        TensorCheck b("bias", bias_);
        b.dtype(dtype::f32).shape({w->rows}).contiguous();
        require_host(b, "bias");
        const auto *bv = static_cast<const float *>(b.data());
        layer->bias.assign(bv, bv + w->rows);
        if (is_cuda(ctx)) upload(ctx, layer->d_bias, layer->bias.data(), layer->bias.size() * sizeof(float));
    }
    layer->weight = std::move(w);
    return layer;
}

}  // namespace

rai_bitlinear *bitlinear_create(rai_context &ctx, const rai_bitnet_weight_params *wp, const rai_bitnet_act_params *ap,
                                const rai_tensor *weight_, const rai_tensor *bias_) {
    TensorCheck w("weight", weight_);
    w.dtype_in({dtype::f32, dtype::bf16, dtype::f16}).ndim(2).contiguous();
    require_host(w, "weight");
    const int64_t rows = w.dim(0), cols = w.dim(1);
    require(rows > 0 && cols > 0, RAI_ERROR_SHAPE_MISMATCH, "weight: shape " + w.shape_string() + " has no elements");
    const WeightQuant q = weight_quant_from(wp, cols);
    act_quant_from(ap);  // validate before the work
    std::vector<float> wf(static_cast<std::size_t>(rows * cols));
    const rai_dtype d = w.tensor().dtype;
    if (dtype::equal(d, dtype::f32)) {
        std::memcpy(wf.data(), w.data(), wf.size() * sizeof(float));
    } else {
        const auto *src = static_cast<const uint16_t *>(w.data());
        const bool bf = dtype::equal(d, dtype::bf16);
        for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = bf ? half::bf16_to_f32(src[i]) : half::f16_to_f32(src[i]);
    }
    ScaleMap smap;
    smap.gran = q.gran;
    smap.rows = rows;
    smap.cols = cols;
    smap.group = q.group;
    std::vector<int8_t> trits(wf.size());
    std::vector<float> scales(static_cast<std::size_t>(smap.count()));
    quantize_weights_raw(q, wf.data(), rows, cols, trits.data(), scales.data());
    if (bias_ != nullptr) {  // checked before the upload of the weight
        TensorCheck b("bias", bias_);
        b.dtype(dtype::f32).shape({rows}).contiguous();
        require_host(b, "bias");
    }
    return make_layer(ctx, weight_create_raw(ctx, trits.data(), rows, cols, smap, scales.data()), ap, bias_).release();
}

rai_bitlinear *bitlinear_create_from_trits(rai_context &ctx, const rai_bitnet_act_params *ap, const rai_tensor *trits,
                                           const rai_tensor *scales, const rai_tensor *bias_) {
    act_quant_from(ap);
    if (bias_ != nullptr) {
        TensorCheck t("trits", trits);
        t.ndim(2);
        TensorCheck b("bias", bias_);
        b.dtype(dtype::f32).shape({t.dim(0)}).contiguous();
        require_host(b, "bias");
    }
    std::unique_ptr<rai_ternary_weight> w(weight_create(ctx, trits, scales));
    return make_layer(ctx, std::move(w), ap, bias_).release();
}

void bitlinear_forward(rai_context &ctx, const rai_bitlinear &layer, int32_t mode, const rai_tensor *x_,
                       const rai_tensor *y_) {
    const rai_ternary_weight &w = *layer.weight;
    require_same_device(ctx, w.device, "layer");
    require(mode == RAI_BITLINEAR_WFP || mode == RAI_BITLINEAR_FAKEQ || mode == RAI_BITLINEAR_W2A8,
            RAI_ERROR_INVALID_ARGUMENT,
            "mode is " + std::to_string(mode) + ", expected WFP (0), FAKEQ (1) or W2A8 (2)");
    TensorCheck x("x", x_);
    x.dtype_in({dtype::f32, dtype::bf16});
    TensorCheck y("y", y_);
    y.dtype(dtype::f32);
    const int64_t m = check_xy(ctx, x, y, w.cols, w.rows);
    const bool bf16 = dtype::equal(x.tensor().dtype, dtype::bf16);
    const ActQuant &aq = layer.act;
    if (is_cuda(ctx)) {
        raicuda_bitnet_gemm_args g = cuda_args(w);
        g.x_type = bf16 ? RAICUDA_BITNET_BF16 : RAICUDA_BITNET_F32;
        g.m = m;
        g.x = x.data();
        g.xs_divide = aq.scale_mode == RAI_BITNET_ACT_OFFICIAL ? 1 : 0;
        g.y_type = RAICUDA_BITNET_F32;
        g.bias = layer.d_bias ? static_cast<const float *>(layer.d_bias->get()) : nullptr;
        g.y = y.data();
        const raicuda_bitnet_v1 &t = cuda_table();
        if (mode == RAI_BITLINEAR_WFP) {
            cuda::check([&](raicuda_err *e) { return t.gemm(ordinal(ctx), ctx.stream, &g, e); });
            return;
        }
        raicuda_bitnet_act_args a{};
        a.x = x.data();
        a.x_type = g.x_type;
        a.bits = aq.bits;
        a.qmax = aq.qmax;
        a.scale_mode = aq.scale_mode;
        a.round_mode = aq.round_mode;
        a.per_tensor = aq.per_tensor ? 1 : 0;
        a.eps = aq.eps;
        a.rows = m;
        a.cols = w.cols;
        cuda::check([&](raicuda_err *e) { return t.bitlinear(ordinal(ctx), ctx.stream, mode, &a, &g, e); });
        return;
    }
    std::vector<float> xconv;
    const float *xf = static_cast<const float *>(x.data());
    if (bf16) {
        xconv = to_f32(x);
        xf = xconv.data();
    }
    CpuGemmArgs a;
    a.m = m;
    a.bias = layer.bias.empty() ? nullptr : layer.bias.data();
    a.y = y.data();
    if (mode == RAI_BITLINEAR_WFP) {
        a.x = xf;
        cpu_gemm(w, a);
        return;
    }
    std::vector<int8_t> q(static_cast<std::size_t>(m * w.cols));
    std::vector<float> s(static_cast<std::size_t>(aq.per_tensor ? 1 : m));
    quantize_act_raw(aq, xf, m, w.cols, q.data(), s.data());
    if (mode == RAI_BITLINEAR_W2A8) {
        a.x = q.data();
        a.x_kind = kXI8;
        a.xs = s.data();
        a.xs_count = static_cast<int64_t>(s.size());
        a.xs_divide = aq.scale_mode == RAI_BITNET_ACT_OFFICIAL;
        cpu_gemm(w, a);
        return;
    }
    std::vector<float> xd(q.size());  // FAKEQ: dequantized activations through the float path
    for (int64_t r = 0; r < m; ++r) {
        const float sc = s[aq.per_tensor ? 0 : static_cast<std::size_t>(r)];
        for (int64_t i = 0; i < w.cols; ++i) {
            const float v = static_cast<float>(q[static_cast<std::size_t>(r * w.cols + i)]);
            xd[static_cast<std::size_t>(r * w.cols + i)] = aq.scale_mode == RAI_BITNET_ACT_RUST ? v * sc : v / sc;
        }
    }
    a.x = xd.data();
    cpu_gemm(w, a);
}

}  // namespace rai::bitnet
