// rai_optimizer: SGD, momentum (classic and Nesterov) and AdamW against hand-computed PyTorch
// steps; global norm and clipping; state save/load; every error path.
#include <cmath>
#include <vector>

#include "train_test_util.h"

using namespace train_test;

namespace {

class Opt : public CpuContextTest {
protected:
    void TearDown() override {
        rai_optimizer_destroy(opt);
        CpuContextTest::TearDown();
    }
    rai_optimizer *create(int32_t kind, float lr, float momentum = 0, float wd = 0, int32_t nesterov = 0,
                          float max_norm = 0) {
        rai_optimizer_params p;
        rai_optimizer_params_init(&p);
        p.kind = kind;
        p.lr = lr;
        p.momentum = momentum;
        p.weight_decay = wd;
        p.nesterov = nesterov;
        p.max_grad_norm = max_norm;
        EXPECT_EQ(rai_optimizer_create(ctx, &p, &opt), RAI_OK) << rai_last_error_message();
        return opt;
    }
    void add(float *param, float *grad, int64_t *shape, int32_t ndim = 1) {
        rai_tensor p = make_tensor(param, kF32, shape, ndim), g = make_tensor(grad, kF32, shape, ndim);
        ASSERT_RAI_OK(rai_optimizer_add_param(opt, nullptr, &p, &g, nullptr));
    }
    rai_optimizer *opt = nullptr;
};

}  // namespace

TEST_F(Opt, SgdMatchesHandComputedStep) {
    create(RAI_OPTIMIZER_SGD, 0.1f);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f};
    int64_t shape[1] = {2};
    add(p, g, shape);
    float norm = 0;
    ASSERT_RAI_OK(rai_optimizer_step(opt, &norm));
    EXPECT_FLOAT_EQ(p[0], 0.95f);
    EXPECT_FLOAT_EQ(p[1], -2.025f);
    EXPECT_FLOAT_EQ(norm, std::sqrt(0.25f + 0.0625f));
    EXPECT_FLOAT_EQ(g[0], 0.5f);  // gradients are not modified
}

TEST_F(Opt, SgdWeightDecayIsL2OnTheGradient) {
    create(RAI_OPTIMIZER_SGD, 0.1f, 0, 0.1f);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f};
    int64_t shape[1] = {2};
    add(p, g, shape);
    ASSERT_RAI_OK(rai_optimizer_step(opt, nullptr));
    EXPECT_FLOAT_EQ(p[0], 1.0f - 0.1f * (0.5f + 0.1f));
    EXPECT_FLOAT_EQ(p[1], -2.0f - 0.1f * (0.25f - 0.2f));
}

TEST_F(Opt, MomentumAndNesterovMatchPyTorch) {
    // Hand values of torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=...), three
    // steps with gradients (0.5, 0.25), (-0.1, 0.4), (0.3, -0.2) from p = (1, -2).
    const float expect[2][2] = {{0.848074749f, -2.11240462f}, {0.790593358f, -2.13990312f}};
    for (int nesterov = 0; nesterov < 2; ++nesterov) {
        rai_optimizer_destroy(opt);
        opt = nullptr;
        create(RAI_OPTIMIZER_MOMENTUM, 0.1f, 0.9f, 0.01f, nesterov);
        float p[2] = {1.0f, -2.0f}, g[2];
        int64_t shape[1] = {2};
        add(p, g, shape);
        const float gs[3][2] = {{0.5f, 0.25f}, {-0.1f, 0.4f}, {0.3f, -0.2f}};
        for (auto &gg : gs) {
            g[0] = gg[0];
            g[1] = gg[1];
            ASSERT_RAI_OK(rai_optimizer_step(opt, nullptr));
        }
        EXPECT_NEAR(p[0], expect[nesterov][0], 1e-6) << "nesterov " << nesterov;
        EXPECT_NEAR(p[1], expect[nesterov][1], 1e-6) << "nesterov " << nesterov;
        uint64_t t = 0;
        ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t));
        EXPECT_EQ(t, 3u);
    }
}

TEST_F(Opt, AdamWMatchesPyTorch) {
    // torch.optim.AdamW(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1), hand-computed:
    // step 1: p = (0.989000001, -0.4895); step 2: p = (0.991672036, -0.483625125).
    rai_optimizer_params prm;
    rai_optimizer_params_init(&prm);
    prm.kind = RAI_OPTIMIZER_ADAMW;
    prm.lr = 0.01f;
    prm.weight_decay = 0.1f;
    ASSERT_RAI_OK(rai_optimizer_create(ctx, &prm, &opt));
    float p[2] = {1.0f, -0.5f}, g[2] = {0.1f, -0.3f};
    int64_t shape[1] = {2};
    add(p, g, shape);
    ASSERT_RAI_OK(rai_optimizer_step(opt, nullptr));
    EXPECT_NEAR(p[0], 0.989000001f, 2e-7);
    EXPECT_NEAR(p[1], -0.4895f, 2e-7);
    g[0] = -0.2f;
    g[1] = 0.05f;
    ASSERT_RAI_OK(rai_optimizer_step(opt, nullptr));
    EXPECT_NEAR(p[0], 0.991672036f, 2e-7);
    EXPECT_NEAR(p[1], -0.483625125f, 2e-7);
}

TEST_F(Opt, ClippingUsesTheGlobalNormAcrossTensors) {
    create(RAI_OPTIMIZER_SGD, 1.0f, 0, 0, 0, 1.0f);
    float a[2] = {0, 0}, ga[2] = {3.0f, 0.0f}, b[1] = {0}, gb[1] = {4.0f};
    int64_t s2[1] = {2}, s1[1] = {1};
    add(a, ga, s2);
    add(b, gb, s1);
    float norm = 0;
    ASSERT_RAI_OK(rai_optimizer_step(opt, &norm));
    EXPECT_FLOAT_EQ(norm, 5.0f);
    const float f = static_cast<float>(1.0 / (5.0 + 1e-6));  // min(1, max/(norm + 1e-6))
    EXPECT_FLOAT_EQ(a[0], -3.0f * f);
    EXPECT_FLOAT_EQ(b[0], -4.0f * f);
}

TEST_F(Opt, ClipGradNormScalesGradientsInPlace) {
    create(RAI_OPTIMIZER_SGD, 1.0f);
    float a[2] = {0, 0}, ga[2] = {3.0f, 0.0f}, b[1] = {0}, gb[1] = {4.0f};
    int64_t s2[1] = {2}, s1[1] = {1};
    add(a, ga, s2);
    add(b, gb, s1);
    float norm = 0, n2 = 0;
    ASSERT_RAI_OK(rai_optimizer_grad_norm(opt, &n2));
    EXPECT_FLOAT_EQ(n2, 5.0f);
    ASSERT_RAI_OK(rai_optimizer_clip_grad_norm(opt, 2.5f, &norm));
    EXPECT_FLOAT_EQ(norm, 5.0f);
    EXPECT_NEAR(ga[0], 1.5f, 1e-6);
    EXPECT_NEAR(gb[0], 2.0f, 1e-6);
    ASSERT_RAI_OK(rai_optimizer_clip_grad_norm(opt, 100.0f, &norm));  // no-op below the maximum
    EXPECT_NEAR(ga[0], 1.5f, 1e-6);
}

TEST_F(Opt, NonFiniteGradientIsRefusedAndNothingChanges) {
    create(RAI_OPTIMIZER_ADAMW, 0.01f);
    float p[2] = {1.0f, 2.0f}, g[2] = {NAN, 0.0f};
    int64_t shape[1] = {2};
    add(p, g, shape);
    EXPECT_RAI_ERROR(rai_optimizer_step(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "not finite");
    EXPECT_EQ(p[0], 1.0f);
    EXPECT_EQ(p[1], 2.0f);
    uint64_t t = 9;
    ASSERT_RAI_OK(rai_optimizer_step_count(opt, &t));
    EXPECT_EQ(t, 0u);
}

TEST_F(Opt, LearningRateCanBeChanged) {
    create(RAI_OPTIMIZER_SGD, 0.1f);
    float lr = 0;
    ASSERT_RAI_OK(rai_optimizer_get_lr(opt, &lr));
    EXPECT_FLOAT_EQ(lr, 0.1f);
    ASSERT_RAI_OK(rai_optimizer_set_lr(opt, 0.5f));
    ASSERT_RAI_OK(rai_optimizer_get_lr(opt, &lr));
    EXPECT_FLOAT_EQ(lr, 0.5f);
    EXPECT_RAI_ERROR(rai_optimizer_set_lr(opt, -1.0f), RAI_ERROR_INVALID_ARGUMENT, "lr");
    EXPECT_RAI_ERROR(rai_optimizer_set_lr(opt, NAN), RAI_ERROR_INVALID_ARGUMENT, "lr");
}

TEST_F(Opt, DefaultsAreDocumented) {
    ASSERT_RAI_OK(rai_optimizer_create(ctx, nullptr, &opt));
    float lr = 0;
    ASSERT_RAI_OK(rai_optimizer_get_lr(opt, &lr));
    EXPECT_FLOAT_EQ(lr, 1e-3f);
}

TEST_F(Opt, StateSaveLoadResumesBitwise) {
    for (int32_t kind : {RAI_OPTIMIZER_SGD, RAI_OPTIMIZER_MOMENTUM, RAI_OPTIMIZER_ADAMW}) {
        Regression a;
        rai_optimizer *oa = make_optimizer(ctx, kind, 0.05f, a, 0.9f);
        for (uint64_t s = 0; s < 5; ++s) {
            a.loss_and_grad(s);
            ASSERT_RAI_OK(rai_optimizer_step(oa, nullptr));
        }
        size_t need = 0;
        ASSERT_RAI_OK(rai_optimizer_state_size(oa, &need));
        std::vector<uint8_t> blob(need);
        size_t written = 0;
        EXPECT_RAI_ERROR(rai_optimizer_state_save(oa, blob.data(), need - 1, &written), RAI_ERROR_BUFFER_TOO_SMALL,
                         "needs");
        EXPECT_EQ(written, need);
        ASSERT_RAI_OK(rai_optimizer_state_save(oa, blob.data(), blob.size(), &written));
        EXPECT_EQ(written, need);
        Regression b;
        b.w = a.w;
        b.b = a.b;
        rai_optimizer *ob = make_optimizer(ctx, kind, 0.05f, b, 0.9f);
        ASSERT_RAI_OK(rai_optimizer_state_load(ob, blob.data(), blob.size()));
        for (uint64_t s = 5; s < 10; ++s) {
            a.loss_and_grad(s);
            b.loss_and_grad(s);
            ASSERT_RAI_OK(rai_optimizer_step(oa, nullptr));
            ASSERT_RAI_OK(rai_optimizer_step(ob, nullptr));
        }
        EXPECT_TRUE(bitwise_equal(a.params(), b.params())) << "kind " << kind;
        rai_optimizer_destroy(oa);
        rai_optimizer_destroy(ob);
    }
}

TEST_F(Opt, StateLoadErrorsChangeNothing) {
    Regression a;
    rai_optimizer *oa = make_optimizer(ctx, RAI_OPTIMIZER_ADAMW, 0.05f, a);
    a.loss_and_grad(0);
    ASSERT_RAI_OK(rai_optimizer_step(oa, nullptr));
    size_t need = 0;
    ASSERT_RAI_OK(rai_optimizer_state_size(oa, &need));
    std::vector<uint8_t> blob(need);
    size_t written = 0;
    ASSERT_RAI_OK(rai_optimizer_state_save(oa, blob.data(), blob.size(), &written));

    Regression b;
    rai_optimizer *ob = make_optimizer(ctx, RAI_OPTIMIZER_ADAMW, 0.05f, b);
    EXPECT_RAI_ERROR(rai_optimizer_state_load(ob, blob.data(), blob.size() - 3), RAI_ERROR_FORMAT, "");
    std::vector<uint8_t> bad = blob;
    bad[20] ^= 1;
    EXPECT_RAI_ERROR(rai_optimizer_state_load(ob, bad.data(), bad.size()), RAI_ERROR_FORMAT, "checksum");
    EXPECT_RAI_ERROR(rai_optimizer_state_load(ob, nullptr, 10), RAI_ERROR_INVALID_ARGUMENT, "buffer");
    uint64_t t = 7;
    ASSERT_RAI_OK(rai_optimizer_step_count(ob, &t));
    EXPECT_EQ(t, 0u);

    // Another kind, and another size.
    Regression c;
    rai_optimizer *oc = make_optimizer(ctx, RAI_OPTIMIZER_SGD, 0.05f, c);
    EXPECT_RAI_ERROR(rai_optimizer_state_load(oc, blob.data(), blob.size()), RAI_ERROR_INVALID_ARGUMENT, "kind");
    rai_optimizer_params pp;
    rai_optimizer_params_init(&pp);
    pp.kind = RAI_OPTIMIZER_ADAMW;
    rai_optimizer *od = nullptr;
    ASSERT_RAI_OK(rai_optimizer_create(ctx, &pp, &od));
    float p1[3], g1[3];
    int64_t s3[1] = {3};
    rai_tensor tp = make_tensor(p1, kF32, s3, 1), tg = make_tensor(g1, kF32, s3, 1);
    ASSERT_RAI_OK(rai_optimizer_add_param(od, nullptr, &tp, &tg, nullptr));
    EXPECT_RAI_ERROR(rai_optimizer_state_load(od, blob.data(), blob.size()), RAI_ERROR_SHAPE_MISMATCH, "tensors");
    rai_optimizer_destroy(oa);
    rai_optimizer_destroy(ob);
    rai_optimizer_destroy(oc);
    rai_optimizer_destroy(od);
}

TEST_F(Opt, StateFromAnotherFormatVersionIsUnsupported) {
    Regression a;
    rai_optimizer *oa = make_optimizer(ctx, RAI_OPTIMIZER_SGD, 0.05f, a);
    size_t need = 0, written = 0;
    ASSERT_RAI_OK(rai_optimizer_state_size(oa, &need));
    std::vector<uint8_t> blob(need);
    ASSERT_RAI_OK(rai_optimizer_state_save(oa, blob.data(), blob.size(), &written));
    blob[8] = 2;  // version field, then fix the checksum so only the version is wrong
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i + 8 < blob.size(); ++i) {
        h ^= blob[i];
        h *= 1099511628211ull;
    }
    for (int i = 0; i < 8; ++i) blob[blob.size() - 8 + i] = static_cast<uint8_t>(h >> (8 * i));
    EXPECT_RAI_ERROR(rai_optimizer_state_load(oa, blob.data(), blob.size()), RAI_ERROR_UNSUPPORTED, "version 2");
    rai_optimizer_destroy(oa);
}

TEST_F(Opt, InvalidParamsAreRefused) {
    rai_optimizer_params p;
    rai_optimizer_params_init(&p);
    rai_optimizer *o = reinterpret_cast<rai_optimizer *>(0x1);
    p.kind = 7;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "kind");
    EXPECT_EQ(o, nullptr);
    rai_optimizer_params_init(&p);
    p.lr = -1;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "lr");
    rai_optimizer_params_init(&p);
    p.beta1 = 1.0f;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "beta1");
    rai_optimizer_params_init(&p);
    p.beta2 = -0.5f;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "beta2");
    rai_optimizer_params_init(&p);
    p.momentum = 1.5f;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "momentum");
    rai_optimizer_params_init(&p);
    p.eps = -1e-8f;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "eps");
    rai_optimizer_params_init(&p);
    p.weight_decay = -0.1f;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "weight_decay");
    rai_optimizer_params_init(&p);
    p.max_grad_norm = NAN;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "max_grad_norm");
    rai_optimizer_params_init(&p);
    p.nesterov = 1;  // needs MOMENTUM
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_INVALID_ARGUMENT, "nesterov");
    rai_optimizer_params_init(&p);
    p.struct_size = 4;
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, &p, &o), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_optimizer_create(nullptr, nullptr, &o), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_optimizer_create(ctx, nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_optimizer_params_init_sized(&p, 3), RAI_ERROR_STRUCT_SIZE, "struct_size");
}

TEST_F(Opt, RegistrationErrorsNameTheArgument) {
    create(RAI_OPTIMIZER_SGD, 0.1f);
    float p[6], g[6];
    int64_t s6[1] = {6}, s23[2] = {2, 3}, s32[2] = {3, 2}, st[2] = {1, 2};
    rai_tensor tp = make_tensor(p, kF32, s23, 2), tg = make_tensor(g, kF32, s32, 2);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", &tp, &tg, nullptr), RAI_ERROR_SHAPE_MISMATCH, "grad");
    tg = make_tensor(g, kI32, s23, 2);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", &tp, &tg, nullptr), RAI_ERROR_DTYPE_MISMATCH, "grad");
    tg = make_tensor(g, kF32, s23, 2, st);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", &tp, &tg, nullptr), RAI_ERROR_LAYOUT, "grad");
    tg = make_tensor(g, kF32, s23, 2, nullptr, rai_device{RAI_DEVICE_CUDA, 0});
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", &tp, &tg, nullptr), RAI_ERROR_DEVICE_MISMATCH, "grad");
    tg = make_tensor(p + 3, kF32, s23, 2);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", &tp, &tg, nullptr), RAI_ERROR_INVALID_ARGUMENT, "overlaps");
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "x", nullptr, &tg, nullptr), RAI_ERROR_INVALID_ARGUMENT, "param");
    tg = make_tensor(g, kF32, s23, 2);
    uint32_t id = 9;
    ASSERT_RAI_OK(rai_optimizer_add_param(opt, "x", &tp, &tg, &id));
    EXPECT_EQ(id, 0u);
    rai_tensor again = make_tensor(p, kF32, s6, 1), other = make_tensor(g, kF32, s6, 1);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "y", &again, &other, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "overlaps");
    EXPECT_RAI_ERROR(rai_optimizer_add_param(nullptr, "y", &again, &other, nullptr), RAI_ERROR_INVALID_ARGUMENT, "opt");
    std::fill(g, g + 6, 0.0f);
    ASSERT_RAI_OK(rai_optimizer_step(opt, nullptr));
    float q[2], gq[2];
    int64_t s2[1] = {2};
    rai_tensor tq = make_tensor(q, kF32, s2, 1), tgq = make_tensor(gq, kF32, s2, 1);
    EXPECT_RAI_ERROR(rai_optimizer_add_param(opt, "late", &tq, &tgq, nullptr), RAI_ERROR_INVALID_ARGUMENT, "stepped");
}

TEST_F(Opt, NullArgumentsAreRefused) {
    create(RAI_OPTIMIZER_SGD, 0.1f);
    EXPECT_RAI_ERROR(rai_optimizer_step(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "no parameters");
    EXPECT_RAI_ERROR(rai_optimizer_step(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "opt");
    EXPECT_RAI_ERROR(rai_optimizer_grad_norm(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_norm");
    EXPECT_RAI_ERROR(rai_optimizer_get_lr(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_lr");
    EXPECT_RAI_ERROR(rai_optimizer_step_count(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "opt");
    EXPECT_RAI_ERROR(rai_optimizer_clip_grad_norm(opt, 0.0f, nullptr), RAI_ERROR_INVALID_ARGUMENT, "max_norm");
    EXPECT_RAI_ERROR(rai_optimizer_state_size(opt, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_size");
    EXPECT_RAI_ERROR(rai_optimizer_state_save(opt, nullptr, 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "written");
    rai_optimizer_destroy(nullptr);  // NULL-safe
}
