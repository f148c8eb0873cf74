#include "hybrid.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "../core/error.h"
#include "out_struct.h"
#include "serial.h"

namespace rai::train {

namespace {

constexpr char kHybridMagic[8] = {'R', 'A', 'I', 'H', 'Y', 'B', 'S', 'T'};
// Version 2 dropped the measured seconds (version 1 saved them), so that two identical runs save
// byte-identical states: wall times are metrics of this process, not training state.
constexpr uint32_t kHybridVersion = 2;

[[noreturn]] void protocol(const std::string &msg) { throw Error(RAI_ERROR_INVALID_ARGUMENT, "protocol: " + msg); }

void in_range(bool ok, const char *field, double v, const char *expect) {
    require(ok, RAI_ERROR_INVALID_ARGUMENT,
            std::string("params->") + field + " is " + std::to_string(v) + ", expected " + expect);
}

template <class T>
T or_default(T v, T def) {
    return v == T{} ? def : v;
}

const char *phase_key(int32_t p) {
    static const char *const names[] = {"warmup", "full", "predict", "correct"};
    return p >= 0 && p < 4 ? names[p] : "unknown";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Adds the wall time of the enclosing call to an accumulator.
class Timer {
public:
    explicit Timer(double &acc) : acc_(acc), t0_(std::chrono::steady_clock::now()) {}
    ~Timer() { acc_ += seconds_since(t0_); }

private:
    double &acc_;
    std::chrono::steady_clock::time_point t0_;
};

// Locks the attached optimizer for the duration of a hybrid call.
class OptLock {
public:
    explicit OptLock(rai_optimizer *o) {
        if (o) lock_ = std::unique_lock<std::mutex>(o->mutex);
    }

private:
    std::unique_lock<std::mutex> lock_;
};

}  // namespace

HybridConfig resolve_hybrid_params(const rai_hybrid_params &p) {
    HybridConfig c;
    in_range(p.schedule == RAI_HYBRID_SCHEDULE_FIXED || p.schedule == RAI_HYBRID_SCHEDULE_ADAPTIVE, "schedule",
             p.schedule, "RAI_HYBRID_SCHEDULE_FIXED or _ADAPTIVE");
    c.schedule = p.schedule;
    in_range(p.predictor >= 0 && p.predictor <= RAI_HYBRID_PREDICTOR_LOW_RANK_TREND, "predictor", p.predictor,
             "a rai_hybrid_predictor value (0..6)");
    c.pred.kind = p.predictor == RAI_HYBRID_PREDICTOR_DEFAULT ? RAI_HYBRID_PREDICTOR_HOLD : p.predictor;
    in_range(p.loss_model >= 0 && p.loss_model <= RAI_HYBRID_LOSS_MODEL_LINEAR, "loss_model", p.loss_model,
             "a rai_hybrid_loss_model value (0..2)");
    c.loss_model = p.loss_model == RAI_HYBRID_LOSS_MODEL_DEFAULT ? RAI_HYBRID_LOSS_MODEL_LINEAR : p.loss_model;
    in_range((p.flags & ~(RAI_HYBRID_NO_SNAPSHOT | RAI_HYBRID_NO_GUARD)) == 0, "flags", p.flags,
             "a combination of RAI_HYBRID_NO_SNAPSHOT and RAI_HYBRID_NO_GUARD");
    c.flags = p.flags;

    ScheduleConfig &s = c.sched;
    s.adaptive = p.schedule == RAI_HYBRID_SCHEDULE_ADAPTIVE;
    s.warmup = or_default(p.warmup_steps, 10u);
    s.full = or_default(p.full_steps, 5u);
    s.predict = or_default(p.predict_steps, 20u);
    s.correct_every = or_default(p.correct_every, 5u);
    s.max_consecutive_predict = p.max_consecutive_predict;
    c.predict_forward_every = or_default(p.predict_forward_every, 1u);
    c.predict_scale = or_default(p.predict_scale, 1.0f);
    in_range(std::isfinite(c.predict_scale) && c.predict_scale > 0.0f && c.predict_scale <= 4.0f, "predict_scale",
             p.predict_scale, "a value in (0, 4]");
    s.confidence_threshold = p.confidence_threshold;
    in_range(std::isfinite(p.confidence_threshold) && p.confidence_threshold >= 0.0f && p.confidence_threshold < 1.0f,
             "confidence_threshold", p.confidence_threshold, "a value in [0, 1)");
    s.min_full = or_default(p.adaptive_min_full, 3u);
    s.max_full = or_default(p.adaptive_max_full, 30u);
    s.min_predict = or_default(p.adaptive_min_predict, 5u);
    s.max_predict = or_default(p.adaptive_max_predict, 50u);
    in_range(s.min_full <= s.max_full, "adaptive_min_full", s.min_full, "a value <= adaptive_max_full");
    in_range(s.min_predict <= s.max_predict, "adaptive_min_predict", s.min_predict, "a value <= adaptive_max_predict");
    s.loss_threshold = or_default(p.adaptive_loss_threshold, 0.1f);
    in_range(std::isfinite(s.loss_threshold) && s.loss_threshold > 0.0f, "adaptive_loss_threshold",
             p.adaptive_loss_threshold, "a finite value > 0");

    PredictorConfig &q = c.pred;
    q.ema_decay = or_default(p.ema_decay, 0.9f);
    in_range(q.ema_decay > 0.0f && q.ema_decay < 1.0f, "ema_decay", p.ema_decay, "a value in (0, 1)");
    q.wls_window = or_default(p.wls_window, 8u);
    in_range(q.wls_window >= 1 && q.wls_window + 2 <= static_cast<uint32_t>(kMaxHistory), "wls_window",
             p.wls_window, "a value in 1..14");
    q.wls_decay = or_default(p.wls_decay, 0.95f);
    in_range(q.wls_decay > 0.0f && q.wls_decay < 1.0f, "wls_decay", p.wls_decay, "a value in (0, 1)");
    q.wls_residual_rate = or_default(p.wls_residual_rate, 0.05f);
    in_range(q.wls_residual_rate > 0.0f && q.wls_residual_rate < 1.0f, "wls_residual_rate", p.wls_residual_rate,
             "a value in (0, 1)");
    q.wls_residual_threshold = or_default(p.wls_residual_threshold, 0.5f);
    in_range(std::isfinite(q.wls_residual_threshold) && q.wls_residual_threshold > 0.0f, "wls_residual_threshold",
             p.wls_residual_threshold, "a finite value > 0");
    q.wls_max_dt = or_default(p.wls_max_dt, 20u);
    q.horizon = s.predict;
    q.rank = or_default(p.lowrank_rank, 2u);
    in_range(q.rank >= 1 && q.rank <= 64, "lowrank_rank", p.lowrank_rank, "a value in 1..64");
    q.seed = p.seed;

    GuardConfig &g = c.guard;
    g.enabled = (p.flags & RAI_HYBRID_NO_GUARD) == 0;
    g.sigma = or_default(p.guard_sigma, 3.0f);
    in_range(std::isfinite(g.sigma) && g.sigma > 0.0f, "guard_sigma", p.guard_sigma, "a finite value > 0");
    g.explode = or_default(p.guard_grad_explode, 100.0f);
    in_range(std::isfinite(g.explode) && g.explode > 1.0f, "guard_grad_explode", p.guard_grad_explode,
             "a finite value > 1");
    g.vanish = or_default(p.guard_grad_vanish, 0.01f);
    in_range(g.vanish > 0.0f && g.vanish < 1.0f, "guard_grad_vanish", p.guard_grad_vanish, "a value in (0, 1)");
    g.baseline_steps = or_default(p.guard_baseline_steps, 50u);
    g.sigma_floor = or_default(p.guard_sigma_floor, 0.01f);
    in_range(std::isfinite(g.sigma_floor) && g.sigma_floor > 0.0f, "guard_sigma_floor", p.guard_sigma_floor,
             "a finite value > 0");
    g.forecast_caution = or_default(p.guard_forecast_caution, 0.2f);
    g.forecast_warning = or_default(p.guard_forecast_warning, 0.5f);
    in_range(std::isfinite(g.forecast_caution) && g.forecast_caution > 0.0f, "guard_forecast_caution",
             p.guard_forecast_caution, "a finite value > 0");
    in_range(std::isfinite(g.forecast_warning) && g.forecast_warning >= g.forecast_caution, "guard_forecast_warning",
             p.guard_forecast_warning, "a finite value >= guard_forecast_caution");
    c.rollback_lr_scale = or_default(p.rollback_lr_scale, 1.0f);
    in_range(c.rollback_lr_scale > 0.0f && c.rollback_lr_scale <= 1.0f, "rollback_lr_scale", p.rollback_lr_scale,
             "a value in (0, 1]");
    in_range(p.reserved0 == 0, "reserved0", p.reserved0, "0");
    return c;
}

}  // namespace rai::train

using namespace rai::train;
using rai::Error;
using rai::require;

rai_hybrid::rai_hybrid(rai_context &c, const HybridConfig &config)
    : ctx(c), ops(make_ops(c)), cfg(config), schedule_(config.sched), guard_(config.guard),
      loss_model_(config.loss_model) {}

rai_hybrid::~rai_hybrid() {
    if (opt_ != nullptr) opt_->attached = nullptr;
}

std::size_t rai_hybrid::max_numel() const {
    std::size_t n = 0;
    for (const Slot &s : slots_) n = std::max(n, s.n);
    return n;
}

uint32_t rai_hybrid::add_param(const char *name, const rai_tensor *param, const rai_tensor *grad) {
    check_alive();
    if (prepared_) protocol("add_param after the first step (or state_load); register every tensor first");
    require(opt_ == nullptr, RAI_ERROR_INVALID_ARGUMENT,
            "h: an optimizer is attached; register tensors before rai_hybrid_set_optimizer");
    slots_.push_back(make_slot(ctx, name, param, grad, slots_));
    return static_cast<uint32_t>(slots_.size() - 1);
}

void rai_hybrid::set_optimizer(rai_optimizer *o) {
    check_alive();
    if (prepared_) protocol("set_optimizer after the first step (or state_load)");
    rai::require_not_null(o, "opt");
    require(opt_ == nullptr, RAI_ERROR_INVALID_ARGUMENT, "h: an optimizer is already attached");
    std::lock_guard<std::mutex> lock(o->mutex);
    require(o->attached == nullptr, RAI_ERROR_INVALID_ARGUMENT, "opt: is already attached to a rai_hybrid");
    require(o->ctx.device.device_type == ctx.device.device_type && o->ctx.device.device_id == ctx.device.device_id,
            RAI_ERROR_DEVICE_MISMATCH, "opt: was created on another device than h");
    require(o->slots.size() == slots_.size(), RAI_ERROR_SHAPE_MISMATCH,
            "opt: has " + std::to_string(o->slots.size()) + " registered tensors, h has " + std::to_string(slots_.size()));
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const Slot &a = slots_[i], &b = o->slots[i];
        require(a.param == b.param && a.grad == b.grad && a.n == b.n, RAI_ERROR_SHAPE_MISMATCH,
                "opt: tensor " + std::to_string(i) + " ('" + b.name + "') is not h's tensor " + std::to_string(i) +
                    " ('" + a.name + "'): register the same parameters and gradients in the same order");
    }
    o->attached = this;
    opt_ = o;
}

void rai_hybrid::optimizer_destroyed(rai_optimizer *o) noexcept {
    std::lock_guard<std::mutex> lock(mutex);
    if (opt_ == o) {
        opt_ = nullptr;
        opt_lost_ = true;
    }
}

void rai_hybrid::check_alive() const {
    require(!opt_lost_, RAI_ERROR_INVALID_ARGUMENT,
            "h: its attached optimizer was destroyed (it is borrowed and must outlive the hybrid); "
            "the hybrid can only be destroyed now");
}

void rai_hybrid::prepare() {
    if (prepared_) return;
    require(!slots_.empty(), RAI_ERROR_INVALID_ARGUMENT, "h: no parameters registered (rai_hybrid_add_param)");
    predictor_ = make_predictor(cfg.pred, *ops, slots_);
    const std::size_t n = max_numel();
    scratch_a_ = DevVec(*ops, n);
    scratch_b_ = DevVec(*ops, n);
    if ((cfg.flags & RAI_HYBRID_NO_SNAPSHOT) == 0) {
        for (const Slot &s : slots_) snap_.params.emplace_back(*ops, s.n);
        if (opt_ != nullptr)
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                std::vector<DevVec> bufs;
                for (std::size_t b = 0; b < opt_->state[i].size(); ++b) bufs.emplace_back(*ops, slots_[i].n);
                snap_.opt_state.push_back(std::move(bufs));
            }
    }
    prepared_ = true;
}

void rai_hybrid::require_between_steps(const char *what) const {
    if (cur_.open) protocol(std::string(what) + " inside a step (after begin_step, before end_step)");
}

void rai_hybrid::take_snapshot(uint64_t step) {
    if (cfg.flags & RAI_HYBRID_NO_SNAPSHOT) return;
    for (std::size_t i = 0; i < slots_.size(); ++i) ops->copy(slots_[i].n, snap_.params[i].data(), slots_[i].param);
    if (opt_ != nullptr) {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            for (std::size_t b = 0; b < opt_->state[i].size(); ++b)
                ops->copy(slots_[i].n, snap_.opt_state[i][b].data(), opt_->state[i][b].data());
        snap_.opt_scalars = opt_->scalars();
    }
    snap_.valid = true;
    snap_.step = step;
}

void rai_hybrid::restore_snapshot() {
    for (std::size_t i = 0; i < slots_.size(); ++i) ops->copy(slots_[i].n, slots_[i].param, snap_.params[i].data());
    if (opt_ != nullptr) {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            for (std::size_t b = 0; b < opt_->state[i].size(); ++b)
                ops->copy(slots_[i].n, opt_->state[i][b].data(), snap_.opt_state[i][b].data());
        const float lr = opt_->lr;  // the lr is a caller's setting, not state to roll back
        opt_->set_scalars(snap_.opt_scalars);
        opt_->lr = lr;
    }
}

void rai_hybrid::begin_step(rai_hybrid_step_info *out) {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    check_out(out, sizeof(rai_hybrid_step_info), "out");
    if (cur_.open) protocol("begin_step while step " + std::to_string(cur_.step) + " is open (call end_step first)");
    prepare();

    Current c;
    c.t0 = std::chrono::steady_clock::now();
    c.sched_before = schedule_.st;
    c.step = step_;
    double f = 0;
    c.has_forecast = loss_model_.forecast(step_, &f);
    c.forecast = c.has_forecast ? f : NAN;
    c.forecast_trusted = c.has_forecast && loss_model_.st.n_err >= kMinScoredForecasts;
    c.confidence = loss_model_.confidence();
    const Transition tr = schedule_.begin(predictor_->needs_correction(step_), c.confidence, losses_);
    c.phase = tr.phase;
    c.phase_changed = tr.changed;
    c.gate_blocked = tr.gate_blocked;
    c.needs_backward = c.phase != RAI_HYBRID_PHASE_PREDICT;
    c.needs_forward = c.needs_backward || predict_count_ % cfg.predict_forward_every == 0;
    if (tr.entered_predict) take_snapshot(step_);
    if (c.phase == RAI_HYBRID_PHASE_PREDICT) ++predict_count_;
    c.open = true;
    cur_ = c;

    rai_hybrid_step_info info{};
    info.phase = c.phase;
    info.needs_forward = c.needs_forward ? 1 : 0;
    info.needs_backward = c.needs_backward ? 1 : 0;
    info.has_prediction = c.phase == RAI_HYBRID_PHASE_PREDICT && cfg.pred.kind != RAI_HYBRID_PREDICTOR_SKIP ? 1 : 0;
    info.phase_changed = c.phase_changed ? 1 : 0;
    info.step = step_;
    info.phase_step = schedule_.st.ps;
    info.cycle = schedule_.st.cycle;
    info.horizon_remaining = schedule_.horizon_remaining();
    info.confidence = c.confidence;
    info.predicted_loss = c.has_forecast ? static_cast<float>(c.forecast) : NAN;
    write_out(out, info, sizeof(rai_hybrid_step_info), "out");
}

void rai_hybrid::record_gradients(float loss) {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    if (!cur_.open) protocol("record_gradients before begin_step");
    if (!cur_.needs_backward)
        protocol("record_gradients on a PREDICT step (needs_backward = 0): apply or get the prediction instead");
    if (cur_.recorded) protocol("record_gradients twice in step " + std::to_string(cur_.step));

    ops->sumsq_begin(slots_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) ops->sumsq_add(i, slots_[i].n, slots_[i].grad);
    const double gn = std::sqrt(ops->sumsq_end());
    cur_.recorded = true;
    cur_.loss_given = true;
    cur_.loss = loss;
    cur_.has_grad = true;
    cur_.grad_norm = gn;
    ++m_.forward;
    ++m_.backward;
    if (!std::isfinite(loss) || !std::isfinite(gn)) {
        cur_.nonfinite = true;
        throw Error(RAI_ERROR_INVALID_ARGUMENT,
                    std::string(!std::isfinite(loss) ? "loss is " + std::to_string(loss)
                                                     : "gradient norm is " + std::to_string(gn)) +
                        ": nothing was updated; the step is marked Critical and end_step rolls back to the snapshot");
    }
    cur_.has_loss = true;
    schedule_.on_recorded();

    const bool correction = cur_.phase == RAI_HYBRID_PHASE_CORRECT;
    const bool need_value = cfg.pred.kind != RAI_HYBRID_PREDICTOR_SKIP && cfg.pred.kind != RAI_HYBRID_PREDICTOR_MOMENTUM_COAST;
    double ab = 0, aa = 0, bb = 0;
    bool compared = false;
    if (opt_ != nullptr) opt_->begin_update();
    const float factor = opt_ != nullptr ? clip_factor(gn, opt_->cfg.max_grad_norm) : 1.0f;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const Slot &s = slots_[i];
        const bool pred = correction && need_value && predictor_->predict(i, cur_.step, 1.0f, scratch_b_.data());
        const float *actual = s.grad;
        if (opt_ != nullptr) {
            opt_->update_tensor(i, s.grad, factor, need_value ? scratch_a_.data() : nullptr, true);
            actual = scratch_a_.data();
        }
        if (pred) {
            double d[3];
            ops->dot3(s.n, scratch_b_.data(), actual, d);
            ab += d[0];
            aa += d[1];
            bb += d[2];
            compared = true;
        }
        if (need_value) predictor_->observe(i, actual, cur_.step, correction);
    }
    if (compared) {
        const double cosine = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
        const double rel = bb > 0 ? std::sqrt(std::max(aa - 2 * ab + bb, 0.0) / bb) : 0.0;
        m_.cos_last = cosine;
        m_.cos_sum += cosine;
        m_.rel_last = rel;
        m_.rel_sum += rel;
        ++m_.update_comparisons;
    }
}

bool rai_hybrid::predict_into(std::size_t i, float *out, bool apply_coast_to_params) {
    const Slot &s = slots_[i];
    if (coasting()) {
        if (opt_ != nullptr) {
            opt_->update_tensor(i, nullptr, 1.0f, out, apply_coast_to_params);
        } else {
            ops->fill(s.n, out, 0.0f);
        }
        return true;
    }
    if (cfg.pred.kind == RAI_HYBRID_PREDICTOR_SKIP) return false;
    return predictor_->predict(i, cur_.step, cfg.predict_scale, out);
}

// What apply_predicted and get_predicted both need: an open PREDICT step whose prediction has not
// been applied or returned yet.
void rai_hybrid::require_unused_prediction(const char *call) const {
    if (!cur_.open) protocol(std::string(call) + " before begin_step");
    if (cur_.phase != RAI_HYBRID_PHASE_PREDICT)
        protocol(std::string(call) + " on a " + phase_key(cur_.phase) +
                 " step (needs_backward = 1): record_gradients instead");
    if (cur_.applied) protocol("the prediction of step " + std::to_string(cur_.step) + " was already applied or returned");
}

// Ends the norm reduction that apply_predicted / get_predicted began with ops->sumsq_begin and
// records whether any slot had a prediction (and then its norm).
void rai_hybrid::end_prediction(bool made) {
    const double ss = ops->sumsq_end();
    cur_.prediction_made = made;
    if (made) {
        cur_.has_update = true;
        cur_.update_norm = std::sqrt(ss);
    }
}

void rai_hybrid::apply_predicted() {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    require_unused_prediction("apply_predicted");
    if (cur_.loss_given) protocol("apply_predicted after report_loss; apply first, then run the forward pass");
    cur_.applied = true;
    if (coasting() && opt_ != nullptr) opt_->begin_update();
    bool made = false;
    ops->sumsq_begin(slots_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const Slot &s = slots_[i];
        if (opt_ != nullptr) {
            if (!predict_into(i, scratch_a_.data(), true)) continue;
            ops->sumsq_add(i, s.n, scratch_a_.data());  // queued before scratch_a_ is reused
            if (!coasting()) ops->axpy(s.n, s.param, 1.0f, scratch_a_.data());
        } else {
            if (!predict_into(i, s.grad, false)) continue;
            ops->sumsq_add(i, s.n, s.grad);
        }
        made = true;
    }
    end_prediction(made);
}

void rai_hybrid::get_predicted(const rai_tensor *const *out, std::size_t n) {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    require_unused_prediction("get_predicted");
    rai::require_not_null(out, "out");
    require(n == slots_.size(), RAI_ERROR_INVALID_ARGUMENT,
            "n is " + std::to_string(n) + ", expected the " + std::to_string(slots_.size()) + " registered tensors");
    std::vector<float *> dst(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string what = "out[" + std::to_string(i) + "]";
        dst[i] = check_output(ctx, what.c_str(), out[i], slots_[i]);
    }
    cur_.applied = true;
    if (coasting() && opt_ != nullptr) opt_->begin_update();
    bool made = false;
    ops->sumsq_begin(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (predict_into(i, dst[i], false)) {
            ops->sumsq_add(i, slots_[i].n, dst[i]);
            made = true;
        } else {
            ops->fill(slots_[i].n, dst[i], 0.0f);
        }
    }
    end_prediction(made);
}

void rai_hybrid::report_loss(float loss) {
    Timer timer(m_.seconds_overhead);
    check_alive();
    if (!cur_.open) protocol("report_loss before begin_step");
    if (cur_.needs_backward)
        protocol("report_loss on a backward step: pass the loss to record_gradients");
    if (cur_.loss_given) protocol("report_loss twice in step " + std::to_string(cur_.step));
    cur_.loss_given = true;
    cur_.loss = loss;
    ++m_.forward;
    if (!std::isfinite(loss)) {
        cur_.nonfinite = true;
        throw Error(RAI_ERROR_INVALID_ARGUMENT, "loss is " + std::to_string(loss) +
                                                    ": the step is marked Critical and end_step rolls back to the snapshot");
    }
    cur_.has_loss = true;
}

void rai_hybrid::end_step(rai_hybrid_step_result *out) {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    if (out != nullptr) check_out(out, sizeof(rai_hybrid_step_result), "out");
    if (!cur_.open) protocol("end_step before begin_step");
    if (cur_.needs_backward && !cur_.recorded)
        protocol(std::string("end_step on a ") + phase_key(cur_.phase) +
                 " step without record_gradients (use abort_step to abandon it)");
    end_step_locked(out);
}

void rai_hybrid::end_step_locked(rai_hybrid_step_result *out) {
    Observation o;
    o.phase = cur_.phase;
    o.has_loss = cur_.has_loss;
    o.loss = cur_.loss;
    o.has_grad = cur_.has_grad;
    o.grad_norm = cur_.grad_norm;
    o.has_update = cur_.has_update;
    o.update_norm = cur_.update_norm;
    o.nonfinite = cur_.nonfinite;
    o.has_forecast = cur_.forecast_trusted;
    o.forecast = cur_.forecast;
    const Verdict v = guard_.check(o);

    rai_hybrid_step_result r{};
    r.step = cur_.step;
    r.phase = cur_.phase;
    r.loss = cur_.loss_given ? cur_.loss : NAN;
    r.predicted_loss = cur_.has_forecast ? static_cast<float>(cur_.forecast) : NAN;
    r.loss_zscore = static_cast<float>(v.zscore);
    r.grad_norm = cur_.has_grad ? static_cast<float>(cur_.grad_norm) : NAN;
    r.update_norm = cur_.has_update ? static_cast<float>(cur_.update_norm) : NAN;
    r.confidence = cur_.confidence;
    r.divergence_level = v.level;
    r.divergence_signals = v.signals;
    if (cur_.phase_changed) r.events |= RAI_HYBRID_EVENT_PHASE_CHANGED;
    if (cur_.phase == RAI_HYBRID_PHASE_CORRECT) r.events |= RAI_HYBRID_EVENT_CORRECTION;
    if (cur_.gate_blocked) r.events |= RAI_HYBRID_EVENT_GATE_BLOCKED;

    schedule_.end();
    const uint32_t forced = 2 * schedule_.st.eff_full;
    if (v.level == RAI_HYBRID_DIVERGENCE_CRITICAL) {
        r.events |= RAI_HYBRID_EVENT_DIVERGENCE_CRITICAL;
        ++m_.critical;
        if (snap_.valid) {
            restore_snapshot();
            snap_.valid = false;  // one rollback per snapshot: no loop if real steps diverge too
            r.events |= RAI_HYBRID_EVENT_ROLLED_BACK;
            r.rollback_step = snap_.step;
            ++m_.rollbacks;
            if (opt_ != nullptr && cfg.rollback_lr_scale != 1.0f) opt_->lr *= cfg.rollback_lr_scale;
        }
        if (cur_.phase != RAI_HYBRID_PHASE_WARMUP) {
            schedule_.force_full(forced);
            r.events |= RAI_HYBRID_EVENT_FORCED_FULL;
        }
    } else if (v.level == RAI_HYBRID_DIVERGENCE_WARNING) {
        r.events |= RAI_HYBRID_EVENT_DIVERGENCE_WARNING;
        ++m_.warning;
        schedule_.force_full(forced);
        r.events |= RAI_HYBRID_EVENT_FORCED_FULL;
    } else if (v.level == RAI_HYBRID_DIVERGENCE_CAUTION) {
        r.events |= RAI_HYBRID_EVENT_DIVERGENCE_CAUTION;
        ++m_.caution;
        schedule_.halve_horizon();
    }
    guard_.observe(o, v);
    if (cur_.has_loss && v.level < RAI_HYBRID_DIVERGENCE_CRITICAL) {
        loss_model_.observe(cur_.step, cur_.loss, cur_.has_forecast, cur_.forecast);
        losses_.push_back(cur_.loss);
        if (losses_.size() > kLossWindow) losses_.pop_front();
    }

    ++m_.steps;
    ++m_.per_phase[cur_.phase];
    if (cur_.phase == RAI_HYBRID_PHASE_PREDICT) {
        if (cur_.prediction_made) ++m_.predicted;
        else ++m_.skipped;
    }
    if (cur_.phase_changed) ++m_.phase_changes;
    if (cur_.gate_blocked) ++m_.gate_blocks;
    m_.last_phase = cur_.phase;
    m_.seconds_phase[cur_.phase] += seconds_since(cur_.t0);

    cur_.open = false;
    ++step_;
    if (out != nullptr) write_out(out, r, sizeof(rai_hybrid_step_result), "out");
}

void rai_hybrid::abort_step() {
    Timer timer(m_.seconds_overhead);
    check_alive();
    OptLock olock(opt_);
    if (!cur_.open) protocol("abort_step without an open step");
    if (!cur_.recorded && !cur_.applied && !cur_.loss_given) {
        schedule_.st = cur_.sched_before;  // the step never happened
        if (cur_.phase == RAI_HYBRID_PHASE_PREDICT) --predict_count_;
        cur_.open = false;
        return;
    }
    end_step_locked(nullptr);
}

void rai_hybrid::stats(rai_hybrid_stats &s) const {
    s.phase = m_.last_phase;
    s.steps = m_.steps;
    s.forward_passes = m_.forward;
    s.backward_passes = m_.backward;
    s.predicted_steps = m_.predicted;
    s.skipped_steps = m_.skipped;
    s.warmup_steps = m_.per_phase[0];
    s.full_steps = m_.per_phase[1];
    s.predict_steps = m_.per_phase[2];
    s.correct_steps = m_.per_phase[3];
    s.rollbacks = m_.rollbacks;
    s.caution_events = m_.caution;
    s.warning_events = m_.warning;
    s.critical_events = m_.critical;
    s.gate_blocks = m_.gate_blocks;
    s.cycles = schedule_.st.cycle;
    s.phase_changes = m_.phase_changes;
    s.loss_forecasts = loss_model_.st.n_err;
    s.update_comparisons = m_.update_comparisons;
    std::size_t floats = scratch_a_.size() + scratch_b_.size() + (predictor_ ? predictor_->state_floats() : 0);
    for (const DevVec &v : snap_.params) floats += v.size();
    for (const auto &bufs : snap_.opt_state)
        for (const DevVec &v : bufs) floats += v.size();
    s.state_bytes = floats * sizeof(float);
    s.effective_full_steps = schedule_.st.eff_full;
    s.effective_predict_steps = schedule_.st.eff_predict;
    s.confidence = loss_model_.confidence();
    s.backward_fraction = m_.steps ? static_cast<float>(static_cast<double>(m_.backward) / static_cast<double>(m_.steps)) : 0.0f;
    s.loss_mae = loss_model_.mae();
    s.update_cosine_last = m_.cos_last;
    s.update_cosine_mean = m_.update_comparisons ? m_.cos_sum / static_cast<double>(m_.update_comparisons) : 0.0;
    s.update_rel_error_last = m_.rel_last;
    s.update_rel_error_mean = m_.update_comparisons ? m_.rel_sum / static_cast<double>(m_.update_comparisons) : 0.0;
    s.seconds_warmup = m_.seconds_phase[0];
    s.seconds_full = m_.seconds_phase[1];
    s.seconds_predict = m_.seconds_phase[2];
    s.seconds_correct = m_.seconds_phase[3];
    s.seconds_overhead = m_.seconds_overhead;
}

namespace {

class Json {
public:
    void open(const char *key = nullptr) {
        sep(key);
        s_ += '{';
        first_ = true;
    }
    void close() {
        s_ += '}';
        first_ = false;
    }
    void str(const char *key, const char *v) {
        sep(key);
        s_ += '"';
        s_ += v;
        s_ += '"';
    }
    void u(const char *key, uint64_t v) {
        sep(key);
        s_ += std::to_string(v);
    }
    void d(const char *key, double v) {
        sep(key);
        if (!std::isfinite(v)) {
            s_ += "null";
            return;
        }
        char b[40];
        std::snprintf(b, sizeof b, "%.17g", v);
        s_ += b;
    }
    std::string &text() { return s_; }

private:
    void sep(const char *key) {
        if (!first_) s_ += ',';
        first_ = false;
        if (key) {
            s_ += '"';
            s_ += key;
            s_ += "\":";
        }
    }
    std::string s_;
    bool first_ = true;
};

const char *predictor_key(int32_t k) {
    switch (k) {
    case RAI_HYBRID_PREDICTOR_SKIP: return "skip";
    case RAI_HYBRID_PREDICTOR_HOLD: return "hold";
    case RAI_HYBRID_PREDICTOR_MOMENTUM_COAST: return "momentum_coast";
    case RAI_HYBRID_PREDICTOR_EMA: return "ema";
    case RAI_HYBRID_PREDICTOR_WLS_LINEAR: return "wls_linear";
    case RAI_HYBRID_PREDICTOR_LOW_RANK_TREND: return "low_rank_trend";
    default: return "unknown";
    }
}

}  // namespace

std::string rai_hybrid::metrics_json(uint32_t flags) const {
    require((flags & ~RAI_HYBRID_JSON_TIMINGS) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "flags is " + std::to_string(flags) + ", expected 0 or RAI_HYBRID_JSON_TIMINGS");
    rai_hybrid_stats s{};
    stats(s);
    Json j;
    j.open();
    j.u("format", 1);
    j.open("config");
    j.str("schedule", cfg.schedule == RAI_HYBRID_SCHEDULE_ADAPTIVE ? "adaptive" : "fixed");
    j.str("predictor", predictor_key(cfg.pred.kind));
    j.str("space", opt_ != nullptr ? "update" : "gradient");
    j.str("loss_model", cfg.loss_model == RAI_HYBRID_LOSS_MODEL_EMA ? "ema" : "linear");
    j.u("warmup_steps", cfg.sched.warmup);
    j.u("full_steps", cfg.sched.full);
    j.u("predict_steps", cfg.sched.predict);
    j.u("correct_every", cfg.sched.correct_every);
    j.d("predict_scale", cfg.predict_scale);
    j.d("confidence_threshold", cfg.sched.confidence_threshold);
    j.u("snapshot", (cfg.flags & RAI_HYBRID_NO_SNAPSHOT) ? 0 : 1);
    j.u("guard", (cfg.flags & RAI_HYBRID_NO_GUARD) ? 0 : 1);
    j.u("tensors", slots_.size());
    uint64_t params = 0;
    for (const Slot &sl : slots_) params += sl.n;
    j.u("parameters", params);
    j.close();
    j.open("counters");
    j.u("steps", s.steps);
    j.u("forward_passes", s.forward_passes);
    j.u("backward_passes", s.backward_passes);
    j.u("predicted_steps", s.predicted_steps);
    j.u("skipped_steps", s.skipped_steps);
    j.u("warmup_steps", s.warmup_steps);
    j.u("full_steps", s.full_steps);
    j.u("predict_steps", s.predict_steps);
    j.u("correct_steps", s.correct_steps);
    j.u("rollbacks", s.rollbacks);
    j.u("caution_events", s.caution_events);
    j.u("warning_events", s.warning_events);
    j.u("critical_events", s.critical_events);
    j.u("gate_blocks", s.gate_blocks);
    j.u("cycles", s.cycles);
    j.u("phase_changes", s.phase_changes);
    j.close();
    j.open("cost");
    j.str("model", "forward = 1, backward = 2 units; full training = 3 units per step");
    j.d("backward_fraction", s.steps ? static_cast<double>(s.backward_passes) / static_cast<double>(s.steps) : 0.0);
    j.u("units", s.forward_passes + 2 * s.backward_passes);
    j.d("units_vs_full_training",
        s.steps ? static_cast<double>(s.forward_passes + 2 * s.backward_passes) / (3.0 * static_cast<double>(s.steps)) : 0.0);
    j.close();
    j.open("schedule");
    j.str("phase", phase_key(s.phase));
    j.u("effective_full_steps", s.effective_full_steps);
    j.u("effective_predict_steps", s.effective_predict_steps);
    j.u("next_step", step_);
    j.close();
    j.open("loss_model");
    j.d("confidence", s.confidence);
    j.u("forecasts_scored", s.loss_forecasts);
    j.d("mae", s.loss_mae);
    j.d("relative_error_ema", loss_model_.st.err_ema);
    j.close();
    j.open("predictor");
    j.u("comparisons", s.update_comparisons);
    j.d("cosine_last", s.update_cosine_last);
    j.d("cosine_mean", s.update_cosine_mean);
    j.d("relative_error_last", s.update_rel_error_last);
    j.d("relative_error_mean", s.update_rel_error_mean);
    j.u("state_bytes", s.state_bytes);
    j.close();
    j.open("guard");
    j.d("loss_ema", guard_.st.loss_ema);
    j.d("loss_sigma", std::sqrt(std::max(guard_.st.loss_var, 0.0)));
    j.d("grad_norm_baseline", guard_.st.grad_baseline);
    j.close();
    if (flags & RAI_HYBRID_JSON_TIMINGS) {
        j.open("seconds");
        j.d("warmup", s.seconds_warmup);
        j.d("full", s.seconds_full);
        j.d("predict", s.seconds_predict);
        j.d("correct", s.seconds_correct);
        j.d("inside_rai", s.seconds_overhead);
        j.close();
    }
    j.close();
    return j.text();
}

void rai_hybrid::serialize(Writer &w, uint32_t flags) const {
    w.raw(kHybridMagic, sizeof kHybridMagic);
    w.u32(kHybridVersion);
    w.u32(flags);
    w.i32(cfg.pred.kind);
    w.u8(opt_ != nullptr ? 1 : 0);
    w.u32(static_cast<uint32_t>(slots_.size()));
    for (const Slot &s : slots_) w.u64(s.n);
    w.u64(step_);
    w.u64(predict_count_);
    const ScheduleState &st = schedule_.st;
    w.i32(st.phase);
    w.u64(st.ps);
    w.u64(st.cycle);
    w.u32(st.eff_full);
    w.u32(st.eff_predict);
    w.u64(st.full_end);
    w.u64(st.predict_end);
    w.u64(st.recorded);
    w.u32(st.consecutive_predict);
    w.u32(st.forced_full);
    w.u32(st.halve_pending);
    w.u32(st.started);
    guard_.serialize(w);
    loss_model_.serialize(w);
    w.u32(static_cast<uint32_t>(losses_.size()));
    for (float l : losses_) w.f32(l);
    const HybridMetrics &m = m_;
    for (uint64_t v : {m.steps, m.forward, m.backward, m.predicted, m.skipped, m.per_phase[0], m.per_phase[1],
                       m.per_phase[2], m.per_phase[3], m.rollbacks, m.caution, m.warning, m.critical, m.gate_blocks,
                       m.phase_changes, m.update_comparisons})
        w.u64(v);
    for (double v : {m.cos_last, m.cos_sum, m.rel_last, m.rel_sum}) w.f64(v);
    w.i32(m.last_phase);
    w.u8(snap_.valid ? 1 : 0);
    if (snap_.valid) {
        w.u64(snap_.step);
        for (std::size_t i = 0; i < slots_.size(); ++i) w.floats(*ops, snap_.params[i].data(), slots_[i].n);
        for (std::size_t i = 0; i < snap_.opt_state.size(); ++i)
            for (const DevVec &b : snap_.opt_state[i]) w.floats(*ops, b.data(), b.size());
        w.u64(snap_.opt_scalars.t);
        w.f32(snap_.opt_scalars.lr);
    }
    predictor_->serialize(w);
    if (flags & RAI_HYBRID_STATE_PARAMS)
        for (const Slot &s : slots_) w.floats(*ops, s.param, s.n);
    if (flags & RAI_HYBRID_STATE_OPTIMIZER) opt_->serialize(w);
}

void rai_hybrid::load(Reader &r, bool commit) {
    char magic[8];
    r.raw(magic, 8);
    if (std::memcmp(magic, kHybridMagic, 8) != 0) r.fail("is not a rai hybrid state");
    const uint32_t version = r.u32();
    if (version != kHybridVersion)
        r.fail("has format version " + std::to_string(version) + "; this librai reads version " +
                   std::to_string(kHybridVersion),
               RAI_ERROR_UNSUPPORTED);
    const uint32_t flags = r.u32();
    if (flags & ~(RAI_HYBRID_STATE_PARAMS | RAI_HYBRID_STATE_OPTIMIZER)) r.fail("has unknown flags");
    if ((flags & RAI_HYBRID_STATE_OPTIMIZER) && opt_ == nullptr)
        r.fail("holds optimizer state but no optimizer is attached", RAI_ERROR_INVALID_ARGUMENT);
    const int32_t kind = r.i32();
    if (kind != cfg.pred.kind)
        r.fail(std::string("is for predictor ") + predictor_key(kind) + ", this hybrid uses " + predictor_key(cfg.pred.kind),
               RAI_ERROR_INVALID_ARGUMENT);
    const uint8_t has_opt = r.u8();
    if (has_opt != (opt_ != nullptr ? 1 : 0))
        r.fail(has_opt ? "was saved with an attached optimizer (update space); this hybrid has none"
                       : "was saved without an optimizer (gradient space); this hybrid has one",
               RAI_ERROR_INVALID_ARGUMENT);
    const uint32_t n = r.u32();
    if (n != slots_.size())
        r.fail("has " + std::to_string(n) + " tensors, this hybrid has " + std::to_string(slots_.size()),
               RAI_ERROR_SHAPE_MISMATCH);
    for (const Slot &s : slots_) {
        const uint64_t sz = r.u64();
        if (sz != s.n)
            r.fail("has " + std::to_string(sz) + " elements for '" + s.name + "', which has " + std::to_string(s.n),
                   RAI_ERROR_SHAPE_MISMATCH);
    }
    const uint64_t step = r.u64();
    const uint64_t predict_count = r.u64();
    ScheduleState st;
    st.phase = r.i32();
    if (st.phase < 0 || st.phase > 3) r.fail("has an invalid phase");
    st.ps = r.u64();
    st.cycle = r.u64();
    st.eff_full = r.u32();
    st.eff_predict = r.u32();
    st.full_end = r.u64();
    st.predict_end = r.u64();
    st.recorded = r.u64();
    st.consecutive_predict = r.u32();
    st.forced_full = r.u32();
    st.halve_pending = r.u32();
    st.started = r.u32();
    guard_.load(r, commit);
    loss_model_.load(r, commit);
    const uint32_t nl = r.u32();
    if (nl > kLossWindow) r.fail("has " + std::to_string(nl) + " losses in its window");
    std::deque<float> losses;
    for (uint32_t i = 0; i < nl; ++i) losses.push_back(r.f32());
    HybridMetrics m;
    for (uint64_t *v : {&m.steps, &m.forward, &m.backward, &m.predicted, &m.skipped, &m.per_phase[0], &m.per_phase[1],
                        &m.per_phase[2], &m.per_phase[3], &m.rollbacks, &m.caution, &m.warning, &m.critical,
                        &m.gate_blocks, &m.phase_changes, &m.update_comparisons})
        *v = r.u64();
    for (double *v : {&m.cos_last, &m.cos_sum, &m.rel_last, &m.rel_sum}) *v = r.f64();
    // The state holds no wall times: this hybrid keeps the seconds it has measured itself.
    std::copy(std::begin(m_.seconds_phase), std::end(m_.seconds_phase), std::begin(m.seconds_phase));
    m.seconds_overhead = m_.seconds_overhead;
    m.last_phase = r.i32();
    if (m.last_phase < 0 || m.last_phase > 3) r.fail("has an invalid phase");
    const uint8_t snap_valid = r.u8();
    if (snap_valid && (cfg.flags & RAI_HYBRID_NO_SNAPSHOT))
        r.fail("holds a snapshot but this hybrid was created with RAI_HYBRID_NO_SNAPSHOT", RAI_ERROR_INVALID_ARGUMENT);
    uint64_t snap_step = 0;
    OptScalars snap_scalars;
    if (snap_valid) {
        snap_step = r.u64();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            std::vector<float> h = r.floats(slots_[i].n, "the snapshot of '" + slots_[i].name + "'");
            if (commit) ops->from_host(slots_[i].n, snap_.params[i].data(), h.data());
        }
        for (std::size_t i = 0; i < snap_.opt_state.size(); ++i)
            for (DevVec &b : snap_.opt_state[i]) {
                std::vector<float> h = r.floats(b.size(), "the optimizer snapshot of '" + slots_[i].name + "'");
                if (commit) ops->from_host(b.size(), b.data(), h.data());
            }
        snap_scalars.t = r.u64();
        snap_scalars.lr = r.f32();
    }
    predictor_->load(r, commit);
    if (flags & RAI_HYBRID_STATE_PARAMS)
        for (const Slot &s : slots_) {
            std::vector<float> h = r.floats(s.n, "the parameter '" + s.name + "'");
            if (commit) ops->from_host(s.n, s.param, h.data());
        }
    if (flags & RAI_HYBRID_STATE_OPTIMIZER) {
        const rai_optimizer::Parsed p = opt_->parse(r);
        if (commit) opt_->commit(p);
    }
    r.expect_end();
    if (commit) {
        step_ = step;
        predict_count_ = predict_count;
        schedule_.st = st;
        losses_ = losses;
        m_ = m;
        snap_.valid = snap_valid != 0;
        snap_.step = snap_step;
        snap_.opt_scalars = snap_scalars;
    }
}

void rai_hybrid::check_save_flags(uint32_t flags) const {
    check_alive();
    require_between_steps("state_save");
    if (!prepared_) protocol("state_save before the first begin_step (or state_load): there is no state yet");
    require((flags & ~(RAI_HYBRID_STATE_PARAMS | RAI_HYBRID_STATE_OPTIMIZER)) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "flags is " + std::to_string(flags) + ", expected a combination of RAI_HYBRID_STATE_PARAMS and _OPTIMIZER");
    require(!(flags & RAI_HYBRID_STATE_OPTIMIZER) || opt_ != nullptr, RAI_ERROR_INVALID_ARGUMENT,
            "flags: RAI_HYBRID_STATE_OPTIMIZER but no optimizer is attached");
}

std::size_t rai_hybrid::state_size(uint32_t flags) const {
    OptLock olock(opt_);
    check_save_flags(flags);
    Writer w(true);
    serialize(w, flags);
    w.finish();
    return w.size();
}

void rai_hybrid::state_save(uint32_t flags, void *buffer, std::size_t capacity, std::size_t *written) const {
    OptLock olock(opt_);
    check_save_flags(flags);
    save_blob([&](Writer &w) { serialize(w, flags); }, buffer, capacity, written);
}

void rai_hybrid::state_load(const void *buffer, std::size_t size) {
    check_alive();
    OptLock olock(opt_);
    require_between_steps("state_load");
    require(buffer != nullptr || size == 0, RAI_ERROR_INVALID_ARGUMENT, "buffer must not be NULL");
    prepare();
    {
        Reader check(buffer, size, "state");
        check.verify_checksum();
        load(check, false);  // validates everything, changes nothing
    }
    Reader r(buffer, size, "state");
    r.verify_checksum();
    load(r, true);
}
