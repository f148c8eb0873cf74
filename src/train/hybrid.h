// rai_hybrid: the caller-driven hybrid trainer (step protocol, phases, predictors, snapshot and
// rollback, metrics, checkpoints). Argument checks of the C ABI live in src/abi/train_abi.cpp;
// protocol and state checks live here.
#pragma once
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard.h"
#include "optimizer.h"
#include "predictor.h"
#include "schedule.h"

namespace rai::train {

struct HybridConfig {
    int32_t schedule = RAI_HYBRID_SCHEDULE_FIXED;
    uint32_t flags = 0;
    int32_t loss_model = RAI_HYBRID_LOSS_MODEL_LINEAR;
    uint32_t predict_forward_every = 1;
    float predict_scale = 1.0f;
    float rollback_lr_scale = 1.0f;
    ScheduleConfig sched;
    PredictorConfig pred;
    GuardConfig guard;
};

HybridConfig resolve_hybrid_params(const rai_hybrid_params &p);

struct HybridMetrics {
    uint64_t steps = 0, forward = 0, backward = 0, predicted = 0, skipped = 0;
    uint64_t per_phase[4] = {0, 0, 0, 0};
    uint64_t rollbacks = 0, caution = 0, warning = 0, critical = 0, gate_blocks = 0, phase_changes = 0;
    uint64_t update_comparisons = 0;
    double cos_last = 0, cos_sum = 0, rel_last = 0, rel_sum = 0;
    double seconds_phase[4] = {0, 0, 0, 0};
    double seconds_overhead = 0;
    int32_t last_phase = RAI_HYBRID_PHASE_WARMUP;
};

// Keeps the last 100 finite losses (the ADAPTIVE rule's window).
constexpr std::size_t kLossWindow = 100;

}  // namespace rai::train

struct rai_hybrid {
    rai_hybrid(rai_context &c, const rai::train::HybridConfig &cfg);
    ~rai_hybrid();

    uint32_t add_param(const char *name, const rai_tensor *param, const rai_tensor *grad);
    void set_optimizer(rai_optimizer *o);
    // Called by ~rai_optimizer when the attached optimizer is destroyed before the hybrid.
    void optimizer_destroyed(rai_optimizer *o) noexcept;

    void begin_step(rai_hybrid_step_info *out);
    void record_gradients(float loss);
    void apply_predicted();
    void get_predicted(const rai_tensor *const *out, std::size_t n);
    void report_loss(float loss);
    void end_step(rai_hybrid_step_result *out);
    void abort_step();

    // The callback driver; locks `mutex` around each protocol call, never during a callback.
    void run_steps(const rai_hybrid_callbacks *cb, void *user, uint64_t n, uint64_t *done);

    void stats(rai_hybrid_stats &s) const;
    std::string metrics_json(uint32_t flags) const;
    std::size_t state_size(uint32_t flags) const;
    void state_save(uint32_t flags, void *buffer, std::size_t capacity, std::size_t *written) const;
    void state_load(const void *buffer, std::size_t size);

    rai_context &ctx;
    std::unique_ptr<rai::train::Ops> ops;
    rai::train::HybridConfig cfg;
    mutable std::mutex mutex;

private:
    struct Snapshot {
        bool valid = false;
        uint64_t step = 0;
        std::vector<rai::train::DevVec> params;
        std::vector<std::vector<rai::train::DevVec>> opt_state;
        rai::train::OptScalars opt_scalars;
    };
    struct Current {
        bool open = false;
        int32_t phase = RAI_HYBRID_PHASE_WARMUP;
        uint64_t step = 0;
        bool needs_backward = false, needs_forward = false;
        bool recorded = false, applied = false, loss_given = false;
        bool prediction_made = false;
        bool has_loss = false;
        float loss = NAN;
        bool has_grad = false;
        double grad_norm = NAN;
        bool has_update = false;
        double update_norm = NAN;
        bool nonfinite = false;
        bool has_forecast = false;
        bool forecast_trusted = false;  // the loss model has scored enough forecasts for the guard
        double forecast = NAN;
        float confidence = 0;
        bool phase_changed = false, gate_blocked = false;
        rai::train::ScheduleState sched_before;
        std::chrono::steady_clock::time_point t0;
    };

    void prepare();
    void require_between_steps(const char *what) const;
    void require_unused_prediction(const char *call) const;
    void end_prediction(bool made);
    void take_snapshot(uint64_t step);
    void restore_snapshot();
    bool coasting() const { return cfg.pred.kind == RAI_HYBRID_PREDICTOR_MOMENTUM_COAST; }
    // Writes the prediction of slot i into out (update or gradient space); false if none.
    bool predict_into(std::size_t i, float *out, bool apply_coast_to_params);
    void end_step_locked(rai_hybrid_step_result *out);
    void check_save_flags(uint32_t flags) const;
    void serialize(rai::train::Writer &w, uint32_t flags) const;
    void load(rai::train::Reader &r, bool commit);
    std::size_t max_numel() const;

    std::vector<rai::train::Slot> slots_;
    rai_optimizer *opt_ = nullptr;
    bool opt_lost_ = false;  // the attached optimizer was destroyed: step calls are refused
    void check_alive() const;
    bool prepared_ = false;
    std::unique_ptr<rai::train::Predictor> predictor_;
    rai::train::Schedule schedule_;
    rai::train::Guard guard_;
    rai::train::LossModel loss_model_;
    std::deque<float> losses_;
    Snapshot snap_;
    rai::train::DevVec scratch_a_, scratch_b_;
    Current cur_;
    rai::train::HybridMetrics m_;
    uint64_t step_ = 0;  // index of the next step
    uint64_t predict_count_ = 0;  // PREDICT steps begun (for predict_forward_every)
};
