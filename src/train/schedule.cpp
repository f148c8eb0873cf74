#include "schedule.h"

#include <algorithm>

namespace rai::train {

Schedule::Schedule(const ScheduleConfig &c) : cfg(c) {
    st.eff_full = c.full;
    st.eff_predict = c.predict;
    if (c.adaptive) {
        st.eff_full = std::clamp(st.eff_full, c.min_full, c.max_full);
        st.eff_predict = std::clamp(st.eff_predict, c.min_predict, c.max_predict);
    }
}

void Schedule::adapt(const std::deque<float> &losses) {
    if (!cfg.adaptive || losses.size() < 20) return;
    double early = 0.0, late = 0.0;
    for (std::size_t i = 0; i < 10; ++i) early += losses[i];
    for (std::size_t i = losses.size() - 10; i < losses.size(); ++i) late += losses[i];
    early /= 10.0;
    late /= 10.0;
    if (late > early * (1.0 + cfg.loss_threshold)) {
        st.eff_full = std::min(st.eff_full + 2, cfg.max_full);
        st.eff_predict = st.eff_predict >= cfg.min_predict + 5 ? st.eff_predict - 5 : cfg.min_predict;
    } else if (late < 0.95 * early) {
        st.eff_full = st.eff_full > cfg.min_full + 1 ? st.eff_full - 1 : cfg.min_full;
        st.eff_predict = std::min(st.eff_predict + 3, cfg.max_predict);
    }
}

void Schedule::enter_full(uint64_t length, bool from_warmup, const std::deque<float> &losses, Transition &t) {
    if (!from_warmup) {
        ++st.cycle;
        t.cycle_started = true;
    }
    st.phase = RAI_HYBRID_PHASE_FULL;
    st.ps = 0;
    adapt(losses);
    st.full_end = length != 0 ? length : st.eff_full;
}

void Schedule::enter_predict(Transition &t) {
    if (st.phase == RAI_HYBRID_PHASE_FULL) {  // a new predict phase (from CORRECT it continues)
        st.ps = 0;
        st.predict_end = st.eff_predict;
        if (st.halve_pending) {
            st.predict_end = std::max<uint64_t>(1, st.predict_end / 2);
            st.halve_pending = 0;
        }
    }
    st.phase = RAI_HYBRID_PHASE_PREDICT;
    st.consecutive_predict = 0;
    t.entered_predict = true;
}

Transition Schedule::begin(bool needs_correction, float confidence, const std::deque<float> &losses) {
    Transition t;
    const int32_t prev = st.phase;
    const bool first = !st.started;
    st.started = 1;
    bool new_full = false;
    if (st.forced_full != 0 && st.phase != RAI_HYBRID_PHASE_WARMUP) {
        const uint32_t len = st.forced_full;
        st.forced_full = 0;
        enter_full(len, false, losses, t);
        t.forced = true;
        new_full = true;
    } else {
        switch (st.phase) {
        case RAI_HYBRID_PHASE_WARMUP:
            if (st.recorded >= cfg.warmup) {
                enter_full(0, true, losses, t);
                new_full = true;
            }
            break;
        case RAI_HYBRID_PHASE_FULL:
            if (st.ps >= st.full_end) {
                if (cfg.confidence_threshold > 0.0f && !(confidence >= cfg.confidence_threshold)) {
                    enter_full(0, false, losses, t);  // stay in FULL for another block
                    t.gate_blocked = true;
                    new_full = true;
                } else {
                    enter_predict(t);
                }
            }
            break;
        case RAI_HYBRID_PHASE_PREDICT:
            if (st.ps > 0 && st.ps % cfg.correct_every == 0) {
                st.phase = RAI_HYBRID_PHASE_CORRECT;
            } else if (needs_correction) {
                st.phase = RAI_HYBRID_PHASE_CORRECT;
            } else if (cfg.max_consecutive_predict != 0 && st.consecutive_predict >= cfg.max_consecutive_predict) {
                st.phase = RAI_HYBRID_PHASE_CORRECT;
            } else if (st.ps >= st.predict_end) {
                enter_full(0, false, losses, t);
                new_full = true;
            }
            break;
        case RAI_HYBRID_PHASE_CORRECT:
            if (st.predict_end > st.ps) {
                enter_predict(t);
            } else {
                enter_full(0, false, losses, t);
                new_full = true;
            }
            break;
        default:
            break;
        }
    }
    t.phase = st.phase;
    t.changed = first || st.phase != prev || new_full;
    return t;
}

void Schedule::end() {
    ++st.ps;
    if (st.phase == RAI_HYBRID_PHASE_PREDICT) ++st.consecutive_predict;
    else st.consecutive_predict = 0;
}

void Schedule::force_full(uint32_t steps) { st.forced_full = std::max(st.forced_full, steps); }

void Schedule::halve_horizon() {
    if (st.phase == RAI_HYBRID_PHASE_PREDICT || st.phase == RAI_HYBRID_PHASE_CORRECT) {
        const uint64_t rem = st.predict_end > st.ps ? st.predict_end - st.ps : 0;
        st.predict_end = st.ps + rem / 2;
    } else {
        st.halve_pending = 1;
    }
}

uint32_t Schedule::horizon_remaining() const {
    uint64_t r = 0;
    switch (st.phase) {
    case RAI_HYBRID_PHASE_WARMUP: r = cfg.warmup > st.recorded ? cfg.warmup - st.recorded : 0; break;
    case RAI_HYBRID_PHASE_FULL: r = st.full_end > st.ps ? st.full_end - st.ps : 0; break;
    default: r = st.predict_end > st.ps ? st.predict_end - st.ps : 0; break;
    }
    return static_cast<uint32_t>(std::min<uint64_t>(r, UINT32_MAX));
}

}  // namespace rai::train
