// QLoRA: adapters over a frozen 4-bit (NF4/FP4) base from the quantization capability.
#include <cmath>
#include <cstring>
#include <vector>

#include "adapter_test_util.h"

namespace {

class Qlora : public ModelTest {
protected:
    void SetUp() override {
        ModelTest::SetUp();
        w = random_t({48, 64}, 1, 0.5f);
        rai_q4_params qp;
        rai_q4_params_init(&qp);
        qp.type = RAI_Q4_NF4;
        qp.double_quant = 1;
        uint64_t nbytes = 0;
        ASSERT_RAI_OK(rai_q4_codes_size(48 * 64, &nbytes));
        codes.assign(nbytes, 0);
        codes_shape[0] = static_cast<int64_t>(nbytes);
        codes_t = make_tensor(codes.data(), kU8, codes_shape, 1);
        ASSERT_RAI_OK(rai_q4_quantize(ctx, &qp, &w.t, &codes_t, &state));
        deq = HostT({48, 64});
        ASSERT_RAI_OK(rai_q4_dequantize(ctx, state, &codes_t, &deq.t));
        bias = random_t({48}, 2);
        ASSERT_RAI_OK(rai_adapter_model_add_linear_q4(model, "q.proj", state, &codes_t, &bias.t));
        add_linear("d.proj", deq, &bias.t);  // the same weight, dense
    }
    void TearDown() override {
        rai_q4_state_destroy(state);
        ModelTest::TearDown();
    }
    // One adapter on both modules with identical factors.
    void add(const char *name, uint32_t flags) {
        rai_adapter_params p = lora_params("[\"proj\"]", 4, 8);
        p.init = RAI_ADAPTER_INIT_RANDOM;
        p.flags = flags;
        ASSERT_RAI_OK(rai_adapter_add(model, name, &p));
        for (const char *k : {"lora_A.weight", "lora_B.weight"}) {
            const std::vector<int64_t> shape = std::string(k) == "lora_A.weight" ? std::vector<int64_t>{4, 64}
                                                                                : std::vector<int64_t>{48, 4};
            HostT v = get(name, std::string("base_model.model.q.proj.") + k, shape);
            set(name, std::string("base_model.model.d.proj.") + k, v);
        }
        const char *n[] = {name};
        ASSERT_RAI_OK(rai_adapter_set_active(model, n, nullptr, 1));
    }
    HostT w, deq, bias;
    std::vector<uint8_t> codes;
    int64_t codes_shape[1] = {0};
    rai_tensor codes_t{};
    rai_q4_state *state = nullptr;
};

TEST_F(Qlora, ForwardAndBackwardMatchTheDequantizedDenseBase) {
    add("a", 0);
    HostT x = random_t({9, 64}, 3);
    HostT yq = forward("q.proj", x, 48), yd = forward("d.proj", x, 48);
    EXPECT_LE(max_diff(yq.v, yd.v), 1e-5f * yd.max_abs());
    HostT dy = random_t({9, 48}, 4), dxq({9, 64}), dxd({9, 64});
    ASSERT_RAI_OK(rai_adapter_backward(model, "q.proj", &x, &dy, &dxq));
    ASSERT_RAI_OK(rai_adapter_backward(model, "d.proj", &x, &dy, &dxd));
    EXPECT_LE(max_diff(dxq.v, dxd.v), 1e-5f * std::max(1.0f, dxd.max_abs()));
    HostT gq = grad("a", "base_model.model.q.proj.lora_A.weight", {4, 64});
    HostT gd = grad("a", "base_model.model.d.proj.lora_A.weight", {4, 64});
    EXPECT_LE(max_diff(gq.v, gd.v), 1e-5f * std::max(1.0f, gd.max_abs()));
    HostT wq({48, 64});
    ASSERT_RAI_OK(rai_adapter_model_get_weight(model, "q.proj", &wq, nullptr));  // dequantized
    EXPECT_TRUE(bit_equal(wq.v, deq.v));
}

TEST_F(Qlora, DoraOnA4BitBase) {
    rai_adapter_params p = lora_params("[\"q.proj\"]", 4, 8);
    p.flags = RAI_ADAPTER_DORA;
    ASSERT_RAI_OK(rai_adapter_add(model, "dora", &p));
    HostT m = get("dora", "base_model.model.q.proj.lora_magnitude_vector", {48});
    for (int i = 0; i < 48; ++i) {
        double s = 0;
        for (int j = 0; j < 64; ++j) s += double(deq[i * 64 + j]) * deq[i * 64 + j];
        EXPECT_NEAR(m[i], std::sqrt(s), 1e-5 * std::sqrt(s));  // ‖W‖ of the dequantized weight
    }
    HostT x = random_t({3, 64}, 5);
    HostT y = forward("q.proj", x, 48);
    const char *none[] = {"dora"};
    (void)none;
    ASSERT_RAI_OK(rai_adapter_set_enabled(model, 0));
    HostT yb = forward("q.proj", x, 48);
    EXPECT_TRUE(bit_equal(y.v, yb.v));  // B = 0 at init: identical to the 4-bit base
}

TEST_F(Qlora, MergeInto4BitNeedsTheLossyFlag) {
    add("a", 0);
    HostT x = random_t({5, 64}, 6);
    const HostT y = forward("q.proj", x, 48);
    const char *n[] = {"a"};
    EXPECT_RAI_ERROR(rai_adapter_merge(model, n, 1, RAI_ADAPTER_MERGE_SAFE), RAI_ERROR_INVALID_ARGUMENT,
                     "RAI_ADAPTER_MERGE_LOSSY");
    HostT w0({48, 64});
    ASSERT_RAI_OK(rai_adapter_model_get_weight(model, "q.proj", &w0, nullptr));
    EXPECT_TRUE(bit_equal(w0.v, deq.v));  // untouched by the refused merge
    ASSERT_RAI_OK(rai_adapter_merge(model, n, 1, RAI_ADAPTER_MERGE_LOSSY | RAI_ADAPTER_MERGE_KEEP_ORIGINAL));
    const HostT ym = forward("q.proj", x, 48);
    // Requantization error: NF4 steps are up to ~0.15·absmax per weight; compare loosely.
    float sum_abs = 0;
    for (int i = 0; i < 64; ++i) sum_abs += std::fabs(x[i]) * 0.5f;
    EXPECT_LE(max_diff(ym.v, y.v), 0.35f * sum_abs);
    EXPECT_GT(max_diff(ym.v, y.v), 0.0f);
    ASSERT_RAI_OK(rai_adapter_unmerge(model, 0));  // kept original: exact
    ASSERT_RAI_OK(rai_adapter_model_get_weight(model, "q.proj", &w0, nullptr));
    EXPECT_TRUE(bit_equal(w0.v, deq.v));
    HostT yu = forward("q.proj", x, 48);
    EXPECT_TRUE(bit_equal(yu.v, y.v));
}

TEST_F(Qlora, MergeIntoTheDenseMasterThenRequantize) {
    add("a", 0);
    // The master is the original fp32 weight (before quantization), as QLoRA users keep it.
    HostT merged({48, 64}), dense_merged({48, 64});
    const char *n[] = {"a"};
    ASSERT_RAI_OK(rai_adapter_merged_weight(model, "q.proj", n, 1, &w.t, &merged.t));
    // The same adapter factors on a dense module holding the master give the same merge.
    HostT master = w;
    add_linear("m.proj", master);
    // reference: master + s·B·A computed here
    HostT A = get("a", "base_model.model.q.proj.lora_A.weight", {4, 64});
    HostT B = get("a", "base_model.model.q.proj.lora_B.weight", {48, 4});
    for (int i = 0; i < 48; ++i)
        for (int j = 0; j < 64; ++j) {
            double d = 0;
            for (int k = 0; k < 4; ++k) d += double(B[i * 4 + k]) * A[k * 64 + j];
            EXPECT_NEAR(merged[i * 64 + j], w[i * 64 + j] + 2.0 * d, 1e-5) << i << "," << j;
        }
    // Requantize the merged master.
    rai_q4_params qp;
    rai_q4_params_init(&qp);
    std::vector<uint8_t> c2(codes.size());
    rai_tensor c2t = make_tensor(c2.data(), kU8, codes_shape, 1);
    rai_q4_state *s2 = nullptr;
    ASSERT_RAI_OK(rai_q4_quantize(ctx, &qp, &merged.t, &c2t, &s2));
    rai_q4_state_destroy(s2);
    HostT bad({48, 63});
    EXPECT_RAI_ERROR(rai_adapter_merged_weight(model, "q.proj", n, 1, &bad.t, &merged.t), RAI_ERROR_SHAPE_MISMATCH,
                     "master");
    (void)dense_merged;
}

TEST_F(Qlora, FunctionalQloraEqualsLoraOnTheDequantizedWeight) {
    HostT x = random_t({7, 64}, 11), a = random_t({4, 64}, 12, 0.2f), b = random_t({48, 4}, 13, 0.2f),
          dy = random_t({7, 48}, 14), m = random_t({48}, 15);
    for (float &v : m.v) v = 5.0f + v;
    for (int dora = 0; dora < 2; ++dora) {
        rai_lora_linear_params p;
        rai_lora_linear_params_init(&p);
        p.scaling = 2.0f;
        p.dropout = 0.25f;
        p.flags = RAI_LORA_TRAINING;
        p.seed = 3;
        HostT yq({7, 48}), yd({7, 48});
        rai_tensor *mg = dora ? &m.t : nullptr;
        ASSERT_RAI_OK(rai_qlora_linear_forward(ctx, &p, &x, state, &codes_t, &bias.t, &a, &b, mg, &yq));
        ASSERT_RAI_OK(rai_lora_linear_forward(ctx, &p, &x, &deq, &bias.t, &a, &b, mg, &yd));
        EXPECT_TRUE(bit_equal(yq.v, yd.v)) << max_diff(yq.v, yd.v);
        HostT dxq({7, 64}), dxd({7, 64}), daq({4, 64}), dad({4, 64}), dbq({48, 4}), dbd({48, 4});
        ASSERT_RAI_OK(rai_qlora_linear_backward(ctx, &p, &x, state, &codes_t, &a, &b, mg, &dy, &dxq, &daq, &dbq, nullptr));
        ASSERT_RAI_OK(rai_lora_linear_backward(ctx, &p, &x, &deq, &a, &b, mg, &dy, &dxd, &dad, &dbd, nullptr));
        EXPECT_TRUE(bit_equal(dxq.v, dxd.v));
        EXPECT_TRUE(bit_equal(daq.v, dad.v));
        EXPECT_TRUE(bit_equal(dbq.v, dbd.v));
    }
    HostT xbad({7, 63}), y({7, 48});
    EXPECT_RAI_ERROR(rai_qlora_linear_forward(ctx, nullptr, &xbad, state, &codes_t, nullptr, &a, &b, nullptr, &y),
                     RAI_ERROR_SHAPE_MISMATCH, "state");
    EXPECT_RAI_ERROR(rai_qlora_linear_forward(ctx, nullptr, &x, nullptr, &codes_t, nullptr, &a, &b, nullptr, &y),
                     RAI_ERROR_INVALID_ARGUMENT, "state");
}

TEST_F(Qlora, BadState) {
    HostT v({48 * 64});
    rai_q4_params qp;
    rai_q4_params_init(&qp);
    std::vector<uint8_t> c(codes.size());
    rai_tensor ct = make_tensor(c.data(), kU8, codes_shape, 1);
    rai_q4_state *s1 = nullptr;
    ASSERT_RAI_OK(rai_q4_quantize(ctx, &qp, &v.t, &ct, &s1));  // 1-D state
    EXPECT_RAI_ERROR(rai_adapter_model_add_linear_q4(model, "one_d", s1, &ct, nullptr), RAI_ERROR_SHAPE_MISMATCH, "2-D");
    rai_q4_state_destroy(s1);
    EXPECT_RAI_ERROR(rai_adapter_model_add_linear_q4(model, "x", nullptr, &ct, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "state");
}

}  // namespace
