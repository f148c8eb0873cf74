// The phase state machine: vsa-optim's default cycle (26 steps, 9 backward, CORRECT at phase
// steps 5, 10, 15, 20), warm-up counted in recorded steps (no deadlock), the ADAPTIVE rule and
// its bounds, the confidence gate and the guard's actions.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "train/schedule.h"

using namespace rai::train;

namespace {

struct Trace {
    std::vector<int32_t> phases;
    std::vector<uint64_t> ps;
};

// Runs n steps, recording after every step that needs a backward.
Trace run(Schedule &s, int n, const std::deque<float> &losses = {}, float confidence = 1.0f) {
    Trace t;
    for (int i = 0; i < n; ++i) {
        const Transition tr = s.begin(false, confidence, losses);
        t.phases.push_back(tr.phase);
        t.ps.push_back(s.st.ps);
        if (tr.phase != RAI_HYBRID_PHASE_PREDICT) s.on_recorded();
        s.end();
    }
    return t;
}

std::string letters(const std::vector<int32_t> &p, size_t from, size_t n) {
    std::string s;
    for (size_t i = from; i < from + n; ++i) s += "WFPC"[p[i]];
    return s;
}

}  // namespace

TEST(Schedule, DefaultCycleIs26StepsWith9Backward) {
    Schedule s(ScheduleConfig{});
    const Trace t = run(s, 10 + 26 * 3 + 1);
    EXPECT_EQ(letters(t.phases, 0, 10), "WWWWWWWWWW");
    const std::string cycle = "FFFFFPPPPPCPPPPCPPPPCPPPPC";
    ASSERT_EQ(cycle.size(), 26u);
    for (int c = 0; c < 3; ++c) EXPECT_EQ(letters(t.phases, 10 + 26 * c, 26), cycle) << "cycle " << c;
    EXPECT_EQ(t.phases[10 + 26 * 3], RAI_HYBRID_PHASE_FULL);
    // backward passes per cycle: FULL + CORRECT
    int backward = 0;
    for (size_t i = 10; i < 36; ++i) backward += t.phases[i] != RAI_HYBRID_PHASE_PREDICT;
    EXPECT_EQ(backward, 9);
    // CORRECT at phase steps 5, 10, 15, 20 (the modulo rule wins at ps = 20)
    std::vector<uint64_t> correct_ps;
    for (size_t i = 10; i < 36; ++i)
        if (t.phases[i] == RAI_HYBRID_PHASE_CORRECT) correct_ps.push_back(t.ps[i]);
    EXPECT_EQ(correct_ps, (std::vector<uint64_t>{5, 10, 15, 20}));
    EXPECT_EQ(s.st.cycle, 3u);
}

TEST(Schedule, LongWarmupStillEnds) {
    // vsa-optim deadlocks when warmup_steps > history_window + 2 (its readiness is the length of a
    // history capped at 10). rai counts recorded steps.
    ScheduleConfig c;
    c.warmup = 15;
    Schedule s(c);
    const Trace t = run(s, 16);
    for (int i = 0; i < 15; ++i) EXPECT_EQ(t.phases[i], RAI_HYBRID_PHASE_WARMUP);
    EXPECT_EQ(t.phases[15], RAI_HYBRID_PHASE_FULL);
    EXPECT_EQ(s.st.cycle, 0u);  // leaving warm-up does not count as a cycle
}

TEST(Schedule, WarmupWaitsForRecordedSteps) {
    Schedule s(ScheduleConfig{});
    for (int i = 0; i < 30; ++i) {
        EXPECT_EQ(s.begin(false, 1.0f, {}).phase, RAI_HYBRID_PHASE_WARMUP);
        s.end();  // nothing recorded
    }
    EXPECT_EQ(s.horizon_remaining(), 10u);
}

TEST(Schedule, CustomCycle) {
    ScheduleConfig c;
    c.warmup = 2;
    c.full = 3;
    c.predict = 8;
    c.correct_every = 4;
    Schedule s(c);
    const Trace t = run(s, 2 + 3 + 9 + 3);
    EXPECT_EQ(letters(t.phases, 0, t.phases.size()), "WWFFFPPPPCPPPCFFF");
}

TEST(Schedule, PredictorCorrectionRequestForcesCorrect) {
    ScheduleConfig c;
    c.warmup = 1;
    c.full = 1;
    Schedule s(c);
    run(s, 2);  // W, F
    EXPECT_EQ(s.begin(false, 1.0f, {}).phase, RAI_HYBRID_PHASE_PREDICT);
    s.end();
    EXPECT_EQ(s.begin(true, 1.0f, {}).phase, RAI_HYBRID_PHASE_CORRECT);
}

TEST(Schedule, MaxConsecutivePredictForcesCorrect) {
    ScheduleConfig c;
    c.warmup = 1;
    c.full = 1;
    c.max_consecutive_predict = 2;
    Schedule s(c);
    const Trace t = run(s, 2 + 9);
    EXPECT_EQ(letters(t.phases, 2, 9), "PPCPPCPPC");
}

TEST(Schedule, AdaptiveRuleAndBounds) {
    ScheduleConfig c;
    c.adaptive = true;
    std::deque<float> rising, falling, flat;
    for (int i = 0; i < 100; ++i) {
        rising.push_back(1.0f + 0.01f * i);
        falling.push_back(2.0f - 0.01f * i);
        flat.push_back(1.0f);
    }
    Schedule s(c);
    s.adapt(rising);  // late > early * 1.1: F + 2, P - 5
    EXPECT_EQ(s.st.eff_full, 7u);
    EXPECT_EQ(s.st.eff_predict, 15u);
    for (int i = 0; i < 50; ++i) s.adapt(rising);
    EXPECT_EQ(s.st.eff_full, 30u);
    EXPECT_EQ(s.st.eff_predict, 5u);
    s.adapt(flat);  // within the band: unchanged
    EXPECT_EQ(s.st.eff_full, 30u);
    for (int i = 0; i < 100; ++i) s.adapt(falling);  // late < 0.95 early: F - 1, P + 3
    EXPECT_EQ(s.st.eff_full, 3u);
    EXPECT_EQ(s.st.eff_predict, 50u);
    std::deque<float> few(rising.begin(), rising.begin() + 19);  // fewer than 20 losses: no change
    s.adapt(few);
    EXPECT_EQ(s.st.eff_full, 3u);

    ScheduleConfig fixed;
    Schedule f(fixed);
    f.adapt(rising);
    EXPECT_EQ(f.st.eff_full, 5u);  // FIXED never adapts
}

TEST(Schedule, AdaptiveAppliesOnEnteringFull) {
    ScheduleConfig c;
    c.adaptive = true;
    c.warmup = 1;
    std::deque<float> falling;
    for (int i = 0; i < 30; ++i) falling.push_back(2.0f - 0.05f * i);
    Schedule s(c);
    run(s, 2, falling);  // W, then F: entering FULL adapts once
    EXPECT_EQ(s.st.eff_full, 4u);
    EXPECT_EQ(s.st.eff_predict, 23u);
}

TEST(Schedule, AdaptiveBoundsAreConfigurable) {
    ScheduleConfig c;
    c.adaptive = true;
    c.min_full = 4;
    c.max_full = 6;
    c.min_predict = 10;
    c.max_predict = 12;
    std::deque<float> rising;
    for (int i = 0; i < 40; ++i) rising.push_back(1.0f + 0.1f * i);
    Schedule s(c);
    EXPECT_EQ(s.st.eff_predict, 12u);  // initial P clamped into the bounds
    for (int i = 0; i < 5; ++i) s.adapt(rising);
    EXPECT_EQ(s.st.eff_full, 6u);
    EXPECT_EQ(s.st.eff_predict, 10u);
}

TEST(Schedule, ConfidenceGateKeepsFull) {
    ScheduleConfig c;
    c.warmup = 1;
    c.full = 2;
    c.confidence_threshold = 0.8f;
    Schedule s(c);
    Trace t = run(s, 1 + 6, {}, 0.5f);
    EXPECT_EQ(letters(t.phases, 0, 7), "WFFFFFF");
    EXPECT_EQ(s.st.cycle, 2u);  // two blocked FULL blocks were started
    const Transition tr = s.begin(false, 0.9f, {});
    EXPECT_EQ(tr.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_TRUE(tr.entered_predict);
}

TEST(Schedule, GuardActions) {
    ScheduleConfig c;
    c.warmup = 1;
    c.full = 2;
    c.predict = 20;
    c.correct_every = 100;
    Schedule s(c);
    run(s, 3);  // W F F
    EXPECT_EQ(s.begin(false, 1.0f, {}).phase, RAI_HYBRID_PHASE_PREDICT);
    s.end();  // ps = 1
    s.halve_horizon();  // 19 remaining -> 9
    EXPECT_EQ(s.horizon_remaining(), 9u);
    s.force_full(4);
    const Transition tr = s.begin(false, 1.0f, {});
    EXPECT_EQ(tr.phase, RAI_HYBRID_PHASE_FULL);
    EXPECT_TRUE(tr.forced);
    EXPECT_EQ(s.horizon_remaining(), 4u);
    // A Caution outside PREDICT halves the next predict phase.
    s.halve_horizon();
    for (int i = 0; i < 4; ++i) {
        s.on_recorded();
        s.end();
        if (i < 3) s.begin(false, 1.0f, {});
    }
    EXPECT_EQ(s.begin(false, 1.0f, {}).phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_EQ(s.horizon_remaining(), 10u);
}
