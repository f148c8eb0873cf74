#include "predictor.h"

#include <algorithm>
#include <cmath>

#include "../core/error.h"

namespace rai::train {

bool wls_coefficients(const std::vector<uint64_t> &steps, double decay, std::vector<double> &alpha,
                      std::vector<double> &beta) {
    const std::size_t k = steps.size();
    alpha.assign(k, 0.0);
    beta.assign(k, 0.0);
    if (k == 0) return false;
    const uint64_t newest = *std::max_element(steps.begin(), steps.end());
    std::vector<double> t(k), w(k);
    double s0 = 0, s1 = 0, s2 = 0;
    for (std::size_t i = 0; i < k; ++i) {
        t[i] = -static_cast<double>(newest - steps[i]);
        w[i] = std::pow(decay, -t[i]);
        s0 += w[i];
        s1 += w[i] * t[i];
        s2 += w[i] * t[i] * t[i];
    }
    const double det = s0 * s2 - s1 * s1;
    if (det < 1e-10) return false;
    for (std::size_t i = 0; i < k; ++i) {
        alpha[i] = w[i] * (s2 - s1 * t[i]) / det;
        beta[i] = w[i] * (s0 * t[i] - s1) / det;
    }
    return true;
}

void orthonormalize_columns(std::vector<float> &p, int64_t m, int32_t r) {
    std::vector<double> a(p.begin(), p.end());
    for (int32_t c = 0; c < r; ++c) {
        for (int32_t prev = 0; prev < c; ++prev) {
            double dot = 0;
            for (int64_t i = 0; i < m; ++i) dot += a[i * r + c] * a[i * r + prev];
            for (int64_t i = 0; i < m; ++i) a[i * r + c] -= dot * a[i * r + prev];
        }
        double nrm = 0;
        for (int64_t i = 0; i < m; ++i) nrm += a[i * r + c] * a[i * r + c];
        nrm = std::sqrt(nrm);
        const double inv = nrm > 1e-30 ? 1.0 / nrm : 0.0;
        for (int64_t i = 0; i < m; ++i) a[i * r + c] *= inv;
    }
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(a[i]);
}

namespace {

void load_vec(Reader &r, bool commit, Ops &ops, DevVec &v, std::size_t n, const std::string &what) {
    std::vector<float> h = r.floats(n, what);
    if (commit) ops.from_host(n, v.data(), h.data());
}

class NullPredictor final : public Predictor {
public:
    void observe(std::size_t, const float *, uint64_t, bool) override {}
    bool predict(std::size_t, uint64_t, float, float *) override { return false; }
};

// HOLD and EMA keep one vector per slot and predict scale * that vector once the slot has seen
// an update. They differ in how observe() folds an update in, and in how their saved state
// records "seen": HOLD as a u8 flag, EMA as a u64 count (both formats kept).
class OneVectorPredictor : public Predictor {
public:
    bool predict(std::size_t i, uint64_t, float scale, float *out) override {
        if (seen_[i] == 0) return false;
        ops_.scale(slots_[i].n, out, scale, vec_[i].data());
        return true;
    }
    std::size_t state_floats() const override {
        std::size_t n = 0;
        for (const Slot &s : slots_) n += s.n;
        return n;
    }
    void serialize(Writer &w) const override {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (seen_is_flag_) w.u8(static_cast<uint8_t>(seen_[i]));
            else w.u64(seen_[i]);
            w.floats(ops_, vec_[i].data(), slots_[i].n);
        }
    }
    void load(Reader &r, bool commit) override {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const uint64_t seen = seen_is_flag_ ? r.u8() : r.u64();
            load_vec(r, commit, ops_, vec_[i], slots_[i].n, std::string(name_) + " '" + slots_[i].name + "'");
            if (commit) seen_[i] = seen;
        }
    }

protected:
    OneVectorPredictor(Ops &ops, const std::vector<Slot> &slots, const char *name, bool seen_is_flag)
        : ops_(ops), slots_(slots), name_(name), seen_is_flag_(seen_is_flag) {
        for (const Slot &s : slots) vec_.emplace_back(ops, s.n);
        seen_.assign(slots.size(), 0);
    }

    Ops &ops_;
    const std::vector<Slot> &slots_;
    std::vector<DevVec> vec_;
    std::vector<uint64_t> seen_;  // HOLD: 0 or 1; EMA: updates folded in

private:
    const char *name_;  // for load errors
    bool seen_is_flag_;
};

// The last real update.
class HoldPredictor final : public OneVectorPredictor {
public:
    HoldPredictor(Ops &ops, const std::vector<Slot> &slots) : OneVectorPredictor(ops, slots, "HOLD", true) {}
    void observe(std::size_t i, const float *x, uint64_t, bool) override {
        ops_.copy(slots_[i].n, vec_[i].data(), x);
        seen_[i] = 1;
    }
};

// An exponential moving average of the real updates, started at the first one.
class EmaPredictor final : public OneVectorPredictor {
public:
    EmaPredictor(Ops &ops, const std::vector<Slot> &slots, float decay)
        : OneVectorPredictor(ops, slots, "EMA", false), decay_(decay) {}
    void observe(std::size_t i, const float *x, uint64_t, bool) override {
        if (seen_[i] == 0) ops_.copy(slots_[i].n, vec_[i].data(), x);
        else ops_.ema(slots_[i].n, vec_[i].data(), decay_, x);
        ++seen_[i];
    }

private:
    float decay_;
};

class WlsPredictor final : public Predictor {
public:
    WlsPredictor(Ops &ops, const std::vector<Slot> &slots, const PredictorConfig &c)
        : ops_(ops), slots_(slots), cfg_(c), cap_(c.wls_window + 2) {
        for (const Slot &s : slots) {
            Tensor t;
            for (uint32_t j = 0; j < cap_; ++j) t.hist.emplace_back(ops, s.n);
            t.steps.assign(cap_, 0);
            t.b = DevVec(ops, s.n);
            t.v = DevVec(ops, s.n);
            t.r = DevVec(ops, s.n);
            t_.push_back(std::move(t));
        }
    }

    void observe(std::size_t i, const float *x, uint64_t step, bool correction) override {
        Tensor &t = t_[i];
        const std::size_t n = slots_[i].n;
        if (correction && t.fitted) {
            const float dt = static_cast<float>(std::min<uint64_t>(step - t.fit_step, cfg_.wls_max_dt));
            ops_.wls_correct(n, t.r.data(), x, t.b.data(), t.v.data(), dt, 1.0f - cfg_.wls_residual_rate,
                             cfg_.wls_residual_rate);
            t.max_residual = ops_.maxabs(n, t.r.data());
        }
        // Append (the ring keeps the newest cap_ entries) and refit.
        ops_.copy(n, t.hist[t.head].data(), x);
        t.steps[t.head] = step;
        t.head = (t.head + 1) % cap_;
        t.count = std::min(t.count + 1, cap_);
        fit(i, step);
    }

    bool predict(std::size_t i, uint64_t step, float scale, float *out) override {
        const Tensor &t = t_[i];
        if (!t.fitted) return false;
        const uint64_t d = std::min<uint64_t>(step - t.fit_step, cfg_.wls_max_dt);
        const float rdecay = static_cast<float>(std::pow(static_cast<double>(cfg_.wls_decay), static_cast<double>(d)));
        ops_.wls_predict(slots_[i].n, t.b.data(), t.v.data(), t.r.data(), static_cast<float>(d), rdecay, scale, out);
        return true;
    }

    bool needs_correction(uint64_t step) const override {
        for (const Tensor &t : t_) {
            if (!t.fitted) continue;
            if (step - t.fit_step >= cfg_.horizon) return true;
            if (!(t.max_residual <= cfg_.wls_residual_threshold)) return true;
        }
        return false;
    }

    std::size_t state_floats() const override {
        std::size_t n = 0;
        for (const Slot &s : slots_) n += s.n * (cap_ + 3);
        return n;
    }

    void serialize(Writer &w) const override {
        w.u32(cap_);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const Tensor &t = t_[i];
            const std::size_t n = slots_[i].n;
            w.u32(t.count);
            w.u8(t.fitted);
            w.u64(t.fit_step);
            w.f64(t.max_residual);
            for (uint32_t j = 0; j < t.count; ++j) {  // oldest first
                const uint32_t pos = (t.head + cap_ - t.count + j) % cap_;
                w.u64(t.steps[pos]);
                w.floats(ops_, t.hist[pos].data(), n);
            }
            w.floats(ops_, t.b.data(), n);
            w.floats(ops_, t.v.data(), n);
            w.floats(ops_, t.r.data(), n);
        }
    }

    void load(Reader &r, bool commit) override {
        const uint32_t cap = r.u32();
        if (cap != cap_) r.fail("has a WLS window of " + std::to_string(cap) + " entries, this hybrid keeps " + std::to_string(cap_),
                                RAI_ERROR_INVALID_ARGUMENT);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            Tensor &t = t_[i];
            const std::size_t n = slots_[i].n;
            const std::string what = "WLS '" + slots_[i].name + "'";
            const uint32_t count = r.u32();
            if (count > cap_) r.fail("has " + std::to_string(count) + " WLS history entries");
            const uint8_t fitted = r.u8();
            const uint64_t fit_step = r.u64();
            const double maxr = r.f64();
            std::vector<uint64_t> steps(cap_, 0);
            for (uint32_t j = 0; j < count; ++j) {
                steps[j] = r.u64();
                load_vec(r, commit, ops_, t.hist[j], n, what);
            }
            load_vec(r, commit, ops_, t.b, n, what);
            load_vec(r, commit, ops_, t.v, n, what);
            load_vec(r, commit, ops_, t.r, n, what);
            if (commit) {
                t.count = count;
                t.head = count % cap_;
                t.steps = steps;
                t.fitted = fitted;
                t.fit_step = fit_step;
                t.max_residual = maxr;
            }
        }
    }

private:
    struct Tensor {
        std::vector<DevVec> hist;
        std::vector<uint64_t> steps;
        uint32_t head = 0, count = 0;
        DevVec b, v, r;
        uint8_t fitted = 0;
        uint64_t fit_step = 0;
        double max_residual = 0.0;
    };

    void fit(std::size_t i, uint64_t step) {
        Tensor &t = t_[i];
        const std::size_t n = slots_[i].n;
        std::vector<uint64_t> steps;
        std::vector<uint32_t> pos;
        for (uint32_t j = 0; j < t.count; ++j) {  // oldest first
            pos.push_back((t.head + cap_ - t.count + j) % cap_);
            steps.push_back(t.steps[pos.back()]);
        }
        std::vector<double> alpha, beta;
        if (wls_coefficients(steps, cfg_.wls_decay, alpha, beta)) {
            WlsFitArgs a{};
            a.count = static_cast<int32_t>(t.count);
            for (uint32_t j = 0; j < t.count; ++j) {
                a.hist[j] = t.hist[pos[j]].data();
                a.alpha[j] = static_cast<float>(alpha[j]);
                a.beta[j] = static_cast<float>(beta[j]);
            }
            ops_.wls_fit(n, a, t.b.data(), t.v.data());
        } else {
            ops_.copy(n, t.b.data(), t.hist[pos.back()].data());
            ops_.fill(n, t.v.data(), 0.0f);
        }
        t.fit_step = step;
        t.fitted = 1;
    }

    Ops &ops_;
    const std::vector<Slot> &slots_;
    PredictorConfig cfg_;
    uint32_t cap_;
    std::vector<Tensor> t_;
};

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

class LowRankPredictor final : public Predictor {
public:
    LowRankPredictor(Ops &ops, const std::vector<Slot> &slots, const PredictorConfig &c)
        : ops_(ops), slots_(slots), cfg_(c) {
        const uint64_t seed = c.seed != 0 ? c.seed : 0x5241494C4F57524Bull;  // "RAILOWRK"
        std::size_t scratch = 0;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            const Slot &s = slots[i];
            Tensor t;
            const int64_t m = s.rows(), k = s.cols();
            t.lowrank = s.shape.size() >= 2 && static_cast<int64_t>(c.rank) < std::min(m, k);
            if (t.lowrank) {
                t.p = DevVec(ops, static_cast<std::size_t>(m) * c.rank);
                t.q = DevVec(ops, static_cast<std::size_t>(k) * c.rank);
                std::vector<float> q(static_cast<std::size_t>(k) * c.rank);
                for (std::size_t e = 0; e < q.size(); ++e) {
                    const uint64_t bits = splitmix64(seed ^ splitmix64((static_cast<uint64_t>(i) << 40) ^ e));
                    q[e] = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-53 * 2.0 - 1.0);
                }
                ops.from_host(q.size(), t.q.data(), q.data());
                scratch = std::max(scratch, s.n);
            } else {
                t.ema = DevVec(ops, s.n);
            }
            t_.push_back(std::move(t));
        }
        if (scratch) mat_ = DevVec(ops, scratch);
    }

    void observe(std::size_t i, const float *x, uint64_t, bool) override {
        Tensor &t = t_[i];
        const Slot &s = slots_[i];
        if (!t.lowrank) {
            if (t.count == 0) ops_.copy(s.n, t.ema.data(), x);
            else ops_.ema(s.n, t.ema.data(), cfg_.ema_decay, x);
            ++t.count;
            return;
        }
        const int64_t m = s.rows(), k = s.cols();
        const int32_t r = static_cast<int32_t>(cfg_.rank);
        // M = beta * P Q^T + (1 - beta) x, then one power iteration warm-started from Q.
        ops_.lowrank_combine(m, k, r, t.p.data(), t.q.data(), t.count == 0 ? 0.0f : cfg_.ema_decay, x, mat_.data());
        ops_.lowrank_mul_rows(m, k, r, mat_.data(), t.q.data(), t.p.data());
        std::vector<float> p = t.p.to_host();
        orthonormalize_columns(p, m, r);
        ops_.from_host(p.size(), t.p.data(), p.data());
        ops_.lowrank_mul_cols(m, k, r, mat_.data(), t.p.data(), t.q.data());
        ++t.count;
    }

    bool predict(std::size_t i, uint64_t, float scale, float *out) override {
        const Tensor &t = t_[i];
        const Slot &s = slots_[i];
        if (t.count == 0) return false;
        if (!t.lowrank) ops_.scale(s.n, out, scale, t.ema.data());
        else ops_.lowrank_expand(s.rows(), s.cols(), static_cast<int32_t>(cfg_.rank), t.p.data(), t.q.data(), scale, out);
        return true;
    }

    std::size_t state_floats() const override {
        std::size_t n = mat_.size();
        for (const Tensor &t : t_) n += t.p.size() + t.q.size() + t.ema.size();
        return n;
    }

    void serialize(Writer &w) const override {
        w.u32(cfg_.rank);
        for (const Tensor &t : t_) {
            w.u64(t.count);
            w.u8(t.lowrank ? 1 : 0);
            if (t.lowrank) {
                w.floats(ops_, t.p.data(), t.p.size());
                w.floats(ops_, t.q.data(), t.q.size());
            } else {
                w.floats(ops_, t.ema.data(), t.ema.size());
            }
        }
    }

    void load(Reader &r, bool commit) override {
        const uint32_t rank = r.u32();
        if (rank != cfg_.rank)
            r.fail("has LOW_RANK_TREND rank " + std::to_string(rank) + ", this hybrid uses " + std::to_string(cfg_.rank),
                   RAI_ERROR_INVALID_ARGUMENT);
        for (std::size_t i = 0; i < t_.size(); ++i) {
            Tensor &t = t_[i];
            const std::string what = "LOW_RANK_TREND '" + slots_[i].name + "'";
            const uint64_t count = r.u64();
            const uint8_t lr = r.u8();
            if (lr != (t.lowrank ? 1 : 0)) r.fail("has a different low-rank layout for '" + slots_[i].name + "'");
            if (t.lowrank) {
                load_vec(r, commit, ops_, t.p, t.p.size(), what);
                load_vec(r, commit, ops_, t.q, t.q.size(), what);
            } else {
                load_vec(r, commit, ops_, t.ema, t.ema.size(), what);
            }
            if (commit) t.count = count;
        }
    }

private:
    struct Tensor {
        bool lowrank = false;
        uint64_t count = 0;
        DevVec p, q, ema;
    };
    Ops &ops_;
    const std::vector<Slot> &slots_;
    PredictorConfig cfg_;
    std::vector<Tensor> t_;
    DevVec mat_;
};

}  // namespace

std::unique_ptr<Predictor> make_predictor(const PredictorConfig &cfg, Ops &ops, const std::vector<Slot> &slots) {
    switch (cfg.kind) {
    case RAI_HYBRID_PREDICTOR_SKIP:
    case RAI_HYBRID_PREDICTOR_MOMENTUM_COAST: return std::make_unique<NullPredictor>();
    case RAI_HYBRID_PREDICTOR_HOLD: return std::make_unique<HoldPredictor>(ops, slots);
    case RAI_HYBRID_PREDICTOR_EMA: return std::make_unique<EmaPredictor>(ops, slots, cfg.ema_decay);
    case RAI_HYBRID_PREDICTOR_WLS_LINEAR: return std::make_unique<WlsPredictor>(ops, slots, cfg);
    case RAI_HYBRID_PREDICTOR_LOW_RANK_TREND: return std::make_unique<LowRankPredictor>(ops, slots, cfg);
    default: throw Error(RAI_ERROR_INTERNAL, "unknown predictor kind " + std::to_string(cfg.kind));
    }
}

}  // namespace rai::train
