// AdaLoRA training pieces against PEFT's own trace (golden/adalora_allocator, written by
// make_adalora_allocator_golden.py with peft 0.21.2): the budget allocator
// (rai_adapter_adalora_update = AdaLoraModel.update_and_allocate) replayed step by step on the
// parameters and gradients peft had, the orthogonal regulariser and its gradient, the directory
// saved after training (pruned to the rank pattern as peft saves it), and the error paths.
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../../src/adapters/adalora.h"
#include "../../src/adapters/json_util.h"
#include "../../src/adapters/tensor_file.h"
#include "adapter_test_util.h"

namespace ra = rai::adapters;

namespace {

const std::string kDir = std::string(RAI_GOLDEN_DIR) + "/adalora_allocator";
const char *const kModules[] = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                "model.layers.0.mlp.down_proj"};
const char *const kConfig =
    R"({"peft_type": "ADALORA", "init_r": 6, "target_r": 3, "lora_alpha": 12, "tinit": 1, "tfinal": 2,
        "deltaT": 2, "total_step": 9, "beta1": 0.85, "beta2": 0.85, "orth_reg_weight": 0.5,
        "target_modules": ["q_proj", "v_proj", "down_proj"]})";

class AdaloraAllocator : public ModelTest {
protected:
    void SetUp() override {
        ModelTest::SetUp();
        trace = ra::read_tensor_file(kDir + "/trace.safetensors");
        for (const ra::FileTensor &t : trace.tensors) by_name[t.name] = &t;
        // Base modules of the tiny Llama's shapes (the allocator never reads the base weights).
        const int64_t shapes[3][2] = {{64, 64}, {32, 64}, {64, 128}};
        for (int i = 0; i < 3; ++i) {
            HostT w({shapes[i][0], shapes[i][1]});
            add_linear(kModules[i], w);
        }
        ASSERT_RAI_OK(rai_adapter_add_json(model, "a", kConfig, 0));
    }
    std::vector<float> golden(const std::string &name) const {
        const auto it = by_name.find(name);
        EXPECT_NE(it, by_name.end()) << name;
        if (it == by_name.end()) return {};
        std::vector<float> v(static_cast<std::size_t>(it->second->numel()));
        std::memcpy(v.data(), it->second->bytes.data(), 4 * v.size());
        return v;
    }
    bool has(const std::string &name) const { return by_name.count(name) != 0; }
    ra::Param &param(const std::string &module, const char *kind) {
        return model->impl.tensor("a", ra::module_key(module, kind));
    }
    ra::TensorFile trace;
    std::map<std::string, const ra::FileTensor *> by_name;
};

std::string slurp_file(const std::string &path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void expect_close(const std::vector<float> &got, const std::vector<float> &want, double rel, const std::string &what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], rel * (std::fabs(want[i]) + 1e-12)) << what << " [" << i << "]";
}

}  // namespace

// Every step of peft's run: the same values and gradients in, the same budget, rank pattern,
// masked singular values and importance EMAs out.
TEST_F(AdaloraAllocator, ReplaysPeftsAllocatorStepByStep) {
    const char *kinds[3] = {"lora_A", "lora_E", "lora_B"};
    int masked_steps = 0;
    for (int step = 0; has("step" + std::to_string(step) + ".budget"); ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        const std::string s = "step" + std::to_string(step) + ".";
        for (const char *mod : kModules)
            for (const char *k : kinds) {
                ra::Param &p = param(mod, k);
                p.value = golden(s + mod + "." + k + ".value");
                p.grad = golden(s + mod + "." + k + ".grad");
            }
        int64_t budget = -1;
        ASSERT_RAI_OK(rai_adapter_adalora_update(model, "a", step, &budget));
        EXPECT_EQ(budget, static_cast<int64_t>(golden(s + "budget")[0]));
        for (const char *mod : kModules) {
            // Masked entries are exactly zero, kept ones untouched: compare bitwise.
            EXPECT_EQ(param(mod, "lora_E").value, golden(s + mod + ".lora_E.after")) << mod;
            const ra::RankMask *rm = model->impl.adapter("a").cfg.rank_mask_for(mod);
            if (has(s + mod + ".keep")) {
                ASSERT_NE(rm, nullptr) << mod;
                const std::vector<float> keep = golden(s + mod + ".keep");
                ASSERT_EQ(rm->keep.size(), keep.size());
                for (std::size_t j = 0; j < keep.size(); ++j) EXPECT_EQ(rm->keep[j], keep[j] != 0.0f) << mod << " " << j;
                ++masked_steps;
            } else {
                EXPECT_EQ(rm, nullptr) << mod;
            }
            const auto &st = model->impl.adapter("a").adalora;
            for (int k = 0; k < 3; ++k) {
                const std::string key = s + mod + "." + kinds[k] + ".ema_ipt";
                if (!has(key)) {  // after the final mask peft resets its scores
                    EXPECT_TRUE(st == nullptr || st->ema.empty());
                    continue;
                }
                const std::size_t mi = model->impl.module_index(mod);
                ASSERT_TRUE(st != nullptr && st->ema.count(mi));
                expect_close(st->ema.at(mi)[k].ipt, golden(key), 1e-6, key);
                expect_close(st->ema.at(mi)[k].unc, golden(s + mod + "." + kinds[k] + ".ema_unc"), 1e-5, key);
            }
        }
    }
    EXPECT_GT(masked_steps, 0) << "the trace never masked: not an allocator test";
}

// The orthogonal regulariser: peft's loss term and its gradient on lora_A and lora_B.
TEST_F(AdaloraAllocator, OrthogonalRegulariserMatchesPeft) {
    for (const char *mod : kModules)
        for (const char *k : {"lora_A", "lora_E", "lora_B"}) param(mod, k).value = golden(std::string("orth.") + mod + "." + k + ".value");
    float loss = 0;
    ASSERT_RAI_OK(rai_adapter_adalora_orth_reg(model, "a", 0, &loss));
    EXPECT_NEAR(loss, golden("orth.loss")[0], 2e-6 * golden("orth.loss")[0]);
    for (const char *mod : kModules) EXPECT_EQ(param(mod, "lora_A").grad, std::vector<float>(param(mod, "lora_A").grad.size(), 0.0f));
    ASSERT_RAI_OK(rai_adapter_adalora_orth_reg(model, "a", 1, &loss));
    for (const char *mod : kModules)
        for (const char *k : {"lora_A", "lora_B"}) {
            const std::vector<float> want = golden(std::string("orth.") + mod + "." + k + ".grad");
            const std::vector<float> &got = param(mod, k).grad;
            double scale = 0;
            for (float v : want) scale = std::max(scale, double(std::fabs(v)));
            ASSERT_EQ(got.size(), want.size());
            // peft's gradient is a difference of two float32 backward passes: compare to its scale
            for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4 * scale) << mod << k << i;
        }
}

// After the run, rai saves the directory peft saved: tensors pruned to the rank pattern, the
// same values, and the rank pattern in adapter_config.json.
TEST_F(AdaloraAllocator, SavedDirectoryMatchesPeftsAfterTraining) {
    int last = 0;
    while (has("step" + std::to_string(last + 1) + ".budget")) ++last;
    for (int step = 0; step <= last; ++step) {
        const std::string s = "step" + std::to_string(step) + ".";
        for (const char *mod : kModules)
            for (const char *k : {"lora_A", "lora_E", "lora_B"}) {
                param(mod, k).value = golden(s + mod + "." + k + ".value");
                param(mod, k).grad = golden(s + mod + "." + k + ".grad");
            }
        ASSERT_RAI_OK(rai_adapter_adalora_update(model, "a", step, nullptr));
    }
    const std::string out = "/tmp/rai-adalora-saved-" + std::to_string(getpid());
    ASSERT_RAI_OK(rai_adapter_save_peft(model, "a", out.c_str(), &kF32));
    const ra::TensorFile want = ra::read_tensor_file(kDir + "/saved/adapter_model.safetensors");
    const ra::TensorFile got = ra::read_tensor_file(out + "/adapter_model.safetensors");
    ASSERT_EQ(got.tensors.size(), want.tensors.size());
    for (const ra::FileTensor &w : want.tensors) {
        const ra::FileTensor *g = got.find(w.name);
        ASSERT_NE(g, nullptr) << w.name;
        EXPECT_EQ(g->shape, w.shape) << w.name;
        EXPECT_EQ(g->bytes, w.bytes) << w.name;  // values pass through unchanged: bitwise
    }
    const auto cfg = rai::jsonu::parse(slurp_file(out + "/adapter_config.json"), "saved");
    const auto peft_cfg = rai::jsonu::parse(slurp_file(kDir + "/saved/adapter_config.json"), "peft");
    EXPECT_EQ(rai::jsonu::dump(*cfg.find("rank_pattern"), 0), rai::jsonu::dump(*peft_cfg.find("rank_pattern"), 0));
    // and rai loads what it saved: the pruned modules have the kept ranks
    ASSERT_RAI_OK(rai_adapter_load_peft(model, out.c_str(), "reloaded"));
    const std::string s_last = "step" + std::to_string(last) + ".";
    for (const char *mod : kModules) {
        int kept = 0;
        for (float k : golden(s_last + mod + ".keep")) kept += k != 0.0f;
        const ra::ModuleAdapter *ma = model->impl.adapter("reloaded").for_module(model->impl.module_index(mod));
        ASSERT_NE(ma, nullptr);
        EXPECT_EQ(ma->r, kept) << mod;
    }
    std::system(("rm -rf '" + out + "'").c_str());
}

TEST_F(AdaloraAllocator, BudgetScheduleIsPefts) {
    ra::AdapterConfig c;
    c.type = ra::PeftType::Adalora;
    c.tinit = 1, c.tfinal = 2, c.delta_t = 2, c.total_step = 9;
    // init 18, target 9: steps 0-1 warm up; cubic decrease over steps 2..7; target after
    const int64_t want[] = {18, 18, 14, 11, 10, 9, 9, 9, 9, 9};
    for (int64_t s = 0; s < 10; ++s) {
        const ra::AdaloraBudget b = ra::adalora_budget(c, 18, 9, s);
        EXPECT_EQ(b.budget, want[s]) << s;
        EXPECT_EQ(b.mask, s > 7 || (s > 1 && s % 2 == 0)) << s;
    }
}

TEST_F(AdaloraAllocator, BadCallsGetSpecificErrorsAndChangeNothing) {
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(model, "a", -1, nullptr), RAI_ERROR_INVALID_ARGUMENT, "global_step");
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(model, "nope", 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "nope");
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(nullptr, "a", 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "model");
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(model, nullptr, 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "adapter");
    float loss = 0;
    EXPECT_RAI_ERROR(rai_adapter_adalora_orth_reg(model, "nope", 1, &loss), RAI_ERROR_INVALID_ARGUMENT, "nope");
    // A LoRA adapter has no allocator.
    ASSERT_RAI_OK(rai_adapter_add_json(model, "lora", R"({"peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]})", 0));
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(model, "lora", 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "AdaLoRA");
    EXPECT_RAI_ERROR(rai_adapter_adalora_orth_reg(model, "lora", 1, &loss), RAI_ERROR_INVALID_ARGUMENT, "AdaLoRA");
    // An adapter loaded pruned by a rank pattern cannot be re-allocated.
    ASSERT_RAI_OK(rai_adapter_add_json(
        model, "pruned",
        R"({"peft_type": "ADALORA", "init_r": 4, "target_r": 2, "total_step": 5, "target_modules": ["q_proj"],
            "rank_pattern": {"model.layers.0.self_attn.q_proj.lora_E": [true, false, true, false]}})",
        0));
    const std::vector<float> e_before = model->impl.tensor("pruned", ra::module_key(kModules[0], "lora_E")).value;
    EXPECT_RAI_ERROR(rai_adapter_adalora_update(model, "pruned", 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "init_r");
    EXPECT_EQ(model->impl.tensor("pruned", ra::module_key(kModules[0], "lora_E")).value, e_before);
    EXPECT_EQ(model->impl.adapter("pruned").adalora, nullptr);
}
