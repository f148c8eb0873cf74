// The adapter model's device path (model_device.cpp) on host primitives (host_ops.h) against
// the reference model: every scenario's eval forward, training forward and backward (dx and
// every parameter gradient) and mixed batch agree, and the path frees what it allocates. This
// checks the orchestration without a GPU; test_adapters_gpu.cpp runs the same scenarios on CUDA.
#include <memory>

#include "../../src/adapters/model.h"
#include "device_path_scenarios.h"
#include "host_ops.h"

namespace ad = rai::adapters;

namespace {

using Act = HostAct;

void expect_close(const std::vector<float> &dev, const std::vector<float> &ref, float rel, const std::string &what) {
    ASSERT_EQ(dev.size(), ref.size()) << what;
    EXPECT_LE(rel_diff(dev, ref), rel) << what;
    for (float v : dev) ASSERT_TRUE(std::isfinite(v)) << what;
}

class DevicePath : public ::testing::TestWithParam<PathScenario> {
protected:
    void SetUp() override {
        ctx = make_cpu_context();
        ASSERT_RAI_OK(rai_adapter_model_create(ctx, &ref));
        ASSERT_RAI_OK(rai_adapter_model_create(ctx, &dev));
        auto ops = std::make_unique<ad::HostOps>();
        host = ops.get();
        dev->impl.use_ops(std::move(ops));
    }
    void TearDown() override {
        rai_adapter_model_destroy(ref);
        rai_adapter_model_destroy(dev);
        rai_context_destroy(ctx);
    }
    rai_context *ctx = nullptr;
    rai_adapter_model *ref = nullptr, *dev = nullptr;
    ad::HostOps *host = nullptr;
};

TEST_P(DevicePath, MatchesTheReferenceModel) {
    const PathScenario &sc = GetParam();
    const float tol = sc.bf16 ? 1e-2f : 2e-5f;
    sc.setup(ref);
    sc.setup(dev);
    ASSERT_FALSE(HasFatalFailure());
    uint32_t seed = 100;
    for (const PathModule &pm : sc.modules) {
        for (int64_t M : {int64_t{7}, int64_t{1}}) {
            const std::string at = pm.name + " M=" + std::to_string(M);
            Act x({M, pm.in}, seed++, sc.bf16), dy({M, pm.out}, seed++, sc.bf16);
            Act y_ref({M, pm.out}, 0, sc.bf16), y_dev({M, pm.out}, 0, sc.bf16);
            Act dx_ref({M, pm.in}, 0, sc.bf16), dx_dev({M, pm.in}, 0, sc.bf16);
            ASSERT_RAI_OK(rai_adapter_forward(ref, pm.name.c_str(), &x.t, &y_ref.t));
            ASSERT_RAI_OK(rai_adapter_forward(dev, pm.name.c_str(), &x.t, &y_dev.t));
            expect_close(y_dev.values(), y_ref.values(), tol, at + " eval y");
            // Training: dropout masks follow the step counter, the same in both models.
            for (rai_adapter_model *m : {ref, dev}) ASSERT_RAI_OK(rai_adapter_model_set_training(m, 1));
            ASSERT_RAI_OK(rai_adapter_forward(ref, pm.name.c_str(), &x.t, &y_ref.t));
            ASSERT_RAI_OK(rai_adapter_forward(dev, pm.name.c_str(), &x.t, &y_dev.t));
            expect_close(y_dev.values(), y_ref.values(), tol, at + " training y");
            ASSERT_RAI_OK(rai_adapter_backward(ref, pm.name.c_str(), &x.t, &dy.t, &dx_ref.t));
            ASSERT_RAI_OK(rai_adapter_backward(dev, pm.name.c_str(), &x.t, &dy.t, &dx_dev.t));
            expect_close(dx_dev.values(), dx_ref.values(), tol, at + " dx");
            // Without dx: the parameter gradients alone (they accumulate in both).
            ASSERT_RAI_OK(rai_adapter_backward(ref, pm.name.c_str(), &x.t, &dy.t, nullptr));
            ASSERT_RAI_OK(rai_adapter_backward(dev, pm.name.c_str(), &x.t, &dy.t, nullptr));
            for (rai_adapter_model *m : {ref, dev}) ASSERT_RAI_OK(rai_adapter_model_set_training(m, 0));
        }
    }
    // Every trainable tensor's gradient, found through the public API (as the GPU test does).
    int trainable = 0;
    for (const std::string &a : ref->impl.adapter_names())
        for (const auto &kv : ref->impl.tensors(a)) trainable += kv.second->trainable ? 1 : 0;
    EXPECT_EQ(adapter_names(ref), ref->impl.adapter_names());
    EXPECT_EQ(expect_same_grads(ref, dev, sc.bf16 ? 2e-2f : 5e-5f), trainable);
    EXPECT_GT(trainable, 0);
    if (!sc.mixed.empty()) {
        const PathModule &pm = sc.modules.front();
        const int64_t M = 13;
        std::vector<int32_t> rows(M);
        for (int64_t i = 0; i < M; ++i) rows[i] = static_cast<int32_t>((i * 5) % (sc.mixed.size() + 1)) - 1;
        std::vector<const char *> names;
        for (const std::string &n : sc.mixed) names.push_back(n.c_str());
        Act x({M, pm.in}, seed++, sc.bf16), y_ref({M, pm.out}, 0, sc.bf16), y_dev({M, pm.out}, 0, sc.bf16);
        ASSERT_RAI_OK(rai_adapter_forward_mixed(ref, pm.name.c_str(), &x.t, names.data(), names.size(), rows.data(),
                                                &y_ref.t));
        ASSERT_RAI_OK(rai_adapter_forward_mixed(dev, pm.name.c_str(), &x.t, names.data(), names.size(), rows.data(),
                                                &y_dev.t));
        expect_close(y_dev.values(), y_ref.values(), tol, pm.name + " mixed y");
    }
    // The device path ran, and what stays allocated between calls is one weight per module.
    EXPECT_GT(host->allocations, 100);
    EXPECT_EQ(host->live, static_cast<int64_t>(sc.modules.size()));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, DevicePath, ::testing::ValuesIn(device_path_scenarios()),
                         [](const ::testing::TestParamInfo<PathScenario> &i) { return i.param.name; });

// A merge changes the base weight: the device copy follows it, and unmerging restores it.
TEST(DevicePathWeights, MergeAndUnmergeRefreshTheDeviceWeight) {
    rai_context *ctx = make_cpu_context();
    rai_adapter_model *ref = nullptr, *dev = nullptr;
    ASSERT_RAI_OK(rai_adapter_model_create(ctx, &ref));
    ASSERT_RAI_OK(rai_adapter_model_create(ctx, &dev));
    dev->impl.use_ops(std::make_unique<ad::HostOps>());
    const PathScenario sc = device_path_scenarios()[2];  // IA3 products with LoRA
    sc.setup(ref);
    sc.setup(dev);
    Act x({5, 12}, 1, false), y_ref({5, 10}, 0, false), y_dev({5, 10}, 0, false);
    const char *lora[] = {"lora"};
    for (int step = 0; step < 3; ++step) {
        for (rai_adapter_model *m : {ref, dev}) {
            if (step == 1) {
                ASSERT_RAI_OK(rai_adapter_merge(m, lora, 1, 0));
            } else if (step == 2) {
                ASSERT_RAI_OK(rai_adapter_unmerge(m, 0));
            }
        }
        ASSERT_RAI_OK(rai_adapter_forward(ref, "l.q_proj", &x.t, &y_ref.t));
        ASSERT_RAI_OK(rai_adapter_forward(dev, "l.q_proj", &x.t, &y_dev.t));
        expect_close(y_dev.values(), y_ref.values(), 2e-5f, "step " + std::to_string(step));
    }
    rai_adapter_model_destroy(ref);
    rai_adapter_model_destroy(dev);
    rai_context_destroy(ctx);
}

}  // namespace
