#include "tuners.h"

#include <cmath>

#include "../core/error.h"
#include "gemm_cpu.h"
#include "rng.h"

namespace rai::adapters {

namespace {

using cpu::gemm;
using cpu::gemm_nn;
using cpu::gemm_nt;

// x_d = drop(x): a copy with the mask applied, or nullptr when no dropout applies.
std::vector<float> dropped(const float *X, int64_t M, int64_t K, float p, bool training, uint64_t key) {
    if (!training || p <= 0.0f) return {};
    std::vector<float> d(static_cast<std::size_t>(M * K));
    const float scale = 1.0f / (1.0f - p);
    const uint64_t k = mix_key(key, kStreamInput);
    for (int64_t i = 0; i < M * K; ++i) d[i] = dropout_keep(k, static_cast<uint64_t>(i), p) ? X[i] * scale : 0.0f;
    return d;
}

// L[M,out] = T[M,r]·Bᵀ with B [out,r]: short sums (r) run in the NN kernel (vectorised over the
// output columns, no horizontal reductions) on Bᵀ, which is small to transpose.
void expand(int64_t M, int64_t out, int64_t r, const float *T, const float *B, float *L) {
    std::vector<float> bt(static_cast<std::size_t>(r * out));
    // Eight destination rows at a time: rows `out` floats apart alias in L1 when out is a large
    // power of two, and eight fit its associativity.
    for (int64_t q0 = 0; q0 < r; q0 += 8) {
        const int64_t q1 = q0 + 8 < r ? q0 + 8 : r;
        for (int64_t j = 0; j < out; ++j)
            for (int64_t q = q0; q < q1; ++q) bt[q * out + j] = B[j * r + q];
    }
    gemm_nn(M, out, r, 1.0f, T, r, bt.data(), out, 0.0f, L, out);
}

// Row-major [rows, cols] ⊙ per-column or per-row vectors.
void scale_cols(float *X, int64_t rows, int64_t cols, const float *v) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) X[i * cols + j] *= v[j];
}

// Materialises w1 = a@b or returns the full factor.
std::vector<float> product_or(const ModuleAdapter &ma, const char *full, const char *fa, const char *fb, int64_t rows,
                              int64_t cols) {
    if (const Param *p = ma.find(full)) return p->value;
    const Param &A = ma.get(fa), &B = ma.get(fb);
    std::vector<float> out(static_cast<std::size_t>(rows * cols), 0.0f);
    gemm_nn(rows, cols, A.shape[1], 1.0f, A.value.data(), A.shape[1], B.value.data(), cols, 0.0f, out.data(), cols);
    return out;
}

}  // namespace

// LoHa/LoKr in training: whether module dropout skips the adapter, and the rank-dropout row scale.
bool module_dropped(const Adapter &a, bool training, uint64_t key) {
    const float p = static_cast<float>(a.cfg.module_dropout);
    return training && p > 0.0f && !(rand01(mix_key(key, kStreamModule), 0) > p);
}
std::vector<float> rank_row_scale(const Adapter &a, int64_t out, bool training, uint64_t key) {
    const float p = static_cast<float>(a.cfg.rank_dropout);
    if (!training || p <= 0.0f) return {};
    std::vector<float> s(static_cast<std::size_t>(out));
    const uint64_t k = mix_key(key, kStreamRank);
    double sum = 0;
    for (int64_t i = 0; i < out; ++i) {
        s[i] = rand01(k, static_cast<uint64_t>(i)) > p ? 1.0f : 0.0f;
        sum += s[i];
    }
    if (a.cfg.rank_dropout_scale && a.cfg.type == PeftType::Lokr && sum > 0) {
        const float mean = static_cast<float>(sum / static_cast<double>(out));
        for (float &v : s) v /= mean;
    }
    return s;
}

// AdaLoRA: A⊙E, the right singular vectors [r, in] scaled by their singular values.
std::vector<float> adalora_ae(const ModuleAdapter &ma, int64_t in) {
    const Param &A = ma.get("lora_A"), &E = ma.get("lora_E");
    std::vector<float> ae(A.value);
    for (int64_t k = 0; k < ma.r; ++k)
        for (int64_t j = 0; j < in; ++j) ae[k * in + j] *= E.value[k];
    return ae;
}

void kaiming_uniform(std::vector<float> &v, int64_t fan_in, uint64_t key) {
    const float bound = fan_in > 0 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.0f;
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = (2.0f * rand01(key, i) - 1.0f) * bound;
}

void gaussian(std::vector<float> &v, float stddev, uint64_t key) {
    for (std::size_t i = 0; i < v.size(); ++i) {  // Box-Muller on two independent draws
        const float u1 = 1.0f - rand01(key, 2 * i), u2 = rand01(key, 2 * i + 1);
        v[i] = stddev * std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795864f * u2);
    }
}

std::vector<float> delta_weight(const Adapter &a, const ModuleAdapter &ma, const BaseModule &bm,
                                const std::vector<float> *row_scale) {
    const int64_t out = bm.out, in = bm.in;
    std::vector<float> d(static_cast<std::size_t>(out * in), 0.0f);
    switch (a.cfg.type) {
        case PeftType::Lora: {
            const Param &A = ma.get("lora_A.weight"), &B = ma.get("lora_B.weight");
            gemm_nn(out, in, ma.r, ma.scaling, B.value.data(), ma.r, A.value.data(), in, 0.0f, d.data(), in);
            break;
        }
        case PeftType::Vera: {
            const int64_t r = ma.r, max_in = a.vera_A.shape[1];
            std::vector<float> Bs(static_cast<std::size_t>(out * r)), As(static_cast<std::size_t>(r * in));
            const Param &lb = ma.get("vera_lambda_b"), &ld = ma.get("vera_lambda_d");
            for (int64_t i = 0; i < out; ++i)
                for (int64_t k = 0; k < r; ++k) Bs[i * r + k] = lb.value[i] * a.vera_B.value[i * r + k];
            for (int64_t k = 0; k < r; ++k)
                for (int64_t j = 0; j < in; ++j) As[k * in + j] = ld.value[k] * a.vera_A.value[k * max_in + j];
            gemm_nn(out, in, r, 1.0f, Bs.data(), r, As.data(), in, 0.0f, d.data(), in);
            break;
        }
        case PeftType::Loha: {
            const Param &w1a = ma.get("hada_w1_a"), &w1b = ma.get("hada_w1_b"), &w2a = ma.get("hada_w2_a"),
                        &w2b = ma.get("hada_w2_b");
            std::vector<float> p2(d.size(), 0.0f);
            gemm_nn(out, in, ma.r, 1.0f, w1a.value.data(), ma.r, w1b.value.data(), in, 0.0f, d.data(), in);
            gemm_nn(out, in, ma.r, 1.0f, w2a.value.data(), ma.r, w2b.value.data(), in, 0.0f, p2.data(), in);
            for (std::size_t i = 0; i < d.size(); ++i) d[i] = d[i] * p2[i] * ma.scaling;
            break;
        }
        case PeftType::Lokr: {
            const int64_t ol = ma.lokr_shape[0], ok = ma.lokr_shape[1], im = ma.lokr_shape[2], inn = ma.lokr_shape[3];
            const std::vector<float> w1 = product_or(ma, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
            const std::vector<float> w2 = product_or(ma, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
            for (int64_t p = 0; p < ol; ++p)
                for (int64_t q = 0; q < im; ++q) {
                    const float s = w1[p * im + q] * ma.scaling;
                    for (int64_t b = 0; b < ok; ++b)
                        for (int64_t c = 0; c < inn; ++c) d[(p * ok + b) * in + q * inn + c] = s * w2[b * inn + c];
                }
            break;
        }
        case PeftType::Adalora: {
            if (ma.r == 0) break;  // every singular value pruned
            const std::vector<float> ae = adalora_ae(ma, in);
            gemm_nn(out, in, ma.r, ma.scaling, ma.get("lora_B").value.data(), ma.r, ae.data(), in, 0.0f, d.data(), in);
            break;
        }
        case PeftType::Ia3: throw Error(RAI_ERROR_INTERNAL, "IA3 has no additive delta");
    }
    if (row_scale != nullptr && !row_scale->empty())
        for (int64_t i = 0; i < out; ++i)
            for (int64_t j = 0; j < in; ++j) d[i * in + j] *= (*row_scale)[i];
    return d;
}

std::vector<float> dora_weight_norm(const ModuleAdapter &ma, const BaseModule &bm, const std::vector<float> &w32) {
    const int64_t out = bm.out, in = bm.in;
    const Param &A = ma.get("lora_A.weight"), &B = ma.get("lora_B.weight");
    std::vector<float> d(w32);  // W + s·B·A, fp32
    gemm_nn(out, in, ma.r, ma.scaling, B.value.data(), ma.r, A.value.data(), in, 1.0f, d.data(), in);
    std::vector<float> n(static_cast<std::size_t>(out));
    for (int64_t i = 0; i < out; ++i) {
        double s = 0;
        for (int64_t j = 0; j < in; ++j) s += static_cast<double>(d[i * in + j]) * d[i * in + j];
        n[i] = static_cast<float>(std::sqrt(s));
    }
    return n;
}

void add_contribution(const Adapter &a, const ModuleAdapter &ma, float w, const BaseModule &bm, const RowBlock &rb,
                      bool training, uint64_t key) {
    const int64_t M = rb.M, in = bm.in, out = bm.out, r = ma.r;
    if (M == 0) return;
    switch (a.cfg.type) {
        case PeftType::Lora: {
            const Param &A = ma.get("lora_A.weight"), &B = ma.get("lora_B.weight");
            const std::vector<float> xd = dropped(rb.X, M, in, static_cast<float>(a.cfg.dropout), training, key);
            const float *Xa = xd.empty() ? rb.X : xd.data();
            std::vector<float> T(static_cast<std::size_t>(M * r));
            gemm_nt(M, r, in, 1.0f, Xa, in, A.value.data(), in, 0.0f, T.data(), r);
            std::vector<float> L(static_cast<std::size_t>(M * out));  // B(A(x)) (+ lora bias)
            expand(M, out, r, T.data(), B.value.data(), L.data());
            if (const Param *bb = ma.find("lora_B.bias"))
                for (int64_t i = 0; i < M; ++i)
                    for (int64_t j = 0; j < out; ++j) L[i * out + j] += bb->value[j];
            if (const Param *mag = ma.find("lora_magnitude_vector")) {
                const std::vector<float> n = dora_weight_norm(ma, bm, bm.dense());
                std::vector<float> y0d;
                const float *Y0 = rb.Y0;
                if (!xd.empty()) {  // PEFT: in training with dropout the base term uses drop(x), no bias
                    y0d.resize(static_cast<std::size_t>(M * out));
                    bm.matmul(Xa, M, y0d.data());
                    Y0 = y0d.data();
                }
                for (int64_t j = 0; j < out; ++j) {
                    const float g = mag->value[j] / n[j];
                    for (int64_t i = 0; i < M; ++i)
                        rb.Y[i * out + j] += w * ((g - 1.0f) * Y0[i * out + j] + g * (L[i * out + j] * ma.scaling));
                }
            } else {
                const float s = w * ma.scaling;
                for (int64_t i = 0; i < M * out; ++i) rb.Y[i] += s * L[i];
            }
            break;
        }
        case PeftType::Vera: {
            const int64_t max_in = a.vera_A.shape[1];
            const Param &lb = ma.get("vera_lambda_b"), &ld = ma.get("vera_lambda_d");
            const std::vector<float> xd = dropped(rb.X, M, in, static_cast<float>(a.cfg.dropout), training, key);
            const float *Xa = xd.empty() ? rb.X : xd.data();
            std::vector<float> T(static_cast<std::size_t>(M * r)), U(static_cast<std::size_t>(M * out));
            gemm_nt(M, r, in, 1.0f, Xa, in, a.vera_A.value.data(), max_in, 0.0f, T.data(), r);
            scale_cols(T.data(), M, r, ld.value.data());
            gemm_nt(M, out, r, 1.0f, T.data(), r, a.vera_B.value.data(), r, 0.0f, U.data(), out);
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < out; ++j) rb.Y[i * out + j] += w * (lb.value[j] * U[i * out + j]);
            break;
        }
        case PeftType::Loha:
        case PeftType::Lokr: {
            if (module_dropped(a, training, key)) break;
            const std::vector<float> rs = rank_row_scale(a, out, training, key);
            const std::vector<float> d = delta_weight(a, ma, bm, &rs);
            std::vector<float> U(static_cast<std::size_t>(M * out));
            gemm_nt(M, out, in, 1.0f, rb.X, in, d.data(), in, 0.0f, U.data(), out);
            for (int64_t i = 0; i < M * out; ++i) rb.Y[i] += w * U[i];
            break;
        }
        case PeftType::Adalora: {
            if (r == 0) break;
            // y += s·(drop(x)·(A⊙E)ᵀ)·Bᵀ, s = alpha/(ranknum + 1e-5)
            const std::vector<float> ae = adalora_ae(ma, in);
            const std::vector<float> xd = dropped(rb.X, M, in, static_cast<float>(a.cfg.dropout), training, key);
            const float *Xa = xd.empty() ? rb.X : xd.data();
            std::vector<float> T(static_cast<std::size_t>(M * r)), L(static_cast<std::size_t>(M * out));
            gemm_nt(M, r, in, 1.0f, Xa, in, ae.data(), in, 0.0f, T.data(), r);
            expand(M, out, r, T.data(), ma.get("lora_B").value.data(), L.data());
            const float s = w * ma.scaling;
            for (int64_t i = 0; i < M * out; ++i) rb.Y[i] += s * L[i];
            break;
        }
        case PeftType::Ia3: break;  // multiplicative: applied around the base
    }
}

void backward_contribution(Adapter &a, ModuleAdapter &ma, float w, const BaseModule &bm, int64_t M, const float *X,
                           const float *Y0, const float *dY, float *dX, bool training, uint64_t key) {
    const int64_t in = bm.in, out = bm.out, r = ma.r;
    if (M == 0) return;
    // Mask of the input dropout, as a multiplier per element (1/(1-p) or 0), empty when none.
    auto input_mask = [&](float p) {
        std::vector<float> m;
        if (!training || p <= 0.0f) return m;
        m.resize(static_cast<std::size_t>(M * in));
        const float scale = 1.0f / (1.0f - p);
        const uint64_t k = mix_key(key, kStreamInput);
        for (int64_t i = 0; i < M * in; ++i) m[i] = dropout_keep(k, static_cast<uint64_t>(i), p) ? scale : 0.0f;
        return m;
    };
    // The adapter's input after dropout (LoRA, VeRA, AdaLoRA): the mask (empty without dropout)
    // and the dropped copy (empty then too: the adapter reads x itself).
    struct DroppedInput {
        std::vector<float> mask, dropped;
        const float *data(const float *x) const { return dropped.empty() ? x : dropped.data(); }
    };
    auto drop_input = [&] {
        DroppedInput d{input_mask(static_cast<float>(a.cfg.dropout)), {}};
        d.dropped.resize(d.mask.size());
        for (std::size_t i = 0; i < d.mask.size(); ++i) d.dropped[i] = X[i] * d.mask[i];
        return d;
    };
    switch (a.cfg.type) {
        case PeftType::Lora: {
            Param &A = ma.get("lora_A.weight"), &B = ma.get("lora_B.weight");
            const DroppedInput din = drop_input();
            const std::vector<float> &mask = din.mask, &xd = din.dropped;
            const float *Xa = din.data(X);
            std::vector<float> T(static_cast<std::size_t>(M * r));
            gemm_nt(M, r, in, 1.0f, Xa, in, A.value.data(), in, 0.0f, T.data(), r);
            // G: the upstream gradient of B(A(x)) (before the scaling s), per element.
            std::vector<float> G(static_cast<std::size_t>(M * out));
            std::vector<float> dXa;  // gradient w.r.t. the adapter's (dropped) input
            Param *mag = ma.find("lora_magnitude_vector");
            if (mag != nullptr) {
                const std::vector<float> n = dora_weight_norm(ma, bm, bm.dense());
                std::vector<float> L(static_cast<std::size_t>(M * out));
                expand(M, out, r, T.data(), B.value.data(), L.data());
                std::vector<float> y0d;
                const float *Yb = Y0;
                if (!xd.empty()) {
                    y0d.resize(static_cast<std::size_t>(M * out));
                    bm.matmul(Xa, M, y0d.data());
                    Yb = y0d.data();
                }
                std::vector<float> dY0(static_cast<std::size_t>(M * out));  // gradient of the (g-1)·Y0 term
                for (int64_t j = 0; j < out; ++j) {
                    const float g = mag->value[j] / n[j];
                    double dm = 0;
                    for (int64_t i = 0; i < M; ++i) {
                        const float dy = w * dY[i * out + j];
                        dm += static_cast<double>(dy) * (Yb[i * out + j] + ma.scaling * L[i * out + j]);
                        G[i * out + j] = dy * g * ma.scaling;
                        dY0[i * out + j] = dy * (g - 1.0f);
                    }
                    mag->grad[j] += static_cast<float>(dm / n[j]);
                }
                if (dX != nullptr) {
                    if (xd.empty()) {  // the (g-1)·x·Wᵀ term sees x itself
                        bm.matmul_t(dY0.data(), M, dX, true);
                    } else {
                        dXa.assign(static_cast<std::size_t>(M * in), 0.0f);
                        bm.matmul_t(dY0.data(), M, dXa.data(), false);
                    }
                }
            } else {
                const float s = w * ma.scaling;
                for (int64_t i = 0; i < M * out; ++i) G[i] = s * dY[i];
            }
            // dB += Gᵀ·T, dA += (G·B)ᵀ·x_d, dx_d = (G·B)·A
            gemm(true, false, out, r, M, 1.0f, G.data(), out, T.data(), r, 1.0f, B.grad.data(), r);
            if (Param *bb = ma.find("lora_B.bias")) {
                // lora_B's bias enters as s·(... + b): its gradient is Σ_rows G.
                for (int64_t i = 0; i < M; ++i)
                    for (int64_t j = 0; j < out; ++j) bb->grad[j] += G[i * out + j];
            }
            std::vector<float> dT(static_cast<std::size_t>(M * r));
            gemm_nn(M, r, out, 1.0f, G.data(), out, B.value.data(), r, 0.0f, dT.data(), r);
            gemm(true, false, r, in, M, 1.0f, dT.data(), r, Xa, in, 1.0f, A.grad.data(), in);
            if (dX != nullptr) {
                if (dXa.empty()) dXa.assign(static_cast<std::size_t>(M * in), 0.0f);
                gemm_nn(M, in, r, 1.0f, dT.data(), r, A.value.data(), in, 1.0f, dXa.data(), in);
                if (mask.empty())
                    for (int64_t i = 0; i < M * in; ++i) dX[i] += dXa[i];
                else
                    for (int64_t i = 0; i < M * in; ++i) dX[i] += dXa[i] * mask[i];
            }
            break;
        }
        case PeftType::Vera: {
            const int64_t max_in = a.vera_A.shape[1];
            Param &lb = ma.get("vera_lambda_b"), &ld = ma.get("vera_lambda_d");
            const DroppedInput din = drop_input();
            const std::vector<float> &mask = din.mask;
            const float *Xa = din.data(X);
            std::vector<float> T(static_cast<std::size_t>(M * r)), Td(static_cast<std::size_t>(M * r)),
                U(static_cast<std::size_t>(M * out));
            gemm_nt(M, r, in, 1.0f, Xa, in, a.vera_A.value.data(), max_in, 0.0f, T.data(), r);
            Td = T;
            scale_cols(Td.data(), M, r, ld.value.data());
            gemm_nt(M, out, r, 1.0f, Td.data(), r, a.vera_B.value.data(), r, 0.0f, U.data(), out);
            std::vector<float> dU(static_cast<std::size_t>(M * out));
            for (int64_t j = 0; j < out; ++j) {
                double g = 0;
                for (int64_t i = 0; i < M; ++i) {
                    g += static_cast<double>(w * dY[i * out + j]) * U[i * out + j];
                    dU[i * out + j] = w * dY[i * out + j] * lb.value[j];
                }
                lb.grad[j] += static_cast<float>(g);
            }
            std::vector<float> dTd(static_cast<std::size_t>(M * r));  // dU·B_sliced
            gemm_nn(M, r, out, 1.0f, dU.data(), out, a.vera_B.value.data(), r, 0.0f, dTd.data(), r);
            for (int64_t k = 0; k < r; ++k) {
                double g = 0;
                for (int64_t i = 0; i < M; ++i) g += static_cast<double>(dTd[i * r + k]) * T[i * r + k];
                ld.grad[k] += static_cast<float>(g);
            }
            if (dX != nullptr) {
                scale_cols(dTd.data(), M, r, ld.value.data());  // now dT
                std::vector<float> dXa(static_cast<std::size_t>(M * in), 0.0f);
                gemm_nn(M, in, r, 1.0f, dTd.data(), r, a.vera_A.value.data(), max_in, 0.0f, dXa.data(), in);
                for (int64_t i = 0; i < M * in; ++i) dX[i] += mask.empty() ? dXa[i] : dXa[i] * mask[i];
            }
            break;
        }
        case PeftType::Loha:
        case PeftType::Lokr: {
            if (module_dropped(a, training, key)) break;
            const std::vector<float> rs = rank_row_scale(a, out, training, key);
            // dΔ = w·dYᵀ·X [out, in], through the row scale.
            std::vector<float> dD(static_cast<std::size_t>(out * in), 0.0f);
            gemm(true, false, out, in, M, w, dY, out, X, in, 0.0f, dD.data(), in);
            if (!rs.empty())
                for (int64_t i = 0; i < out; ++i)
                    for (int64_t j = 0; j < in; ++j) dD[i * in + j] *= rs[i];
            if (dX != nullptr) {
                const std::vector<float> d = delta_weight(a, ma, bm, &rs);
                gemm_nn(M, in, out, w, dY, out, d.data(), in, 1.0f, dX, in);
            }
            if (a.cfg.type == PeftType::Loha) {
                Param &w1a = ma.get("hada_w1_a"), &w1b = ma.get("hada_w1_b"), &w2a = ma.get("hada_w2_a"),
                      &w2b = ma.get("hada_w2_b");
                std::vector<float> p1(dD.size(), 0.0f), p2(dD.size(), 0.0f);
                gemm_nn(out, in, r, 1.0f, w1a.value.data(), r, w1b.value.data(), in, 0.0f, p1.data(), in);
                gemm_nn(out, in, r, 1.0f, w2a.value.data(), r, w2b.value.data(), in, 0.0f, p2.data(), in);
                std::vector<float> d1(dD.size()), d2(dD.size());
                for (std::size_t i = 0; i < dD.size(); ++i) {
                    d1[i] = dD[i] * ma.scaling * p2[i];
                    d2[i] = dD[i] * ma.scaling * p1[i];
                }
                // P = Wa·Wb: dWa = dP·Wbᵀ, dWb = Waᵀ·dP
                gemm_nt(out, r, in, 1.0f, d1.data(), in, w1b.value.data(), in, 1.0f, w1a.grad.data(), r);
                gemm(true, false, r, in, out, 1.0f, w1a.value.data(), r, d1.data(), in, 1.0f, w1b.grad.data(), in);
                gemm_nt(out, r, in, 1.0f, d2.data(), in, w2b.value.data(), in, 1.0f, w2a.grad.data(), r);
                gemm(true, false, r, in, out, 1.0f, w2a.value.data(), r, d2.data(), in, 1.0f, w2b.grad.data(), in);
            } else {
                const int64_t ol = ma.lokr_shape[0], ok = ma.lokr_shape[1], im = ma.lokr_shape[2], inn = ma.lokr_shape[3];
                const std::vector<float> w1 = product_or(ma, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
                const std::vector<float> w2 = product_or(ma, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
                std::vector<float> g1(w1.size(), 0.0f), g2(w2.size(), 0.0f);
                for (int64_t p = 0; p < ol; ++p)
                    for (int64_t q = 0; q < im; ++q)
                        for (int64_t b = 0; b < ok; ++b)
                            for (int64_t c = 0; c < inn; ++c) {
                                const float dd = dD[(p * ok + b) * in + q * inn + c] * ma.scaling;
                                g1[p * im + q] += dd * w2[b * inn + c];
                                g2[b * inn + c] += dd * w1[p * im + q];
                            }
                auto route = [&](const std::vector<float> &g, const char *full, const char *fa, const char *fb,
                                 int64_t rows, int64_t cols) {
                    if (Param *f = ma.find(full)) {
                        for (std::size_t i = 0; i < g.size(); ++i) f->grad[i] += g[i];
                        return;
                    }
                    Param &pa = ma.get(fa), &pb = ma.get(fb);
                    const int64_t rr = pa.shape[1];
                    gemm_nt(rows, rr, cols, 1.0f, g.data(), cols, pb.value.data(), cols, 1.0f, pa.grad.data(), rr);
                    gemm(true, false, rr, cols, rows, 1.0f, pa.value.data(), rr, g.data(), cols, 1.0f, pb.grad.data(), cols);
                };
                route(g1, "lokr_w1", "lokr_w1_a", "lokr_w1_b", ol, im);
                route(g2, "lokr_w2", "lokr_w2_a", "lokr_w2_b", ok, inn);
            }
            break;
        }
        case PeftType::Adalora: {
            if (r == 0) break;
            Param &A = ma.get("lora_A"), &B = ma.get("lora_B"), &E = ma.get("lora_E");
            const DroppedInput din = drop_input();
            const std::vector<float> &mask = din.mask;
            const float *Xa = din.data(X);
            const std::vector<float> ae = adalora_ae(ma, in);
            std::vector<float> T(static_cast<std::size_t>(M * r)), G(static_cast<std::size_t>(M * out));
            gemm_nt(M, r, in, 1.0f, Xa, in, ae.data(), in, 0.0f, T.data(), r);
            const float s = w * ma.scaling;
            for (int64_t i = 0; i < M * out; ++i) G[i] = s * dY[i];
            // dB += Gᵀ·T; dT = G·B; d(A⊙E) = dTᵀ·x_d, split into dA = d(A⊙E)⊙E and dE = Σ_j d(A⊙E)⊙A.
            gemm(true, false, out, r, M, 1.0f, G.data(), out, T.data(), r, 1.0f, B.grad.data(), r);
            std::vector<float> dT(static_cast<std::size_t>(M * r)), dAE(static_cast<std::size_t>(r * in));
            gemm_nn(M, r, out, 1.0f, G.data(), out, B.value.data(), r, 0.0f, dT.data(), r);
            gemm(true, false, r, in, M, 1.0f, dT.data(), r, Xa, in, 0.0f, dAE.data(), in);
            for (int64_t k = 0; k < r; ++k) {
                double de = 0;
                for (int64_t j = 0; j < in; ++j) {
                    A.grad[k * in + j] += dAE[k * in + j] * E.value[k];
                    de += static_cast<double>(dAE[k * in + j]) * A.value[k * in + j];
                }
                E.grad[k] += static_cast<float>(de);
            }
            if (dX != nullptr) {
                std::vector<float> dXa(static_cast<std::size_t>(M * in), 0.0f);
                gemm_nn(M, in, r, 1.0f, dT.data(), r, ae.data(), in, 0.0f, dXa.data(), in);
                for (int64_t i = 0; i < M * in; ++i) dX[i] += mask.empty() ? dXa[i] : dXa[i] * mask[i];
            }
            break;
        }
        case PeftType::Ia3: break;
    }
}

}  // namespace rai::adapters
