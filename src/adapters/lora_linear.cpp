#include "lora_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "../core/context.h"
#include "../core/cuda_plugin.h"
#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/tensor_check.h"
#include "cuda_adapters_abi.h"
#include "gemm_cpu.h"
#include "half.h"
#include "../quant/q4_state.h"
#include "model.h"
#include "rng.h"
#include "tuners.h"

namespace rai::adapters {

namespace {

Fp fp_of(const TensorCheck &c, const char *name) {
    Fp k = Fp::F32;
    if (!float_kind(c.tensor().dtype, &k))
        throw Error(RAI_ERROR_DTYPE_MISMATCH,
                    std::string(name) + ": expected dtype f32, bf16 or f16, got " + dtype::describe(c.tensor().dtype));
    return k;
}
int32_t cuda_fp(Fp k) { return k == Fp::F32 ? RAICUDA_F32 : k == Fp::BF16 ? RAICUDA_BF16 : RAICUDA_F16; }

std::vector<float> floats(const TensorCheck &c, Fp k) {
    std::vector<float> v(static_cast<std::size_t>(c.numel()));
    if (!v.empty()) load_floats(k, c.data(), v.data(), v.size());
    return v;
}

void check_params(const rai_lora_linear_params &p) {
    require(std::isfinite(p.scaling), RAI_ERROR_INVALID_ARGUMENT, "params->scaling must be finite");
    require(p.dropout >= 0.0f && p.dropout < 1.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->dropout must be in [0, 1), got " + std::to_string(p.dropout));
    require((p.flags & ~(RAI_LORA_TRAINING | RAI_LORA_ACCUMULATE)) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "params->flags has unknown bits");
}

float scaling_of(const rai_lora_linear_params &p) { return p.scaling == 0.0f ? 1.0f : p.scaling; }

// The frozen base of a layer: a dense weight tensor, or a 4-bit state and its codes (QLoRA).
struct BaseW {
    const rai_tensor *dense = nullptr;
    const rai_q4_state *q4 = nullptr;
    const rai_tensor *codes = nullptr;
};

// The validated shapes and types of one layer call.
struct Layer {
    int64_t M = 0, N = 0, K = 0, r = 0;
    Fp act = Fp::F32, par = Fp::F32;
};

Layer check_layer(const rai_context &ctx, TensorCheck &x, const BaseW &base, TensorCheck &a, TensorCheck &b,
                  const rai_tensor *magnitude) {
    Layer L;
    x.on(ctx).ndim(2).contiguous();
    L.act = fp_of(x, "x");
    L.M = x.dim(0);
    L.K = x.dim(1);
    if (base.q4 == nullptr) {
        TensorCheck w("weight", base.dense);
        w.on(ctx).dtype(x.tensor().dtype).ndim(2).contiguous();
        L.N = w.dim(0);
        w.shape({L.N, L.K});
    } else {
        q4::check_state_device(ctx, *base.q4, "state");
        require(base.q4->shape.size() == 2 && base.q4->shape[1] == L.K, RAI_ERROR_SHAPE_MISMATCH,
                "state: the 4-bit weight must be 2-D [out, " + std::to_string(L.K) + "] to match x");
        L.N = base.q4->shape[0];
        q4::check_codes(ctx, base.codes, base.q4->numel, "codes");
    }
    a.on(ctx).ndim(2).contiguous();
    L.par = fp_of(a, "lora_a");
    require(L.par == Fp::F32 || L.par == L.act, RAI_ERROR_DTYPE_MISMATCH, "lora_a: must be f32 or x's dtype");
    L.r = a.dim(0);
    require(L.r > 0, RAI_ERROR_SHAPE_MISMATCH, "lora_a: rank (dimension 0) must be > 0");
    a.shape({L.r, L.K});
    b.on(ctx).dtype(a.tensor().dtype).shape({L.N, L.r}).contiguous();
    if (magnitude != nullptr) {
        TensorCheck m("magnitude", magnitude);
        m.on(ctx).dtype(a.tensor().dtype).shape({L.N}).contiguous();
    }
    return L;
}

// Temporaries that let the functional API reuse the model's tuner math (the one CPU reference).
struct CpuLayer {
    BaseModule bm;
    Adapter ad;
    ModuleAdapter ma;
};

std::vector<float> dequantized(const rai_context &ctx, const BaseW &base, const Layer &L) {
    std::vector<float> w(static_cast<std::size_t>(L.N * L.K));
    const int64_t ws[] = {L.N, L.K};
    rai_tensor d{};
    d.data = w.data();
    d.device = {RAI_DEVICE_CPU, 0};
    d.ndim = 2;
    d.dtype = dtype::f32;
    d.shape = ws;
    q4::dequantize(ctx, *base.q4, base.codes, &d);
    return w;
}

std::unique_ptr<CpuLayer> cpu_layer(const rai_context &ctx, const Layer &L, const BaseW &base, const TensorCheck &a,
                                    const TensorCheck &b, const rai_tensor *magnitude, float scaling, float dropout) {
    auto c = std::make_unique<CpuLayer>();
    c->bm.out = L.N;
    c->bm.in = L.K;
    if (base.q4 == nullptr) {  // the CPU reference multiplies with the fp32 weight (4-bit: dequantized)
        TensorCheck w("weight", base.dense);
        if (L.act == Fp::F32) c->bm.w_ext = static_cast<const float *>(w.data());  // no copy
        else c->bm.w32 = floats(w, L.act);
    } else {
        c->bm.w32 = dequantized(ctx, base, L);
    }
    c->ad.cfg.type = PeftType::Lora;
    c->ad.cfg.dropout = dropout;
    c->ad.cfg.use_dora = magnitude != nullptr;
    c->ma.r = static_cast<int32_t>(L.r);
    c->ma.scaling = scaling;
    Param pa, pb;
    pa.suffix = "lora_A.weight";
    pa.shape = {L.r, L.K};
    pa.value = floats(a, L.par);
    pa.grad.assign(pa.value.size(), 0.0f);
    pb.suffix = "lora_B.weight";
    pb.shape = {L.N, L.r};
    pb.value = floats(b, L.par);
    pb.grad.assign(pb.value.size(), 0.0f);
    c->ma.params.push_back(std::move(pa));
    c->ma.params.push_back(std::move(pb));
    if (magnitude != nullptr) {
        TensorCheck m("magnitude", magnitude);
        Param pm;
        pm.suffix = "lora_magnitude_vector";
        pm.shape = {L.N};
        pm.value = floats(m, L.par);
        pm.grad.assign(pm.value.size(), 0.0f);
        c->ma.params.push_back(std::move(pm));
    }
    return c;
}

void write_grad(rai_tensor *t, const char *name, const rai_context &ctx, std::initializer_list<int64_t> shape,
                const std::vector<float> &g, bool accumulate) {
    if (t == nullptr) return;
    TensorCheck c(name, t);
    c.on(ctx).dtype(dtype::f32).shape(shape).contiguous();
    float *d = static_cast<float *>(c.data());
    for (std::size_t i = 0; i < g.size(); ++i) d[i] = accumulate ? d[i] + g[i] : g[i];
}

}  // namespace

namespace {

// A device copy of a 4-bit weight dequantized to the activation dtype (DoRA needs W itself).
struct DeviceDense {
    std::unique_ptr<cuda::DeviceMemory> mem;
    int64_t shape[2] = {0, 0};
    rai_tensor t{};
};
void dequantize_on_device(rai_context &ctx, const BaseW &base, const Layer &L, const rai_dtype &act, DeviceDense &out) {
    out.mem = std::make_unique<cuda::DeviceMemory>(ctx.device.device_id,
                                                   static_cast<std::size_t>(L.N * L.K) * fp_size(L.act));
    out.shape[0] = L.N;
    out.shape[1] = L.K;
    out.t.data = out.mem->get();
    out.t.device = ctx.device;
    out.t.ndim = 2;
    out.t.dtype = act;
    out.t.shape = out.shape;
    q4::dequantize(ctx, *base.q4, base.codes, &out.t);
}

void forward_impl(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x_t, const BaseW &base,
                  const rai_tensor *bias_t, const rai_tensor *a_t, const rai_tensor *b_t, const rai_tensor *magnitude,
                  rai_tensor *y_t) {
    check_params(p);
    TensorCheck x("x", x_t), a("lora_a", a_t), b("lora_b", b_t), y("y", y_t);
    const Layer L = check_layer(ctx, x, base, a, b, magnitude);
    y.on(ctx).dtype(x.tensor().dtype).shape({L.M, L.N}).contiguous();
    std::unique_ptr<TensorCheck> bias;
    if (bias_t != nullptr) {
        bias = std::make_unique<TensorCheck>("bias", bias_t);
        bias->on(ctx).dtype(x.tensor().dtype).shape({L.N}).contiguous();
    }
    const bool training = (p.flags & RAI_LORA_TRAINING) != 0;
    const float s = scaling_of(p);
    if (is_cuda(ctx)) {
        const auto *t = static_cast<const raicuda_adapters *>(cuda::require_capability(RAICUDA_ADAPTERS_CAPABILITY));
        DeviceDense dd;
        const void *w = nullptr;
        if (base.q4 == nullptr) {
            w = static_cast<const char *>(base.dense->data) + base.dense->byte_offset;
        } else if (magnitude != nullptr) {
            dequantize_on_device(ctx, base, L, x.tensor().dtype, dd);
            w = dd.t.data;
        } else {  // QLoRA: y = 4-bit base (+ bias) first, then the adapter adds onto y
            q4::linear_forward(ctx, *base.q4, base.codes, x_t, bias_t, y_t);
        }
        raicuda_lora_args args{};
        args.M = L.M, args.N = L.N, args.K = L.K, args.r = L.r;
        args.act_type = cuda_fp(L.act), args.param_type = cuda_fp(L.par);
        args.x = x.data(), args.w = w, args.bias = (bias && w) ? bias->data() : nullptr;
        args.a = a.data(), args.b = b.data();
        args.magnitude = magnitude ? static_cast<const char *>(magnitude->data) + magnitude->byte_offset : nullptr;
        args.y = y.data();
        args.scaling = s, args.dropout = p.dropout, args.flags = p.flags;
        args.dropout_key = dropout_key(p.seed, p.step);
        cuda::check([&](raicuda_err *e) { return t->lora_forward(ctx.device.device_id, ctx.stream, &args, e); });
        return;
    }
    auto c = cpu_layer(ctx, L, base, a, b, magnitude, s, p.dropout);
    const std::vector<float> X = floats(x, L.act);
    std::vector<float> Y0(static_cast<std::size_t>(L.M * L.N));
    c->bm.matmul(X.data(), L.M, Y0.data());
    std::vector<float> Y = Y0;
    if (bias) {
        const std::vector<float> bv = floats(*bias, L.act);
        for (int64_t i = 0; i < L.M; ++i)
            for (int64_t j = 0; j < L.N; ++j) Y[i * L.N + j] += bv[j];
    }
    add_contribution(c->ad, c->ma, 1.0f, c->bm, RowBlock{L.M, X.data(), Y0.data(), Y.data()}, training,
                     dropout_key(p.seed, p.step));
    if (!Y.empty()) store_floats(L.act, Y.data(), y.data(), Y.size());
}

void backward_impl(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x_t, const BaseW &base,
                   const rai_tensor *a_t, const rai_tensor *b_t, const rai_tensor *magnitude, const rai_tensor *dy_t,
                   rai_tensor *dx_t, rai_tensor *da_t, rai_tensor *db_t, rai_tensor *dmag_t) {
    check_params(p);
    TensorCheck x("x", x_t), a("lora_a", a_t), b("lora_b", b_t), dy("dy", dy_t);
    const Layer L = check_layer(ctx, x, base, a, b, magnitude);
    dy.on(ctx).dtype(x.tensor().dtype).shape({L.M, L.N}).contiguous();
    if (dx_t != nullptr) {
        TensorCheck dx("dx", dx_t);
        dx.on(ctx).dtype(x.tensor().dtype).shape({L.M, L.K}).contiguous();
    }
    require(dmag_t == nullptr || magnitude != nullptr, RAI_ERROR_INVALID_ARGUMENT,
            "d_magnitude: given without magnitude (DoRA)");
    auto check_grad = [&](rai_tensor *t, const char *name, std::initializer_list<int64_t> shape) {
        if (t == nullptr) return;
        TensorCheck c(name, t);
        c.on(ctx).dtype(dtype::f32).shape(shape).contiguous();
    };
    check_grad(da_t, "d_a", {L.r, L.K});
    check_grad(db_t, "d_b", {L.N, L.r});
    check_grad(dmag_t, "d_magnitude", {L.N});
    const bool training = (p.flags & RAI_LORA_TRAINING) != 0;
    const bool accumulate = (p.flags & RAI_LORA_ACCUMULATE) != 0;
    const float s = scaling_of(p);
    if (is_cuda(ctx)) {
        const auto *t = static_cast<const raicuda_adapters *>(cuda::require_capability(RAICUDA_ADAPTERS_CAPABILITY));
        DeviceDense dd;
        const void *w = nullptr;
        if (base.q4 == nullptr) {
            w = static_cast<const char *>(base.dense->data) + base.dense->byte_offset;
        } else if (magnitude != nullptr) {
            dequantize_on_device(ctx, base, L, x.tensor().dtype, dd);
            w = dd.t.data;
        } else if (dx_t != nullptr) {  // QLoRA: dx = dy·W through the 4-bit weight, then the adapter adds
            q4::linear_backward_input(ctx, *base.q4, base.codes, dy_t, dx_t);
        }
        raicuda_lora_args args{};
        args.M = L.M, args.N = L.N, args.K = L.K, args.r = L.r;
        args.act_type = cuda_fp(L.act), args.param_type = cuda_fp(L.par);
        args.x = x.data(), args.w = w, args.a = a.data(), args.b = b.data();
        args.magnitude = magnitude ? static_cast<const char *>(magnitude->data) + magnitude->byte_offset : nullptr;
        args.dy = dy.data();
        args.dx = dx_t ? static_cast<char *>(dx_t->data) + dx_t->byte_offset : nullptr;
        args.da = da_t ? reinterpret_cast<float *>(static_cast<char *>(da_t->data) + da_t->byte_offset) : nullptr;
        args.db = db_t ? reinterpret_cast<float *>(static_cast<char *>(db_t->data) + db_t->byte_offset) : nullptr;
        args.dmagnitude =
            dmag_t ? reinterpret_cast<float *>(static_cast<char *>(dmag_t->data) + dmag_t->byte_offset) : nullptr;
        args.scaling = s, args.dropout = p.dropout, args.flags = p.flags;
        args.dropout_key = dropout_key(p.seed, p.step);
        cuda::check([&](raicuda_err *e) { return t->lora_backward(ctx.device.device_id, ctx.stream, &args, e); });
        return;
    }
    auto c = cpu_layer(ctx, L, base, a, b, magnitude, s, p.dropout);
    const std::vector<float> X = floats(x, L.act), dY = floats(dy, L.act);
    std::vector<float> Y0;
    if (magnitude != nullptr) {
        Y0.assign(static_cast<std::size_t>(L.M * L.N), 0.0f);
        c->bm.matmul(X.data(), L.M, Y0.data());
    }
    std::vector<float> dX;
    if (dx_t != nullptr) {
        dX.assign(static_cast<std::size_t>(L.M * L.K), 0.0f);
        c->bm.matmul_t(dY.data(), L.M, dX.data(), false);
    }
    backward_contribution(c->ad, c->ma, 1.0f, c->bm, L.M, X.data(), Y0.empty() ? nullptr : Y0.data(), dY.data(),
                          dx_t ? dX.data() : nullptr, training, dropout_key(p.seed, p.step));
    if (dx_t != nullptr) {
        TensorCheck dx("dx", dx_t);
        if (!dX.empty()) store_floats(L.act, dX.data(), dx.data(), dX.size());
    }
    write_grad(da_t, "d_a", ctx, {L.r, L.K}, c->ma.get("lora_A.weight").grad, accumulate);
    write_grad(db_t, "d_b", ctx, {L.N, L.r}, c->ma.get("lora_B.weight").grad, accumulate);
    if (dmag_t != nullptr) write_grad(dmag_t, "d_magnitude", ctx, {L.N}, c->ma.get("lora_magnitude_vector").grad, accumulate);
}

}  // namespace

void lora_linear_forward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x, const rai_tensor *w,
                         const rai_tensor *bias, const rai_tensor *a, const rai_tensor *b, const rai_tensor *magnitude,
                         rai_tensor *y) {
    require_not_null(w, "weight");
    forward_impl(ctx, p, x, BaseW{w, nullptr, nullptr}, bias, a, b, magnitude, y);
}

void lora_linear_backward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x, const rai_tensor *w,
                          const rai_tensor *a, const rai_tensor *b, const rai_tensor *magnitude, const rai_tensor *dy,
                          rai_tensor *dx, rai_tensor *da, rai_tensor *db, rai_tensor *dmagnitude) {
    require_not_null(w, "weight");
    backward_impl(ctx, p, x, BaseW{w, nullptr, nullptr}, a, b, magnitude, dy, dx, da, db, dmagnitude);
}

void qlora_linear_forward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x,
                          const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *bias, const rai_tensor *a,
                          const rai_tensor *b, const rai_tensor *magnitude, rai_tensor *y) {
    require_not_null(state, "state");
    forward_impl(ctx, p, x, BaseW{nullptr, state, codes}, bias, a, b, magnitude, y);
}

void qlora_linear_backward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x,
                           const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *a, const rai_tensor *b,
                           const rai_tensor *magnitude, const rai_tensor *dy, rai_tensor *dx, rai_tensor *da,
                           rai_tensor *db, rai_tensor *dmagnitude) {
    require_not_null(state, "state");
    backward_impl(ctx, p, x, BaseW{nullptr, state, codes}, a, b, magnitude, dy, dx, da, db, dmagnitude);
}

void lora_linear_forward_mixed(rai_context &ctx, const rai_tensor *x_t, const rai_tensor *w_t,
                               const rai_tensor *bias_t, std::size_t n, const rai_tensor *const *a_arr,
                               const rai_tensor *const *b_arr, const float *scaling, const int32_t *row_adapter,
                               rai_tensor *y_t) {
    TensorCheck x("x", x_t), w("weight", w_t), y("y", y_t);
    x.on(ctx).ndim(2).contiguous();
    const Fp act = fp_of(x, "x");
    const int64_t M = x.dim(0), K = x.dim(1);
    w.on(ctx).dtype(x.tensor().dtype).ndim(2).contiguous();
    const int64_t N = w.dim(0);
    w.shape({N, K});
    y.on(ctx).dtype(x.tensor().dtype).shape({M, N}).contiguous();
    std::unique_ptr<TensorCheck> bias;
    if (bias_t != nullptr) {
        bias = std::make_unique<TensorCheck>("bias", bias_t);
        bias->on(ctx).dtype(x.tensor().dtype).shape({N}).contiguous();
    }
    require(n == 0 || (a_arr != nullptr && b_arr != nullptr && scaling != nullptr), RAI_ERROR_INVALID_ARGUMENT,
            "lora_a, lora_b and scaling must not be NULL when n_adapters > 0");
    require(M == 0 || row_adapter != nullptr, RAI_ERROR_INVALID_ARGUMENT, "row_adapter must not be NULL");
    require(n < (1u << 30), RAI_ERROR_INVALID_ARGUMENT, "n_adapters is too large");
    Fp par = Fp::F32;
    std::vector<int64_t> ranks(n);
    std::vector<std::unique_ptr<TensorCheck>> ac, bc;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string an = "lora_a[" + std::to_string(i) + "]", bn = "lora_b[" + std::to_string(i) + "]";
        ac.push_back(std::make_unique<TensorCheck>(an.c_str(), a_arr[i]));
        bc.push_back(std::make_unique<TensorCheck>(bn.c_str(), b_arr[i]));
        ac[i]->on(ctx).ndim(2).contiguous();
        const Fp k = fp_of(*ac[i], an.c_str());
        require(k == Fp::F32 || k == act, RAI_ERROR_DTYPE_MISMATCH, an + ": must be f32 or x's dtype");
        if (i == 0) par = k;
        require(k == par, RAI_ERROR_DTYPE_MISMATCH, an + ": every adapter must have the same dtype");
        ranks[i] = ac[i]->dim(0);
        require(ranks[i] > 0, RAI_ERROR_SHAPE_MISMATCH, an + ": rank must be > 0");
        ac[i]->shape({ranks[i], K});
        bc[i]->on(ctx).dtype(a_arr[i]->dtype).shape({N, ranks[i]}).contiguous();
        require(std::isfinite(scaling[i]), RAI_ERROR_INVALID_ARGUMENT, "scaling[" + std::to_string(i) + "] is not finite");
    }
    for (int64_t i = 0; i < M; ++i)
        if (row_adapter[i] < -1 || row_adapter[i] >= static_cast<int32_t>(n))
            throw Error(RAI_ERROR_OUT_OF_RANGE, "row_adapter[" + std::to_string(i) + "] = " + std::to_string(row_adapter[i]) +
                                                    " is not in [-1, " + std::to_string(n) + ")");
    // Segments: rows grouped by adapter, stable.
    std::vector<int64_t> perm(static_cast<std::size_t>(M));
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t p, int64_t q) { return row_adapter[p] < row_adapter[q]; });
    std::vector<int64_t> seg_start;
    std::vector<int32_t> seg_adapter;
    for (int64_t i = 0; i < M; ++i)
        if (i == 0 || row_adapter[perm[i]] != row_adapter[perm[i - 1]]) {
            seg_start.push_back(i);
            seg_adapter.push_back(row_adapter[perm[i]]);
        }
    seg_start.push_back(M);

    if (is_cuda(ctx)) {
        const auto *t = static_cast<const raicuda_adapters *>(cuda::require_capability(RAICUDA_ADAPTERS_CAPABILITY));
        std::vector<const void *> ap(n), bp(n);
        std::vector<int32_t> rk(n);
        for (std::size_t i = 0; i < n; ++i) {
            ap[i] = ac[i]->data();
            bp[i] = bc[i]->data();
            rk[i] = static_cast<int32_t>(ranks[i]);
        }
        raicuda_lora_mixed_args args{};
        args.M = M, args.N = N, args.K = K;
        args.act_type = cuda_fp(act), args.param_type = cuda_fp(par);
        args.x = x.data(), args.w = w.data(), args.bias = bias ? bias->data() : nullptr, args.y = y.data();
        args.n_adapters = static_cast<int32_t>(n);
        args.n_segments = static_cast<int32_t>(seg_adapter.size());
        args.a_host = ap.data(), args.b_host = bp.data(), args.ranks_host = rk.data(), args.scaling_host = scaling;
        args.perm_host = perm.data(), args.seg_start_host = seg_start.data(), args.seg_adapter_host = seg_adapter.data();
        cuda::check([&](raicuda_err *e) { return t->lora_forward_mixed(ctx.device.device_id, ctx.stream, &args, e); });
        return;
    }
    const std::vector<float> X = floats(x, act);
    std::vector<float> W = floats(w, act);
    // Base once for the whole batch.
    std::vector<float> Y0(static_cast<std::size_t>(M * N));
    cpu::gemm_nt(M, N, K, 1.0f, X.data(), K, W.data(), K, 0.0f, Y0.data(), N);
    std::vector<float> Y = Y0;
    if (bias) {
        const std::vector<float> bv = floats(*bias, act);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) Y[i * N + j] += bv[j];
    }
    // One grouped pass: each segment's adapter runs once over its contiguous rows.
    BaseModule bm;
    bm.out = N;
    bm.in = K;
    for (std::size_t s = 0; s + 1 < seg_start.size(); ++s) {
        const int32_t ai = seg_adapter[s];
        if (ai < 0) continue;
        const int64_t r0 = seg_start[s], rows = seg_start[s + 1] - r0;
        Adapter ad;
        ad.cfg.type = PeftType::Lora;
        ModuleAdapter ma;
        ma.r = static_cast<int32_t>(ranks[ai]);
        ma.scaling = scaling[ai];
        Param pa, pb;
        pa.suffix = "lora_A.weight";
        pa.value = floats(*ac[ai], par);
        pb.suffix = "lora_B.weight";
        pb.value = floats(*bc[ai], par);
        ma.params.push_back(std::move(pa));
        ma.params.push_back(std::move(pb));
        std::vector<float> Xg(static_cast<std::size_t>(rows * K)), Yg(static_cast<std::size_t>(rows * N));
        for (int64_t i = 0; i < rows; ++i) {
            std::memcpy(&Xg[i * K], &X[perm[r0 + i] * K], static_cast<std::size_t>(K) * sizeof(float));
            std::memcpy(&Yg[i * N], &Y[perm[r0 + i] * N], static_cast<std::size_t>(N) * sizeof(float));
        }
        add_contribution(ad, ma, 1.0f, bm, RowBlock{rows, Xg.data(), nullptr, Yg.data()}, false, 0);
        for (int64_t i = 0; i < rows; ++i)
            std::memcpy(&Y[perm[r0 + i] * N], &Yg[i * N], static_cast<std::size_t>(N) * sizeof(float));
    }
    if (!Y.empty()) store_floats(act, Y.data(), y.data(), Y.size());
}

}  // namespace rai::adapters
