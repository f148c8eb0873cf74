// The phase state machine of the hybrid trainer (host only, no tensors): vsa-optim's
// DeterministicPhaseTrainer rules with readiness counted in recorded steps (so warm-up always
// ends), the ADAPTIVE loss-trend rule with bounds, the confidence gate, and the guard's actions
// (halve the horizon, force FULL).
#pragma once
#include <cstdint>
#include <deque>

#include "rai.h"

namespace rai::train {

struct ScheduleConfig {
    bool adaptive = false;
    uint32_t warmup = 10;
    uint32_t full = 5;
    uint32_t predict = 20;
    uint32_t correct_every = 5;
    uint32_t max_consecutive_predict = 0;  // 0 = no limit
    uint32_t min_full = 3, max_full = 30;
    uint32_t min_predict = 5, max_predict = 50;
    float loss_threshold = 0.1f;
    float confidence_threshold = 0.0f;  // 0 = no gate
};

struct ScheduleState {
    int32_t phase = RAI_HYBRID_PHASE_WARMUP;
    uint64_t ps = 0;           // steps into the phase (PREDICT and CORRECT share it)
    uint64_t cycle = 0;        // FULL entries after warm-up
    uint32_t eff_full = 5;     // F and P now (ADAPTIVE moves them)
    uint32_t eff_predict = 20;
    uint64_t full_end = 0;     // length of the current FULL phase
    uint64_t predict_end = 0;  // budget of the current predict phase (PREDICT + CORRECT steps)
    uint64_t recorded = 0;     // real gradients recorded (warm-up readiness)
    uint32_t consecutive_predict = 0;
    uint32_t forced_full = 0;  // pending: the next step starts a FULL phase of this length
    uint32_t halve_pending = 0;
    uint32_t started = 0;
};

struct Transition {
    int32_t phase = RAI_HYBRID_PHASE_WARMUP;
    bool changed = false;          // a new phase starts with this step
    bool entered_predict = false;  // PREDICT starts (from FULL or CORRECT): take the snapshot
    bool gate_blocked = false;
    bool forced = false;
    bool cycle_started = false;
};

class Schedule {
public:
    explicit Schedule(const ScheduleConfig &cfg);

    // Decides the phase of the next step (the vsa-optim rules, first match wins).
    // `losses` are the last <= 100 finite losses, oldest first (for the ADAPTIVE rule).
    Transition begin(bool predictor_needs_correction, float confidence, const std::deque<float> &losses);
    // Closes a step of the current phase.
    void end();
    void on_recorded() { ++st.recorded; }
    // Guard actions.
    void force_full(uint32_t steps);
    void halve_horizon();

    uint32_t horizon_remaining() const;
    // The ADAPTIVE adjustment applied on entering FULL (public for tests).
    void adapt(const std::deque<float> &losses);

    ScheduleConfig cfg;
    ScheduleState st;

private:
    void enter_full(uint64_t length, bool from_warmup, const std::deque<float> &losses, Transition &t);
    void enter_predict(Transition &t);
};

}  // namespace rai::train
