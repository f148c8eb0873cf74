// Predictors of the next update (with an attached optimizer: delta-theta after preconditioning)
// or of the next gradient (without one), per registered tensor, on the ops' device.
//
//   SKIP            nothing (the honest baseline)                         memory 0
//   HOLD            the last real value                                   n
//   MOMENTUM_COAST  nothing here: the hybrid steps the optimizer with g=0  0
//   EMA             e = beta*e + (1-beta)*x (first x taken as is)         n
//   WLS_LINEAR      vsa-optim DeterministicPredictor (below)              (w + 2 + 3) n
//   LOW_RANK_TREND  rank-r factors P Q^T of the EMA of x, one warm-started power iteration per
//                   observation (PowerSGD); 1-D tensors and rank >= min(m, k): exact EMA.
//                                                                          r (m + k), plus one
//                                                                          m x k scratch shared
//
// WLS_LINEAR: history of (step, x), the last w + 2 entries. After each observation, per
// element, the weighted least-squares line x(t) = b + v t with weights decay^age and t relative
// to the newest entry (closed form, Cramer's rule; det < 1e-10: b = newest, v = 0);
// fit_step = that step. Prediction for step s: b + v dt + r decay^dt, dt = min(s - fit_step,
// max_dt). On a CORRECT step, before the refit: r = (1 - rate) r + rate (x - (b + v dt)).
// needs_correction: s - fit_step >= horizon, or any |r| > threshold.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "ops.h"
#include "serial.h"
#include "slots.h"

namespace rai::train {

struct PredictorConfig {
    int32_t kind = RAI_HYBRID_PREDICTOR_HOLD;
    float ema_decay = 0.9f;
    uint32_t wls_window = 8;
    float wls_decay = 0.95f;
    float wls_residual_rate = 0.05f;
    float wls_residual_threshold = 0.5f;
    uint32_t wls_max_dt = 20;
    uint32_t horizon = 20;  // steps since the fit that force a CORRECT
    uint32_t rank = 2;
    uint64_t seed = 0;
};

class Predictor {
public:
    virtual ~Predictor() = default;
    // The real value (update or gradient) of slot i at `step`; `correction` on CORRECT steps.
    virtual void observe(std::size_t i, const float *x, uint64_t step, bool correction) = 0;
    // out = scale * prediction for `step`; false (out untouched) when there is none.
    virtual bool predict(std::size_t i, uint64_t step, float scale, float *out) = 0;
    virtual bool needs_correction(uint64_t) const { return false; }
    virtual std::size_t state_floats() const { return 0; }
    virtual void serialize(Writer &) const {}
    // Reads what serialize wrote; changes state only when commit (so a load can validate first).
    virtual void load(Reader &, bool) {}
};

std::unique_ptr<Predictor> make_predictor(const PredictorConfig &cfg, Ops &ops, const std::vector<Slot> &slots);

// WLS weights for entries at `steps` (any order) relative to the newest: b = sum alpha_i x_i,
// v = sum beta_i x_i. Returns false (fallback b = newest, v = 0) when det < 1e-10.
bool wls_coefficients(const std::vector<uint64_t> &steps, double decay, std::vector<double> &alpha,
                      std::vector<double> &beta);

// Orthonormalises the r columns of the row-major m x r matrix (modified Gram-Schmidt in
// double); a column that vanishes becomes zero.
void orthonormalize_columns(std::vector<float> &p, int64_t m, int32_t r);

}  // namespace rai::train
