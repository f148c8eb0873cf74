#include "guard.h"

#include <algorithm>

namespace rai::train {

namespace {

constexpr double kEmaAlpha = 0.1;     // EMA loss model
constexpr double kHoltAlpha = 0.3;    // LINEAR loss model: level
constexpr double kHoltBeta = 0.1;     //                    trend
constexpr double kErrAlpha = 0.1;     // EMA of the relative forecast error

void raise(Verdict &v, int32_t level, uint32_t signal) {
    v.level = std::max(v.level, level);
    v.signals |= signal;
}

double rel_error(double loss, double forecast) { return std::fabs(loss - forecast) / std::max(std::fabs(loss), 0.1); }

}  // namespace

Verdict Guard::check(const Observation &o) {
    Verdict v;
    const bool bad = o.nonfinite || (o.has_loss && !std::isfinite(o.loss)) ||
                     (o.has_grad && !std::isfinite(o.grad_norm)) || (o.has_update && !std::isfinite(o.update_norm));
    if (bad) raise(v, RAI_HYBRID_DIVERGENCE_CRITICAL, RAI_HYBRID_SIGNAL_NONFINITE);
    if (cfg.enabled && !bad && o.phase != RAI_HYBRID_PHASE_WARMUP) {
        const double s = cfg.sigma;
        if (o.has_loss && st.loss_n >= kMinLossObservations) {
            const double sigma =
                std::max({std::sqrt(std::max(st.loss_var, 0.0)), cfg.sigma_floor * std::fabs(st.loss_ema), 1e-12});
            v.zscore = (o.loss - st.loss_ema) / sigma;
            if (v.zscore > 2.0 * s) raise(v, RAI_HYBRID_DIVERGENCE_CRITICAL, RAI_HYBRID_SIGNAL_LOSS_ZSCORE);
            else if (v.zscore > s) raise(v, RAI_HYBRID_DIVERGENCE_WARNING, RAI_HYBRID_SIGNAL_LOSS_ZSCORE);
            else if (v.zscore > 0.7 * s) raise(v, RAI_HYBRID_DIVERGENCE_CAUTION, RAI_HYBRID_SIGNAL_LOSS_ZSCORE);
        }
        if (o.has_grad && st.grad_n >= cfg.baseline_steps && st.grad_baseline > 0.0) {
            const double hi = st.grad_baseline * cfg.explode;
            if (o.grad_norm > 10.0 * hi) raise(v, RAI_HYBRID_DIVERGENCE_CRITICAL, RAI_HYBRID_SIGNAL_GRAD_EXPLODE);
            else if (o.grad_norm > hi) raise(v, RAI_HYBRID_DIVERGENCE_WARNING, RAI_HYBRID_SIGNAL_GRAD_EXPLODE);
            if (o.grad_norm < st.grad_baseline * cfg.vanish)
                raise(v, RAI_HYBRID_DIVERGENCE_WARNING, RAI_HYBRID_SIGNAL_GRAD_VANISH);
        }
        if (o.phase == RAI_HYBRID_PHASE_PREDICT && o.has_loss && o.has_forecast) {
            const double rel = rel_error(o.loss, o.forecast);
            if (rel > cfg.forecast_warning) raise(v, RAI_HYBRID_DIVERGENCE_WARNING, RAI_HYBRID_SIGNAL_PREDICTION_ERROR);
            else if (rel > cfg.forecast_caution) raise(v, RAI_HYBRID_DIVERGENCE_CAUTION, RAI_HYBRID_SIGNAL_PREDICTION_ERROR);
        }
    }
    if (v.level >= RAI_HYBRID_DIVERGENCE_WARNING) {
        if (++st.consecutive_warn >= kEscalateAfter && v.level < RAI_HYBRID_DIVERGENCE_CRITICAL)
            raise(v, RAI_HYBRID_DIVERGENCE_CRITICAL, RAI_HYBRID_SIGNAL_ESCALATED);
    } else {
        st.consecutive_warn = 0;
    }
    if (v.level == RAI_HYBRID_DIVERGENCE_CRITICAL) st.consecutive_warn = 0;
    return v;
}

void Guard::observe(const Observation &o, const Verdict &v) {
    if (v.level >= RAI_HYBRID_DIVERGENCE_CRITICAL) return;
    if (o.has_loss && std::isfinite(o.loss)) {
        if (st.loss_n == 0) {
            st.loss_ema = o.loss;
            st.loss_var = 0.0;
        } else {
            const double diff = o.loss - st.loss_ema;
            st.loss_ema += (1.0 - kLossEmaDecay) * diff;
            st.loss_var = kLossEmaDecay * (st.loss_var + (1.0 - kLossEmaDecay) * diff * diff);
        }
        ++st.loss_n;
    }
    if (o.has_grad && std::isfinite(o.grad_norm) && st.grad_n < cfg.baseline_steps) {
        st.grad_sum += o.grad_norm;
        if (++st.grad_n == cfg.baseline_steps) st.grad_baseline = st.grad_sum / static_cast<double>(st.grad_n);
    }
}

void Guard::serialize(Writer &w) const {
    w.u64(st.loss_n);
    w.f64(st.loss_ema);
    w.f64(st.loss_var);
    w.u64(st.grad_n);
    w.f64(st.grad_sum);
    w.f64(st.grad_baseline);
    w.u32(st.consecutive_warn);
}

void Guard::load(Reader &r, bool commit) {
    GuardState s;
    s.loss_n = r.u64();
    s.loss_ema = r.f64();
    s.loss_var = r.f64();
    s.grad_n = r.u64();
    s.grad_sum = r.f64();
    s.grad_baseline = r.f64();
    s.consecutive_warn = r.u32();
    if (commit) st = s;
}

bool LossModel::forecast(uint64_t step, double *out) const {
    if (kind_ == RAI_HYBRID_LOSS_MODEL_EMA) {
        if (st.n < 1) return false;
        *out = st.level;
        return true;
    }
    if (st.n < 2) return false;
    const double dt = static_cast<double>(step > st.last_step ? step - st.last_step : 1);
    *out = st.level + st.trend * dt;
    return true;
}

void LossModel::observe(uint64_t step, double loss, bool had_forecast, double forecast) {
    if (!std::isfinite(loss)) return;
    if (had_forecast) {
        const double rel = rel_error(loss, forecast);
        st.err_ema = st.n_err == 0 ? rel : (1.0 - kErrAlpha) * st.err_ema + kErrAlpha * rel;
        st.abs_err_sum += std::fabs(loss - forecast);
        ++st.n_err;
    }
    if (st.n == 0) {
        st.level = loss;
        st.trend = 0.0;
    } else if (kind_ == RAI_HYBRID_LOSS_MODEL_EMA) {
        st.level = kEmaAlpha * loss + (1.0 - kEmaAlpha) * st.level;
    } else {
        const double dt = static_cast<double>(step > st.last_step ? step - st.last_step : 1);
        const double pred = st.level + st.trend * dt;
        const double level = kHoltAlpha * loss + (1.0 - kHoltAlpha) * pred;
        st.trend = kHoltBeta * (level - st.level) / dt + (1.0 - kHoltBeta) * st.trend;
        st.level = level;
    }
    st.last_step = step;
    ++st.n;
}

float LossModel::confidence() const {
    if (st.n_err < kMinScoredForecasts) return 0.0f;
    return static_cast<float>(1.0 / (1.0 + st.err_ema));
}

void LossModel::serialize(Writer &w) const {
    w.u64(st.n);
    w.f64(st.level);
    w.f64(st.trend);
    w.u64(st.last_step);
    w.u64(st.n_err);
    w.f64(st.err_ema);
    w.f64(st.abs_err_sum);
}

void LossModel::load(Reader &r, bool commit) {
    LossModelState s;
    s.n = r.u64();
    s.level = r.f64();
    s.trend = r.f64();
    s.last_step = r.u64();
    s.n_err = r.u64();
    s.err_ema = r.f64();
    s.abs_err_sum = r.f64();
    if (commit) st = s;
}

}  // namespace rai::train
