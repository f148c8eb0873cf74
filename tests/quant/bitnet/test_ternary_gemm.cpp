// Prepared ternary weights, ternary GEMM / GEMV against dequantize + reference matmul, every CPU
// backend against the scalar reference, BitLinear in its three modes.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "bitnet_test_util.h"

namespace {

struct Weight {
    rai_ternary_weight *w = nullptr;
    ~Weight() { rai_ternary_weight_destroy(w); }
};

struct Layer {
    rai_bitlinear *l = nullptr;
    ~Layer() { rai_bitlinear_destroy(l); }
};

// The CPU kernel levels this machine can run: scalar always, then AVX2 and AVX-512 VNNI.
std::vector<std::pair<std::string, uint64_t>> cpu_levels() {
    const uint64_t det = rai_cpu_features_detected();
    std::vector<std::pair<std::string, uint64_t>> v = {{"scalar", 0}};
    const uint64_t avx2 = RAI_CPU_AVX2 | RAI_CPU_FMA | RAI_CPU_POPCNT;
    if ((det & avx2) == avx2) v.push_back({"avx2", avx2});
    const uint64_t avx512 = avx2 | RAI_CPU_AVX512F | RAI_CPU_AVX512BW | RAI_CPU_AVX512VL | RAI_CPU_AVX512VNNI;
    if ((det & avx512) == avx512) v.push_back({"avx512-vnni", avx512});
    return v;
}

// Reference y[b, o] = sum_g s * sum_{i in g} t * x in double, and sum |s t x| for tolerances.
void reference(const I8 &t, const F32 &s, const std::vector<float> &x, int64_t m, int64_t n, int64_t k,
               std::vector<double> &y, std::vector<double> &mag) {
    y.assign(static_cast<size_t>(m * n), 0.0);
    mag.assign(static_cast<size_t>(m * n), 0.0);
    for (int64_t b = 0; b < m; ++b)
        for (int64_t o = 0; o < n; ++o) {
            double acc = 0, a = 0;
            for (int64_t i = 0; i < k; ++i) {
                const double v = double(t[size_t(o * k + i)]) * double(s[scale_index(s.shape, n, k, o, i)]) *
                                 double(x[size_t(b * k + i)]);
                acc += v;
                a += std::fabs(v);
            }
            y[size_t(b * n + o)] = acc;
            mag[size_t(b * n + o)] = a;
        }
}

// The documented W2A8 result, computed here independently with the same float operation order.
float w2a8_expected(const I8 &t, const F32 &s, const I8 &q, float xs, bool divide, const float *bias, int64_t b,
                    int64_t o, int64_t n, int64_t k) {
    const int64_t groups = s.shape.size() == 2 ? s.shape[1] : 1;
    const int64_t gsz = k / groups;
    float acc = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
        int32_t isum = 0;
        for (int64_t i = g * gsz; i < (g + 1) * gsz; ++i) isum += t[size_t(o * k + i)] * q[size_t(b * k + i)];
        const float prod = static_cast<float>(isum) * s[scale_index(s.shape, n, k, o, g * gsz)];
        acc = acc + prod;
    }
    float y = divide ? acc / xs : acc * xs;
    if (bias) y = y + bias[o];
    return y;
}

}  // namespace

TEST(TernaryGemm, ReferenceVector) {
    CpuCtx ctx;
    I8 t = i8({2, 4}, {1, -1, 1, -1, 1, 1, 0, 0});
    F32 s = f32({2}, {1.0f, 1.0f});
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
    F32 x = f32({4}, {1, 2, 3, 4});
    F32 y = f32({2});
    ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &y));
    EXPECT_EQ(y.data, (std::vector<float>{-2.0f, 3.0f}));
    I8 xi = i8({1, 4}, {1, 2, 3, 4});
    I32 yi = i32({1, 2});
    ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &xi, nullptr, nullptr, nullptr, &yi));
    EXPECT_EQ(yi.data, (std::vector<int32_t>{-2, 3}));
}

TEST(TernaryGemm, WeightInfoUnpackAndCompressionRatio) {
    CpuCtx ctx;
    I8 t = i8({2, 4}, {1, 0, 0, 0, 0, -1, 0, 0});
    F32 s = f32({2}, {0.5f, 2.0f});
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
    rai_ternary_weight_info info;
    ASSERT_RAI_OK(rai_ternary_weight_info_init(&info));
    ASSERT_RAI_OK(rai_ternary_weight_get_info(w.w, &info));
    EXPECT_EQ(info.out_features, 2u);
    EXPECT_EQ(info.in_features, 4u);
    EXPECT_EQ(info.granularity, RAI_BITNET_GRANULARITY_ROW);
    EXPECT_EQ(info.group_size, 4u);
    EXPECT_EQ(info.scale_count, 2u);
    EXPECT_EQ(info.nonzero, 2u);
    EXPECT_DOUBLE_EQ(info.sparsity, 0.75);
    EXPECT_EQ(info.packed_bytes, 2u * 32);
    EXPECT_EQ(info.device.device_type, RAI_DEVICE_CPU);
    I8 back = i8({2, 4});
    F32 sb = f32({2});
    ASSERT_RAI_OK(rai_ternary_weight_unpack(ctx, w.w, &back, &sb));
    EXPECT_EQ(back.data, t.data);
    EXPECT_EQ(sb.data, s.data);
    // the bitnet-quantize formula: 1024 x 4096 with group 64 gives 12.8
    I8 big = rand_trits({1024, 4096}, 3);
    F32 sg = rand_scales({1024, 64}, 4);
    Weight wb;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &big, &sg, &wb.w));
    ASSERT_RAI_OK(rai_ternary_weight_get_info(wb.w, &info));
    EXPECT_DOUBLE_EQ(info.compression_ratio, 12.8);
    EXPECT_EQ(info.granularity, RAI_BITNET_GRANULARITY_GROUP);
    EXPECT_EQ(info.group_size, 64u);
    info.struct_size = 8;
    EXPECT_RAI_ERROR(rai_ternary_weight_get_info(wb.w, &info), RAI_ERROR_STRUCT_SIZE, "info->struct_size");
}

TEST(TernaryGemm, WeightCreateErrors) {
    CpuCtx ctx;
    I8 t = rand_trits({3, 64}, 5);
    F32 s = f32({3});
    Weight w;
    F32 bad_shape = f32({4});
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t, &bad_shape, &w.w), RAI_ERROR_SHAPE_MISMATCH, "scales");
    EXPECT_EQ(w.w, nullptr);
    F32 bad_group = f32({3, 5});
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t, &bad_group, &w.w), RAI_ERROR_SHAPE_MISMATCH,
                     "G dividing 64");
    t[10] = -2;
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t, &s, &w.w), RAI_ERROR_INVALID_ARGUMENT, "trits[0, 10] is -2");
    t[10] = 0;
    s[1] = std::numeric_limits<float>::infinity();
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t, &s, &w.w), RAI_ERROR_INVALID_ARGUMENT, "scales[1]");
    s[1] = 1;
    I8 t1 = i8({64});
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t1, &s, &w.w), RAI_ERROR_SHAPE_MISMATCH, "trits");
    EXPECT_RAI_ERROR(rai_ternary_weight_create(ctx, &t, &s, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_ternary_weight_create(nullptr, &t, &s, &w.w), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    rai_ternary_weight_info info;
    rai_ternary_weight_info_init(&info);
    EXPECT_RAI_ERROR(rai_ternary_weight_get_info(nullptr, &info), RAI_ERROR_INVALID_ARGUMENT, "weight");
    rai_ternary_weight_destroy(nullptr);
}

// GEMM on random problems of awkward sizes: f32 and bf16 within tolerance of the double
// reference; the int8 raw dot exact; W2A8 exactly the documented formula.
TEST(TernaryGemm, RandomShapesAgainstReference) {
    CpuCtx ctx;
    struct Shape {
        int64_t n, k;
    } shapes[] = {{1, 1}, {3, 31}, {5, 33}, {7, 255}, {4, 256}, {3, 257}, {9, 384}, {2, 65537}};
    uint32_t seed = 100;
    for (const Shape sh : shapes) {
        // scale granularities: tensor, row, and every group size from this list dividing k
        std::vector<std::vector<int64_t>> scale_shapes = {{1}, {sh.n}};
        for (int64_t g : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{3}, int64_t{11}})
            if (sh.k % g == 0 && g < sh.k) scale_shapes.push_back({sh.n, sh.k / g});
        for (const auto &ss : scale_shapes) {
            I8 t = rand_trits({sh.n, sh.k}, ++seed);
            F32 s = rand_scales(ss, ++seed);
            Weight w;
            ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
            F32 bias = randn({sh.n}, ++seed);
            for (int64_t m : {int64_t{1}, int64_t{3}, int64_t{6}}) {
                const std::string what = "n=" + std::to_string(sh.n) + " k=" + std::to_string(sh.k) +
                                         " m=" + std::to_string(m) + " scales=" + std::to_string(s.size());
                // f32
                F32 x = randn({m, sh.k}, ++seed);
                F32 y = f32({m, sh.n});
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, &bias, &y));
                std::vector<double> ref, mag;
                reference(t, s, x.data, m, sh.n, sh.k, ref, mag);
                for (size_t i = 0; i < y.size(); ++i)
                    ASSERT_NEAR(y[i], ref[i] + bias[i % size_t(sh.n)], 2e-6 * (mag[i] + 1.0)) << what << " i=" << i;
                // bf16: the same with x rounded to bf16
                Host<uint16_t> xb({m, sh.k}, kBF16);
                std::vector<float> xr(x.size());
                for (size_t i = 0; i < x.size(); ++i) {
                    xb[i] = to_bf16(x[i]);
                    xr[i] = from_bf16(xb[i]);
                }
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &xb, nullptr, nullptr, nullptr, &y));
                reference(t, s, xr, m, sh.n, sh.k, ref, mag);
                for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 2e-6 * (mag[i] + 1.0)) << what;
                // int8 raw dot: exact
                I8 q = rand_i8({m, sh.k}, ++seed);
                I32 yi = i32({m, sh.n});
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &q, nullptr, nullptr, nullptr, &yi));
                for (int64_t b = 0; b < m; ++b)
                    for (int64_t o = 0; o < sh.n; ++o) {
                        int32_t d = 0;
                        for (int64_t i = 0; i < sh.k; ++i) d += t[size_t(o * sh.k + i)] * q[size_t(b * sh.k + i)];
                        ASSERT_EQ(yi[size_t(b * sh.n + o)], d) << what;
                    }
                // W2A8: exactly the documented epilogue, both scale conventions
                F32 xs = rand_scales({m}, ++seed);
                for (int32_t mode : {RAI_BITNET_ACT_RUST, RAI_BITNET_ACT_OFFICIAL}) {
                    rai_bitnet_act_params ap;
                    rai_bitnet_act_params_init(&ap);
                    ap.scale_mode = mode;
                    ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &q, &xs, &ap, &bias, &y));
                    for (int64_t b = 0; b < m; ++b)
                        for (int64_t o = 0; o < sh.n; ++o)
                            ASSERT_EQ(y[size_t(b * sh.n + o)],
                                      w2a8_expected(t, s, q, xs[size_t(b)], mode == RAI_BITNET_ACT_OFFICIAL,
                                                    bias.data.data(), b, o, sh.n, sh.k))
                                << what;
                }
            }
        }
    }
}

TEST(TernaryGemm, EveryCpuBackendMatchesScalar) {
    CpuCtx ctx;
    MaskGuard guard;
    const auto levels = cpu_levels();
    std::printf("CPU kernel levels tested: ");
    for (const auto &l : levels) std::printf("%s ", l.first.c_str());
    std::printf("\n");
    struct Case {
        int64_t n, k;
        std::vector<int64_t> ss;
    } cases[] = {{33, 257, {1}},  {17, 640, {17}},  {9, 1024, {9, 16}},
                 {5, 96, {5, 3}}, {6, 96, {6, 32}}, {64, 4096, {64}}};
    uint32_t seed = 900;
    for (const Case &c : cases) {
        I8 t = rand_trits({c.n, c.k}, ++seed);
        F32 s = rand_scales(c.ss, ++seed);
        Weight w;
        ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
        for (const int64_t m : {int64_t{1}, int64_t{7}}) {  // GEMV (one row per pass) and GEMM
            F32 x = randn({m, c.k}, ++seed);
            I8 q = rand_i8({m, c.k}, ++seed);
            F32 xs = rand_scales({m}, ++seed);
            std::vector<float> f_ref, w_ref;
            std::vector<int32_t> i_ref;
            for (const auto &lvl : levels) {
                rai_cpu_set_feature_mask(lvl.second);
                F32 yf = f32({m, c.n}), yw = f32({m, c.n});
                I32 yi = i32({m, c.n});
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &yf));
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &q, nullptr, nullptr, nullptr, &yi));
                ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &q, &xs, nullptr, nullptr, &yw));
                if (f_ref.empty()) {
                    f_ref = yf.data;
                    i_ref = yi.data;
                    w_ref = yw.data;
                    continue;
                }
                EXPECT_EQ(yi.data, i_ref) << lvl.first << " int8 raw dot differs from scalar";
                EXPECT_EQ(yw.data, w_ref) << lvl.first << " W2A8 differs from scalar";
                std::vector<double> ref, mag;
                reference(t, s, x.data, m, c.n, c.k, ref, mag);
                for (size_t i = 0; i < yf.size(); ++i)
                    ASSERT_NEAR(yf[i], f_ref[i], 4e-6 * (mag[i] + 1.0)) << lvl.first << " f32 path";
            }
        }
    }
}

TEST(TernaryGemm, ResultsDoNotDependOnThreadCount) {
    CpuCtx ctx;
    I8 t = rand_trits({301, 500}, 7);
    F32 s = rand_scales({301, 5}, 8);
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
    F32 x = randn({3, 500}, 9);
    std::vector<float> first;
    for (const char *threads : {"1", "2", "3", "8"}) {
        ScopedEnv env("RAI_NUM_THREADS", threads);
        F32 y = f32({3, 301});
        ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &y));
        if (first.empty()) first = y.data;
        EXPECT_EQ(y.data, first) << threads << " threads";
    }
}

TEST(TernaryGemm, ErrorPaths) {
    CpuCtx ctx;
    I8 t = rand_trits({4, 64}, 10);
    F32 s = f32({1}, {1.0f});
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t, &s, &w.w));
    F32 x = randn({2, 64}, 11), y = f32({2, 4});
    F32 x63 = f32({2, 63});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x63, nullptr, nullptr, nullptr, &y), RAI_ERROR_SHAPE_MISMATCH,
                     "x: the last dimension is 63, the weight has in = 64");
    F32 y5 = f32({2, 5});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &y5), RAI_ERROR_SHAPE_MISMATCH,
                     "y: shape mismatch: expected [2, 4], got [2, 5]");
    I32 yi = i32({2, 4});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &yi), RAI_ERROR_INVALID_ARGUMENT,
                     "i32 output");
    I8 q = rand_i8({2, 64}, 12);
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &q, nullptr, nullptr, nullptr, &y), RAI_ERROR_INVALID_ARGUMENT,
                     "x_scales must not be NULL");
    F32 xs3 = f32({3});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &q, &xs3, nullptr, nullptr, &y), RAI_ERROR_SHAPE_MISMATCH,
                     "x_scales");
    F32 xs2 = f32({2}, {1, 1});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x, &xs2, nullptr, nullptr, &y), RAI_ERROR_INVALID_ARGUMENT,
                     "x_scales must be NULL for float x");
    F32 bias5 = f32({5});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, &bias5, &y), RAI_ERROR_SHAPE_MISMATCH, "bias");
    I32 xbad = i32({2, 64});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &xbad, nullptr, nullptr, nullptr, &y), RAI_ERROR_DTYPE_MISMATCH, "x");
    const int64_t strides[2] = {1, 2};
    rai_tensor xt = x.t;
    xt.strides = strides;
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &xt, nullptr, nullptr, nullptr, &y), RAI_ERROR_LAYOUT, "x");
    rai_tensor xd = x.t;
    xd.device = {RAI_DEVICE_CUDA, 0};
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &xd, nullptr, nullptr, nullptr, &y), RAI_ERROR_DEVICE_MISMATCH, "x");
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, nullptr, &x, nullptr, nullptr, nullptr, &y), RAI_ERROR_INVALID_ARGUMENT,
                     "weight");
    rai_bitnet_act_params ap;
    rai_bitnet_act_params_init(&ap);
    ap.scale_mode = 7;
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &x, nullptr, &ap, nullptr, &y), RAI_ERROR_INVALID_ARGUMENT,
                     "params->scale_mode");
    F32 scalar = f32({});
    EXPECT_RAI_ERROR(rai_ternary_gemm(ctx, w.w, &scalar, nullptr, nullptr, nullptr, &y), RAI_ERROR_SHAPE_MISMATCH,
                     "x");
}

// ------------------------------------------------------------------ BitLinear

TEST(BitLinear, ShapesModesAndBias) {
    CpuCtx ctx;
    F32 weight = randn({64, 128}, 20, 0.05f);
    F32 bias = randn({64}, 21);
    Layer layer;
    ASSERT_RAI_OK(rai_bitlinear_create(ctx, nullptr, nullptr, &weight, &bias, &layer.l));
    const rai_ternary_weight *w = nullptr;
    ASSERT_RAI_OK(rai_bitlinear_weight(layer.l, &w));
    rai_ternary_weight_info info;
    rai_ternary_weight_info_init(&info);
    ASSERT_RAI_OK(rai_ternary_weight_get_info(w, &info));
    EXPECT_EQ(info.scale_count, 128u);  // 64 x 128 with group 64
    I8 t = i8({64, 128});
    F32 s = f32({64, 2});
    ASSERT_RAI_OK(rai_ternary_weight_unpack(ctx, w, &t, &s));
    // WFP equals x * dequant(W)^T + b
    F32 x2 = randn({4, 128}, 22);
    F32 y2 = f32({4, 64});
    ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_WFP, &x2, &y2));
    std::vector<double> ref, mag;
    reference(t, s, x2.data, 4, 64, 128, ref, mag);
    for (size_t i = 0; i < y2.size(); ++i) ASSERT_NEAR(y2[i], ref[i] + bias[i % 64], 2e-6 * (mag[i] + 1));
    // 3-D input
    F32 x3 = randn({2, 16, 128}, 23);
    F32 y3 = f32({2, 16, 64});
    for (int32_t mode : {RAI_BITLINEAR_WFP, RAI_BITLINEAR_FAKEQ, RAI_BITLINEAR_W2A8})
        ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, mode, &x3, &y3));
    F32 y_bad = f32({2, 16, 63});
    EXPECT_RAI_ERROR(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_WFP, &x3, &y_bad), RAI_ERROR_SHAPE_MISMATCH,
                     "y: shape mismatch: expected [2, 16, 64]");
    EXPECT_RAI_ERROR(rai_bitlinear_forward(ctx, layer.l, 3, &x3, &y3), RAI_ERROR_INVALID_ARGUMENT, "mode is 3");
    F32 x_bad = f32({2, 100});
    EXPECT_RAI_ERROR(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_WFP, &x_bad, &y2), RAI_ERROR_SHAPE_MISMATCH,
                     "the weight has in = 128");
}

// W2A8 equals FAKEQ within 1e-5 * ||x||_1 * max |s_w| (reference tolerance), for both scale
// conventions and several granularities; FAKEQ is near WFP.
TEST(BitLinear, W2A8MatchesFakeQuant) {
    CpuCtx ctx;
    const int64_t out = 96, in = 512, tokens = 9;
    F32 weight = randn({out, in}, 30, 0.04f);
    F32 x = randn({tokens, in}, 31, 2.0f);
    struct Cfg {
        int32_t gran;
        uint64_t group;
        int32_t mode;
        int32_t per_tensor;
    } cfgs[] = {{RAI_BITNET_GRANULARITY_GROUP, 64, RAI_BITNET_ACT_RUST, 0},
                {RAI_BITNET_GRANULARITY_TENSOR, 0, RAI_BITNET_ACT_OFFICIAL, 0},
                {RAI_BITNET_GRANULARITY_ROW, 0, RAI_BITNET_ACT_RUST, 1},
                {RAI_BITNET_GRANULARITY_GROUP, 32, RAI_BITNET_ACT_OFFICIAL, 1}};
    for (const Cfg &c : cfgs) {
        rai_bitnet_weight_params wp;
        rai_bitnet_weight_params_init(&wp);
        wp.granularity = c.gran;
        wp.group_size = c.group;
        rai_bitnet_act_params ap;
        rai_bitnet_act_params_init(&ap);
        ap.scale_mode = c.mode;
        ap.per_tensor = c.per_tensor;
        Layer layer;
        ASSERT_RAI_OK(rai_bitlinear_create(ctx, &wp, &ap, &weight, nullptr, &layer.l));
        const rai_ternary_weight *w = nullptr;
        ASSERT_RAI_OK(rai_bitlinear_weight(layer.l, &w));
        rai_ternary_weight_info info;
        rai_ternary_weight_info_init(&info);
        ASSERT_RAI_OK(rai_ternary_weight_get_info(w, &info));
        std::vector<float> sw(info.scale_count);
        F32 sfull = c.gran == RAI_BITNET_GRANULARITY_TENSOR ? f32({1})
                    : c.gran == RAI_BITNET_GRANULARITY_ROW  ? f32({out})
                                                            : f32({out, in / int64_t(c.group)});
        ASSERT_RAI_OK(rai_ternary_weight_unpack(ctx, w, nullptr, &sfull));
        float smax = 0;
        for (float v : sfull.data) smax = std::fmax(smax, std::fabs(v));
        F32 yw = f32({tokens, out}), yf = f32({tokens, out}), yp = f32({tokens, out});
        ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_W2A8, &x, &yw));
        ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_FAKEQ, &x, &yf));
        ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_WFP, &x, &yp));
        for (int64_t b = 0; b < tokens; ++b) {
            double l1 = 0;
            for (int64_t i = 0; i < in; ++i) l1 += std::fabs(x[size_t(b * in + i)]);
            for (int64_t o = 0; o < out; ++o) {
                const size_t k = size_t(b * out + o);
                ASSERT_NEAR(yw[k], yf[k], 1e-5 * l1 * smax) << "gran " << c.gran << " mode " << c.mode;
                // activation quantization error only: |x - dq(q(x))| <= scale / 2 per element
                ASSERT_NEAR(yf[k], yp[k], 0.01 * l1 * smax);
            }
        }
    }
}

TEST(BitLinear, TritterAccelInferenceExample) {
    // tritter-accel ternary_inference.py: 512 -> 256, batch 32, per-row absmean, quantize + pack
    // + ternary_matmul against a NumPy matmul on the dequantized weights: max |diff| < 1e-5.
    CpuCtx ctx;
    F32 weight = randn({256, 512}, 40, 0.1f);
    rai_bitnet_weight_params wp;
    rai_bitnet_weight_params_init(&wp);
    wp.granularity = RAI_BITNET_GRANULARITY_ROW;
    I8 t = i8({256, 512});
    F32 s = f32({256});
    ASSERT_RAI_OK(rai_bitnet_quantize_weights(ctx, &wp, &weight, &t, &s));
    for (int8_t v : t.data) ASSERT_TRUE(v >= -1 && v <= 1);
    F32 wd = f32({256, 512});
    ASSERT_RAI_OK(rai_bitnet_dequantize_weights(ctx, &t, &s, &wd));
    // BYTE2 pack / unpack round trip on the way
    U8 packed = u8({256 * 128});
    ASSERT_RAI_OK(rai_ternary_pack(RAI_TERNARY_LAYOUT_BYTE2, &t, nullptr, &packed));
    I8 t2 = i8({256, 512});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_BYTE2, &packed, &t2, nullptr));
    ASSERT_EQ(t2.data, t.data);
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(ctx, &t2, &s, &w.w));
    F32 x = randn({32, 512}, 41);
    F32 y = f32({32, 256});
    ASSERT_RAI_OK(rai_ternary_gemm(ctx, w.w, &x, nullptr, nullptr, nullptr, &y));
    double max_diff = 0;
    for (int64_t b = 0; b < 32; ++b)
        for (int64_t o = 0; o < 256; ++o) {
            float acc = 0;  // float matmul like NumPy's
            for (int64_t i = 0; i < 512; ++i) acc += x[size_t(b * 512 + i)] * wd[size_t(o * 512 + i)];
            max_diff = std::max(max_diff, std::fabs(double(acc) - y[size_t(b * 256 + o)]));
        }
    EXPECT_LT(max_diff, 1e-5);
}

TEST(BitLinear, CreateFromTritsAndErrors) {
    CpuCtx ctx;
    I8 t = i8({2, 4}, {1, -1, 1, -1, 1, 1, 0, 0});
    F32 s = f32({1}, {0.5f});
    F32 bias = f32({2}, {1.0f, -1.0f});
    Layer layer;
    ASSERT_RAI_OK(rai_bitlinear_create_from_trits(ctx, nullptr, &t, &s, &bias, &layer.l));
    F32 x = f32({1, 4}, {1, 2, 3, 4});
    F32 y = f32({1, 2});
    ASSERT_RAI_OK(rai_bitlinear_forward(ctx, layer.l, RAI_BITLINEAR_WFP, &x, &y));
    EXPECT_EQ(y.data, (std::vector<float>{0.0f, 0.5f}));
    Layer bad;
    F32 bias3 = f32({3});
    EXPECT_RAI_ERROR(rai_bitlinear_create_from_trits(ctx, nullptr, &t, &s, &bias3, &bad.l), RAI_ERROR_SHAPE_MISMATCH,
                     "bias");
    EXPECT_EQ(bad.l, nullptr);
    F32 w100 = randn({4, 100}, 50);
    EXPECT_RAI_ERROR(rai_bitlinear_create(ctx, nullptr, nullptr, &w100, nullptr, &bad.l), RAI_ERROR_INVALID_ARGUMENT,
                     "group_size 64 does not divide in = 100");
    rai_bitnet_act_params ap;
    rai_bitnet_act_params_init(&ap);
    ap.bits = 12;
    EXPECT_RAI_ERROR(rai_bitlinear_create_from_trits(ctx, &ap, &t, &s, nullptr, &bad.l), RAI_ERROR_INVALID_ARGUMENT,
                     "params->bits");
    EXPECT_RAI_ERROR(rai_bitlinear_forward(ctx, nullptr, 0, &x, &y), RAI_ERROR_INVALID_ARGUMENT, "layer");
    const rai_ternary_weight *w = nullptr;
    EXPECT_RAI_ERROR(rai_bitlinear_weight(layer.l, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_bitlinear_weight(nullptr, &w), RAI_ERROR_INVALID_ARGUMENT, "layer");
    rai_bitlinear_destroy(nullptr);
}
