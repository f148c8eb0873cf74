// The adapter model's device path: model.cpp's forward, mixed forward and backward, with
// tuners.cpp's per-tuner math, in device_ops.h primitives over device mirrors of the host state.
// - Adapter parameters go up once per call: they are small next to the activations and change
//   at every training step, so a mirror kept between calls would save little and could go stale.
// - Base weights stay on the device, in their dtype and stored layout, until a merge changes
//   them (BaseModule::generation).
// - Gradients come back at the end of each reduction and are added into the host gradients.
// - Products run in fp32, except those as large as the base's (the base product, and LoHa/LoKr's
//   ΔW products), which run in the weight's dtype with their operands converted to it, as torch
//   runs F.linear in one dtype (exact for inputs already in that dtype).
// Small per-column vectors (IA3 products, DoRA ratios, biases) are formed on the host, as the
// reference forms them, and uploaded.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "../core/context.h"
#include "../core/error.h"
#include "model.h"
#include "rng.h"
#include "tuners.h"

namespace rai::adapters {

struct Model::DeviceCall {
    // The context's stream is shared with every other call on the context, which hold its lock.
    std::lock_guard<std::mutex> context_lock;
    Model &model;
    Ops &ops;
    std::size_t mi;
    const BaseModule &bm;
    std::map<const Param *, DevBuf> params;
    std::vector<DevBuf> keep;  // scratch that lives as long as the call

    DeviceCall(Model &m, std::size_t module)
        : context_lock(m.ctx_->mutex), model(m), ops(*m.ops_), mi(module), bm(m.modules_[module]) {}
    // Every call ends with the device idle, so the next one can reuse its memory at once.
    ~DeviceCall() {
        try {
            ops.sync();
        } catch (...) {
        }
    }

    DevBuf floats(int64_t n, bool zero = false) { return dev_floats(ops, n, zero); }
    float *temp(int64_t n, bool zero = false) {
        keep.push_back(floats(n, zero));
        return keep.back().f();
    }
    // A host vector on the device for the rest of the call.
    const float *vec(const std::vector<float> &v) {
        float *d = temp(static_cast<int64_t>(v.size()));
        if (!v.empty()) ops.upload(d, v.data(), v.size() * sizeof(float));
        return d;
    }
    // A parameter's value on the device (uploaded at its first use in the call).
    const float *value(const Param &p) {
        auto it = params.find(&p);
        if (it == params.end()) {
            DevBuf b = floats(p.numel());
            if (p.numel() > 0) ops.upload(b.get(), p.value.data(), p.value.size() * sizeof(float));
            it = params.emplace(&p, std::move(b)).first;
        }
        return it->second.f();
    }
    // Downloads n floats.
    std::vector<float> down(const float *d, int64_t n) {
        std::vector<float> h(static_cast<std::size_t>(n));
        if (n > 0) ops.download(h.data(), d, h.size() * sizeof(float));
        return h;
    }
    // p.grad += the device gradient g (times `factor`, per element, when given).
    void add_grad(Param &p, const float *g, const std::vector<float> *factor = nullptr) {
        const std::vector<float> h = down(g, p.numel());
        for (std::size_t i = 0; i < h.size(); ++i) p.grad[i] += factor ? h[i] * (*factor)[i] : h[i];
    }
    // p.grad += Σ_rows A⊙B (B NULL: Σ_rows A) over A [rows, p.numel()].
    void add_col_dot(Param &p, int64_t rows, const float *A, const float *B, const std::vector<float> *factor = nullptr) {
        float *g = temp(p.numel());
        ops.col_dot(rows, p.numel(), A, B, g);
        add_grad(p, g, factor);
    }
    float *copy_of(const float *src, int64_t n) {
        float *d = temp(n);
        if (n > 0) ops.copy(d, src, static_cast<std::size_t>(n) * sizeof(float));
        return d;
    }

    // ------------------------------------------------------------ the base

    // Y0[M,out] = X·Wᵀ (fp32 out), in the weight's dtype.
    void base_matmul(const float *X, int64_t M, float *Y0) {
        const void *W = model.device_weight(mi);
        const void *Xt = as_weight_type(X, M * bm.in);
        if (bm.fan_in_fan_out)
            ops.gemm(false, false, M, bm.out, bm.in, 1.0f, Xt, bm.in, W, bm.out, bm.dtype, 0.0f, Y0, bm.out);
        else
            ops.gemm(false, true, M, bm.out, bm.in, 1.0f, Xt, bm.in, W, bm.in, bm.dtype, 0.0f, Y0, bm.out);
    }
    // dX[M,in] (+)= dY·W.
    void base_matmul_t(const float *dY, int64_t M, float *dX, bool accumulate) {
        const void *W = model.device_weight(mi);
        const void *dYt = as_weight_type(dY, M * bm.out);
        const float beta = accumulate ? 1.0f : 0.0f;
        if (bm.fan_in_fan_out)
            ops.gemm(false, true, M, bm.in, bm.out, 1.0f, dYt, bm.out, W, bm.out, bm.dtype, beta, dX, bm.in);
        else
            ops.gemm(false, false, M, bm.in, bm.out, 1.0f, dYt, bm.out, W, bm.in, bm.dtype, beta, dX, bm.in);
    }
    const void *as_weight_type(const float *X, int64_t n) {
        if (bm.dtype == Fp::F32) return X;
        keep.emplace_back(ops, static_cast<std::size_t>(n) * fp_size(bm.dtype));
        ops.from_f32(X, n, keep.back().get(), bm.dtype);
        return keep.back().get();
    }
    // Y0 = Xs·Wᵀ; Y = (Y0 + bias) ⊙ lout.
    void base_forward(const BaseTerms &t, int64_t M, const float *Xs, float *Y0, float *Y) {
        base_matmul(Xs, M, Y0);
        ops.copy(Y, Y0, static_cast<std::size_t>(M * bm.out) * sizeof(float));
        if (t.bias != nullptr) ops.add_cols(Y, M, bm.out, 1.0f, vec(*t.bias));
        if (!t.lout.empty()) ops.scale_cols(Y, M, bm.out, vec(t.lout));
    }
    // X ⊙ lin, or X itself.
    const float *scaled_input(const BaseTerms &t, int64_t M, const float *X) {
        if (t.lin.empty()) return X;
        float *Xs = copy_of(X, M * bm.in);
        ops.scale_cols(Xs, M, bm.in, vec(t.lin));
        return Xs;
    }

    // ------------------------------------------------------------ tuner pieces

    // The input-dropout mask (NULL when none applies) and the adapter's input.
    struct Dropped {
        const float *mask = nullptr, *x = nullptr;
    };
    Dropped drop_input(const Adapter &a, int64_t M, const float *X, bool training, uint64_t key) {
        const float p = static_cast<float>(a.cfg.dropout);
        if (!training || p <= 0.0f) return {nullptr, X};
        const int64_t n = M * bm.in;
        float *mask = temp(n), *xd = temp(n);
        ops.dropout_mask(n, mix_key(key, kStreamInput), p, mask);
        ops.mul(n, 1.0f, X, mask, xd);
        return {mask, xd};
    }

    // DoRA: ‖W + s·B·A‖ per output row (host vector).
    std::vector<float> dora_norm(const ModuleAdapter &ma) {
        const int64_t out = bm.out, in = bm.in, r = ma.r;
        const float *A = value(ma.get("lora_A.weight")), *B = value(ma.get("lora_B.weight"));
        DevBuf D = floats(out * in);
        ops.to_f32(model.device_weight(mi), bm.dtype, out * in, D.f());
        float *n = temp(out);
        if (bm.fan_in_fan_out) {  // stored [in, out]: Wᵀ + s·Aᵀ·Bᵀ, norms down the columns
            ops.gemm(true, true, in, out, r, ma.scaling, A, in, B, r, Fp::F32, 1.0f, D.f(), out);
            ops.col_dot(in, out, D.f(), D.f(), n);
            std::vector<float> h = down(n, out);
            for (float &v : h) v = std::sqrt(v);
            return h;
        }
        ops.gemm(false, false, out, in, r, ma.scaling, B, r, A, in, Fp::F32, 1.0f, D.f(), in);
        ops.row_norm(out, in, D.f(), n);
        return down(n, out);
    }

    // A LoKr factor: the full matrix or the product of its two halves.
    const float *lokr_factor(const ModuleAdapter &ma, const char *full, const char *fa, const char *fb, int64_t rows,
                             int64_t cols) {
        if (const Param *p = ma.find(full)) return value(*p);
        const Param &A = ma.get(fa), &B = ma.get(fb);
        float *P = temp(rows * cols);
        ops.gemm(false, false, rows, cols, A.shape[1], 1.0f, value(A), A.shape[1], value(B), cols, Fp::F32, 0.0f, P,
                 cols);
        return P;
    }
    // W_a·W_b [out, in] of a LoHa pair.
    float *loha_product(const ModuleAdapter &ma, const char *fa, const char *fb) {
        float *P = temp(bm.out * bm.in);
        ops.gemm(false, false, bm.out, bm.in, ma.r, 1.0f, value(ma.get(fa)), ma.r, value(ma.get(fb)), bm.in, Fp::F32,
                 0.0f, P, bm.in);
        return P;
    }
    // LoHa / LoKr ΔW [out, in], rows scaled by the rank-dropout scale when given.
    float *delta(const Adapter &a, const ModuleAdapter &ma, const std::vector<float> &row_scale) {
        const int64_t out = bm.out, in = bm.in;
        float *D = nullptr;
        if (a.cfg.type == PeftType::Loha) {
            D = loha_product(ma, "hada_w1_a", "hada_w1_b");
            ops.mul(out * in, ma.scaling, D, loha_product(ma, "hada_w2_a", "hada_w2_b"), D);
        } else {
            const int64_t ol = ma.lokr_shape[0], ok = ma.lokr_shape[1], im = ma.lokr_shape[2], inn = ma.lokr_shape[3];
            const float *w1 = lokr_factor(ma, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
            const float *w2 = lokr_factor(ma, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
            D = temp(out * in);
            ops.kron(ol, im, ok, inn, ma.scaling, w1, w2, D);
        }
        if (!row_scale.empty()) ops.scale_rows(D, out, in, vec(row_scale));
        return D;
    }
    // The A of a LoRA-shaped adapter: lora_A, or AdaLoRA's A⊙E (formed on the host, r·in).
    const float *lora_a(const Adapter &a, const ModuleAdapter &ma) {
        if (a.cfg.type == PeftType::Adalora) return vec(adalora_ae(ma, bm.in));
        return value(ma.get("lora_A.weight"));
    }
    const Param &lora_b(const Adapter &a, const ModuleAdapter &ma) {
        return ma.get(a.cfg.type == PeftType::Adalora ? "lora_B" : "lora_B.weight");
    }

    // ------------------------------------------------------------ forward

    // Y += w·adapter(X) on M rows; Y0 = Xs·Wᵀ for DoRA (tuners.cpp's add_contribution).
    void contribution(const Adapter &a, const ModuleAdapter &ma, float w, int64_t M, const float *X, const float *Y0,
                      float *Y, bool training, uint64_t key) {
        const int64_t in = bm.in, out = bm.out, r = ma.r;
        if (M == 0) return;
        switch (a.cfg.type) {
            case PeftType::Lora:
            case PeftType::Adalora: {
                if (r == 0) break;  // AdaLoRA: every singular value pruned
                const Dropped xd = drop_input(a, M, X, training, key);
                float *T = temp(M * r), *L = temp(M * out);
                ops.gemm(false, true, M, r, in, 1.0f, xd.x, in, lora_a(a, ma), in, Fp::F32, 0.0f, T, r);
                ops.gemm(false, true, M, out, r, 1.0f, T, r, value(lora_b(a, ma)), r, Fp::F32, 0.0f, L, out);
                if (const Param *bb = ma.find("lora_B.bias")) ops.add_cols(L, M, out, 1.0f, value(*bb));
                const Param *mag = ma.find("lora_magnitude_vector");
                if (mag == nullptr) {
                    ops.axpby(M * out, w * ma.scaling, L, 1.0f, Y);
                    break;
                }
                const std::vector<float> n = dora_norm(ma);
                std::vector<float> g1(n.size()), g(n.size());
                for (std::size_t j = 0; j < n.size(); ++j) {
                    g[j] = mag->value[j] / n[j];
                    g1[j] = g[j] - 1.0f;
                }
                // PEFT: in training with dropout the base term uses drop(x), without the bias.
                float *B0 = temp(M * out);
                if (xd.mask != nullptr) base_matmul(xd.x, M, B0);
                else ops.copy(B0, Y0, static_cast<std::size_t>(M * out) * sizeof(float));
                ops.scale_cols(B0, M, out, vec(g1));
                ops.axpby(M * out, w, B0, 1.0f, Y);
                ops.scale_cols(L, M, out, vec(g));
                ops.axpby(M * out, w * ma.scaling, L, 1.0f, Y);
                break;
            }
            case PeftType::Vera: {
                const int64_t max_in = a.vera_A.shape[1];
                const Dropped xd = drop_input(a, M, X, training, key);
                float *T = temp(M * r), *U = temp(M * out);
                ops.gemm(false, true, M, r, in, 1.0f, xd.x, in, value(a.vera_A), max_in, Fp::F32, 0.0f, T, r);
                ops.scale_cols(T, M, r, value(ma.get("vera_lambda_d")));
                ops.gemm(false, true, M, out, r, 1.0f, T, r, value(a.vera_B), r, Fp::F32, 0.0f, U, out);
                ops.scale_cols(U, M, out, value(ma.get("vera_lambda_b")));
                ops.axpby(M * out, w, U, 1.0f, Y);
                break;
            }
            case PeftType::Loha:
            case PeftType::Lokr: {
                if (module_dropped(a, training, key)) break;
                // The M·out·in product runs in the base's dtype, as PEFT's F.linear(x, ΔW) does.
                const float *D = delta(a, ma, rank_row_scale(a, out, training, key));
                ops.gemm(false, true, M, out, in, w, as_weight_type(X, M * in), in, as_weight_type(D, out * in), in,
                         bm.dtype, 1.0f, Y, out);
                break;
            }
            case PeftType::Ia3: break;  // multiplicative: applied around the base
        }
    }

    // Y [M,out] for rows X [M,in] under `act` (model.cpp's forward body).
    void rows_forward(const std::vector<ActiveEntry> &act, int64_t M, const float *X, float *Y, bool training) {
        const BaseTerms t = base_terms(bm, mi, act);
        const float *Xs = scaled_input(t, M, X);
        float *Y0 = temp(M * bm.out);
        base_forward(t, M, Xs, Y0, Y);
        for (const ActiveEntry &e : act) {
            const ModuleAdapter *ma = e.adapter->for_module(mi);
            if (ma == nullptr || e.adapter->cfg.type == PeftType::Ia3) continue;
            contribution(*e.adapter, *ma, e.weight, M, X, Y0, Y, training,
                         module_step_key(*e.adapter, mi, bm.last_train_step));
        }
    }

    // ------------------------------------------------------------ backward

    // tuners.cpp's backward_contribution: parameter gradients, and dX += the adapter path's.
    void contribution_backward(Adapter &a, ModuleAdapter &ma, float w, int64_t M, const float *X, const float *Y0,
                               const float *dY, float *dX, bool training, uint64_t key) {
        const int64_t in = bm.in, out = bm.out, r = ma.r;
        if (M == 0) return;
        switch (a.cfg.type) {
            case PeftType::Lora:
            case PeftType::Adalora: {
                if (r == 0) break;
                const bool ada = a.cfg.type == PeftType::Adalora;
                Param &Bp = ma.get(ada ? "lora_B" : "lora_B.weight");
                const float *A = lora_a(a, ma), *B = value(Bp);
                const Dropped xd = drop_input(a, M, X, training, key);
                float *T = temp(M * r), *G = temp(M * out);
                ops.gemm(false, true, M, r, in, 1.0f, xd.x, in, A, in, Fp::F32, 0.0f, T, r);
                float *dXa = nullptr;  // gradient w.r.t. the adapter's (dropped) input
                Param *mag = ma.find("lora_magnitude_vector");
                if (mag != nullptr) {
                    const std::vector<float> n = dora_norm(ma);
                    float *L = temp(M * out);
                    ops.gemm(false, true, M, out, r, 1.0f, T, r, B, r, Fp::F32, 0.0f, L, out);
                    const float *Yb = Y0;
                    if (xd.mask != nullptr) {
                        float *y0d = temp(M * out);
                        base_matmul(xd.x, M, y0d);
                        Yb = y0d;
                    }
                    // dm[j] = Σ_i w·dY·(Yb + s·L) / n[j]
                    float *S = copy_of(Yb, M * out);
                    ops.axpby(M * out, ma.scaling, L, 1.0f, S);
                    std::vector<float> inv_n(n.size()), gs(n.size()), g1(n.size());
                    for (std::size_t j = 0; j < n.size(); ++j) {
                        const float g = mag->value[j] / n[j];
                        inv_n[j] = w / n[j];
                        gs[j] = w * g * ma.scaling;
                        g1[j] = w * (g - 1.0f);
                    }
                    add_col_dot(*mag, M, dY, S, &inv_n);
                    ops.copy(G, dY, static_cast<std::size_t>(M * out) * sizeof(float));
                    ops.scale_cols(G, M, out, vec(gs));
                    if (dX != nullptr) {  // the (g-1)·x·Wᵀ term
                        float *dY0 = copy_of(dY, M * out);
                        ops.scale_cols(dY0, M, out, vec(g1));
                        if (xd.mask == nullptr) {
                            base_matmul_t(dY0, M, dX, true);
                        } else {
                            dXa = temp(M * in);
                            base_matmul_t(dY0, M, dXa, false);
                        }
                    }
                } else {
                    ops.axpby(M * out, w * ma.scaling, dY, 0.0f, G);
                }
                // dB += Gᵀ·T, dT = G·B, d(A) += dTᵀ·x_d, dx_d = dT·A
                float *dB = temp(out * r), *dT = temp(M * r), *dA = temp(r * in);
                ops.gemm(true, false, out, r, M, 1.0f, G, out, T, r, Fp::F32, 0.0f, dB, r);
                add_grad(Bp, dB);
                if (Param *bb = ma.find("lora_B.bias")) add_col_dot(*bb, M, G, nullptr);
                ops.gemm(false, false, M, r, out, 1.0f, G, out, B, r, Fp::F32, 0.0f, dT, r);
                ops.gemm(true, false, r, in, M, 1.0f, dT, r, xd.x, in, Fp::F32, 0.0f, dA, in);
                if (ada) {  // d(A⊙E) splits into dA = d(A⊙E)⊙E and dE = Σ_j d(A⊙E)⊙A
                    Param &Ap = ma.get("lora_A"), &E = ma.get("lora_E");
                    const std::vector<float> dAE = down(dA, r * in);
                    for (int64_t k = 0; k < r; ++k) {
                        double de = 0;
                        for (int64_t j = 0; j < in; ++j) {
                            Ap.grad[k * in + j] += dAE[k * in + j] * E.value[k];
                            de += static_cast<double>(dAE[k * in + j]) * Ap.value[k * in + j];
                        }
                        E.grad[k] += static_cast<float>(de);
                    }
                } else {
                    add_grad(ma.get("lora_A.weight"), dA);
                }
                if (dX != nullptr) {
                    if (dXa == nullptr) {
                        dXa = temp(M * in);
                        ops.gemm(false, false, M, in, r, 1.0f, dT, r, A, in, Fp::F32, 0.0f, dXa, in);
                    } else {
                        ops.gemm(false, false, M, in, r, 1.0f, dT, r, A, in, Fp::F32, 1.0f, dXa, in);
                    }
                    if (xd.mask != nullptr) ops.mul(M * in, 1.0f, dXa, xd.mask, dXa);
                    ops.axpby(M * in, 1.0f, dXa, 1.0f, dX);
                }
                break;
            }
            case PeftType::Vera: {
                const int64_t max_in = a.vera_A.shape[1];
                Param &lb = ma.get("vera_lambda_b"), &ld = ma.get("vera_lambda_d");
                const float *vA = value(a.vera_A), *vB = value(a.vera_B);
                const Dropped xd = drop_input(a, M, X, training, key);
                float *T = temp(M * r), *U = temp(M * out);
                ops.gemm(false, true, M, r, in, 1.0f, xd.x, in, vA, max_in, Fp::F32, 0.0f, T, r);
                float *Td = copy_of(T, M * r);
                ops.scale_cols(Td, M, r, value(ld));
                ops.gemm(false, true, M, out, r, 1.0f, Td, r, vB, r, Fp::F32, 0.0f, U, out);
                const std::vector<float> wv(static_cast<std::size_t>(out), w);
                add_col_dot(lb, M, dY, U, &wv);
                std::vector<float> wlb(lb.value);
                for (float &v : wlb) v *= w;
                float *dU = copy_of(dY, M * out);
                ops.scale_cols(dU, M, out, vec(wlb));
                float *dTd = temp(M * r);  // dU·B_sliced
                ops.gemm(false, false, M, r, out, 1.0f, dU, out, vB, r, Fp::F32, 0.0f, dTd, r);
                add_col_dot(ld, M, dTd, T);
                if (dX != nullptr) {
                    ops.scale_cols(dTd, M, r, value(ld));  // now dT
                    float *dXa = temp(M * in);
                    ops.gemm(false, false, M, in, r, 1.0f, dTd, r, vA, max_in, Fp::F32, 0.0f, dXa, in);
                    if (xd.mask != nullptr) ops.mul(M * in, 1.0f, dXa, xd.mask, dXa);
                    ops.axpby(M * in, 1.0f, dXa, 1.0f, dX);
                }
                break;
            }
            case PeftType::Loha:
            case PeftType::Lokr: {
                if (module_dropped(a, training, key)) break;
                const std::vector<float> rs = rank_row_scale(a, out, training, key);
                // The two M-sized products in the base's dtype (as PEFT's autograd runs them).
                const void *dYt = as_weight_type(dY, M * out);
                float *dD = temp(out * in);  // w·dYᵀ·X through the row scale
                ops.gemm(true, false, out, in, M, w, dYt, out, as_weight_type(X, M * in), in, bm.dtype, 0.0f, dD, in);
                if (!rs.empty()) ops.scale_rows(dD, out, in, vec(rs));
                if (dX != nullptr)
                    ops.gemm(false, false, M, in, out, w, dYt, out, as_weight_type(delta(a, ma, rs), out * in), in,
                             bm.dtype, 1.0f, dX, in);
                if (a.cfg.type == PeftType::Loha) {
                    float *p1 = loha_product(ma, "hada_w1_a", "hada_w1_b"), *p2 = loha_product(ma, "hada_w2_a", "hada_w2_b");
                    float *d1 = temp(out * in), *d2 = temp(out * in);
                    ops.mul(out * in, ma.scaling, dD, p2, d1);
                    ops.mul(out * in, ma.scaling, dD, p1, d2);
                    pair_grads(ma, "hada_w1_a", "hada_w1_b", out, in, d1);
                    pair_grads(ma, "hada_w2_a", "hada_w2_b", out, in, d2);
                } else {
                    const int64_t ol = ma.lokr_shape[0], ok = ma.lokr_shape[1], im = ma.lokr_shape[2],
                                  inn = ma.lokr_shape[3];
                    const float *w1 = lokr_factor(ma, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
                    const float *w2 = lokr_factor(ma, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
                    float *g1 = temp(ol * im), *g2 = temp(ok * inn);
                    ops.kron_grad(ol, im, ok, inn, ma.scaling, dD, w1, w2, g1, g2);
                    lokr_route(ma, g1, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
                    lokr_route(ma, g2, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
                }
                break;
            }
            case PeftType::Ia3: break;
        }
    }
    // P = Wa·Wb [rows, cols] with dP given: dWa += dP·Wbᵀ, dWb += Waᵀ·dP.
    void pair_grads(ModuleAdapter &ma, const char *fa, const char *fb, int64_t rows, int64_t cols, const float *dP) {
        Param &pa = ma.get(fa), &pb = ma.get(fb);
        const int64_t rr = pa.shape[1];
        float *ga = temp(rows * rr), *gb = temp(rr * cols);
        ops.gemm(false, true, rows, rr, cols, 1.0f, dP, cols, value(pb), cols, Fp::F32, 0.0f, ga, rr);
        ops.gemm(true, false, rr, cols, rows, 1.0f, value(pa), rr, dP, cols, Fp::F32, 0.0f, gb, cols);
        add_grad(pa, ga);
        add_grad(pb, gb);
    }
    void lokr_route(ModuleAdapter &ma, const float *g, const char *full, const char *fa, const char *fb, int64_t rows,
                    int64_t cols) {
        if (Param *f = ma.find(full)) return add_grad(*f, g);
        pair_grads(ma, fa, fb, rows, cols, g);
    }
};

const void *Model::device_weight(std::size_t mi) {
    const BaseModule &bm = modules_[mi];
    require(!bm.quantized(), RAI_ERROR_UNSUPPORTED,
            "module \"" + bm.name + "\": 4-bit modules in an adapter model run on CPU contexts");
    DeviceWeight &d = device_weights_[mi];
    if (!d.weight || d.generation != bm.generation) {
        d.weight = DevBuf(*ops_, bm.weight.size());
        if (!bm.weight.empty()) ops_->upload(d.weight.get(), bm.weight.data(), bm.weight.size());
        d.generation = bm.generation;
    }
    return d.weight.get();
}

void Model::forward_device(std::size_t mi, const void *x, Fp xt, int64_t M, void *y, Fp yt) {
    DeviceCall c(*this, mi);
    const std::vector<ActiveEntry> act = active_for(mi);
    if (training_) modules_[mi].last_train_step = ++step_;
    const int64_t in = c.bm.in, out = c.bm.out;
    float *X = c.temp(M * in), *Y = c.temp(M * out);
    c.ops.to_f32(x, xt, M * in, X);
    c.rows_forward(act, M, X, Y, training_);
    c.ops.from_f32(Y, M * out, y, yt);
}

void Model::forward_mixed_device(std::size_t mi, const void *x, Fp xt, int64_t M, const std::vector<Adapter *> &ads,
                                 const int32_t *row_adapter, void *y, Fp yt) {
    DeviceCall c(*this, mi);
    const int64_t in = c.bm.in, out = c.bm.out;
    float *X = c.temp(M * in), *Y = c.temp(M * out);
    c.ops.to_f32(x, xt, M * in, X);
    // Segments: rows grouped by adapter (stable), one group per adapter; one gather, one
    // forward and one scatter per group.
    std::vector<int64_t> order(static_cast<std::size_t>(M));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return row_adapter[p] < row_adapter[q]; });
    DevBuf rows(c.ops, order.size() * sizeof(int64_t));
    if (M > 0) c.ops.upload(rows.get(), order.data(), order.size() * sizeof(int64_t));
    const auto *rows_d = static_cast<const int64_t *>(rows.get());
    for (int64_t s0 = 0; s0 < M;) {
        const int32_t ai = row_adapter[order[s0]];
        int64_t s1 = s0;
        while (s1 < M && row_adapter[order[s1]] == ai) ++s1;
        const int64_t n = s1 - s0;
        std::vector<ActiveEntry> act;
        if (ai >= 0 && enabled_ && (ads[ai]->for_module(mi) != nullptr || ads[ai]->biases.count(mi) != 0))
            act.push_back({ads[ai], 1.0f});
        float *Xg = c.temp(n * in), *Yg = c.temp(n * out);
        c.ops.gather_rows(X, rows_d + s0, n, in, Xg);
        c.rows_forward(act, n, Xg, Yg, false);
        c.ops.scatter_rows(Yg, rows_d + s0, n, out, Y);
        s0 = s1;
    }
    c.ops.from_f32(Y, M * out, y, yt);
}

void Model::backward_device(std::size_t mi, const void *x, Fp xt, const void *dy, Fp dyt, int64_t M, void *dx,
                            Fp dxt) {
    DeviceCall c(*this, mi);
    Ops &ops = c.ops;
    const int64_t in = c.bm.in, out = c.bm.out;
    float *X = c.temp(M * in), *dY = c.temp(M * out);
    ops.to_f32(x, xt, M * in, X);
    ops.to_f32(dy, dyt, M * out, dY);
    const std::vector<ActiveEntry> act = active_for(mi);
    const BaseTerms t = base_terms(c.bm, mi, act);
    const float *Xs = c.scaled_input(t, M, X);
    bool need_y0 = !t.lout.empty();
    for (const ActiveEntry &e : act) need_y0 = need_y0 || (e.adapter->cfg.use_dora && e.adapter->for_module(mi));
    float *Y0 = nullptr, *Yb = nullptr;
    if (need_y0) {  // Yb = Y0 + bias
        BaseTerms no_scale = t;
        no_scale.lout.clear();
        Y0 = c.temp(M * out), Yb = c.temp(M * out);
        c.base_forward(no_scale, M, Xs, Y0, Yb);
    }
    // Gradient through the base (and the IA3 vectors around it).
    const float *dYb = dY;
    if (!t.lout.empty()) {
        float *s = c.copy_of(dY, M * out);
        ops.scale_cols(s, M, out, c.vec(t.lout));
        dYb = s;
    }
    for (const ActiveEntry &e : act) {
        if (e.adapter->cfg.type != PeftType::Ia3) continue;
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || ma->feedforward) continue;
        const std::vector<float> others = ia3_others(act, mi, ma, false, static_cast<std::size_t>(out));
        c.add_col_dot(ma->get("ia3_l"), M, dY, Yb, &others);
    }
    if (t.bias_owner != nullptr) c.add_col_dot(t.bias_owner->biases.at(mi), M, dYb, nullptr);
    float *dXs = nullptr;
    if (dx != nullptr || !t.lin.empty()) {
        dXs = c.temp(M * in);
        c.base_matmul_t(dYb, M, dXs, false);
    }
    for (const ActiveEntry &e : act) {
        if (e.adapter->cfg.type != PeftType::Ia3) continue;
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || !ma->feedforward) continue;
        const std::vector<float> others = ia3_others(act, mi, ma, true, static_cast<std::size_t>(in));
        c.add_col_dot(ma->get("ia3_l"), M, dXs, X, &others);
    }
    float *dX = nullptr;
    if (dx != nullptr) {
        dX = dXs;
        if (!t.lin.empty()) ops.scale_cols(dX, M, in, c.vec(t.lin));
    }
    for (const ActiveEntry &e : act) {
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || e.adapter->cfg.type == PeftType::Ia3) continue;
        c.contribution_backward(*e.adapter, *ma, e.weight, M, X, Y0, dY, dX, training_,
                                module_step_key(*e.adapter, mi, c.bm.last_train_step));
    }
    if (dx != nullptr) ops.from_f32(dX, M * in, dx, dxt);
}

}  // namespace rai::adapters
