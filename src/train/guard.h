// The divergence guard and the scalar loss model (host only).
//
// Guard signals, evaluated on THIS step's values (no lag):
//  - non-finite loss, gradient norm or update norm: Critical (always, even with the guard off);
//  - one-sided loss z-score against an EMA (decay 0.99, EW variance, sigma floored at
//    sigma_floor*|EMA|), after 20 losses: > 0.7s Caution, > s Warning, > 2s Critical;
//  - gradient norm against a baseline (mean of the first `baseline_steps` real norms):
//    > explode x baseline Warning, > 10 x that Critical; < vanish x baseline Warning;
//  - on PREDICT steps, once the loss model has scored 5 forecasts, its relative forecast error
//    |L - f| / max(|L|, 0.1): > forecast_caution (0.2) Caution, > forecast_warning (0.5) Warning;
//  - the third Warning-or-worse step in a row is raised to Critical.
// The loss model (EMA level, or Holt level + trend) forecasts the next loss; confidence =
// 1 / (1 + EMA of its relative error), 0 until 5 forecasts were scored. It only gates PREDICT
// and feeds the prediction-error signal: it never produces weight deltas.
#pragma once
#include <cmath>
#include <cstdint>

#include "rai.h"
#include "serial.h"

namespace rai::train {

struct GuardConfig {
    bool enabled = true;
    float sigma = 3.0f;
    float explode = 100.0f;
    float vanish = 0.01f;
    uint32_t baseline_steps = 50;
    float sigma_floor = 0.01f;
    float forecast_caution = 0.2f;
    float forecast_warning = 0.5f;
};

constexpr double kLossEmaDecay = 0.99;
constexpr uint64_t kMinLossObservations = 20;
constexpr uint32_t kEscalateAfter = 3;
// Forecasts scored before the loss model's confidence is non-zero and before its forecast error
// counts as a divergence signal.
constexpr uint64_t kMinScoredForecasts = 5;

struct Observation {
    int32_t phase = RAI_HYBRID_PHASE_FULL;
    bool has_loss = false;
    double loss = 0;
    bool has_grad = false;
    double grad_norm = 0;
    bool has_update = false;
    double update_norm = 0;
    bool nonfinite = false;  // refused input during the step
    bool has_forecast = false;
    double forecast = 0;
};

struct Verdict {
    int32_t level = RAI_HYBRID_DIVERGENCE_NONE;
    uint32_t signals = 0;
    double zscore = NAN;
};

struct GuardState {
    uint64_t loss_n = 0;
    double loss_ema = 0, loss_var = 0;
    uint64_t grad_n = 0;
    double grad_sum = 0;
    double grad_baseline = 0;
    uint32_t consecutive_warn = 0;
};

class Guard {
public:
    explicit Guard(const GuardConfig &c) : cfg(c) {}
    // Evaluates the step (only the consecutive-Warning count changes).
    Verdict check(const Observation &o);
    // Learns from the step: loss EMA and grad baseline (skipped for a Critical step).
    void observe(const Observation &o, const Verdict &v);
    void serialize(Writer &w) const;
    void load(Reader &r, bool commit);

    GuardConfig cfg;
    GuardState st;
};

struct LossModelState {
    uint64_t n = 0;
    double level = 0, trend = 0;
    uint64_t last_step = 0;
    uint64_t n_err = 0;
    double err_ema = 0;
    double abs_err_sum = 0;
};

class LossModel {
public:
    explicit LossModel(int32_t kind) : kind_(kind) {}
    // Forecast of the loss at `step`; false while the model has too little history.
    bool forecast(uint64_t step, double *out) const;
    // Learns the loss of `step`, scoring the forecast made for it (if any).
    void observe(uint64_t step, double loss, bool had_forecast, double forecast);
    float confidence() const;
    double mae() const { return st.n_err ? st.abs_err_sum / static_cast<double>(st.n_err) : 0.0; }
    void serialize(Writer &w) const;
    void load(Reader &r, bool commit);

    LossModelState st;

private:
    int32_t kind_;
};

}  // namespace rai::train
