// Every predictor's arithmetic against hand-computed values (internal API, CPU reference ops).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/ops.h"
#include "train/predictor.h"

using namespace rai::train;

namespace {

std::vector<Slot> slots_of(std::vector<std::vector<int64_t>> shapes) {
    std::vector<Slot> v;
    for (auto &s : shapes) {
        Slot sl;
        sl.shape = s;
        sl.n = 1;
        for (int64_t d : s) sl.n *= static_cast<size_t>(d);
        sl.name = "t" + std::to_string(v.size());
        v.push_back(sl);
    }
    return v;
}

PredictorConfig cfg(int32_t kind) {
    PredictorConfig c;
    c.kind = kind;
    return c;
}

}  // namespace

TEST(Predictor, SkipAndCoastPredictNothing) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{3}});
    for (int32_t k : {RAI_HYBRID_PREDICTOR_SKIP, RAI_HYBRID_PREDICTOR_MOMENTUM_COAST}) {
        auto p = make_predictor(cfg(k), *ops, slots);
        const float x[3] = {1, 2, 3};
        p->observe(0, x, 0, false);
        float out[3] = {7, 7, 7};
        EXPECT_FALSE(p->predict(0, 1, 1.0f, out));
        EXPECT_EQ(out[0], 7.0f);
        EXPECT_EQ(p->state_floats(), 0u);
    }
}

TEST(Predictor, HoldRepeatsTheLastValueScaled) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{3}});
    auto p = make_predictor(cfg(RAI_HYBRID_PREDICTOR_HOLD), *ops, slots);
    float out[3];
    EXPECT_FALSE(p->predict(0, 0, 1.0f, out));
    const float a[3] = {1, -2, 3}, b[3] = {0.5f, 0.25f, -1};
    p->observe(0, a, 0, false);
    p->observe(0, b, 1, false);
    ASSERT_TRUE(p->predict(0, 2, 0.5f, out));
    EXPECT_FLOAT_EQ(out[0], 0.25f);
    EXPECT_FLOAT_EQ(out[1], 0.125f);
    EXPECT_FLOAT_EQ(out[2], -0.5f);
    EXPECT_EQ(p->state_floats(), 3u);
}

TEST(Predictor, EmaStartsAtTheFirstValue) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{2}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_EMA);
    c.ema_decay = 0.9f;
    auto p = make_predictor(c, *ops, slots);
    const float a[2] = {1, 10}, b[2] = {3, 0}, d[2] = {-1, 5};
    p->observe(0, a, 0, false);
    p->observe(0, b, 1, false);
    p->observe(0, d, 2, false);
    float out[2];
    ASSERT_TRUE(p->predict(0, 3, 1.0f, out));
    // e1 = a; e2 = 0.9 a + 0.1 b; e3 = 0.9 e2 + 0.1 d
    const double e2_0 = 0.9 * 1 + 0.1 * 3, e2_1 = 0.9 * 10 + 0.1 * 0;
    EXPECT_NEAR(out[0], 0.9 * e2_0 + 0.1 * -1, 1e-6);
    EXPECT_NEAR(out[1], 0.9 * e2_1 + 0.1 * 5, 1e-6);
}

TEST(Predictor, WlsCoefficientsOfTwoPointsGiveTheLine) {
    std::vector<double> alpha, beta;
    ASSERT_TRUE(wls_coefficients({4, 5}, 0.95, alpha, beta));  // t = -1, 0
    // b = x(5), v = x(5) - x(4), whatever the weights
    EXPECT_NEAR(alpha[0], 0.0, 1e-12);
    EXPECT_NEAR(alpha[1], 1.0, 1e-12);
    EXPECT_NEAR(beta[0], -1.0, 1e-12);
    EXPECT_NEAR(beta[1], 1.0, 1e-12);
    // A single entry (det = 0 < 1e-10): fallback.
    EXPECT_FALSE(wls_coefficients({7}, 0.95, alpha, beta));
}

TEST(Predictor, WlsCoefficientsMatchTheWeightedNormalEquations) {
    // Entries at steps 0, 2, 3 (gaps, as FULL and CORRECT steps have), decay 0.95:
    // t = -3, -1, 0; w = 0.95^3, 0.95, 1.
    const double w0 = 0.95 * 0.95 * 0.95, w1 = 0.95, w2 = 1.0;
    const double t0 = -3, t1 = -1, t2 = 0;
    const double s0 = w0 + w1 + w2, s1 = w0 * t0 + w1 * t1, s2 = w0 * t0 * t0 + w1 * t1 * t1;
    const double det = s0 * s2 - s1 * s1;
    std::vector<double> alpha, beta;
    ASSERT_TRUE(wls_coefficients({0, 2, 3}, 0.95, alpha, beta));
    EXPECT_NEAR(alpha[0], w0 * (s2 - s1 * t0) / det, 1e-12);
    EXPECT_NEAR(alpha[1], w1 * (s2 - s1 * t1) / det, 1e-12);
    EXPECT_NEAR(alpha[2], w2 * (s2 - s1 * t2) / det, 1e-12);
    EXPECT_NEAR(beta[0], w0 * (s0 * t0 - s1) / det, 1e-12);
    EXPECT_NEAR(beta[2], w2 * (s0 * t2 - s1) / det, 1e-12);
    // A line is reproduced exactly: x = 2 + 0.5 t.
    double b = 0, v = 0;
    const double x[3] = {2 + 0.5 * t0, 2 + 0.5 * t1, 2 + 0.5 * t2};
    for (int i = 0; i < 3; ++i) {
        b += alpha[i] * x[i];
        v += beta[i] * x[i];
    }
    EXPECT_NEAR(b, 2.0, 1e-12);
    EXPECT_NEAR(v, 0.5, 1e-12);
}

TEST(Predictor, WlsExtrapolatesAndCorrectsLikeVsaOptim) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{2}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_WLS_LINEAR);
    auto p = make_predictor(c, *ops, slots);
    float out[2];
    EXPECT_FALSE(p->predict(0, 0, 1.0f, out));
    // One entry: fallback b = x, v = 0.
    const float x0[2] = {1.0f, -1.0f};
    p->observe(0, x0, 10, false);
    ASSERT_TRUE(p->predict(0, 13, 1.0f, out));
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    EXPECT_FLOAT_EQ(out[1], -1.0f);
    // Two entries on a line (x = 1 + 0.5 (step - 10)): prediction 3 steps on.
    const float x1[2] = {1.5f, -1.25f};
    p->observe(0, x1, 11, false);
    ASSERT_TRUE(p->predict(0, 14, 1.0f, out));
    EXPECT_NEAR(out[0], 1.5f + 0.5f * 3, 1e-6);
    EXPECT_NEAR(out[1], -1.25f - 0.25f * 3, 1e-6);
    // Damping scale.
    ASSERT_TRUE(p->predict(0, 12, 0.5f, out));
    EXPECT_NEAR(out[0], 0.5 * 2.0, 1e-6);
    // CORRECT at step 13 with a real value off the line: r = 0.95*0 + 0.05 (g - (b + v*2)).
    const float g[2] = {3.0f, 0.0f};
    const double base0 = 1.5 + 0.5 * 2, base1 = -1.25 - 0.25 * 2;
    const double r0 = 0.05 * (3.0 - base0), r1 = 0.05 * (0.0 - base1);
    p->observe(0, g, 13, true);
    // Refit on steps 10, 11, 13 (weights 0.95^3, 0.95^2, 1), then predict at step 15 (dt = 2):
    // b + 2 v + r 0.95^2.
    std::vector<double> alpha, beta;
    ASSERT_TRUE(wls_coefficients({10, 11, 13}, 0.95, alpha, beta));
    const double h0[3] = {1.0, 1.5, 3.0}, h1[3] = {-1.0, -1.25, 0.0};
    double b0 = 0, v0 = 0, b1 = 0, v1 = 0;
    for (int i = 0; i < 3; ++i) {
        b0 += alpha[i] * h0[i];
        v0 += beta[i] * h0[i];
        b1 += alpha[i] * h1[i];
        v1 += beta[i] * h1[i];
    }
    ASSERT_TRUE(p->predict(0, 15, 1.0f, out));
    EXPECT_NEAR(out[0], b0 + 2 * v0 + r0 * 0.95 * 0.95, 1e-5);
    EXPECT_NEAR(out[1], b1 + 2 * v1 + r1 * 0.95 * 0.95, 1e-5);
    EXPECT_EQ(p->state_floats(), 2u * (8 + 2 + 3));
}

TEST(Predictor, WlsKeepsWindowPlusTwoEntriesAndCapsDt) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{1}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_WLS_LINEAR);
    c.wls_window = 2;  // 4 entries
    c.wls_max_dt = 3;
    auto p = make_predictor(c, *ops, slots);
    // Old entries far off the line must be forgotten: only the last 4 (a line) count.
    const float junk = 100.0f;
    p->observe(0, &junk, 0, false);
    p->observe(0, &junk, 1, false);
    for (uint64_t s = 2; s < 6; ++s) {
        const float x = static_cast<float>(s);
        p->observe(0, &x, s, false);
    }
    float out = 0;
    ASSERT_TRUE(p->predict(0, 7, 1.0f, &out));
    EXPECT_NEAR(out, 7.0f, 1e-4);
    ASSERT_TRUE(p->predict(0, 50, 1.0f, &out));  // dt capped at 3
    EXPECT_NEAR(out, 8.0f, 1e-4);
}

TEST(Predictor, WlsNeedsCorrectionAfterHorizonOrLargeResidual) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{1}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_WLS_LINEAR);
    c.horizon = 4;
    c.wls_residual_threshold = 0.5f;
    auto p = make_predictor(c, *ops, slots);
    const float x = 0.0f;
    p->observe(0, &x, 0, false);
    EXPECT_FALSE(p->needs_correction(3));
    EXPECT_TRUE(p->needs_correction(4));
    const float big = 20.0f;  // residual 0.05 * 20 = 1 > 0.5
    p->observe(0, &big, 1, true);
    EXPECT_TRUE(p->needs_correction(2));
}

TEST(Predictor, LowRankTrendCapturesARankOneTrendExactly) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{4, 6}, {4}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_LOW_RANK_TREND);
    c.rank = 1;
    c.ema_decay = 0.5f;
    auto p = make_predictor(c, *ops, slots);
    // u = a b^T every step: the EMA is u, rank 1, so P Q^T reproduces it.
    std::vector<float> u(24);
    const float a[4] = {1, -2, 0.5f, 3}, bv[6] = {0.1f, 0.2f, -0.3f, 0.4f, 0, 1};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 6; ++j) u[i * 6 + j] = a[i] * bv[j];
    for (uint64_t s = 0; s < 3; ++s) p->observe(0, u.data(), s, false);
    std::vector<float> out(24);
    ASSERT_TRUE(p->predict(0, 3, 1.0f, out.data()));
    for (int e = 0; e < 24; ++e) EXPECT_NEAR(out[e], u[e], 1e-5) << e;
    // 1-D tensors keep an exact EMA: x1 = 2, x2 = 4, decay 0.5 -> 3.
    const float v1[4] = {2, 2, 2, 2}, v2[4] = {4, 4, 4, 4};
    p->observe(1, v1, 0, false);
    p->observe(1, v2, 1, false);
    float o1[4];
    ASSERT_TRUE(p->predict(1, 2, 1.0f, o1));
    EXPECT_FLOAT_EQ(o1[0], 3.0f);
    EXPECT_EQ(p->state_floats(), 24u /*scratch*/ + 4 + 6 /*P, Q*/ + 4 /*bias EMA*/);
}

TEST(Predictor, LowRankTrendIsTheRankRProjectionOfTheEma) {
    auto ops = make_cpu_ops();
    auto slots = slots_of({{3, 3}});
    PredictorConfig c = cfg(RAI_HYBRID_PREDICTOR_LOW_RANK_TREND);
    c.rank = 1;
    c.ema_decay = 0.9f;
    auto p = make_predictor(c, *ops, slots);
    // A diagonal update diag(3, 1, 0.5): its best rank-1 part is 3 e1 e1^T; power iterations
    // from a random start converge to it.
    std::vector<float> u = {3, 0, 0, 0, 1, 0, 0, 0, 0.5f};
    // One power iteration per observation, so the EMA memory sets the rate: about 0.9 per step.
    for (uint64_t s = 0; s < 200; ++s) p->observe(0, u.data(), s, false);
    std::vector<float> out(9);
    ASSERT_TRUE(p->predict(0, 200, 1.0f, out.data()));
    EXPECT_NEAR(out[0], 3.0f, 1e-3);
    for (int e = 1; e < 9; ++e) EXPECT_NEAR(out[e], 0.0f, 1e-2) << e;
}

TEST(Predictor, OrthonormalizeColumns) {
    std::vector<float> p = {3, 1, 4, 1, 0, 0};  // 3 x 2
    orthonormalize_columns(p, 3, 2);
    double n0 = 0, n1 = 0, d = 0;
    for (int i = 0; i < 3; ++i) {
        n0 += p[i * 2] * p[i * 2];
        n1 += p[i * 2 + 1] * p[i * 2 + 1];
        d += p[i * 2] * p[i * 2 + 1];
    }
    EXPECT_NEAR(n0, 1.0, 1e-6);
    EXPECT_NEAR(n1, 1.0, 1e-6);
    EXPECT_NEAR(d, 0.0, 1e-6);
    std::vector<float> z = {0, 0, 0};  // a vanishing column stays zero
    orthonormalize_columns(z, 3, 1);
    EXPECT_EQ(z[0], 0.0f);
}
