// Shared pieces of the train tests: a small deterministic regression problem with two tensors
// (a 4x8 matrix and a bias of 4) and helpers to drive the hybrid step protocol.
#pragma once
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"

namespace train_test {

inline uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
// Uniform in [-1, 1), a pure function of its key.
inline float uniform(uint64_t key) { return static_cast<float>(static_cast<double>(mix(key) >> 11) * 0x1.0p-53 * 2.0 - 1.0); }

// y = W* x + b* + noise; minibatch of 16 fresh samples per step (a pure function of the step),
// loss = mean over the batch of 0.5 * |W x + b - y|^2.
struct Regression {
    static constexpr int kOut = 4, kIn = 8, kBatch = 16;
    std::vector<float> w = std::vector<float>(kOut * kIn, 0.0f), b = std::vector<float>(kOut, 0.0f);
    std::vector<float> gw = std::vector<float>(kOut * kIn, 0.0f), gb = std::vector<float>(kOut, 0.0f);
    int64_t wshape[2] = {kOut, kIn};
    int64_t bshape[1] = {kOut};
    uint64_t seed = 1;

    float true_w(int o, int i) const { return uniform(1000 + o * kIn + i); }
    float true_b(int o) const { return 0.5f * uniform(2000 + o); }

    float loss_and_grad(uint64_t step, bool want_grad = true) {
        if (want_grad) {
            std::fill(gw.begin(), gw.end(), 0.0f);
            std::fill(gb.begin(), gb.end(), 0.0f);
        }
        double loss = 0;
        for (int s = 0; s < kBatch; ++s) {
            float x[kIn];
            const uint64_t key = (seed << 40) ^ (step << 8) ^ static_cast<uint64_t>(s);
            for (int i = 0; i < kIn; ++i) x[i] = uniform(key * 31 + i);
            for (int o = 0; o < kOut; ++o) {
                float y = true_b(o) + 0.1f * uniform(key * 77 + o);
                float pred = b[o];
                for (int i = 0; i < kIn; ++i) {
                    y += true_w(o, i) * x[i];
                    pred += w[o * kIn + i] * x[i];
                }
                const float e = pred - y;
                loss += 0.5 * e * e;
                if (want_grad) {
                    for (int i = 0; i < kIn; ++i) gw[o * kIn + i] += e * x[i] / kBatch;
                    gb[o] += e / kBatch;
                }
            }
        }
        return static_cast<float>(loss / kBatch);
    }

    rai_tensor tw() { return make_tensor(w.data(), kF32, wshape, 2); }
    rai_tensor tb() { return make_tensor(b.data(), kF32, bshape, 1); }
    rai_tensor tgw() { return make_tensor(gw.data(), kF32, wshape, 2); }
    rai_tensor tgb() { return make_tensor(gb.data(), kF32, bshape, 1); }

    std::vector<float> params() const {
        std::vector<float> p(w);
        p.insert(p.end(), b.begin(), b.end());
        return p;
    }
};

inline rai_optimizer *make_optimizer(rai_context *ctx, int32_t kind, float lr, Regression &r, float momentum = 0.0f) {
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    op.kind = kind;
    op.lr = lr;
    op.momentum = momentum;
    rai_optimizer *opt = nullptr;
    EXPECT_EQ(rai_optimizer_create(ctx, &op, &opt), RAI_OK) << rai_last_error_message();
    rai_tensor w = r.tw(), gw = r.tgw(), b = r.tb(), gb = r.tgb();
    EXPECT_EQ(rai_optimizer_add_param(opt, "w", &w, &gw, nullptr), RAI_OK) << rai_last_error_message();
    EXPECT_EQ(rai_optimizer_add_param(opt, "b", &b, &gb, nullptr), RAI_OK) << rai_last_error_message();
    return opt;
}

inline rai_hybrid *make_hybrid(rai_context *ctx, const rai_hybrid_params &hp, Regression &r) {
    rai_hybrid *h = nullptr;
    EXPECT_EQ(rai_hybrid_create(ctx, &hp, &h), RAI_OK) << rai_last_error_message();
    rai_tensor w = r.tw(), gw = r.tgw(), b = r.tb(), gb = r.tgb();
    EXPECT_EQ(rai_hybrid_add_param(h, "w", &w, &gw, nullptr), RAI_OK) << rai_last_error_message();
    EXPECT_EQ(rai_hybrid_add_param(h, "b", &b, &gb, nullptr), RAI_OK) << rai_last_error_message();
    return h;
}

// Plain SGD applied by the test itself (the "caller's optimizer" in gradient space).
inline void caller_sgd(Regression &r, float lr) {
    for (size_t i = 0; i < r.w.size(); ++i) r.w[i] -= lr * r.gw[i];
    for (size_t i = 0; i < r.b.size(); ++i) r.b[i] -= lr * r.gb[i];
}

// Hooks for one protocol step; returning a value from `loss_override` replaces the loss given.
struct StepHooks {
    std::function<bool(const rai_hybrid_step_info &, float *loss)> loss_override;
    std::function<void(const rai_hybrid_step_info &)> before_apply;
    float caller_lr = 0.0f;  // > 0: gradient space, the test applies SGD itself
};

// Runs one full protocol step and returns the result.
inline rai_hybrid_step_result protocol_step(rai_hybrid *h, Regression &r, const StepHooks &hooks = {},
                                            rai_hybrid_step_info *info_out = nullptr) {
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    EXPECT_EQ(rai_hybrid_begin_step(h, &info), RAI_OK) << rai_last_error_message();
    if (info.needs_backward) {
        float loss = r.loss_and_grad(info.step);
        if (hooks.loss_override) hooks.loss_override(info, &loss);
        const rai_status st = rai_hybrid_record_gradients(h, loss);
        if (std::isfinite(loss)) { EXPECT_EQ(st, RAI_OK) << rai_last_error_message(); }
        if (st == RAI_OK && hooks.caller_lr > 0) caller_sgd(r, hooks.caller_lr);
    } else {
        if (hooks.before_apply) hooks.before_apply(info);
        EXPECT_EQ(rai_hybrid_apply_predicted(h), RAI_OK) << rai_last_error_message();
        if (hooks.caller_lr > 0 && info.has_prediction) caller_sgd(r, hooks.caller_lr);
        if (info.needs_forward) {
            float loss = r.loss_and_grad(info.step, false);
            if (hooks.loss_override) hooks.loss_override(info, &loss);
            const rai_status st = rai_hybrid_report_loss(h, loss);
            if (std::isfinite(loss)) { EXPECT_EQ(st, RAI_OK) << rai_last_error_message(); }
        }
    }
    rai_hybrid_step_result res;
    rai_hybrid_step_result_init(&res);
    EXPECT_EQ(rai_hybrid_end_step(h, &res), RAI_OK) << rai_last_error_message();
    if (info_out) *info_out = info;
    return res;
}

inline std::string metrics(rai_hybrid *h, uint32_t flags = 0) {
    char *j = nullptr;
    EXPECT_EQ(rai_hybrid_metrics_json(h, flags, &j), RAI_OK) << rai_last_error_message();
    std::string s = j ? j : "";
    rai_free(j);
    return s;
}

inline bool bitwise_equal(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace train_test
