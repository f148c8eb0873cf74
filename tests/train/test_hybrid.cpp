// rai_hybrid through the C ABI: the step protocol, schedule counts, predictions in update and
// gradient space, rollback (bitwise), determinism, checkpoints, the callback driver, guard
// actions, and every error path.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "train_test_util.h"

using namespace train_test;

namespace {

class Hybrid : public ::testing::Test {
protected:
    void SetUp() override {
        ctx = make_cpu_context();
        rai_hybrid_params_init(&hp);
    }
    void TearDown() override {
        rai_hybrid_destroy(h);
        rai_optimizer_destroy(opt);
        rai_context_destroy(ctx);
    }
    // A hybrid over `r` with a momentum-SGD optimizer attached (update space).
    void build(Regression &r, int32_t kind = RAI_OPTIMIZER_MOMENTUM, float lr = 0.05f) {
        h = make_hybrid(ctx, hp, r);
        opt = make_optimizer(ctx, kind, lr, r, 0.9f);
        ASSERT_RAI_OK(rai_hybrid_set_optimizer(h, opt));
    }
    rai_hybrid_stats stats() {
        rai_hybrid_stats s;
        rai_hybrid_stats_init(&s);
        EXPECT_EQ(rai_hybrid_get_stats(h, &s), RAI_OK) << rai_last_error_message();
        return s;
    }
    rai_context *ctx = nullptr;
    rai_hybrid_params hp;
    rai_hybrid *h = nullptr;
    rai_optimizer *opt = nullptr;
};

}  // namespace

TEST_F(Hybrid, DefaultCycleCountsThroughTheApi) {
    Regression r;
    hp.flags = RAI_HYBRID_NO_GUARD;  // pure schedule arithmetic
    build(r);
    for (int i = 0; i < 10 + 26 * 4; ++i) protocol_step(h, r);
    const rai_hybrid_stats s = stats();
    EXPECT_EQ(s.steps, 114u);
    EXPECT_EQ(s.warmup_steps, 10u);
    EXPECT_EQ(s.full_steps, 20u);
    EXPECT_EQ(s.predict_steps, 68u);
    EXPECT_EQ(s.correct_steps, 16u);
    EXPECT_EQ(s.backward_passes, 10u + 36u);
    EXPECT_EQ(s.forward_passes, 114u);
    EXPECT_EQ(s.predicted_steps, 68u);
    EXPECT_EQ(s.skipped_steps, 0u);
    EXPECT_EQ(s.cycles, 3u);  // FULL entries after warm-up, minus the first
    EXPECT_EQ(s.update_comparisons, 16u);
    EXPECT_FLOAT_EQ(s.backward_fraction, 46.0f / 114.0f);
    uint64_t t = 0;
    ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t));
    EXPECT_EQ(t, 46u);  // HOLD never steps the optimizer on predicted steps
}

TEST_F(Hybrid, StepInfoDescribesEachStep) {
    Regression r;
    hp.warmup_steps = 2;
    hp.full_steps = 2;
    build(r);
    rai_hybrid_step_info info;
    protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_WARMUP);
    EXPECT_EQ(info.phase_changed, 1);
    EXPECT_EQ(info.needs_backward, 1);
    EXPECT_EQ(info.horizon_remaining, 2u);
    EXPECT_EQ(info.step, 0u);
    EXPECT_TRUE(std::isnan(info.predicted_loss));
    protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase_changed, 0);
    protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_FULL);
    EXPECT_EQ(info.phase_changed, 1);
    EXPECT_FALSE(std::isnan(info.predicted_loss));
    protocol_step(h, r, {}, &info);
    protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_EQ(info.needs_backward, 0);
    EXPECT_EQ(info.needs_forward, 1);
    EXPECT_EQ(info.has_prediction, 1);
    EXPECT_EQ(info.horizon_remaining, 20u);
    EXPECT_EQ(info.cycle, 0u);
}

TEST_F(Hybrid, HoldAppliesTheLastRealUpdateBitwise) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    build(r);
    protocol_step(h, r);  // W
    std::vector<float> before = r.params();
    protocol_step(h, r);  // F: the real update
    std::vector<float> after = r.params();
    std::vector<float> expect(after.size());
    for (size_t i = 0; i < after.size(); ++i) expect[i] = after[i] + 1.0f * (after[i] - before[i]);
    rai_hybrid_step_info info;
    protocol_step(h, r, {}, &info);  // P: p += last update
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_TRUE(bitwise_equal(r.params(), expect));
}

TEST_F(Hybrid, MomentumCoastStepsTheOptimizerWithZeroGradient) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    hp.predictor = RAI_HYBRID_PREDICTOR_MOMENTUM_COAST;
    build(r, RAI_OPTIMIZER_MOMENTUM, 0.1f);
    protocol_step(h, r);  // W: buf = g0, p -= 0.1 g0
    std::vector<float> g0w = r.gw;
    protocol_step(h, r);  // F: buf = 0.9 g0 + g1
    std::vector<float> g1w = r.gw;
    std::vector<float> w = r.w;
    protocol_step(h, r);  // P: buf = 0.9 buf; p -= 0.1 buf
    for (size_t i = 0; i < w.size(); ++i) {
        const float buf = 0.9f * (0.9f * g0w[i] + g1w[i]);
        EXPECT_NEAR(r.w[i], w[i] - 0.1f * buf, 1e-6);
    }
    uint64_t t = 0;
    ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t));
    EXPECT_EQ(t, 3u);
}

TEST_F(Hybrid, MomentumCoastWithAdamWDecaysTheMoments) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    hp.predictor = RAI_HYBRID_PREDICTOR_MOMENTUM_COAST;
    build(r, RAI_OPTIMIZER_ADAMW, 0.01f);
    protocol_step(h, r);  // t = 1 with g0
    const std::vector<float> g0 = r.gw;
    protocol_step(h, r);  // t = 2 with g1
    const std::vector<float> g1 = r.gw, w = r.w;
    protocol_step(h, r);  // t = 3 with g = 0: m = b1 m, v = b2 v, bias corrections of t = 3
    for (size_t i = 0; i < w.size(); ++i) {
        const double b1 = 0.9, b2 = 0.999;
        const double m = b1 * (b1 * (1 - b1) * g0[i] + (1 - b1) * g1[i]);
        const double v = b2 * (b2 * (1 - b2) * g0[i] * g0[i] + (1 - b2) * g1[i] * g1[i]);
        const double step = 0.01 / (1 - b1 * b1 * b1);
        const double denom = std::sqrt(v) / std::sqrt(1 - b2 * b2 * b2) + 1e-8;
        EXPECT_NEAR(r.w[i], w[i] - step * m / denom, 2e-6) << i;
    }
}

TEST_F(Hybrid, SkipLeavesParametersAlone) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    hp.predictor = RAI_HYBRID_PREDICTOR_SKIP;
    build(r);
    protocol_step(h, r);
    protocol_step(h, r);
    std::vector<float> p = r.params();
    rai_hybrid_step_info info;
    rai_hybrid_step_result res = protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_EQ(info.has_prediction, 0);
    EXPECT_TRUE(bitwise_equal(r.params(), p));
    EXPECT_TRUE(std::isnan(res.update_norm));
    EXPECT_EQ(stats().skipped_steps, 1u);
    EXPECT_EQ(stats().predicted_steps, 0u);
}

TEST_F(Hybrid, GradientSpaceWritesPredictedGradients) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    h = make_hybrid(ctx, hp, r);  // no optimizer: the caller owns it
    StepHooks hooks;
    hooks.caller_lr = 0.1f;
    protocol_step(h, r, hooks);
    protocol_step(h, r, hooks);
    std::vector<float> g = r.gw;  // the last real gradient
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    std::fill(r.gw.begin(), r.gw.end(), 123.0f);
    ASSERT_RAI_OK(rai_hybrid_apply_predicted(h));
    EXPECT_TRUE(bitwise_equal(r.gw, g));  // HOLD: the last gradient, written into the grad buffer
    ASSERT_RAI_OK(rai_hybrid_report_loss(h, r.loss_and_grad(info.step, false)));
    ASSERT_RAI_OK(rai_hybrid_end_step(h, nullptr));
    std::string j = metrics(h);
    EXPECT_NE(j.find("\"space\":\"gradient\""), std::string::npos);
}

TEST_F(Hybrid, GetPredictedLeavesParametersAlone) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    build(r);
    protocol_step(h, r);
    std::vector<float> before = r.params();
    protocol_step(h, r);
    std::vector<float> after = r.params();
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    std::vector<float> ow(r.w.size()), ob(r.b.size());
    rai_tensor tw = make_tensor(ow.data(), kF32, r.wshape, 2), tb = make_tensor(ob.data(), kF32, r.bshape, 1);
    const rai_tensor *outs[2] = {&tw, &tb};
    ASSERT_RAI_OK(rai_hybrid_get_predicted(h, outs, 2));
    EXPECT_TRUE(bitwise_equal(r.params(), after));
    for (size_t i = 0; i < ow.size(); ++i) EXPECT_EQ(ow[i], after[i] - before[i]);
    EXPECT_RAI_ERROR(rai_hybrid_apply_predicted(h), RAI_ERROR_INVALID_ARGUMENT, "already");
    ASSERT_RAI_OK(rai_hybrid_end_step(h, nullptr));
}

TEST_F(Hybrid, LossSpikeOnAPredictedStepRollsBackBitwise) {
    Regression r;
    hp.warmup_steps = 5;
    hp.full_steps = 20;
    hp.predict_steps = 10;
    hp.correct_every = 100;
    build(r, RAI_OPTIMIZER_ADAMW, 0.01f);
    std::vector<float> at_entry;
    std::vector<uint8_t> opt_at_entry;
    uint64_t entry_step = 0;
    StepHooks hooks;
    hooks.before_apply = [&](const rai_hybrid_step_info &info) {
        if (info.phase_changed) {
            at_entry = r.params();
            entry_step = info.step;
            size_t n = 0, w = 0;
            ASSERT_RAI_OK(rai_optimizer_state_size(opt, &n));
            opt_at_entry.resize(n);
            ASSERT_RAI_OK(rai_optimizer_state_save(opt, opt_at_entry.data(), n, &w));
        }
    };
    hooks.loss_override = [&](const rai_hybrid_step_info &info, float *loss) {
        if (info.phase == RAI_HYBRID_PHASE_PREDICT && info.phase_step == 3) *loss = 1e6f;  // injected spike
        return true;
    };
    rai_hybrid_step_result res{};
    for (int i = 0; i < 5 + 20 + 4; ++i) res = protocol_step(h, r, hooks);
    ASSERT_EQ(res.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CRITICAL);
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_LOSS_ZSCORE);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_ROLLED_BACK);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_FORCED_FULL);
    EXPECT_EQ(res.rollback_step, entry_step);
    EXPECT_EQ(entry_step, 25u);
    EXPECT_TRUE(bitwise_equal(r.params(), at_entry));  // parameters restored bit for bit
    size_t n = 0, w = 0;
    ASSERT_RAI_OK(rai_optimizer_state_size(opt, &n));
    std::vector<uint8_t> now(n);
    ASSERT_RAI_OK(rai_optimizer_state_save(opt, now.data(), n, &w));
    EXPECT_EQ(now, opt_at_entry);  // optimizer state too
    const rai_hybrid_stats s = stats();
    EXPECT_EQ(s.rollbacks, 1u);
    EXPECT_EQ(s.critical_events, 1u);
    // The guard forces 2F = 40 FULL steps next.
    rai_hybrid_step_info info;
    protocol_step(h, r, {}, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_FULL);
    EXPECT_EQ(info.horizon_remaining, 40u);
}

TEST_F(Hybrid, RollbackCanScaleTheLearningRate) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 25;
    hp.rollback_lr_scale = 0.5f;
    build(r, RAI_OPTIMIZER_SGD, 0.05f);
    StepHooks hooks;
    hooks.loss_override = [&](const rai_hybrid_step_info &info, float *loss) {
        if (info.phase == RAI_HYBRID_PHASE_PREDICT) *loss = 1e9f;
        return true;
    };
    for (int i = 0; i < 27; ++i) protocol_step(h, r, hooks);
    float lr = 0;
    ASSERT_RAI_OK(rai_optimizer_get_lr(opt, &lr));
    EXPECT_FLOAT_EQ(lr, 0.025f);
}

TEST_F(Hybrid, NanLossIsRefusedAndRolledBack) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 2;
    build(r);
    for (int i = 0; i < 3; ++i) protocol_step(h, r);
    std::vector<float> at_entry = r.params();
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    ASSERT_RAI_OK(rai_hybrid_apply_predicted(h));
    EXPECT_FALSE(bitwise_equal(r.params(), at_entry));
    EXPECT_RAI_ERROR(rai_hybrid_report_loss(h, NAN), RAI_ERROR_INVALID_ARGUMENT, "loss is nan");
    rai_hybrid_step_result res;
    rai_hybrid_step_result_init(&res);
    ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CRITICAL);
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_NONFINITE);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_ROLLED_BACK);
    EXPECT_TRUE(bitwise_equal(r.params(), at_entry));
}

TEST_F(Hybrid, NonFiniteRecordUpdatesNothing) {
    Regression r;
    build(r);
    protocol_step(h, r);
    std::vector<float> p = r.params();
    uint64_t t0 = 0, t1 = 0;
    ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t0));
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    r.loss_and_grad(info.step);
    EXPECT_RAI_ERROR(rai_hybrid_record_gradients(h, INFINITY), RAI_ERROR_INVALID_ARGUMENT, "nothing was updated");
    EXPECT_TRUE(bitwise_equal(r.params(), p));
    ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t1));
    EXPECT_EQ(t0, t1);
    rai_hybrid_step_result res;
    rai_hybrid_step_result_init(&res);
    ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CRITICAL);
    EXPECT_FALSE(res.events & RAI_HYBRID_EVENT_ROLLED_BACK);  // no snapshot in warm-up
    // A NaN gradient is refused the same way.
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    r.loss_and_grad(info.step);
    r.gb[0] = NAN;
    EXPECT_RAI_ERROR(rai_hybrid_record_gradients(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "gradient norm");
    EXPECT_TRUE(bitwise_equal(r.params(), p));
    ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
}

TEST_F(Hybrid, NoSnapshotMeansNoRollback) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    hp.flags = RAI_HYBRID_NO_SNAPSHOT;
    build(r);
    protocol_step(h, r);
    protocol_step(h, r);
    StepHooks hooks;
    hooks.loss_override = [](const rai_hybrid_step_info &, float *loss) {
        *loss = NAN;
        return true;
    };
    rai_hybrid_step_result res = protocol_step(h, r, hooks);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_DIVERGENCE_CRITICAL);
    EXPECT_FALSE(res.events & RAI_HYBRID_EVENT_ROLLED_BACK);
    EXPECT_EQ(stats().state_bytes, (36u + 2u * 32u) * 4u);  // HOLD (36 floats) + 2 scratch (32 each)
}

TEST_F(Hybrid, CautionHalvesAndWarningEndsThePredictPhase) {
    // Constant losses: loss EMA 1, sigma = its floor 0.01 * 1, so z = (L - 1) / 0.01.
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 25;
    hp.predict_steps = 20;
    hp.correct_every = 100;
    build(r, RAI_OPTIMIZER_SGD, 0.02f);
    float next = 1.0f;
    StepHooks hooks;
    hooks.loss_override = [&](const rai_hybrid_step_info &, float *loss) {
        *loss = next;
        return true;
    };
    for (int i = 0; i < 26; ++i) protocol_step(h, r, hooks);  // W + 25 FULL
    rai_hybrid_step_info info;
    next = 1.025f;  // z = 2.5: Caution (> 0.7 * 3)
    rai_hybrid_step_result res = protocol_step(h, r, hooks, &info);
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    ASSERT_EQ(info.horizon_remaining, 20u);
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CAUTION);
    EXPECT_NEAR(res.loss_zscore, 2.5f, 0.01f);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_DIVERGENCE_CAUTION);
    next = 1.04f;  // z ~ 4: Warning (> 3)
    res = protocol_step(h, r, hooks, &info);
    EXPECT_EQ(info.horizon_remaining, 9u);  // 19 left, halved
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_WARNING);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_FORCED_FULL);
    next = 1.0f;
    protocol_step(h, r, hooks, &info);
    EXPECT_EQ(info.phase, RAI_HYBRID_PHASE_FULL);
    EXPECT_EQ(info.horizon_remaining, 50u);  // 2F
    const rai_hybrid_stats s = stats();
    EXPECT_EQ(s.caution_events, 1u);
    EXPECT_EQ(s.warning_events, 1u);
    EXPECT_EQ(s.rollbacks, 0u);
}

TEST_F(Hybrid, ForecastErrorSignalOnPredictSteps) {
    // Constant losses make the loss model forecast exactly 1; a wide sigma keeps the z-score quiet.
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 25;
    hp.correct_every = 100;
    hp.guard_sigma = 1000.0f;
    build(r, RAI_OPTIMIZER_SGD, 0.02f);
    float next = 1.0f;
    StepHooks hooks;
    hooks.loss_override = [&](const rai_hybrid_step_info &, float *loss) {
        *loss = next;
        return true;
    };
    for (int i = 0; i < 26; ++i) protocol_step(h, r, hooks);
    next = 1.3f;  // |1.3 - 1| / 1.3 = 0.23 > 0.2
    rai_hybrid_step_info info;
    rai_hybrid_step_result res = protocol_step(h, r, hooks, &info);
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_NEAR(res.predicted_loss, 1.0f, 1e-6f);
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CAUTION);
    EXPECT_EQ(res.divergence_signals, RAI_HYBRID_SIGNAL_PREDICTION_ERROR);
    next = 2.5f;  // 0.6 > 0.5 (against a forecast that has moved a little towards 1.3)
    res = protocol_step(h, r, hooks, &info);
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_WARNING);
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_PREDICTION_ERROR);
}

TEST_F(Hybrid, ConfidenceGateBlocksPredictWhenTheLossModelIsUnsure) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 2;
    hp.confidence_threshold = 0.999f;  // unreachable with minibatch noise
    build(r);
    for (int i = 0; i < 30; ++i) protocol_step(h, r);
    const rai_hybrid_stats s = stats();
    EXPECT_EQ(s.predict_steps, 0u);
    EXPECT_GT(s.gate_blocks, 5u);
    EXPECT_GT(s.confidence, 0.0f);
    EXPECT_LT(s.confidence, 0.999f);
}

TEST_F(Hybrid, PredictForwardEvery) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    hp.predict_forward_every = 2;
    hp.correct_every = 100;
    build(r);
    int forwards = 0, predicts = 0;
    for (int i = 0; i < 12; ++i) {
        rai_hybrid_step_info info;
        protocol_step(h, r, {}, &info);
        if (info.phase == RAI_HYBRID_PHASE_PREDICT) {
            ++predicts;
            forwards += info.needs_forward;
        }
    }
    EXPECT_EQ(predicts, 10);
    EXPECT_EQ(forwards, 5);
    EXPECT_EQ(stats().forward_passes, 2u + 5u);
}

namespace {

// The whole state (parameters and optimizer included) of `h`, as rai_hybrid_state_save writes it.
std::vector<uint8_t> saved_state(rai_hybrid *h) {
    const uint32_t flags = RAI_HYBRID_STATE_PARAMS | RAI_HYBRID_STATE_OPTIMIZER;
    size_t need = 0, written = 0;
    EXPECT_EQ(rai_hybrid_state_size(h, flags, &need), RAI_OK) << rai_last_error_message();
    std::vector<uint8_t> blob(need);
    EXPECT_EQ(rai_hybrid_state_save(h, flags, blob.data(), blob.size(), &written), RAI_OK) << rai_last_error_message();
    EXPECT_EQ(written, need);
    return blob;
}


// One seeded run of `steps` protocol steps on a fresh Regression with AdamW (lr 0.01): what the
// determinism tests compare between two runs.
struct SeededRun {
    std::string json;
    std::vector<float> params;
    std::vector<uint8_t> state;
};

SeededRun seeded_run(rai_context *ctx, const rai_hybrid_params &p, int steps) {
    SeededRun out;
    Regression r;
    rai_hybrid *hh = make_hybrid(ctx, p, r);
    rai_optimizer *oo = make_optimizer(ctx, RAI_OPTIMIZER_ADAMW, 0.01f, r);
    EXPECT_EQ(rai_hybrid_set_optimizer(hh, oo), RAI_OK) << rai_last_error_message();
    for (int i = 0; i < steps; ++i) protocol_step(hh, r);
    out.json = metrics(hh);
    out.params = r.params();
    out.state = saved_state(hh);
    rai_hybrid_destroy(hh);
    rai_optimizer_destroy(oo);
    return out;
}

}  // namespace

TEST_F(Hybrid, SameSeedRunsGiveIdenticalMetricsJson) {
    for (int32_t pred : {RAI_HYBRID_PREDICTOR_SKIP, RAI_HYBRID_PREDICTOR_HOLD, RAI_HYBRID_PREDICTOR_MOMENTUM_COAST,
                         RAI_HYBRID_PREDICTOR_EMA, RAI_HYBRID_PREDICTOR_WLS_LINEAR,
                         RAI_HYBRID_PREDICTOR_LOW_RANK_TREND}) {
        rai_hybrid_params p;
        rai_hybrid_params_init(&p);
        p.predictor = pred;
        p.schedule = RAI_HYBRID_SCHEDULE_ADAPTIVE;
        p.confidence_threshold = 0.5f;
        const SeededRun a = seeded_run(ctx, p, 150), b = seeded_run(ctx, p, 150);
        EXPECT_EQ(a.json, b.json) << "predictor " << pred;
        EXPECT_TRUE(bitwise_equal(a.params, b.params)) << "predictor " << pred;
        EXPECT_NE(a.json.find("\"backward_passes\""), std::string::npos);
    }
}

TEST_F(Hybrid, MetricsJsonTimingsOnlyWhenAsked) {
    Regression r;
    build(r);
    for (int i = 0; i < 3; ++i) protocol_step(h, r);
    EXPECT_EQ(metrics(h).find("\"seconds\""), std::string::npos);
    EXPECT_NE(metrics(h, RAI_HYBRID_JSON_TIMINGS).find("\"seconds\""), std::string::npos);
    char *j = reinterpret_cast<char *>(0x1);
    EXPECT_RAI_ERROR(rai_hybrid_metrics_json(h, 8, &j), RAI_ERROR_INVALID_ARGUMENT, "flags");
    EXPECT_EQ(j, nullptr);
    EXPECT_RAI_ERROR(rai_hybrid_metrics_json(h, 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_json");
}

// Wall times are metrics, not state: two identical seeded runs must save the same bytes, even
// though their measured seconds differ.
TEST_F(Hybrid, SameSeedRunsSaveByteIdenticalStates) {
    for (int32_t pred : {RAI_HYBRID_PREDICTOR_HOLD, RAI_HYBRID_PREDICTOR_EMA, RAI_HYBRID_PREDICTOR_LOW_RANK_TREND}) {
        rai_hybrid_params p;
        rai_hybrid_params_init(&p);
        p.predictor = pred;
        p.schedule = RAI_HYBRID_SCHEDULE_ADAPTIVE;
        p.seed = 1234;
        const SeededRun a = seeded_run(ctx, p, 40), b = seeded_run(ctx, p, 40);
        ASSERT_FALSE(a.state.empty());
        EXPECT_TRUE(a.state == b.state) << "predictor " << pred;
    }
}

// Runs `n` steps, then saves; a second hybrid on a fresh model loads the state and both continue:
// metrics and parameters must stay identical.
TEST_F(Hybrid, StateSaveLoadResumesIdentically) {
    for (int32_t pred : {RAI_HYBRID_PREDICTOR_HOLD, RAI_HYBRID_PREDICTOR_MOMENTUM_COAST, RAI_HYBRID_PREDICTOR_EMA,
                         RAI_HYBRID_PREDICTOR_WLS_LINEAR, RAI_HYBRID_PREDICTOR_LOW_RANK_TREND}) {
        for (int split : {17, 33}) {  // inside a PREDICT phase (snapshot held), and at a CORRECT
            Regression a;
            rai_hybrid_params p;
            rai_hybrid_params_init(&p);
            p.predictor = pred;
            p.schedule = RAI_HYBRID_SCHEDULE_ADAPTIVE;
            rai_hybrid *ha = make_hybrid(ctx, p, a);
            rai_optimizer *oa = make_optimizer(ctx, RAI_OPTIMIZER_ADAMW, 0.01f, a);
            ASSERT_RAI_OK(rai_hybrid_set_optimizer(ha, oa));
            for (int i = 0; i < split; ++i) protocol_step(ha, a);
            const uint32_t flags = RAI_HYBRID_STATE_PARAMS | RAI_HYBRID_STATE_OPTIMIZER;
            size_t need = 0, written = 0;
            ASSERT_RAI_OK(rai_hybrid_state_size(ha, flags, &need));
            std::vector<uint8_t> blob(need);
            ASSERT_RAI_OK(rai_hybrid_state_save(ha, flags, blob.data(), blob.size(), &written));
            ASSERT_EQ(written, need);

            Regression b;  // zero parameters: everything comes from the blob
            rai_hybrid *hb = make_hybrid(ctx, p, b);
            rai_optimizer *ob = make_optimizer(ctx, RAI_OPTIMIZER_ADAMW, 0.01f, b);
            ASSERT_RAI_OK(rai_hybrid_set_optimizer(hb, ob));
            ASSERT_RAI_OK(rai_hybrid_state_load(hb, blob.data(), blob.size()));
            EXPECT_TRUE(bitwise_equal(a.params(), b.params()));
            EXPECT_EQ(metrics(ha), metrics(hb));
            StepHooks spike;  // include a rollback after the split
            spike.loss_override = [](const rai_hybrid_step_info &info, float *loss) {
                if (info.step == 60) *loss *= 100.0f;
                return true;
            };
            for (int i = split; i < 120; ++i) {
                protocol_step(ha, a, spike);
                protocol_step(hb, b, spike);
            }
            EXPECT_EQ(metrics(ha), metrics(hb)) << "predictor " << pred << " split " << split;
            EXPECT_TRUE(bitwise_equal(a.params(), b.params())) << "predictor " << pred << " split " << split;
            EXPECT_TRUE(saved_state(ha) == saved_state(hb)) << "predictor " << pred << " split " << split;
            rai_hybrid_destroy(ha);
            rai_hybrid_destroy(hb);
            rai_optimizer_destroy(oa);
            rai_optimizer_destroy(ob);
        }
    }
}

TEST_F(Hybrid, StateErrors) {
    Regression r;
    build(r);
    size_t need = 0, written = 0;
    EXPECT_RAI_ERROR(rai_hybrid_state_size(h, 0, &need), RAI_ERROR_INVALID_ARGUMENT, "before the first");
    for (int i = 0; i < 3; ++i) protocol_step(h, r);
    EXPECT_RAI_ERROR(rai_hybrid_state_size(h, 4, &need), RAI_ERROR_INVALID_ARGUMENT, "flags");
    ASSERT_RAI_OK(rai_hybrid_state_size(h, 0, &need));
    std::vector<uint8_t> blob(need);
    EXPECT_RAI_ERROR(rai_hybrid_state_save(h, 0, blob.data(), need - 1, &written), RAI_ERROR_BUFFER_TOO_SMALL,
                     "needs " + std::to_string(need));
    EXPECT_EQ(written, need);
    written = 0;
    EXPECT_RAI_ERROR(rai_hybrid_state_save(h, 0, nullptr, 0, &written), RAI_ERROR_BUFFER_TOO_SMALL, "needs");
    EXPECT_EQ(written, need);
    ASSERT_RAI_OK(rai_hybrid_state_save(h, 0, blob.data(), need, &written));

    const std::string before = metrics(h);
    std::vector<uint8_t> bad = blob;
    bad[30] ^= 0x10;
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h, bad.data(), bad.size()), RAI_ERROR_FORMAT, "checksum");
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h, blob.data(), 5), RAI_ERROR_FORMAT, "truncated");
    std::vector<uint8_t> opt_blob(64, 0);
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h, nullptr, 3), RAI_ERROR_INVALID_ARGUMENT, "buffer");
    // Another version (with a valid checksum): 1 (which saved wall times) and a future one.
    for (uint8_t version : {1, 9}) {
        bad = blob;
        bad[8] = version;
        uint64_t hs = 1469598103934665603ull;
        for (size_t i = 0; i + 8 < bad.size(); ++i) {
            hs ^= bad[i];
            hs *= 1099511628211ull;
        }
        for (int i = 0; i < 8; ++i) bad[bad.size() - 8 + i] = static_cast<uint8_t>(hs >> (8 * i));
        EXPECT_RAI_ERROR(rai_hybrid_state_load(h, bad.data(), bad.size()), RAI_ERROR_UNSUPPORTED,
                         "version " + std::to_string(version));
    }
    EXPECT_EQ(metrics(h), before);  // failed loads changed nothing

    // Another predictor, another space, other sizes.
    Regression r2;
    rai_hybrid_params p2;
    rai_hybrid_params_init(&p2);
    p2.predictor = RAI_HYBRID_PREDICTOR_EMA;
    rai_hybrid *h2 = make_hybrid(ctx, p2, r2);
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h2, blob.data(), blob.size()), RAI_ERROR_INVALID_ARGUMENT, "predictor");
    rai_hybrid_destroy(h2);
    rai_hybrid *h3 = make_hybrid(ctx, hp, r2);  // no optimizer
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h3, blob.data(), blob.size()), RAI_ERROR_INVALID_ARGUMENT, "optimizer");
    rai_hybrid_destroy(h3);
    rai_hybrid *h4 = nullptr;
    ASSERT_RAI_OK(rai_hybrid_create(ctx, &hp, &h4));
    float x[3], gx[3];
    int64_t s3[1] = {3};
    rai_tensor tx = make_tensor(x, kF32, s3, 1), tgx = make_tensor(gx, kF32, s3, 1);
    ASSERT_RAI_OK(rai_hybrid_add_param(h4, "x", &tx, &tgx, nullptr));
    rai_optimizer *o4 = nullptr;
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    ASSERT_RAI_OK(rai_optimizer_create(ctx, &op, &o4));
    ASSERT_RAI_OK(rai_optimizer_add_param(o4, "x", &tx, &tgx, nullptr));
    ASSERT_RAI_OK(rai_hybrid_set_optimizer(h4, o4));
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h4, blob.data(), blob.size()), RAI_ERROR_SHAPE_MISMATCH, "tensors");
    rai_hybrid_destroy(h4);
    rai_optimizer_destroy(o4);

    // Optimizer state requested without an optimizer; inside a step.
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    EXPECT_RAI_ERROR(rai_hybrid_state_save(h, 0, blob.data(), need, &written), RAI_ERROR_INVALID_ARGUMENT, "inside a step");
    EXPECT_RAI_ERROR(rai_hybrid_state_load(h, blob.data(), blob.size()), RAI_ERROR_INVALID_ARGUMENT, "inside a step");
    ASSERT_RAI_OK(rai_hybrid_abort_step(h));
}

TEST_F(Hybrid, ProtocolErrorsChangeNothing) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    build(r);
    EXPECT_RAI_ERROR(rai_hybrid_record_gradients(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "protocol: record_gradients before begin_step");
    EXPECT_RAI_ERROR(rai_hybrid_apply_predicted(h), RAI_ERROR_INVALID_ARGUMENT, "protocol");
    EXPECT_RAI_ERROR(rai_hybrid_report_loss(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "protocol");
    EXPECT_RAI_ERROR(rai_hybrid_end_step(h, nullptr), RAI_ERROR_INVALID_ARGUMENT, "protocol: end_step before begin_step");
    EXPECT_RAI_ERROR(rai_hybrid_abort_step(h), RAI_ERROR_INVALID_ARGUMENT, "protocol");
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));  // WARMUP: needs backward
    EXPECT_RAI_ERROR(rai_hybrid_begin_step(h, &info), RAI_ERROR_INVALID_ARGUMENT, "protocol: begin_step while step 0");
    EXPECT_RAI_ERROR(rai_hybrid_apply_predicted(h), RAI_ERROR_INVALID_ARGUMENT, "on a warmup step");
    EXPECT_RAI_ERROR(rai_hybrid_report_loss(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "record_gradients");
    EXPECT_RAI_ERROR(rai_hybrid_end_step(h, nullptr), RAI_ERROR_INVALID_ARGUMENT, "without record_gradients");
    r.loss_and_grad(0);
    ASSERT_RAI_OK(rai_hybrid_record_gradients(h, 1.0f));
    EXPECT_RAI_ERROR(rai_hybrid_record_gradients(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "twice");
    ASSERT_RAI_OK(rai_hybrid_end_step(h, nullptr));
    // Registration is closed now.
    float x[2], gx[2];
    int64_t s2[1] = {2};
    rai_tensor tx = make_tensor(x, kF32, s2, 1), tgx = make_tensor(gx, kF32, s2, 1);
    EXPECT_RAI_ERROR(rai_hybrid_add_param(h, "late", &tx, &tgx, nullptr), RAI_ERROR_INVALID_ARGUMENT, "first step");
    EXPECT_RAI_ERROR(rai_hybrid_set_optimizer(h, opt), RAI_ERROR_INVALID_ARGUMENT, "protocol");
    protocol_step(h, r);  // FULL
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));  // PREDICT
    ASSERT_EQ(info.phase, RAI_HYBRID_PHASE_PREDICT);
    EXPECT_RAI_ERROR(rai_hybrid_record_gradients(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "PREDICT step");
    ASSERT_RAI_OK(rai_hybrid_report_loss(h, 1.0f));
    EXPECT_RAI_ERROR(rai_hybrid_apply_predicted(h), RAI_ERROR_INVALID_ARGUMENT, "after report_loss");
    EXPECT_RAI_ERROR(rai_hybrid_report_loss(h, 1.0f), RAI_ERROR_INVALID_ARGUMENT, "twice");
    ASSERT_RAI_OK(rai_hybrid_end_step(h, nullptr));
    // The attached optimizer cannot be stepped or extended on its own.
    EXPECT_RAI_ERROR(rai_optimizer_step(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "attached");
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "late", &tx, &tgx, nullptr), RAI_ERROR_INVALID_ARGUMENT, "attached");
}

TEST_F(Hybrid, AbortStepForgetsAStepWhereNothingHappened) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    build(r);
    protocol_step(h, r);
    protocol_step(h, r);
    const std::string before = metrics(h);
    rai_hybrid_step_info a, b;
    rai_hybrid_step_info_init(&a);
    rai_hybrid_step_info_init(&b);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &a));
    ASSERT_RAI_OK(rai_hybrid_abort_step(h));
    EXPECT_EQ(metrics(h), before);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &b));
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.phase, b.phase);
    EXPECT_EQ(a.phase_changed, b.phase_changed);
    ASSERT_RAI_OK(rai_hybrid_apply_predicted(h));
    ASSERT_RAI_OK(rai_hybrid_abort_step(h));  // something happened: ends the step without a loss
    EXPECT_EQ(stats().steps, 3u);
    EXPECT_EQ(stats().predicted_steps, 1u);
}

TEST_F(Hybrid, ArgumentErrors) {
    rai_hybrid *x = reinterpret_cast<rai_hybrid *>(0x1);
    EXPECT_RAI_ERROR(rai_hybrid_create(nullptr, nullptr, &x), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_EQ(x, nullptr);
    EXPECT_RAI_ERROR(rai_hybrid_create(ctx, nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    struct Bad {
        const char *field;
        void (*set)(rai_hybrid_params &);
    };
    const Bad bad[] = {
        {"schedule", [](rai_hybrid_params &p) { p.schedule = 2; }},
        {"predictor", [](rai_hybrid_params &p) { p.predictor = 7; }},
        {"loss_model", [](rai_hybrid_params &p) { p.loss_model = -1; }},
        {"flags", [](rai_hybrid_params &p) { p.flags = 0x100; }},
        {"predict_scale", [](rai_hybrid_params &p) { p.predict_scale = -1; }},
        {"predict_scale", [](rai_hybrid_params &p) { p.predict_scale = 5; }},
        {"ema_decay", [](rai_hybrid_params &p) { p.ema_decay = 1; }},
        {"wls_window", [](rai_hybrid_params &p) { p.wls_window = 15; }},
        {"wls_decay", [](rai_hybrid_params &p) { p.wls_decay = 2; }},
        {"wls_residual_rate", [](rai_hybrid_params &p) { p.wls_residual_rate = 1; }},
        {"wls_residual_threshold", [](rai_hybrid_params &p) { p.wls_residual_threshold = -1; }},
        {"lowrank_rank", [](rai_hybrid_params &p) { p.lowrank_rank = 65; }},
        {"confidence_threshold", [](rai_hybrid_params &p) { p.confidence_threshold = 1; }},
        {"adaptive_min_full", [](rai_hybrid_params &p) { p.adaptive_min_full = 40; }},
        {"adaptive_min_predict", [](rai_hybrid_params &p) { p.adaptive_min_predict = 60; }},
        {"adaptive_loss_threshold", [](rai_hybrid_params &p) { p.adaptive_loss_threshold = -0.1f; }},
        {"guard_sigma", [](rai_hybrid_params &p) { p.guard_sigma = -3; }},
        {"guard_grad_explode", [](rai_hybrid_params &p) { p.guard_grad_explode = 0.5f; }},
        {"guard_grad_vanish", [](rai_hybrid_params &p) { p.guard_grad_vanish = 2; }},
        {"guard_sigma_floor", [](rai_hybrid_params &p) { p.guard_sigma_floor = -1; }},
        {"rollback_lr_scale", [](rai_hybrid_params &p) { p.rollback_lr_scale = 2; }},
        {"guard_forecast_caution", [](rai_hybrid_params &p) { p.guard_forecast_caution = -1; }},
        {"guard_forecast_warning", [](rai_hybrid_params &p) { p.guard_forecast_warning = 0.1f; }},
        {"reserved0", [](rai_hybrid_params &p) { p.reserved0 = 1; }},
    };
    for (const Bad &b : bad) {
        rai_hybrid_params p;
        rai_hybrid_params_init(&p);
        b.set(p);
        EXPECT_RAI_ERROR(rai_hybrid_create(ctx, &p, &x), RAI_ERROR_INVALID_ARGUMENT, b.field);
    }
    rai_hybrid_params p;
    rai_hybrid_params_init(&p);
    p.struct_size = 8;
    EXPECT_RAI_ERROR(rai_hybrid_create(ctx, &p, &x), RAI_ERROR_STRUCT_SIZE, "struct_size");

    ASSERT_RAI_OK(rai_hybrid_create(ctx, nullptr, &h));
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    EXPECT_RAI_ERROR(rai_hybrid_begin_step(h, &info), RAI_ERROR_INVALID_ARGUMENT, "no parameters");
    EXPECT_RAI_ERROR(rai_hybrid_begin_step(h, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    info.struct_size = 4;
    EXPECT_RAI_ERROR(rai_hybrid_begin_step(h, &info), RAI_ERROR_STRUCT_SIZE, "struct_size");
    Regression r;
    float m[32], gm[32];
    int64_t s48[2] = {4, 8}, s84[2] = {8, 4};
    rai_tensor tm = make_tensor(m, kF32, s48, 2), tg = make_tensor(gm, kF32, s84, 2);
    EXPECT_RAI_ERROR(rai_hybrid_add_param(h, "m", &tm, &tg, nullptr), RAI_ERROR_SHAPE_MISMATCH, "grad");
    EXPECT_RAI_ERROR(rai_hybrid_add_param(nullptr, "m", &tm, &tg, nullptr), RAI_ERROR_INVALID_ARGUMENT, "h");
    EXPECT_RAI_ERROR(rai_hybrid_set_optimizer(h, nullptr), RAI_ERROR_INVALID_ARGUMENT, "opt");
    EXPECT_RAI_ERROR(rai_hybrid_get_stats(h, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_EQ(rai_hybrid_phase_name(RAI_HYBRID_PHASE_CORRECT), std::string("correct"));
    EXPECT_EQ(rai_hybrid_phase_name(9), nullptr);
    rai_hybrid_destroy(nullptr);
}

TEST_F(Hybrid, SetOptimizerChecksTheTensors) {
    Regression r, other;
    h = make_hybrid(ctx, hp, r);
    rai_optimizer *wrong = make_optimizer(ctx, RAI_OPTIMIZER_SGD, 0.1f, other);
    EXPECT_RAI_ERROR(rai_hybrid_set_optimizer(h, wrong), RAI_ERROR_SHAPE_MISMATCH, "same order");
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    rai_optimizer *empty = nullptr;
    ASSERT_RAI_OK(rai_optimizer_create(ctx, &op, &empty));
    EXPECT_RAI_ERROR(rai_hybrid_set_optimizer(h, empty), RAI_ERROR_SHAPE_MISMATCH, "registered tensors");
    opt = make_optimizer(ctx, RAI_OPTIMIZER_SGD, 0.1f, r);
    ASSERT_RAI_OK(rai_hybrid_set_optimizer(h, opt));
    EXPECT_RAI_ERROR(rai_hybrid_set_optimizer(h, opt), RAI_ERROR_INVALID_ARGUMENT, "already attached");
    rai_hybrid *h2 = make_hybrid(ctx, hp, other);
    rai_hybrid_destroy(h2);
    // Destroying the hybrid detaches the optimizer: it can step on its own again.
    rai_hybrid_destroy(h);
    h = nullptr;
    r.loss_and_grad(0);
    EXPECT_EQ(rai_optimizer_step(opt, nullptr), RAI_OK) << rai_last_error_message();
    rai_optimizer_destroy(wrong);
    rai_optimizer_destroy(empty);
}

TEST_F(Hybrid, DestroyingTheAttachedOptimizerFirstIsRefusedNotACrash) {
    Regression r;
    build(r);
    protocol_step(h, r);
    rai_optimizer_destroy(opt);  // a misuse: the optimizer is borrowed by h
    opt = nullptr;
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    EXPECT_RAI_ERROR(rai_hybrid_begin_step(h, &info), RAI_ERROR_INVALID_ARGUMENT, "optimizer was destroyed");
    size_t n = 0;
    EXPECT_RAI_ERROR(rai_hybrid_state_size(h, 0, &n), RAI_ERROR_INVALID_ARGUMENT, "optimizer was destroyed");
    rai_hybrid_stats s;
    rai_hybrid_stats_init(&s);
    EXPECT_EQ(rai_hybrid_get_stats(h, &s), RAI_OK);  // read-only calls still work
    EXPECT_EQ(s.steps, 1u);
}

TEST_F(Hybrid, GetPredictedChecksItsOutputs) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 1;
    build(r);
    protocol_step(h, r);
    protocol_step(h, r);
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    std::vector<float> ow(32), ob(4);
    int64_t wrong[2] = {8, 4};
    rai_tensor tw = make_tensor(ow.data(), kF32, wrong, 2), tb = make_tensor(ob.data(), kF32, r.bshape, 1);
    const rai_tensor *outs[2] = {&tw, &tb};
    EXPECT_RAI_ERROR(rai_hybrid_get_predicted(h, outs, 2), RAI_ERROR_SHAPE_MISMATCH, "out[0]");
    EXPECT_RAI_ERROR(rai_hybrid_get_predicted(h, outs, 1), RAI_ERROR_INVALID_ARGUMENT, "registered");
    EXPECT_RAI_ERROR(rai_hybrid_get_predicted(h, nullptr, 2), RAI_ERROR_INVALID_ARGUMENT, "out");
    tw = make_tensor(ow.data(), kI32, r.wshape, 2);
    EXPECT_RAI_ERROR(rai_hybrid_get_predicted(h, outs, 2), RAI_ERROR_DTYPE_MISMATCH, "out[0]");
    tw = make_tensor(ow.data(), kF32, r.wshape, 2);
    ASSERT_RAI_OK(rai_hybrid_get_predicted(h, outs, 2));
    ASSERT_RAI_OK(rai_hybrid_end_step(h, nullptr));
}

namespace {

struct DriverUser {
    Regression *r;
    int fail_at = -1;
    float caller_lr = 0;
    int events = 0;
};

int32_t cb_backward(void *u, uint64_t step, float *loss) {
    auto *d = static_cast<DriverUser *>(u);
    if (static_cast<int>(step) == d->fail_at) return 5;
    *loss = d->r->loss_and_grad(step);
    return 0;
}
int32_t cb_forward(void *u, uint64_t step, float *loss) {
    auto *d = static_cast<DriverUser *>(u);
    *loss = d->r->loss_and_grad(step, false);
    return 0;
}
int32_t cb_apply(void *u, uint64_t, const rai_tensor *const *grads, size_t n) {
    auto *d = static_cast<DriverUser *>(u);
    if (n != 2 || grads[0]->data != d->r->gw.data() || grads[1]->ndim != 1) return 1;
    caller_sgd(*d->r, d->caller_lr);
    return 0;
}
int32_t cb_on_step(void *u, const rai_hybrid_step_result *res) {
    auto *d = static_cast<DriverUser *>(u);
    if (res->events & RAI_HYBRID_EVENT_PHASE_CHANGED) ++d->events;
    return 0;
}

}  // namespace

TEST_F(Hybrid, CallbackDriverMatchesTheManualProtocol) {
    for (int own = 0; own < 2; ++own) {
        Regression a, b;
        rai_hybrid *ha = make_hybrid(ctx, hp, a), *hb = make_hybrid(ctx, hp, b);
        rai_optimizer *oa = nullptr, *ob = nullptr;
        StepHooks hooks;
        if (own) {
            oa = make_optimizer(ctx, RAI_OPTIMIZER_MOMENTUM, 0.05f, a, 0.9f);
            ob = make_optimizer(ctx, RAI_OPTIMIZER_MOMENTUM, 0.05f, b, 0.9f);
            ASSERT_RAI_OK(rai_hybrid_set_optimizer(ha, oa));
            ASSERT_RAI_OK(rai_hybrid_set_optimizer(hb, ob));
        } else {
            hooks.caller_lr = 0.05f;
        }
        for (int i = 0; i < 80; ++i) protocol_step(ha, a, hooks);
        DriverUser u{&b};
        u.caller_lr = 0.05f;
        rai_hybrid_callbacks cb{};
        cb.struct_size = sizeof cb;
        cb.backward = cb_backward;
        cb.forward = cb_forward;
        cb.apply_update = own ? nullptr : cb_apply;
        cb.on_step = cb_on_step;
        uint64_t done = 0;
        ASSERT_RAI_OK(rai_hybrid_run_steps(hb, &cb, &u, 80, &done));
        EXPECT_EQ(done, 80u);
        EXPECT_GT(u.events, 3);
        EXPECT_EQ(metrics(ha), metrics(hb)) << "own optimizer " << own;
        EXPECT_TRUE(bitwise_equal(a.params(), b.params())) << "own optimizer " << own;
        rai_hybrid_destroy(ha);
        rai_hybrid_destroy(hb);
        rai_optimizer_destroy(oa);
        rai_optimizer_destroy(ob);
    }
}

TEST_F(Hybrid, CallbackDriverCancelsAndValidates) {
    Regression r;
    build(r);
    DriverUser u{&r};
    u.fail_at = 4;
    rai_hybrid_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.backward = cb_backward;
    cb.forward = cb_forward;
    uint64_t done = 99;
    EXPECT_RAI_ERROR(rai_hybrid_run_steps(h, &cb, &u, 10, &done), RAI_ERROR_CANCELLED, "backward returned 5");
    EXPECT_EQ(done, 4u);
    EXPECT_EQ(stats().steps, 4u);  // the failed step never happened
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));  // and no step is left open
    EXPECT_EQ(info.step, 4u);
    ASSERT_RAI_OK(rai_hybrid_abort_step(h));
    cb.forward = nullptr;
    EXPECT_RAI_ERROR(rai_hybrid_run_steps(h, &cb, &u, 1, nullptr), RAI_ERROR_INVALID_ARGUMENT, "forward");
    cb.forward = cb_forward;
    cb.struct_size = 8;
    EXPECT_RAI_ERROR(rai_hybrid_run_steps(h, &cb, &u, 1, nullptr), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_hybrid_run_steps(h, nullptr, &u, 1, nullptr), RAI_ERROR_INVALID_ARGUMENT, "callbacks");
    Regression r2;
    rai_hybrid *h2 = make_hybrid(ctx, hp, r2);
    cb.struct_size = sizeof cb;
    EXPECT_RAI_ERROR(rai_hybrid_run_steps(h2, &cb, &u, 1, nullptr), RAI_ERROR_INVALID_ARGUMENT, "apply_update");
    rai_hybrid_destroy(h2);
}

TEST_F(Hybrid, CallbackDriverHandlesANanLossThroughTheGuard) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 2;
    build(r);
    struct U {
        Regression *r;
    } u{&r};
    rai_hybrid_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.backward = [](void *p, uint64_t step, float *loss) -> int32_t {
        *loss = static_cast<U *>(p)->r->loss_and_grad(step);
        return 0;
    };
    cb.forward = [](void *, uint64_t, float *loss) -> int32_t {
        *loss = NAN;
        return 0;
    };
    ASSERT_RAI_OK(rai_hybrid_run_steps(h, &cb, &u, 5, nullptr));
    EXPECT_EQ(stats().rollbacks, 1u);
}

TEST_F(Hybrid, GradExplosionIsAWarning) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 30;
    hp.guard_baseline_steps = 5;
    build(r, RAI_OPTIMIZER_SGD, 0.001f);
    for (int i = 0; i < 8; ++i) protocol_step(h, r);
    StepHooks hooks;
    rai_hybrid_step_info info;
    rai_hybrid_step_info_init(&info);
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    const float loss = r.loss_and_grad(info.step);
    for (float &g : r.gw) g *= 500.0f;
    ASSERT_RAI_OK(rai_hybrid_record_gradients(h, loss));
    rai_hybrid_step_result res;
    rai_hybrid_step_result_init(&res);
    ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_GRAD_EXPLODE);
    EXPECT_GE(res.divergence_level, RAI_HYBRID_DIVERGENCE_WARNING);
    EXPECT_TRUE(res.events & RAI_HYBRID_EVENT_FORCED_FULL);
    // Vanishing.
    ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
    r.loss_and_grad(info.step);
    for (float &g : r.gw) g *= 1e-4f;
    for (float &g : r.gb) g *= 1e-4f;
    ASSERT_RAI_OK(rai_hybrid_record_gradients(h, 0.5f));
    ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_GRAD_VANISH);
}

TEST_F(Hybrid, ThreeWarningsInARowEscalateToCritical) {
    Regression r;
    hp.warmup_steps = 1;
    hp.full_steps = 30;
    hp.guard_baseline_steps = 5;
    build(r, RAI_OPTIMIZER_SGD, 0.001f);
    for (int i = 0; i < 8; ++i) protocol_step(h, r);
    rai_hybrid_step_result res;
    rai_hybrid_step_result_init(&res);
    for (int k = 0; k < 3; ++k) {
        rai_hybrid_step_info info;
        rai_hybrid_step_info_init(&info);
        ASSERT_RAI_OK(rai_hybrid_begin_step(h, &info));
        const float loss = r.loss_and_grad(info.step);
        for (float &g : r.gw) g *= 500.0f;
        ASSERT_RAI_OK(rai_hybrid_record_gradients(h, loss));
        ASSERT_RAI_OK(rai_hybrid_end_step(h, &res));
    }
    EXPECT_EQ(res.divergence_level, RAI_HYBRID_DIVERGENCE_CRITICAL);
    EXPECT_TRUE(res.divergence_signals & RAI_HYBRID_SIGNAL_ESCALATED);
}
