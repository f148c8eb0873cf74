// Gradient compression (rai_gc_*) on the CPU: round trips, error feedback, determinism, sizes,
// reduce semantics, the PowerSGD two-round protocol, state save/load, stats and every error path.
#include <algorithm>
#include <numeric>

#include "compress/gc.h"
#include "gc_test_util.h"

namespace {

class Gc : public CpuContextTest {
protected:
    rai_gc_params params(int32_t method) {
        rai_gc_params p = gc_params(method);
        p.vsa_dimension = 256;  // keep VSA_COMPAT cheap in tests
        p.vsa_ratio = 0.001f;
        return p;
    }
};

const std::vector<std::vector<int64_t>> kShapes = {{1}, {31}, {33}, {65537}, {33, 31}, {64, 48}, {3, 4, 5}};

// The host residual of a tensor (white-box).
std::vector<float> residual_of(rai_gc *gc, uint32_t id) {
    rai::gc::TensorState &ts = gc->tensors[id];
    return std::vector<float>(ts.residual.host(), ts.residual.host() + ts.residual.size());
}

}  // namespace

TEST_F(Gc, ParamsInitFillsDefaults) {
    rai_gc_params p;
    std::memset(&p, 0xff, sizeof p);
    ASSERT_RAI_OK(rai_gc_params_init(&p));
    EXPECT_EQ(p.struct_size, sizeof p);
    EXPECT_EQ(p.method, RAI_GC_NONE);
    EXPECT_EQ(p.ratio, 0.0f);
    EXPECT_EQ(p.seed, 0u);
    EXPECT_RAI_ERROR(rai_gc_params_init_sized(&p, 4), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_gc_params_init(nullptr), RAI_ERROR_INVALID_ARGUMENT, "params");
}

TEST_F(Gc, CreateRejectsBadParams) {
    rai_gc *gc = reinterpret_cast<rai_gc *>(0x1);
    rai_gc_params p = params(RAI_GC_TOPK);
    p.ratio = 1.5f;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "ratio");
    EXPECT_EQ(gc, nullptr);
    p.ratio = -0.1f;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "ratio");
    p.ratio = std::nanf("");
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "ratio");
    p = params(99);
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "method");
    p = params(-1);
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "method");
    p = params(RAI_GC_POWERSGD);
    p.rank = 5000;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "rank");
    p = params(RAI_GC_POWERSGD);
    p.power_iters = 65;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "power_iters");
    p = params(RAI_GC_QSGD);
    p.qsgd_levels = 32768;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "qsgd_levels");
    p = params(RAI_GC_VSA_COMPAT);
    p.vsa_ratio = 2.0f;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "vsa_ratio");
    p = params(RAI_GC_SIGN);
    p.error_feedback = 3;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "error_feedback");
    p = params(RAI_GC_SIGN);
    p.flags = 0x80;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "flags");
    p = params(RAI_GC_SIGN);
    p.reserved0 = 1;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "reserved0");
    p = params(RAI_GC_SIGN);
    p.struct_size = 8;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_STRUCT_SIZE, "struct_size");
    p = params(RAI_GC_SIGN);
    EXPECT_RAI_ERROR(rai_gc_create(nullptr, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    // NULL params: defaults (NONE).
    ASSERT_RAI_OK(rai_gc_create(ctx, nullptr, &gc));
    EXPECT_EQ(gc->cfg.method, RAI_GC_NONE);
    rai_gc_destroy(gc);
    rai_gc_destroy(nullptr);
}

TEST_F(Gc, ErrorFeedbackDefaultsOnForBiasedMethods) {
    for (int32_t m : kAllMethods) {
        rai_gc *gc = make_gc(ctx, params(m));
        const bool biased = m == RAI_GC_TOPK || m == RAI_GC_SIGN || m == RAI_GC_TERNARY || m == RAI_GC_POWERSGD ||
                            m == RAI_GC_VSA_COMPAT;
        EXPECT_EQ(gc->cfg.error_feedback, biased) << rai::gc::method_name(m);
        rai_gc_destroy(gc);
    }
    rai_gc_params p = params(RAI_GC_QSGD);
    p.error_feedback = RAI_GC_EF_ON;
    rai_gc *gc = make_gc(ctx, p);
    EXPECT_TRUE(gc->cfg.error_feedback);
    rai_gc_destroy(gc);
    p = params(RAI_GC_SIGN);
    p.error_feedback = RAI_GC_EF_OFF;
    gc = make_gc(ctx, p);
    EXPECT_FALSE(gc->cfg.error_feedback);
    rai_gc_destroy(gc);
}

TEST_F(Gc, AddTensorAssignsIdsInOrderAndChecksTheDescriptor) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_SIGN));
    Grad a = random_grad({4, 5}, 1), b = random_grad({7}, 2, true);
    rai_tensor ta = a.t(), tb = b.t();
    uint32_t id = 99, count = 0;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "a", &ta, &id));
    EXPECT_EQ(id, 0u);
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, nullptr, &tb, &id));
    EXPECT_EQ(id, 1u);
    ASSERT_RAI_OK(rai_gc_tensor_count(gc, &count));
    EXPECT_EQ(count, 2u);
    std::vector<int32_t> ints(3);
    const int64_t s3[1] = {3};
    rai_tensor ti = make_tensor(ints.data(), kI32, s3, 1);
    EXPECT_RAI_ERROR(rai_gc_add_tensor(gc, "i", &ti, &id), RAI_ERROR_DTYPE_MISMATCH, "like");
    EXPECT_RAI_ERROR(rai_gc_add_tensor(gc, "n", nullptr, &id), RAI_ERROR_INVALID_ARGUMENT, "like");
    EXPECT_RAI_ERROR(rai_gc_add_tensor(gc, "n", &ta, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_id");
    EXPECT_RAI_ERROR(rai_gc_add_tensor(nullptr, "n", &ta, &id), RAI_ERROR_INVALID_ARGUMENT, "gc");
    ASSERT_RAI_OK(rai_gc_tensor_count(gc, &count));
    EXPECT_EQ(count, 2u);
    rai_gc_destroy(gc);
}

// compress -> decompress gives exactly what apply gives (same EF update), for every method,
// dtype and awkward size; NONE and TOPK at ratio 1 are exact.
TEST_F(Gc, RoundTripMatchesApplyForEveryMethodDtypeAndSize) {
    for (int32_t m : kAllMethods)
        for (bool bf16 : {false, true})
            for (const auto &shape : kShapes) {
                SCOPED_TRACE(std::string(rai::gc::method_name(m)) + (bf16 ? " bf16 " : " f32 ") +
                             std::to_string(shape[0]) + "x" + std::to_string(shape.size()));
                rai_gc *a = make_gc(ctx, params(m)), *b = make_gc(ctx, params(m));
                Grad g = random_grad(shape, 7, bf16);
                rai_tensor t = g.t();
                uint32_t id;
                ASSERT_RAI_OK(rai_gc_add_tensor(a, "g", &t, &id));
                ASSERT_RAI_OK(rai_gc_add_tensor(b, "g", &t, &id));
                for (int step = 0; step < 3; ++step) {
                    Grad in = random_grad(shape, 100 + step, bf16);
                    std::vector<uint8_t> msg = compress_msg(a, 0, in);
                    size_t maxsz = 0;
                    ASSERT_RAI_OK(rai_gc_max_message_size(a, 0, &maxsz));
                    EXPECT_LE(msg.size(), maxsz);
                    Grad out = zeros_like(in);
                    rai_tensor to = out.t();
                    ASSERT_RAI_OK(rai_gc_decompress(a, 0, msg.data(), msg.size(), &to));
                    Grad inplace = in;
                    rai_tensor ti = inplace.t();
                    ASSERT_RAI_OK(rai_gc_apply(b, 0, &ti));
                    ASSERT_EQ(out.values(), inplace.values());
                    if (m == RAI_GC_NONE) {
                        EXPECT_EQ(out.values(), in.values());
                    }
                }
                if (gc_params(m).method != RAI_GC_NONE && a->cfg.error_feedback) {
                    EXPECT_EQ(residual_of(a, 0), residual_of(b, 0));
                }
                rai_gc_destroy(a);
                rai_gc_destroy(b);
            }
}

TEST_F(Gc, TopkAtRatioOneIsLosslessAndKeepsTheLargest) {
    rai_gc_params p = params(RAI_GC_TOPK);
    p.ratio = 1.0f;
    rai_gc *gc = make_gc(ctx, p);
    Grad g = random_grad({1000}, 3);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    Grad in = g;
    rai_tensor ti = in.t();
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &ti));
    EXPECT_EQ(in.f, g.f);
    rai_gc_destroy(gc);

    p.ratio = 0.01f;  // k = 10
    gc = make_gc(ctx, p);
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    in = g;
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &ti));
    std::vector<float> mags(g.f.size());
    for (size_t i = 0; i < mags.size(); ++i) mags[i] = std::fabs(g.f[i]);
    std::vector<float> sorted = mags;
    std::sort(sorted.rbegin(), sorted.rend());
    size_t kept = 0;
    for (size_t i = 0; i < in.f.size(); ++i)
        if (in.f[i] != 0.0f) {
            ++kept;
            EXPECT_EQ(in.f[i], g.f[i]);
            EXPECT_GE(mags[i], sorted[9]);
        }
    EXPECT_EQ(kept, 10u);
    rai_gc_destroy(gc);
}

TEST_F(Gc, TopkBreaksTiesBySmallerIndex) {
    rai_gc_params p = params(RAI_GC_TOPK);
    p.ratio = 0.25f;
    rai_gc *gc = make_gc(ctx, p);
    Grad g;
    g.shape = {8};
    g.f = {1, -2, 2, 2, -2, 0.5f, 2, 1};  // five of magnitude 2, k = 2
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &t));
    EXPECT_EQ(g.f, (std::vector<float>{0, -2, 2, 0, 0, 0, 0, 0}));
    rai_gc_destroy(gc);
}

TEST_F(Gc, SignAndTernaryEncodeWhatTheySay) {
    Grad g;
    g.shape = {6};
    g.f = {1.0f, -3.0f, 0.1f, -0.2f, 2.0f, 0.0f};
    uint32_t id;
    rai_gc_params p = params(RAI_GC_SIGN);
    p.error_feedback = RAI_GC_EF_OFF;
    rai_gc *gc = make_gc(ctx, p);
    rai_tensor t = g.t();
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    Grad s = g;
    rai_tensor ts = s.t();
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &ts));
    const float mean_abs = (1 + 3 + 0.1f + 0.2f + 2 + 0) / 6;
    EXPECT_FLOAT_EQ(s.f[0], mean_abs);
    EXPECT_FLOAT_EQ(s.f[1], -mean_abs);
    EXPECT_FLOAT_EQ(s.f[3], -mean_abs);
    EXPECT_FLOAT_EQ(s.f[5], mean_abs);  // sign(0) is +
    rai_gc_destroy(gc);

    p = params(RAI_GC_TERNARY);
    p.error_feedback = RAI_GC_EF_OFF;
    gc = make_gc(ctx, p);
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    Grad r = g;
    rai_tensor tr = r.t();
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &tr));
    // threshold 0.7 * mean|g| = 0.735: keeps 1, -3, 2; scale = mean of kept = 2
    EXPECT_EQ(r.f, (std::vector<float>{2, -2, 0, 0, 2, 0}));
    rai_gc_destroy(gc);
}

// The EF identity: sum of what was sent + the final residual = sum of the gradients.
TEST_F(Gc, ErrorFeedbackIdentityHolds) {
    for (int32_t m : kAllMethods) {
        rai_gc_params p = params(m);
        p.error_feedback = RAI_GC_EF_ON;
        p.warmup_steps = 2;
        rai_gc *gc = make_gc(ctx, p);
        Grad g0 = random_grad({40, 30}, 1);
        rai_tensor t = g0.t();
        uint32_t id;
        ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
        const size_t n = g0.n();
        std::vector<double> sent(n, 0.0), sum(n, 0.0);
        for (int step = 0; step < 12; ++step) {
            Grad g = random_grad({40, 30}, 50 + step, false, 1.0f + step);
            for (size_t i = 0; i < n; ++i) sum[i] += g.f[i];
            std::vector<uint8_t> msg = compress_msg(gc, 0, g);
            Grad d = zeros_like(g);
            rai_tensor td = d.t();
            ASSERT_RAI_OK(rai_gc_decompress(gc, 0, msg.data(), msg.size(), &td));
            for (size_t i = 0; i < n; ++i) sent[i] += d.f[i];
        }
        const std::vector<float> r = residual_of(gc, 0);
        double err = 0, ref = 0;
        for (size_t i = 0; i < n; ++i) {
            const double lhs = sent[i] + r[i];
            err = std::max(err, std::fabs(lhs - sum[i]));
            ref = std::max(ref, std::fabs(sum[i]));
        }
        EXPECT_LT(err, 2e-5 * ref * 12) << rai::gc::method_name(m);
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        ASSERT_RAI_OK(rai_gc_get_stats(gc, 0, &st));
        double rn = 0;
        for (float v : r) rn += double(v) * v;
        EXPECT_NEAR(st.ef_norm, std::sqrt(rn), 1e-6 * (1 + std::sqrt(rn)));
        if (m != RAI_GC_NONE) {
            EXPECT_GT(st.ef_norm, 0.0) << rai::gc::method_name(m);
        }
        rai_gc_destroy(gc);
    }
}

TEST_F(Gc, WarmupStepsAreSentUncompressed) {
    rai_gc_params p = params(RAI_GC_SIGN);
    p.warmup_steps = 2;
    rai_gc *gc = make_gc(ctx, p);
    Grad g = random_grad({100}, 4);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    size_t maxsz = 0;
    ASSERT_RAI_OK(rai_gc_max_message_size(gc, 0, &maxsz));
    EXPECT_EQ(maxsz, 40u + 400u);
    for (int step = 0; step < 3; ++step) {
        Grad in = random_grad({100}, 10 + step);
        std::vector<uint8_t> msg = compress_msg(gc, 0, in);
        EXPECT_EQ(msg.size(), step < 2 ? 440u : 40u + 4u + 13u);
        Grad out = zeros_like(in);
        rai_tensor to = out.t();
        ASSERT_RAI_OK(rai_gc_decompress(gc, 0, msg.data(), msg.size(), &to));
        if (step < 2) EXPECT_EQ(out.f, in.f);
        else EXPECT_NE(out.f, in.f);
    }
    rai_gc_destroy(gc);
}

TEST_F(Gc, SameSeedIsDeterministicAndTheSeedMatters) {
    for (int32_t m : kAllMethods) {
        rai_gc *a = make_gc(ctx, params(m)), *b = make_gc(ctx, params(m));
        rai_gc_params po = params(m);
        po.seed = 99;
        rai_gc *c = make_gc(ctx, po);
        Grad g = random_grad({50, 20}, 1);
        rai_tensor t = g.t();
        uint32_t id;
        for (rai_gc *x : {a, b, c}) ASSERT_RAI_OK(rai_gc_add_tensor(x, "g", &t, &id));
        bool any_payload_differs = false;
        for (int step = 0; step < 4; ++step) {
            Grad in = random_grad({50, 20}, 20 + step);
            Grad in2 = in, in3 = in;
            const auto ma = compress_msg(a, 0, in), mb = compress_msg(b, 0, in2), mc = compress_msg(c, 0, in3);
            EXPECT_EQ(ma, mb) << rai::gc::method_name(m);
            any_payload_differs |= !std::equal(ma.begin() + 40, ma.end(), mc.begin() + 40, mc.end());
        }
        const bool seeded = m == RAI_GC_TERNARY_STOCH || m == RAI_GC_QSGD || m == RAI_GC_POWERSGD ||
                            m == RAI_GC_VSA_COMPAT;
        EXPECT_EQ(any_payload_differs, seeded) << rai::gc::method_name(m);
        for (rai_gc *x : {a, b, c}) rai_gc_destroy(x);
    }
}

TEST_F(Gc, MessageSizesAndBitsAreAccounted) {
    const size_t n = 64 * 48;
    struct Case {
        int32_t method;
        size_t payload;
    } cases[] = {
        {RAI_GC_NONE, 4 * n},
        {RAI_GC_TOPK, 4 + 8 * 31},                 // ceil(0.01 * 3072) = 31
        {RAI_GC_SIGN, 4 + n / 8},
        {RAI_GC_TERNARY, 4 + n / 4},
        {RAI_GC_TERNARY_STOCH, 4 + n / 4},
        {RAI_GC_QSGD, 12 + 4 * 6 + n / 2},         // 6 buckets, 4-bit codes
        {RAI_GC_POWERSGD, 12 + 4 * (64 + 48) * 2},
        {RAI_GC_VSA_COMPAT, 8 + 256 / 4},
    };
    for (const Case &c : cases) {
        rai_gc *gc = make_gc(ctx, params(c.method));
        Grad g = random_grad({64, 48}, 1);
        rai_tensor t = g.t();
        uint32_t id;
        ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
        size_t maxsz = 0;
        ASSERT_RAI_OK(rai_gc_max_message_size(gc, 0, &maxsz));
        EXPECT_EQ(maxsz, 40 + c.payload) << rai::gc::method_name(c.method);
        size_t total = 0;
        for (int step = 0; step < 3; ++step) {
            Grad in = random_grad({64, 48}, 30 + step);
            const auto msg = compress_msg(gc, 0, in);
            EXPECT_EQ(msg.size(), 40 + c.payload) << rai::gc::method_name(c.method);
            total += msg.size();
        }
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        ASSERT_RAI_OK(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st));
        EXPECT_EQ(st.steps, 3u);
        EXPECT_EQ(st.params, 3 * n);
        EXPECT_EQ(st.bits_in, 3 * n * 32);
        EXPECT_EQ(st.bits_out, 8 * total);
        EXPECT_DOUBLE_EQ(st.bits_per_param, 8.0 * total / (3.0 * n));
        ASSERT_RAI_OK(rai_gc_reset_stats(gc));
        ASSERT_RAI_OK(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st));
        EXPECT_EQ(st.steps, 0u);
        EXPECT_EQ(st.bits_out, 0u);
        rai_gc_destroy(gc);
    }
}

TEST_F(Gc, PowerSgdSendsOneDimensionalAndTinyTensorsRaw) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_POWERSGD));
    Grad bias = random_grad({128}, 1), tiny = random_grad({3, 3}, 2), mat = random_grad({128, 64}, 3);
    uint32_t id;
    for (Grad *g : {&bias, &tiny, &mat}) {
        rai_tensor t = g->t();
        ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    }
    EXPECT_EQ(gc->tensors[0].rank, 0u);
    EXPECT_EQ(gc->tensors[1].rank, 0u);  // rank 2 * (3 + 3) >= 9
    EXPECT_EQ(gc->tensors[2].rank, 2u);
    Grad b = bias;
    rai_tensor tb = b.t();
    ASSERT_RAI_OK(rai_gc_apply(gc, 0, &tb));
    EXPECT_EQ(b.f, bias.f);
    rai_gc_destroy(gc);
}

TEST_F(Gc, PowerSgdWarmStartConvergesOnLowRankGradients) {
    rai_gc_params p = params(RAI_GC_POWERSGD);
    p.rank = 2;
    p.flags = RAI_GC_MEASURE_QUALITY;
    p.error_feedback = RAI_GC_EF_OFF;
    rai_gc *gc = make_gc(ctx, p);
    // A fixed rank-2 matrix: the warm-started power iteration converges to it.
    const int64_t R = 60, C = 40;
    Grad g;
    g.shape = {R, C};
    g.f.resize(R * C);
    for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j) g.f[i * C + j] = std::sin(0.1f * i) * std::cos(0.3f * j) + 0.5f * std::cos(0.05f * i * j);
    // make it exactly rank 2: u1 v1^T + u2 v2^T
    for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j) g.f[i * C + j] = std::sin(0.1f * i + 1) * std::cos(0.3f * j) + 0.5f * (i % 7) * std::sin(0.2f * j);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    double cos_last = 0;
    for (int step = 0; step < 4; ++step) {
        Grad in = g;
        rai_tensor ti = in.t();
        ASSERT_RAI_OK(rai_gc_apply(gc, 0, &ti));
        cos_last = cosine(g.f, in.f);
    }
    EXPECT_GT(cos_last, 0.99999);
    rai_gc_stats st;
    rai_gc_stats_init(&st);
    ASSERT_RAI_OK(rai_gc_get_stats(gc, 0, &st));
    EXPECT_NEAR(st.last_cosine, cos_last, 1e-5);
    EXPECT_LT(st.last_rel_error, 1e-2);
    EXPECT_EQ(st.quality_samples, 4u);
    rai_gc_destroy(gc);
}

TEST_F(Gc, SizeQueryAndBufferTooSmallChangeNothing) {
    for (int32_t m : kAllMethods) {
        rai_gc *a = make_gc(ctx, params(m)), *b = make_gc(ctx, params(m));
        Grad g = random_grad({33, 31}, 1);
        rai_tensor t = g.t();
        uint32_t id;
        ASSERT_RAI_OK(rai_gc_add_tensor(a, "g", &t, &id));
        ASSERT_RAI_OK(rai_gc_add_tensor(b, "g", &t, &id));
        size_t need = 0, written = 0;
        ASSERT_RAI_OK(rai_gc_compress(a, 0, &t, nullptr, 0, &need));
        std::vector<uint8_t> small(need - 1);
        EXPECT_RAI_ERROR(rai_gc_compress(a, 0, &t, small.data(), small.size(), &written), RAI_ERROR_BUFFER_TOO_SMALL,
                         std::to_string(need));
        EXPECT_EQ(written, need);
        EXPECT_RAI_ERROR(rai_gc_compress(a, 0, &t, nullptr, 10, &written), RAI_ERROR_INVALID_ARGUMENT, "out");
        EXPECT_RAI_ERROR(rai_gc_compress(a, 0, &t, small.data(), small.size(), nullptr), RAI_ERROR_INVALID_ARGUMENT,
                         "written");
        // a's state is untouched: it compresses exactly as b does
        Grad g2 = g;
        EXPECT_EQ(compress_msg(a, 0, g), compress_msg(b, 0, g2)) << rai::gc::method_name(m);
        rai_gc_destroy(a);
        rai_gc_destroy(b);
    }
}

TEST_F(Gc, BadTensorArgumentsGetSpecificStatusesAndLeaveStateAlone) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_SIGN));
    Grad g = random_grad({8, 4}, 1);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    std::vector<uint8_t> buf(1024);
    size_t w = 0;
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 7, &t, buf.data(), buf.size(), &w), RAI_ERROR_INVALID_ARGUMENT, "id 7");
    EXPECT_RAI_ERROR(rai_gc_apply(gc, 7, &t), RAI_ERROR_INVALID_ARGUMENT, "id 7");
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 7, buf.data(), buf.size(), &t), RAI_ERROR_INVALID_ARGUMENT, "id 7");
    EXPECT_RAI_ERROR(rai_gc_max_message_size(gc, 7, &w), RAI_ERROR_INVALID_ARGUMENT, "id 7");
    rai_gc_stats st;
    rai_gc_stats_init(&st);
    EXPECT_RAI_ERROR(rai_gc_get_stats(gc, 7, &st), RAI_ERROR_INVALID_ARGUMENT, "id 7");
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 0, nullptr, buf.data(), buf.size(), &w), RAI_ERROR_INVALID_ARGUMENT, "grad");
    Grad other = random_grad({4, 8}, 1);
    rai_tensor to = other.t();
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 0, &to, buf.data(), buf.size(), &w), RAI_ERROR_SHAPE_MISMATCH, "registered");
    Grad b = random_grad({8, 4}, 1, true);
    rai_tensor tb = b.t();
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 0, &tb, buf.data(), buf.size(), &w), RAI_ERROR_DTYPE_MISMATCH, "registered");
    rai_tensor th = t;
    th.dtype = kF16;
    EXPECT_RAI_ERROR(rai_gc_apply(gc, 0, &th), RAI_ERROR_DTYPE_MISMATCH, "grad_inout");
    const int64_t strides[2] = {1, 8};
    rai_tensor tsd = t;
    tsd.strides = strides;
    EXPECT_RAI_ERROR(rai_gc_apply(gc, 0, &tsd), RAI_ERROR_LAYOUT, "contiguous");
    rai_tensor tdev = t;
    tdev.device = {RAI_DEVICE_CUDA, 0};
    EXPECT_RAI_ERROR(rai_gc_apply(gc, 0, &tdev), RAI_ERROR_DEVICE_MISMATCH, "grad_inout");
    EXPECT_EQ(gc->tensors[0].step, 0u);
    EXPECT_EQ(gc->tensors[0].stats.steps, 0u);
    rai_gc_destroy(gc);
}

TEST_F(Gc, DecompressRejectsForeignTruncatedAndMalformedMessages) {
    rai_gc_params p = params(RAI_GC_SIGN);
    rai_gc *gc = make_gc(ctx, p);
    p.seed = 77;
    rai_gc *seed2 = make_gc(ctx, p);
    rai_gc *topk = make_gc(ctx, params(RAI_GC_TOPK));
    Grad g = random_grad({8, 4}, 1), big = random_grad({9, 4}, 2);
    rai_tensor t = g.t(), tbig = big.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "a", &t, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "b", &t, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(seed2, "a", &t, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(topk, "a", &t, &id));
    rai_gc *other_size = make_gc(ctx, params(RAI_GC_SIGN));
    ASSERT_RAI_OK(rai_gc_add_tensor(other_size, "a", &tbig, &id));

    Grad in = g;
    const auto msg = compress_msg(gc, 0, in);
    Grad out = zeros_like(g);
    rai_tensor tout = out.t();
    auto expect_untouched = [&] { EXPECT_EQ(out.f, zeros_like(g).f); };

    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, msg.data(), msg.size() - 1, &tout), RAI_ERROR_FORMAT, "truncated");
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, msg.data(), 20, &tout), RAI_ERROR_FORMAT, "truncated");
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, nullptr, 0, &tout), RAI_ERROR_INVALID_ARGUMENT, "message");
    auto bad = msg;
    bad[0] ^= 1;
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, bad.data(), bad.size(), &tout), RAI_ERROR_FORMAT, "magic");
    bad = msg;
    bad[4] = 2;  // version 2
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, bad.data(), bad.size(), &tout), RAI_ERROR_FORMAT, "version");
    bad = msg;
    bad[36] += 1;  // payload length disagrees with the encoding
    bad.push_back(0);
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, bad.data(), bad.size(), &tout), RAI_ERROR_FORMAT, "payload");
    bad = msg;
    bad[7] = 200;
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, bad.data(), bad.size(), &tout), RAI_ERROR_FORMAT, "encoding");
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 1, msg.data(), msg.size(), &tout), RAI_ERROR_INVALID_ARGUMENT, "tensor id");
    EXPECT_RAI_ERROR(rai_gc_decompress(seed2, 0, msg.data(), msg.size(), &tout), RAI_ERROR_INVALID_ARGUMENT, "seed");
    EXPECT_RAI_ERROR(rai_gc_decompress(topk, 0, msg.data(), msg.size(), &tout), RAI_ERROR_INVALID_ARGUMENT, "method");
    Grad outbig = zeros_like(big);
    rai_tensor toutbig = outbig.t();
    EXPECT_RAI_ERROR(rai_gc_decompress(other_size, 0, msg.data(), msg.size(), &toutbig), RAI_ERROR_SHAPE_MISMATCH,
                     "elements");
    EXPECT_RAI_ERROR(rai_gc_decompress(gc, 0, msg.data(), msg.size(), &toutbig), RAI_ERROR_SHAPE_MISMATCH, "grad_out");
    expect_untouched();

    // top-k: indices out of range or unsorted are malformed
    Grad tk = g;
    auto tmsg = compress_msg(topk, 0, tk);
    auto tbad = tmsg;
    const uint32_t huge = 1000;
    std::memcpy(tbad.data() + 44, &huge, 4);
    EXPECT_RAI_ERROR(rai_gc_decompress(topk, 0, tbad.data(), tbad.size(), &tout), RAI_ERROR_FORMAT, "indices");
    expect_untouched();
    for (rai_gc *x : {gc, seed2, topk, other_size}) rai_gc_destroy(x);
}

// ---------------------------------------------------------------- reduce
namespace {
struct Peers {
    std::vector<rai_gc *> gcs;
    std::vector<std::vector<uint8_t>> msgs;
    std::vector<std::vector<float>> decoded;
    ~Peers() {
        for (rai_gc *g : gcs) rai_gc_destroy(g);
    }
};

Peers make_peers(rai_context *ctx, const rai_gc_params &p, int count, std::vector<int64_t> shape, uint32_t seed) {
    Peers P;
    for (int i = 0; i < count; ++i) {
        rai_gc *gc = make_gc(ctx, p);
        Grad g = random_grad(shape, seed + i);
        rai_tensor t = g.t();
        uint32_t id;
        EXPECT_EQ(rai_gc_add_tensor(gc, "g", &t, &id), RAI_OK);
        P.msgs.push_back(compress_msg(gc, 0, g));
        Grad d = zeros_like(g);
        rai_tensor td = d.t();
        EXPECT_EQ(rai_gc_decompress(gc, 0, P.msgs.back().data(), P.msgs.back().size(), &td), RAI_OK);
        P.decoded.push_back(d.f);
        P.gcs.push_back(gc);
    }
    return P;
}

std::vector<float> reduce_and_decode(rai_gc *gc, const Peers &P, std::vector<int64_t> shape, size_t *reduced_size) {
    std::vector<const void *> ptrs;
    std::vector<size_t> lens;
    for (const auto &m : P.msgs) ptrs.push_back(m.data()), lens.push_back(m.size());
    size_t need = 0;
    EXPECT_EQ(rai_gc_message_reduce(gc, 0, ptrs.data(), lens.data(), ptrs.size(), nullptr, 0, &need), RAI_OK)
        << rai_last_error_message();
    std::vector<uint8_t> red(need);
    size_t w = 0;
    if (need > 1) {
        EXPECT_EQ(rai_gc_message_reduce(gc, 0, ptrs.data(), lens.data(), ptrs.size(), red.data(), need - 1, &w),
                  RAI_ERROR_BUFFER_TOO_SMALL);
        EXPECT_EQ(w, need);
    }
    EXPECT_EQ(rai_gc_message_reduce(gc, 0, ptrs.data(), lens.data(), ptrs.size(), red.data(), red.size(), &w), RAI_OK)
        << rai_last_error_message();
    if (reduced_size) *reduced_size = w;
    Grad out = random_grad(shape, 0);
    rai_tensor to = out.t();
    EXPECT_EQ(rai_gc_decompress(gc, 0, red.data(), w, &to), RAI_OK) << rai_last_error_message();
    return out.f;
}
}  // namespace

TEST_F(Gc, ReduceSumsTopkExactlyAsASparseUnion) {
    rai_gc_params p = params(RAI_GC_TOPK);
    p.ratio = 0.05f;
    Peers P = make_peers(ctx, p, 4, {200}, 10);
    size_t sz = 0;
    const auto got = reduce_and_decode(P.gcs[0], P, {200}, &sz);
    std::vector<float> want(200, 0.0f);
    size_t nnz = 0;
    for (const auto &d : P.decoded)
        for (size_t i = 0; i < 200; ++i) want[i] += d[i];
    for (float v : want) nnz += v != 0.0f;
    EXPECT_EQ(got, want);
    EXPECT_EQ(sz, 40 + 4 + 8 * nnz);
}

TEST_F(Gc, ReduceTakesTheMajorityVoteForSign) {
    Peers P = make_peers(ctx, params(RAI_GC_SIGN), 4, {100}, 20);
    const auto got = reduce_and_decode(P.gcs[0], P, {100}, nullptr);
    double scale_sum = 0;
    for (const auto &d : P.decoded) scale_sum += std::fabs(d[0]);
    for (size_t i = 0; i < 100; ++i) {
        int vote = 0;
        for (const auto &d : P.decoded) vote += d[i] < 0 ? -1 : 1;
        const float want = vote > 0 ? float(scale_sum) : (vote < 0 ? -float(scale_sum) : 0.0f);
        EXPECT_FLOAT_EQ(got[i], want) << i;
    }
}

TEST_F(Gc, ReduceOfOtherMethodsDecodesToTheSum) {
    for (int32_t m : {RAI_GC_NONE, RAI_GC_TERNARY, RAI_GC_TERNARY_STOCH, RAI_GC_QSGD, RAI_GC_POWERSGD,
                      RAI_GC_VSA_COMPAT}) {
        Peers P = make_peers(ctx, params(m), 3, {24, 20}, 30);
        const auto got = reduce_and_decode(P.gcs[1], P, {24, 20}, nullptr);
        for (size_t i = 0; i < got.size(); ++i) {
            const float want = P.decoded[0][i] + P.decoded[1][i] + P.decoded[2][i];
            EXPECT_NEAR(got[i], want, 1e-5f * (1 + std::fabs(want))) << rai::gc::method_name(m) << " " << i;
        }
    }
}

TEST_F(Gc, ReduceRejectsMixedStepsAndBadArguments) {
    Peers P = make_peers(ctx, params(RAI_GC_SIGN), 2, {16}, 40);
    Grad g = random_grad({16}, 3);
    const auto later = compress_msg(P.gcs[0], 0, g);  // step 1
    const void *ptrs[2] = {P.msgs[1].data(), later.data()};
    const size_t lens[2] = {P.msgs[1].size(), later.size()};
    std::vector<uint8_t> out(1024);
    size_t w = 0;
    EXPECT_RAI_ERROR(rai_gc_message_reduce(P.gcs[0], 0, ptrs, lens, 2, out.data(), out.size(), &w),
                     RAI_ERROR_INVALID_ARGUMENT, "step");
    EXPECT_RAI_ERROR(rai_gc_message_reduce(P.gcs[0], 0, ptrs, lens, 0, out.data(), out.size(), &w),
                     RAI_ERROR_INVALID_ARGUMENT, "count");
    EXPECT_RAI_ERROR(rai_gc_message_reduce(P.gcs[0], 0, nullptr, lens, 2, out.data(), out.size(), &w),
                     RAI_ERROR_INVALID_ARGUMENT, "messages");
    const size_t short_lens[2] = {P.msgs[1].size(), 10};
    EXPECT_RAI_ERROR(rai_gc_message_reduce(P.gcs[0], 0, ptrs, short_lens, 2, out.data(), out.size(), &w),
                     RAI_ERROR_FORMAT, "messages[1]");
    EXPECT_RAI_ERROR(rai_gc_message_reduce(P.gcs[0], 3, ptrs, lens, 2, out.data(), out.size(), &w),
                     RAI_ERROR_INVALID_ARGUMENT, "id 3");
}

// ---------------------------------------------------------------- PowerSGD two rounds
TEST_F(Gc, PowerSgdTwoRoundProtocolAgreesAcrossPeers) {
    rai_gc_params p = params(RAI_GC_POWERSGD);
    p.rank = 2;
    const int peers = 3;
    const std::vector<int64_t> shape = {30, 20};
    std::vector<rai_gc *> gcs;
    for (int i = 0; i < peers; ++i) {
        gcs.push_back(make_gc(ctx, p));
        Grad g = random_grad(shape, 1);
        rai_tensor t = g.t();
        uint32_t id;
        ASSERT_RAI_OK(rai_gc_add_tensor(gcs.back(), "w", &t, &id));
    }
    // Gradients of rank 1 with peer-specific scales: their sum is rank 1, so after the warm
    // start the result equals the sum (PowerSGD is exact on low-rank sums).
    std::vector<float> u(30), v(20);
    for (int i = 0; i < 30; ++i) u[i] = std::sin(0.3f * i + 0.2f);
    for (int j = 0; j < 20; ++j) v[j] = std::cos(0.7f * j);
    for (int step = 0; step < 3; ++step) {
        std::vector<Grad> grads;
        std::vector<float> sum(600, 0.0f);
        for (int k = 0; k < peers; ++k) {
            Grad g = random_grad(shape, 0);
            for (int i = 0; i < 30; ++i)
                for (int j = 0; j < 20; ++j) g.f[i * 20 + j] = (1.0f + k + step) * u[i] * v[j];
            for (size_t i = 0; i < 600; ++i) sum[i] += g.f[i];
            grads.push_back(g);
        }
        std::vector<std::vector<uint8_t>> pm(peers);
        for (int k = 0; k < peers; ++k) {
            rai_tensor t = grads[k].t();
            size_t need = 0, w = 0;
            ASSERT_RAI_OK(rai_gc_powersgd_p(gcs[k], 0, &t, nullptr, 0, &need));
            pm[k].resize(need);
            ASSERT_RAI_OK(rai_gc_powersgd_p(gcs[k], 0, &t, pm[k].data(), need, &w));
            EXPECT_EQ(w, 40u + 12u + 4u * 30 * 2);
        }
        auto reduce_all = [&](const std::vector<std::vector<uint8_t>> &ms) {
            std::vector<const void *> ptrs;
            std::vector<size_t> lens;
            for (const auto &m : ms) ptrs.push_back(m.data()), lens.push_back(m.size());
            size_t need = 0;
            EXPECT_EQ(rai_gc_message_reduce(gcs[0], 0, ptrs.data(), lens.data(), ptrs.size(), nullptr, 0, &need), RAI_OK);
            std::vector<uint8_t> out(need);
            EXPECT_EQ(rai_gc_message_reduce(gcs[0], 0, ptrs.data(), lens.data(), ptrs.size(), out.data(), need, &need),
                      RAI_OK)
                << rai_last_error_message();
            return out;
        };
        const auto psum = reduce_all(pm);
        std::vector<std::vector<uint8_t>> qm(peers);
        for (int k = 0; k < peers; ++k) {
            size_t need = 0, w = 0;
            ASSERT_RAI_OK(rai_gc_powersgd_q(gcs[k], 0, psum.data(), psum.size(), nullptr, 0, &need));
            qm[k].resize(need);
            ASSERT_RAI_OK(rai_gc_powersgd_q(gcs[k], 0, psum.data(), psum.size(), qm[k].data(), need, &w));
        }
        const auto qsum = reduce_all(qm);
        for (int k = 0; k < peers; ++k) {  // the stats count both rounds' messages
            rai_gc_stats st;
            rai_gc_stats_init(&st);
            ASSERT_RAI_OK(rai_gc_get_stats(gcs[k], 0, &st));
            EXPECT_EQ(st.bits_out, 8u * (step + 1) * (pm[k].size() + qm[k].size())) << "peer " << k;
        }
        std::vector<float> first;
        for (int k = 0; k < peers; ++k) {
            Grad out = random_grad(shape, 0);
            rai_tensor to = out.t();
            ASSERT_RAI_OK(rai_gc_decompress(gcs[k], 0, qsum.data(), qsum.size(), &to));
            if (k == 0) first = out.f;
            else EXPECT_EQ(out.f, first);
        }
        EXPECT_LT(rel_error(sum, first), 1e-4) << "step " << step;
        // A Q-round message is only decodable once.
        Grad out = random_grad(shape, 0);
        rai_tensor to = out.t();
        EXPECT_RAI_ERROR(rai_gc_decompress(gcs[0], 0, qsum.data(), qsum.size(), &to), RAI_ERROR_INVALID_ARGUMENT,
                         "Q-round");
        EXPECT_RAI_ERROR(rai_gc_decompress(gcs[0], 0, psum.data(), psum.size(), &to), RAI_ERROR_INVALID_ARGUMENT,
                         "P-round");
    }
    // protocol misuse
    std::vector<uint8_t> buf(4096);
    size_t w = 0;
    rai_gc *sign = make_gc(ctx, params(RAI_GC_SIGN));
    Grad g = random_grad(shape, 1);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(sign, "w", &t, &id));
    EXPECT_RAI_ERROR(rai_gc_powersgd_p(sign, 0, &t, buf.data(), buf.size(), &w), RAI_ERROR_INVALID_ARGUMENT, "POWERSGD");
    ASSERT_RAI_OK(rai_gc_powersgd_p(gcs[0], 0, &t, buf.data(), buf.size(), &w));
    ASSERT_RAI_OK(rai_gc_compress(gcs[0], 0, &t, buf.data() + 2048, 2048, &w));  // abandons the round
    EXPECT_RAI_ERROR(rai_gc_powersgd_q(gcs[0], 0, buf.data(), 40 + 12 + 4 * 60, buf.data() + 2048, 2048, &w),
                     RAI_ERROR_INVALID_ARGUMENT, "no open PowerSGD round");
    rai_gc_destroy(sign);
    for (rai_gc *x : gcs) rai_gc_destroy(x);
}

TEST_F(Gc, PowerSgdRawTensorsSkipTheSecondRound) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_POWERSGD));
    Grad b = random_grad({50}, 1);
    rai_tensor t = b.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "bias", &t, &id));
    std::vector<uint8_t> pm(40 + 200), qm(64);
    size_t w = 0;
    ASSERT_RAI_OK(rai_gc_powersgd_p(gc, 0, &t, pm.data(), pm.size(), &w));
    EXPECT_EQ(w, 240u);
    ASSERT_RAI_OK(rai_gc_powersgd_q(gc, 0, pm.data(), w, qm.data(), qm.size(), &w));
    EXPECT_EQ(w, 0u);
    Grad out = zeros_like(b);
    rai_tensor to = out.t();
    ASSERT_RAI_OK(rai_gc_decompress(gc, 0, pm.data(), pm.size(), &to));
    EXPECT_EQ(out.f, b.f);
    rai_gc_destroy(gc);
}

// ---------------------------------------------------------------- state
TEST_F(Gc, StateSaveLoadContinuesBitwise) {
    for (int32_t m : kAllMethods) {
        SCOPED_TRACE(rai::gc::method_name(m));
        rai_gc *a = make_gc(ctx, params(m));
        Grad w = random_grad({20, 12}, 1), bias = random_grad({12}, 2, true);
        uint32_t id;
        for (Grad *g : {&w, &bias}) {
            rai_tensor t = g->t();
            ASSERT_RAI_OK(rai_gc_add_tensor(a, "t", &t, &id));
        }
        for (int step = 0; step < 3; ++step) {
            Grad x = random_grad({20, 12}, 10 + step), y = random_grad({12}, 20 + step, true);
            rai_tensor tx = x.t(), ty = y.t();
            ASSERT_RAI_OK(rai_gc_apply(a, 0, &tx));
            ASSERT_RAI_OK(rai_gc_apply(a, 1, &ty));
        }
        size_t sz = 0, wr = 0;
        ASSERT_RAI_OK(rai_gc_state_size(a, &sz));
        ASSERT_RAI_OK(rai_gc_state_save(a, nullptr, 0, &wr));
        EXPECT_EQ(wr, sz);
        std::vector<uint8_t> blob(sz);
        EXPECT_RAI_ERROR(rai_gc_state_save(a, blob.data(), sz - 1, &wr), RAI_ERROR_BUFFER_TOO_SMALL, "capacity");
        ASSERT_RAI_OK(rai_gc_state_save(a, blob.data(), sz, &wr));
        rai_gc *b = make_gc(ctx, params(m));
        for (Grad *g : {&w, &bias}) {
            rai_tensor t = g->t();
            ASSERT_RAI_OK(rai_gc_add_tensor(b, "t", &t, &id));
        }
        ASSERT_RAI_OK(rai_gc_state_load(b, blob.data(), blob.size()));
        for (int step = 0; step < 2; ++step) {
            Grad x = random_grad({20, 12}, 40 + step), x2 = x;
            EXPECT_EQ(compress_msg(a, 0, x), compress_msg(b, 0, x2));
            Grad y = random_grad({12}, 50 + step, true), y2 = y;
            EXPECT_EQ(compress_msg(a, 1, y), compress_msg(b, 1, y2));
        }
        rai_gc_destroy(a);
        rai_gc_destroy(b);
    }
}

TEST_F(Gc, StateLoadRejectsMismatchesAndChangesNothing) {
    rai_gc *a = make_gc(ctx, params(RAI_GC_TOPK));
    Grad w = random_grad({20, 12}, 1);
    rai_tensor t = w.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(a, "w", &t, &id));
    Grad x = w;
    rai_tensor tx = x.t();
    ASSERT_RAI_OK(rai_gc_apply(a, 0, &tx));
    size_t sz = 0, wr = 0;
    ASSERT_RAI_OK(rai_gc_state_size(a, &sz));
    std::vector<uint8_t> blob(sz);
    ASSERT_RAI_OK(rai_gc_state_save(a, blob.data(), sz, &wr));

    rai_gc *b = make_gc(ctx, params(RAI_GC_TOPK));
    ASSERT_RAI_OK(rai_gc_add_tensor(b, "w", &t, &id));
    const auto before = residual_of(b, 0);
    EXPECT_RAI_ERROR(rai_gc_state_load(b, blob.data(), blob.size() - 1), RAI_ERROR_FORMAT, "truncated");
    EXPECT_RAI_ERROR(rai_gc_state_load(b, nullptr, 0), RAI_ERROR_INVALID_ARGUMENT, "data");
    auto bad = blob;
    bad[0] ^= 0xff;
    EXPECT_RAI_ERROR(rai_gc_state_load(b, bad.data(), bad.size()), RAI_ERROR_FORMAT, "magic");
    bad = blob;
    bad[4] = 9;
    EXPECT_RAI_ERROR(rai_gc_state_load(b, bad.data(), bad.size()), RAI_ERROR_FORMAT, "version");
    bad = blob;
    bad.push_back(0);
    EXPECT_RAI_ERROR(rai_gc_state_load(b, bad.data(), bad.size()), RAI_ERROR_FORMAT, "trailing");
    EXPECT_EQ(residual_of(b, 0), before);
    EXPECT_EQ(b->tensors[0].step, 0u);

    rai_gc *sign = make_gc(ctx, params(RAI_GC_SIGN));
    ASSERT_RAI_OK(rai_gc_add_tensor(sign, "w", &t, &id));
    EXPECT_RAI_ERROR(rai_gc_state_load(sign, blob.data(), blob.size()), RAI_ERROR_FORMAT, "method");
    rai_gc *two = make_gc(ctx, params(RAI_GC_TOPK));
    ASSERT_RAI_OK(rai_gc_add_tensor(two, "w", &t, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(two, "w2", &t, &id));
    EXPECT_RAI_ERROR(rai_gc_state_load(two, blob.data(), blob.size()), RAI_ERROR_SHAPE_MISMATCH, "tensors");
    rai_gc *reshaped = make_gc(ctx, params(RAI_GC_TOPK));
    Grad r = random_grad({12, 20}, 1);
    rai_tensor tr = r.t();
    ASSERT_RAI_OK(rai_gc_add_tensor(reshaped, "w", &tr, &id));
    EXPECT_RAI_ERROR(rai_gc_state_load(reshaped, blob.data(), blob.size()), RAI_ERROR_SHAPE_MISMATCH, "shape");
    for (rai_gc *g : {a, b, sign, two, reshaped}) rai_gc_destroy(g);
}

TEST_F(Gc, StatsRequireAnInitialisedStruct) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_SIGN));
    rai_gc_stats st{};
    EXPECT_RAI_ERROR(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    rai_gc_stats_init(&st);
    ASSERT_RAI_OK(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st));
    EXPECT_EQ(st.steps, 0u);
    EXPECT_EQ(st.ef_norm, 0.0);
    rai_gc_destroy(gc);
}

TEST_F(Gc, MpiEntryPointChecksArguments) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_SIGN));
    Grad g = random_grad({8}, 1);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    EXPECT_RAI_ERROR(rai_gc_allreduce_mpi(gc, 0, &t, nullptr, 0), RAI_ERROR_INVALID_ARGUMENT, "mpi_comm");
    int dummy = 0;
    EXPECT_RAI_ERROR(rai_gc_allreduce_mpi(gc, 0, &t, &dummy, 0x10), RAI_ERROR_INVALID_ARGUMENT, "flags");
    if (rai_gc_has_mpi()) {
        // MPI is not initialised in this process.
        EXPECT_RAI_ERROR(rai_gc_allreduce_mpi(gc, 0, &t, &dummy, 0), RAI_ERROR_INVALID_ARGUMENT, "initialised");
    } else {
        // This white-box binary links librai's objects statically: "librai's directory" is the
        // test's own, which holds no librai_mpi.so, so this is the path that runs here unless
        // $RAI_MPI_PLUGIN names the plugin.
        EXPECT_RAI_ERROR(rai_gc_allreduce_mpi(gc, 0, &t, &dummy, 0), RAI_ERROR_UNSUPPORTED, "MPI plugin not loaded");
    }
    rai_gc_destroy(gc);
}

TEST_F(Gc, NcclEntryPointNeedsACudaContext) {
    rai_gc *gc = make_gc(ctx, params(RAI_GC_SIGN));
    Grad g = random_grad({8}, 1);
    rai_tensor t = g.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "g", &t, &id));
    int dummy = 0;
    EXPECT_RAI_ERROR(rai_gc_allreduce_nccl(gc, 0, &t, nullptr, 0), RAI_ERROR_INVALID_ARGUMENT, "nccl_comm");
    EXPECT_RAI_ERROR(rai_gc_allreduce_nccl(gc, 0, &t, &dummy, 4), RAI_ERROR_INVALID_ARGUMENT, "flags");
    EXPECT_RAI_ERROR(rai_gc_allreduce_nccl(gc, 0, &t, &dummy, 0), RAI_ERROR_UNSUPPORTED, "CUDA context");
    EXPECT_EQ(gc->tensors[0].step, 0u);
    rai_gc_destroy(gc);
}
