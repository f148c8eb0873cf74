// BitNet b1.58 quantization: absmean weights, absmax activations, RMSNorm + quantize, STE.
// Test vectors from the reference (ternary-vsa-bitnet.md section 4).
#include <cfloat>
#include <cmath>
#include <limits>

#include "../../../src/quant/bitnet/bitnet.h"
#include "bitnet_test_util.h"

namespace {

rai_bitnet_weight_params wparams(int32_t gran, uint64_t group = 0, int32_t eps_mode = 0, int32_t round_mode = 0) {
    rai_bitnet_weight_params p;
    EXPECT_EQ(rai_bitnet_weight_params_init(&p), RAI_OK);
    p.granularity = gran;
    p.group_size = group;
    p.eps_mode = eps_mode;
    p.round_mode = round_mode;
    return p;
}

rai_bitnet_act_params aparams(int32_t bits = 0, int32_t mode = 0, int32_t round_mode = 0, int32_t per_tensor = 0) {
    rai_bitnet_act_params p;
    EXPECT_EQ(rai_bitnet_act_params_init(&p), RAI_OK);
    p.bits = bits;
    p.scale_mode = mode;
    p.round_mode = round_mode;
    p.per_tensor = per_tensor;
    return p;
}

}  // namespace

// ------------------------------------------------------------------ params

TEST(BitnetParams, InitGivesZeroDefaultsAndChecksStructSize) {
    rai_bitnet_weight_params w;
    std::memset(&w, 0xff, sizeof w);
    ASSERT_RAI_OK(rai_bitnet_weight_params_init(&w));
    EXPECT_EQ(w.struct_size, sizeof w);
    EXPECT_EQ(w.granularity, RAI_BITNET_GRANULARITY_GROUP);
    EXPECT_EQ(w.group_size, 0u);
    EXPECT_EQ(w.eps_mode, RAI_BITNET_EPS_RUST);
    EXPECT_EQ(w.round_mode, RAI_BITNET_ROUND_HALF_AWAY);
    EXPECT_EQ(w.eps, 0.0f);
    EXPECT_RAI_ERROR(rai_bitnet_weight_params_init_sized(&w, 4), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_bitnet_weight_params_init_sized(nullptr, sizeof w), RAI_ERROR_INVALID_ARGUMENT, "params");
    rai_bitnet_act_params a;
    ASSERT_RAI_OK(rai_bitnet_act_params_init(&a));
    EXPECT_EQ(a.bits, 0);
    EXPECT_EQ(a.per_tensor, 0);
    rai_ternary_weight_info info;
    ASSERT_RAI_OK(rai_ternary_weight_info_init(&info));
    EXPECT_EQ(info.struct_size, sizeof info);
}

TEST(BitnetParams, StructSizeBelowFirstReleaseIsRefused) {
    CpuCtx ctx;
    F32 w = f32({1, 4}, {1, 2, 3, 4});
    I8 t = i8({1, 4});
    F32 s = f32({1});
    rai_bitnet_weight_params p = wparams(RAI_BITNET_GRANULARITY_TENSOR);
    p.struct_size = 4;
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &p, &w, &t, &s), RAI_ERROR_STRUCT_SIZE, "params->struct_size");
}

// ------------------------------------------------------------------ weights

TEST(BitnetWeights, Group4ReferenceVector) {
    CpuCtx ctx;
    F32 w = f32({1, 4}, {1.0f, -1.0f, 0.5f, -0.5f});
    I8 t = i8({1, 4});
    F32 s = f32({1, 1});
    rai_bitnet_weight_params p = wparams(RAI_BITNET_GRANULARITY_GROUP, 4);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &w, &t, &s));
    EXPECT_FLOAT_EQ(s[0], 0.75f);
    EXPECT_EQ(t.data, (std::vector<int8_t>{1, -1, 1, -1}));
}

TEST(BitnetWeights, DefaultIsGroup64AndScaleCountIsOutTimesInOverG) {
    CpuCtx ctx;
    F32 w = randn({64, 128}, 1);
    I8 t = i8({64, 128});
    F32 s = f32({64, 2});  // 128 scales
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, nullptr, &w, &t, &s));
    // Scale of each group is the mean |w| of the group.
    for (int64_t r = 0; r < 64; ++r)
        for (int64_t g = 0; g < 2; ++g) {
            double sum = 0;
            for (int64_t c = g * 64; c < (g + 1) * 64; ++c) sum += std::fabs(w[static_cast<size_t>(r * 128 + c)]);
            EXPECT_FLOAT_EQ(s[static_cast<size_t>(r * 2 + g)], static_cast<float>(sum / 64));
        }
    F32 wrong = f32({128});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &w, &t, &wrong), RAI_ERROR_SHAPE_MISMATCH, "scales");
}

TEST(BitnetWeights, EveryGranularityMatchesAnIndependentComputation) {
    CpuCtx ctx;
    const int64_t rows = 7, cols = 96;
    F32 w = randn({rows, cols}, 2, 0.3f);
    struct Case {
        int32_t gran;
        uint64_t group;
        std::vector<int64_t> sshape;
    } cases[] = {{RAI_BITNET_GRANULARITY_TENSOR, 0, {1}},
                 {RAI_BITNET_GRANULARITY_ROW, 0, {rows}},
                 {RAI_BITNET_GRANULARITY_GROUP, 32, {rows, 3}},
                 {RAI_BITNET_GRANULARITY_GROUP, 3, {rows, 32}},
                 {RAI_BITNET_GRANULARITY_GROUP, 96, {rows, 1}}};
    for (const Case &cs : cases) {
        for (int32_t eps_mode : {RAI_BITNET_EPS_RUST, RAI_BITNET_EPS_CLAMP}) {
            rai_bitnet_weight_params p = wparams(cs.gran, cs.group, eps_mode);
            I8 t = i8({rows, cols});
            F32 s = f32(cs.sshape);
            ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &w, &t, &s));
            const int64_t gsz = cs.gran == RAI_BITNET_GRANULARITY_GROUP ? static_cast<int64_t>(cs.group) : cols;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) {
                    const size_t si = scale_index(cs.sshape, rows, cols, r, c);
                    // recompute the granule mean
                    double sum = 0;
                    int64_t count = 0;
                    for (int64_t rr = 0; rr < rows; ++rr)
                        for (int64_t cc = 0; cc < cols; ++cc)
                            if (scale_index(cs.sshape, rows, cols, rr, cc) == si) {
                                sum += std::fabs(w[static_cast<size_t>(rr * cols + cc)]);
                                ++count;
                            }
                    (void)gsz;
                    const float mean = static_cast<float>(sum / count);
                    ASSERT_FLOAT_EQ(s[si], mean);
                    const float v = w[static_cast<size_t>(r * cols + c)];
                    const float q = eps_mode == RAI_BITNET_EPS_RUST ? std::round(v / mean) : std::round(v * (1.0f / mean));
                    ASSERT_EQ(t[static_cast<size_t>(r * cols + c)], static_cast<int8_t>(std::fmax(-1.f, std::fmin(1.f, q))));
                }
        }
    }
}

TEST(BitnetWeights, ZeroGranuleAndEpsModes) {
    CpuCtx ctx;
    F32 w = f32({2, 4}, {0, 0, 0, 0, 1e-7f, -1e-7f, 0, 0});
    I8 t = i8({2, 4});
    F32 s = f32({2});
    rai_bitnet_weight_params rust = wparams(RAI_BITNET_GRANULARITY_ROW);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &rust, &w, &t, &s));
    EXPECT_EQ(s[0], 1.0f);  // Rust: an all-zero granule gets scale 1.0
    EXPECT_FLOAT_EQ(s[1], 5e-8f);
    EXPECT_EQ(t.data, (std::vector<int8_t>{0, 0, 0, 0, 1, -1, 0, 0}));
    rai_bitnet_weight_params clamp = wparams(RAI_BITNET_GRANULARITY_ROW, 0, RAI_BITNET_EPS_CLAMP);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &clamp, &w, &t, &s));
    EXPECT_EQ(s[0], 1e-5f);  // official: max(mean, 1e-5)
    EXPECT_EQ(s[1], 1e-5f);
    EXPECT_EQ(t.data, (std::vector<int8_t>{0, 0, 0, 0, 0, 0, 0, 0}));
    clamp.eps = 1e-9f;
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &clamp, &w, &t, &s));
    EXPECT_EQ(s[0], 1e-9f);
    EXPECT_FLOAT_EQ(s[1], 5e-8f);
    clamp.eps = -1.0f;
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &clamp, &w, &t, &s), RAI_ERROR_INVALID_ARGUMENT, "params->eps");
}

TEST(BitnetWeights, OfficialParityScaleIsOneOverClampedMean) {
    // bitnet.cpp utils: s = 1 / clamp(mean|W|, 1e-5); W~ = clamp(round(W * s), -1, 1) per tensor.
    CpuCtx ctx;
    F32 w = randn({16, 64}, 3, 0.02f);
    I8 t = i8({16, 64});
    F32 s = f32({1});
    rai_bitnet_weight_params p =
        wparams(RAI_BITNET_GRANULARITY_TENSOR, 0, RAI_BITNET_EPS_CLAMP, RAI_BITNET_ROUND_HALF_EVEN);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &w, &t, &s));
    double sum = 0;
    for (float v : w.data) sum += std::fabs(v);
    const float mean = static_cast<float>(sum / static_cast<double>(w.size()));
    const float official_s = 1.0f / std::fmax(mean, 1e-5f);
    EXPECT_FLOAT_EQ(1.0f / s[0], official_s);
    for (size_t i = 0; i < w.size(); ++i)
        ASSERT_EQ(t[i], static_cast<int8_t>(std::fmax(-1.f, std::fmin(1.f, std::nearbyint(w[i] * official_s)))));
}

TEST(BitnetWeights, RoundingModesDifferOnlyOnTies) {
    CpuCtx ctx;
    // mean |w| = 1: w / scale = w, so +-0.5 are exact ties and 1.5 rounds to 2 -> clamped 1.
    F32 w = f32({1, 4}, {2.0f, 0.5f, -0.5f, 1.0f});
    I8 t = i8({1, 4});
    F32 s = f32({1});
    rai_bitnet_weight_params away = wparams(RAI_BITNET_GRANULARITY_TENSOR);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &away, &w, &t, &s));
    EXPECT_EQ(s[0], 1.0f);
    EXPECT_EQ(t.data, (std::vector<int8_t>{1, 1, -1, 1}));
    rai_bitnet_weight_params even = wparams(RAI_BITNET_GRANULARITY_TENSOR, 0, 0, RAI_BITNET_ROUND_HALF_EVEN);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &even, &w, &t, &s));
    EXPECT_EQ(t.data, (std::vector<int8_t>{1, 0, 0, 1}));
}

// 40 columns (two SIMD blocks of 16 and a scalar tail) of exact ties: mean |w| is exactly 1, so
// w / scale = w * (1 / scale) = w in both eps modes.
TEST(BitnetWeights, TiesRoundByModeAcrossBlockAndTail) {
    CpuCtx ctx;
    const float pattern[4] = {0.5f, -0.5f, 1.5f, -1.5f};
    F32 w = f32({2, 40});
    for (size_t i = 0; i < w.size(); ++i) w[i] = pattern[(i * 3 + i / 40) % 4];
    for (int32_t eps_mode : {RAI_BITNET_EPS_RUST, RAI_BITNET_EPS_CLAMP})
        for (int32_t round_mode : {RAI_BITNET_ROUND_HALF_AWAY, RAI_BITNET_ROUND_HALF_EVEN}) {
            rai_bitnet_weight_params p = wparams(RAI_BITNET_GRANULARITY_ROW, 0, eps_mode, round_mode);
            I8 t = i8({2, 40});
            F32 s = f32({2});
            ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &w, &t, &s));
            EXPECT_EQ(s[0], 1.0f);
            EXPECT_EQ(s[1], 1.0f);
            for (size_t i = 0; i < w.size(); ++i) {
                const float v = w[i];
                const int8_t want = std::fabs(v) == 1.5f ? (v > 0 ? 1 : -1)
                                    : round_mode == RAI_BITNET_ROUND_HALF_EVEN ? 0 : (v > 0 ? 1 : -1);
                ASSERT_EQ(t[i], want) << "eps " << eps_mode << " round " << round_mode << " at " << i;
            }
        }
}

TEST(BitnetWeights, Bf16AndF16InputsAreAccepted) {
    CpuCtx ctx;
    const std::vector<float> v = {1.0f, -1.0f, 0.5f, -0.5f};
    Host<uint16_t> wb({1, 4}, kBF16);
    Host<uint16_t> wh({1, 4}, kF16);
    for (size_t i = 0; i < 4; ++i) wb[i] = to_bf16(v[i]);
    wh.data = {0x3c00, 0xbc00, 0x3800, 0xb800};  // 1, -1, 0.5, -0.5 in f16
    wh.t.data = wh.data.data();
    I8 t = i8({1, 4});
    F32 s = f32({1, 1});
    rai_bitnet_weight_params p = wparams(RAI_BITNET_GRANULARITY_GROUP, 4);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &wb, &t, &s));
    EXPECT_EQ(t.data, (std::vector<int8_t>{1, -1, 1, -1}));
    EXPECT_FLOAT_EQ(s[0], 0.75f);
    std::fill(t.data.begin(), t.data.end(), 0);
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &p, &wh, &t, &s));
    EXPECT_EQ(t.data, (std::vector<int8_t>{1, -1, 1, -1}));
}

TEST(BitnetWeights, ErrorsNameTheArgument) {
    CpuCtx ctx;
    F32 w = randn({4, 100}, 4);
    I8 t = i8({4, 100});
    F32 s = f32({4, 1});
    // 100 input features, group 64: INVALID (the reference's INVALID_CONFIG)
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &w, &t, &s), RAI_ERROR_INVALID_ARGUMENT,
                     "group_size 64 does not divide in = 100");
    F32 w128 = randn({4, 128}, 5);
    I8 t128 = i8({4, 128});
    F32 s2 = f32({4, 2});
    rai_bitnet_weight_params g65 = wparams(RAI_BITNET_GRANULARITY_GROUP, 65);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &g65, &w128, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "group_size 65");
    // 1-D and 3-D weights
    F32 w1 = randn({128}, 6);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &w1, &t128, &s2), RAI_ERROR_SHAPE_MISMATCH,
                     "w: expected 2 dimensions");
    F32 w3 = randn({2, 4, 128}, 7);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &w3, &t128, &s2), RAI_ERROR_SHAPE_MISMATCH,
                     "w: expected 2 dimensions");
    rai_bitnet_weight_params bad = wparams(7);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &bad, &w128, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "params->granularity");
    bad = wparams(0, 0, 5);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &bad, &w128, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "params->eps_mode");
    bad = wparams(0, 0, 0, 9);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, &bad, &w128, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "params->round_mode");
    I8 t_wrong = i8({4, 127});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &w128, &t_wrong, &s2), RAI_ERROR_SHAPE_MISMATCH,
                     "trits");
    F32 wnan = randn({4, 128}, 8);
    wnan[130] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &wnan, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "w[1, 2] is not finite");
    I32 wint = i32({4, 128});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &wint, &t128, &s2), RAI_ERROR_DTYPE_MISMATCH, "w");
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(nullptr, nullptr, &w128, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT,
                     "ctx");
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, nullptr, &t128, &s2), RAI_ERROR_INVALID_ARGUMENT, "w");
    // Strided (transposed) input
    const int64_t strides[2] = {1, 4};
    rai_tensor wt = w128.t;
    wt.strides = strides;
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &wt, &t128, &s2), RAI_ERROR_LAYOUT, "w");
    // Device tensors on a CPU context
    rai_tensor wd = w128.t;
    wd.device = {RAI_DEVICE_CUDA, 0};
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(ctx, nullptr, &wd, &t128, &s2), RAI_ERROR_DEVICE_MISMATCH, "w");
    // A failing call writes nothing.
    std::fill(t128.data.begin(), t128.data.end(), 5);
    wnan[130] = std::numeric_limits<float>::infinity();
    EXPECT_NE(rai_bitnet_quantize_weights(ctx, nullptr, &wnan, &t128, &s2), RAI_OK);
    for (int8_t v : t128.data) ASSERT_EQ(v, 5);
}

TEST(BitnetWeights, DequantizeReferenceVectorAndErrors) {
    CpuCtx ctx;
    I8 t = i8({2, 2}, {1, 0, -1, 1});
    F32 s = f32({2}, {2.0f, 0.5f});
    F32 w = f32({2, 2});
    ASSERT_RAI_OK(rai_bitnet_dequantize_weights(ctx, &t, &s, &w));
    EXPECT_EQ(w.data, (std::vector<float>{2.0f, 0.0f, -0.5f, 0.5f}));
    // group scales [2, 2]: each column its own scale
    F32 sg = f32({2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
    ASSERT_RAI_OK(rai_bitnet_dequantize_weights(ctx, &t, &sg, &w));
    EXPECT_EQ(w.data, (std::vector<float>{1.0f, 0.0f, -3.0f, 4.0f}));
    F32 st = f32({1}, {3.0f});
    ASSERT_RAI_OK(rai_bitnet_dequantize_weights(ctx, &t, &st, &w));
    EXPECT_EQ(w.data, (std::vector<float>{3.0f, 0.0f, -3.0f, 3.0f}));
    F32 sbad = f32({3});
    EXPECT_RAI_ERROR(rai_bitnet_dequantize_weights(ctx, &t, &sbad, &w), RAI_ERROR_SHAPE_MISMATCH,
                     "scales: shape [3] is not a scale layout");
    I8 tbad = i8({2, 2}, {1, 2, 0, 0});
    EXPECT_RAI_ERROR(rai_bitnet_dequantize_weights(ctx, &tbad, &s, &w), RAI_ERROR_INVALID_ARGUMENT,
                     "trits[0, 1] is 2, expected -1, 0 or +1");
}

// ------------------------------------------------------------------ activations

TEST(BitnetActivations, ZeroInputGivesZeroCodesAndUnitScales) {
    CpuCtx ctx;
    F32 x = f32({4, 128});
    I8 q = i8({4, 128});
    F32 s = f32({4});
    std::fill(q.data.begin(), q.data.end(), 9);
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x, &q, &s));
    for (int8_t v : q.data) ASSERT_EQ(v, 0);
    for (float v : s.data) EXPECT_EQ(v, 1.0f);
}

TEST(BitnetActivations, ShapesAndRangeAndFakeQuantError) {
    CpuCtx ctx;
    F32 x2 = randn({4, 128}, 10);
    I8 q2 = i8({4, 128});
    F32 s2 = f32({4});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x2, &q2, &s2));
    F32 x3 = randn({2, 16, 128}, 11);
    I8 q3 = i8({2, 16, 128});
    F32 s3 = f32({32});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x3, &q3, &s3));
    F32 s3b = f32({2, 16});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x3, &q3, &s3b));
    EXPECT_EQ(s3.data, s3b.data);
    F32 xd = f32({2, 16, 128});
    ASSERT_RAI_OK(rai_bitnet_dequantize_activations(ctx, nullptr, &q3, &s3, &xd));
    float max_err = 0;
    for (size_t i = 0; i < x3.size(); ++i) {
        ASSERT_GE(q3[i], -127);
        ASSERT_LE(q3[i], 127);
        max_err = std::fmax(max_err, std::fabs(xd[i] - x3[i]));
    }
    EXPECT_LT(max_err, 0.1f);
    // the Rust convention: stored scale = absmax / 127, q = round(x / scale)
    for (int64_t r = 0; r < 32; ++r) {
        float amax = 0;
        for (int64_t i = 0; i < 128; ++i) amax = std::fmax(amax, std::fabs(x3[static_cast<size_t>(r * 128 + i)]));
        ASSERT_EQ(s3[static_cast<size_t>(r)], amax / 127.0f);
        for (int64_t i = 0; i < 128; ++i) {
            const size_t k = static_cast<size_t>(r * 128 + i);
            ASSERT_EQ(q3[k], static_cast<int8_t>(std::round(x3[k] / s3[static_cast<size_t>(r)])));
        }
    }
    F32 s_bad = f32({31});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, nullptr, &x3, &q3, &s_bad), RAI_ERROR_SHAPE_MISMATCH,
                     "scales: expected one scale per token");
    I8 q_bad = i8({2, 16, 127});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, nullptr, &x3, &q_bad, &s3), RAI_ERROR_SHAPE_MISMATCH, "q");
}

TEST(BitnetActivations, OfficialModeStoresQmaxOverAbsmaxAndClampsToMinus128) {
    CpuCtx ctx;
    F32 x = randn({3, 64}, 12);
    x[5] = -100.0f;  // the absmax of row 0 is negative: q = -127 there
    I8 q = i8({3, 64});
    F32 s = f32({3});
    rai_bitnet_act_params p = aparams(8, RAI_BITNET_ACT_OFFICIAL, RAI_BITNET_ROUND_HALF_EVEN);
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &p, &x, &q, &s));
    for (int64_t r = 0; r < 3; ++r) {
        float amax = 0;
        for (int64_t i = 0; i < 64; ++i) amax = std::fmax(amax, std::fabs(x[static_cast<size_t>(r * 64 + i)]));
        const float sr = 127.0f / std::fmax(amax, 1e-5f);
        ASSERT_EQ(s[static_cast<size_t>(r)], sr);
        for (int64_t i = 0; i < 64; ++i) {
            const size_t k = static_cast<size_t>(r * 64 + i);
            ASSERT_EQ(q[k], static_cast<int8_t>(std::fmax(-128.f, std::fmin(127.f, std::nearbyint(x[k] * sr)))));
        }
    }
    EXPECT_EQ(q[5], -127);
    F32 xd = f32({3, 64});
    ASSERT_RAI_OK(rai_bitnet_dequantize_activations(ctx, &p, &q, &s, &xd));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(xd[i], static_cast<float>(q[i]) / s[i / 64]);
    // all-zero token: s = 127 / 1e-5
    F32 z = f32({1, 8});
    I8 qz = i8({1, 8});
    F32 sz = f32({1});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &p, &z, &qz, &sz));
    EXPECT_EQ(sz[0], 127.0f / 1e-5f);
}

TEST(BitnetActivations, BitsTwoToEightAndPerTensor) {
    CpuCtx ctx;
    F32 x = randn({5, 40}, 13);
    for (int32_t bits = 2; bits <= 8; ++bits) {
        const int qmax = (1 << (bits - 1)) - 1;
        I8 q = i8({5, 40});
        F32 s = f32({5});
        rai_bitnet_act_params p = aparams(bits);
        ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &p, &x, &q, &s));
        int seen_max = 0;
        for (int8_t v : q.data) {
            ASSERT_LE(std::abs(v), qmax);
            seen_max = std::max(seen_max, std::abs(static_cast<int>(v)));
        }
        EXPECT_EQ(seen_max, qmax) << "bits " << bits;  // the absmax element maps to +-Qmax
    }
    for (int32_t bad : {1, 9, -3}) {
        I8 q = i8({5, 40});
        F32 s = f32({5});
        rai_bitnet_act_params p = aparams(bad);
        EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, &p, &x, &q, &s), RAI_ERROR_INVALID_ARGUMENT,
                         "params->bits");
    }
    rai_bitnet_act_params pt = aparams(8, 0, 0, 1);
    I8 q = i8({5, 40});
    F32 s1 = f32({1});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &pt, &x, &q, &s1));
    float amax = 0;
    for (float v : x.data) amax = std::fmax(amax, std::fabs(v));
    EXPECT_EQ(s1[0], amax / 127.0f);
    F32 s5 = f32({5});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, &pt, &x, &q, &s5), RAI_ERROR_SHAPE_MISMATCH,
                     "per_tensor takes one scale");
}

TEST(BitnetActivations, TiesRoundByMode) {
    CpuCtx ctx;
    F32 x = f32({1, 4}, {127.0f, 0.5f, -0.5f, 2.5f});  // scale 1: exact ties
    I8 q = i8({1, 4});
    F32 s = f32({1});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x, &q, &s));
    EXPECT_EQ(q.data, (std::vector<int8_t>{127, 1, -1, 3}));
    rai_bitnet_act_params even = aparams(8, 0, RAI_BITNET_ROUND_HALF_EVEN);
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &even, &x, &q, &s));
    EXPECT_EQ(q.data, (std::vector<int8_t>{127, 0, 0, 2}));
}

// Rows of 37 (two SIMD blocks of 16 and a scalar tail) full of exact ties, in every scale and
// rounding mode, against the formula evaluated here one element at a time.
TEST(BitnetActivations, EveryModeMatchesTheFormulaOnTiesAcrossBlockAndTail) {
    CpuCtx ctx;
    F32 x = f32({3, 37});
    for (int64_t r = 0; r < 3; ++r)
        for (int64_t i = 0; i < 37; ++i) {
            const float tie = static_cast<float>((i * 7 + r * 5) % 61 - 30) + 0.5f;  // k + 0.5
            x[static_cast<size_t>(r * 37 + i)] = i == 36 - r ? (r == 1 ? -127.0f : 127.0f) : tie;
        }
    for (int32_t scale_mode : {RAI_BITNET_ACT_RUST, RAI_BITNET_ACT_OFFICIAL})
        for (int32_t round_mode : {RAI_BITNET_ROUND_HALF_AWAY, RAI_BITNET_ROUND_HALF_EVEN}) {
            rai_bitnet_act_params p = aparams(8, scale_mode, round_mode);
            I8 q = i8({3, 37});
            F32 s = f32({3});
            ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, &p, &x, &q, &s));
            for (int64_t r = 0; r < 3; ++r) {
                const float sr = s[static_cast<size_t>(r)];
                ASSERT_EQ(sr, 1.0f);  // absmax 127 in both conventions: every x is a tie
                for (int64_t i = 0; i < 37; ++i) {
                    const size_t k = static_cast<size_t>(r * 37 + i);
                    const float v = scale_mode == RAI_BITNET_ACT_RUST ? x[k] / sr : x[k] * sr;
                    const float rounded = round_mode == RAI_BITNET_ROUND_HALF_EVEN ? std::nearbyint(v) : std::round(v);
                    const float lo = scale_mode == RAI_BITNET_ACT_RUST ? -127.0f : -128.0f;
                    ASSERT_EQ(q[k], static_cast<int8_t>(std::fmax(lo, std::fmin(127.0f, rounded))))
                        << "mode " << scale_mode << "/" << round_mode << " at " << k << " x " << x[k];
                }
            }
        }
}

// A NaN in the last token is found before anything is written.
TEST(BitnetActivations, NonFiniteInALaterTokenLeavesTheOutputsUntouched) {
    CpuCtx ctx;
    F32 x = randn({4, 40}, 21);
    x[3 * 40 + 17] = std::nanf("");
    I8 q = i8({4, 40});
    F32 s = f32({4});
    std::fill(q.data.begin(), q.data.end(), 9);
    std::fill(s.data.begin(), s.data.end(), 7.0f);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, nullptr, &x, &q, &s), RAI_ERROR_INVALID_ARGUMENT,
                     "x: token 3 element 17 is not finite");
    for (int8_t v : q.data) ASSERT_EQ(v, 9);
    for (float v : s.data) ASSERT_EQ(v, 7.0f);
}

TEST(BitnetActivations, Bf16InputAndErrors) {
    CpuCtx ctx;
    F32 x = randn({2, 32}, 14);
    Host<uint16_t> xb({2, 32}, kBF16);
    for (size_t i = 0; i < x.size(); ++i) {
        xb[i] = to_bf16(x[i]);
        x[i] = from_bf16(xb[i]);
    }
    I8 q1 = i8({2, 32}), q2 = i8({2, 32});
    F32 s1 = f32({2}), s2 = f32({2});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &x, &q1, &s1));
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &xb, &q2, &s2));
    EXPECT_EQ(q1.data, q2.data);
    EXPECT_EQ(s1.data, s2.data);
    x[40] = std::numeric_limits<float>::infinity();
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, nullptr, &x, &q1, &s1), RAI_ERROR_INVALID_ARGUMENT,
                     "x: token 1 element 8 is not finite");
    F32 scalar = f32({});
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, nullptr, &scalar, &q1, &s1), RAI_ERROR_SHAPE_MISMATCH,
                     "x: needs at least one dimension");
    rai_bitnet_act_params p = aparams(8, 3);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_activations(ctx, &p, &x, &q1, &s1), RAI_ERROR_INVALID_ARGUMENT,
                     "params->scale_mode");
}

TEST(BitnetActivations, RmsNormQuantizeMatchesNormThenQuantize) {
    CpuCtx ctx;
    const int64_t tokens = 6, hidden = 1000;
    F32 x = randn({tokens, hidden}, 15, 3.0f);
    F32 gamma = randn({hidden}, 16);
    I8 q = i8({tokens, hidden});
    F32 s = f32({tokens});
    ASSERT_RAI_OK(rai_bitnet_rmsnorm_quantize(ctx, nullptr, &x, &gamma, 1e-6f, &q, &s));
    // Exact: the documented fixed-order reduction, then the same quantizer.
    F32 y = f32({tokens, hidden});
    for (int64_t r = 0; r < tokens; ++r) {
        const float inv = rai::bitnet::rms_inverse(x.data.data() + r * hidden, hidden, 1e-6f);
        // and a naive double computation agrees to float precision
        double ss = 0;
        for (int64_t i = 0; i < hidden; ++i) ss += double(x[size_t(r * hidden + i)]) * x[size_t(r * hidden + i)];
        EXPECT_NEAR(inv, 1.0 / std::sqrt(ss / hidden + 1e-6), 1e-6 * inv);
        for (int64_t i = 0; i < hidden; ++i) {
            const size_t k = static_cast<size_t>(r * hidden + i);
            y[k] = (x[k] * inv) * gamma[static_cast<size_t>(i)];
        }
    }
    I8 q2 = i8({tokens, hidden});
    F32 s2 = f32({tokens});
    ASSERT_RAI_OK(rai_bitnet_quantize_activations(ctx, nullptr, &y, &q2, &s2));
    EXPECT_EQ(q.data, q2.data);
    EXPECT_EQ(s.data, s2.data);
    // gamma NULL = ones; norm_eps <= 0 = 1e-6
    I8 q3 = i8({tokens, hidden});
    ASSERT_RAI_OK(rai_bitnet_rmsnorm_quantize(ctx, nullptr, &x, nullptr, 0.0f, &q3, &s2));
    F32 g_bad = f32({hidden + 1});
    EXPECT_RAI_ERROR(rai_bitnet_rmsnorm_quantize(ctx, nullptr, &x, &g_bad, 1e-6f, &q, &s), RAI_ERROR_SHAPE_MISMATCH,
                     "gamma");
    EXPECT_RAI_ERROR(rai_bitnet_rmsnorm_quantize(ctx, nullptr, &x, &gamma, std::nanf(""), &q, &s),
                     RAI_ERROR_INVALID_ARGUMENT, "norm_eps");
}

// ------------------------------------------------------------------ STE

TEST(BitnetSte, ReferenceVectors) {
    CpuCtx ctx;
    F32 x = f32({5}, {-2.0f, -0.5f, 0.0f, 0.5f, 2.0f});
    F32 y = f32({5});
    ASSERT_RAI_OK(rai_bitnet_ste_forward(ctx, &x, 1.0f, -1.0f, 1.0f, RAI_BITNET_ROUND_HALF_AWAY, &y));
    EXPECT_EQ(y.data, (std::vector<float>{-1, -1, 0, 1, 1}));
    ASSERT_RAI_OK(rai_bitnet_ste_forward(ctx, &x, 1.0f, -1.0f, 1.0f, RAI_BITNET_ROUND_HALF_EVEN, &y));
    EXPECT_EQ(y.data, (std::vector<float>{-1, 0, 0, 0, 1}));
    F32 xi = f32({5}, {-200.0f, -50.0f, 0.0f, 50.0f, 200.0f});
    ASSERT_RAI_OK(rai_bitnet_ste_forward(ctx, &xi, 1.0f, -127.0f, 127.0f, 0, &y));
    EXPECT_EQ(y.data, (std::vector<float>{-127, -50, 0, 50, 127}));
    F32 x2 = f32({4}, {0.5f, 1.0f, 1.5f, 2.0f});
    F32 y2 = f32({4});
    ASSERT_RAI_OK(rai_bitnet_ste_forward(ctx, &x2, 2.0f, -1.0f, 1.0f, 0, &y2));
    EXPECT_EQ(y2.data, (std::vector<float>{0, 2, 2, 2}));
    // backward: identity
    F32 g = randn({3, 7}, 17), gx = f32({3, 7});
    ASSERT_RAI_OK(rai_bitnet_ste_backward(ctx, &g, &gx));
    EXPECT_EQ(g.data, gx.data);
}

TEST(BitnetSte, Errors) {
    CpuCtx ctx;
    F32 x = f32({4}), y = f32({4}), y5 = f32({5});
    EXPECT_RAI_ERROR(rai_bitnet_ste_forward(ctx, &x, 0.0f, -1, 1, 0, &y), RAI_ERROR_INVALID_ARGUMENT, "scale");
    EXPECT_RAI_ERROR(rai_bitnet_ste_forward(ctx, &x, 1.0f, 1, -1, 0, &y), RAI_ERROR_INVALID_ARGUMENT, "lo, hi");
    EXPECT_RAI_ERROR(rai_bitnet_ste_forward(ctx, &x, 1.0f, -1, 1, 4, &y), RAI_ERROR_INVALID_ARGUMENT, "round_mode");
    EXPECT_RAI_ERROR(rai_bitnet_ste_forward(ctx, &x, 1.0f, -1, 1, 0, &y5), RAI_ERROR_SHAPE_MISMATCH, "shape");
    EXPECT_RAI_ERROR(rai_bitnet_ste_backward(ctx, &x, &y5), RAI_ERROR_SHAPE_MISMATCH, "shape");
    I8 q = i8({4});
    EXPECT_RAI_ERROR(rai_bitnet_ste_backward(ctx, &q, &y), RAI_ERROR_DTYPE_MISMATCH, "grad_y");
}
