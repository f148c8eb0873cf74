// Adapter-model scenarios that exercise every branch of the device path (model_device.cpp):
// each tuner, dropout of each kind, DoRA on both base layouts, bias modes, several weighted
// adapters at once, IA3 products, 16-bit bases, mixed batches. Public API only, so that the host
// check (test_device_path.cpp, host primitives) and the GPU check (test_adapters_gpu.cpp, CUDA
// primitives) run the very same models against the reference.
#pragma once
#include <functional>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

#include "adapter_test_util.h"

struct PathModule {
    std::string name;
    int64_t in, out;
};

struct PathScenario {
    std::string name;
    std::vector<PathModule> modules;
    std::function<void(rai_adapter_model *)> setup;  // registers modules and adapters, activates
    std::vector<std::string> mixed;  // adapters for a mixed batch (empty: none)
    bool bf16 = false;               // activations in bf16 (the base is bf16 too)
};

// The trainable tensors of an adapter (key, shape), from rai_adapter_tensors_json.
inline std::vector<std::pair<std::string, std::vector<int64_t>>> trainable_tensors(rai_adapter_model *m,
                                                                                   const std::string &adapter) {
    char *json = nullptr;
    EXPECT_EQ(rai_adapter_tensors_json(m, adapter.c_str(), &json), RAI_OK) << rai_last_error_message();
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    if (json == nullptr) return out;
    const std::string text(json);
    rai_free(json);
    const std::regex entry("\"key\": \"([^\"]+)\",\\s*\"shape\": \\[([^\\]]*)\\],\\s*\"trainable\": (true|false)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
        if ((*it)[3] != "true") continue;
        std::vector<int64_t> shape;
        const std::string dims = (*it)[2];
        static const std::regex number("[0-9]+");
        for (auto d = std::sregex_iterator(dims.begin(), dims.end(), number); d != std::sregex_iterator(); ++d)
            shape.push_back(std::stoll(d->str()));
        out.emplace_back((*it)[1], shape);
    }
    return out;
}

// The names of a model's adapters, from rai_adapter_model_info_json.
inline std::vector<std::string> adapter_names(rai_adapter_model *m) {
    char *json = nullptr;
    EXPECT_EQ(rai_adapter_model_info_json(m, &json), RAI_OK) << rai_last_error_message();
    std::vector<std::string> out;
    if (json == nullptr) return out;
    const std::string text(json);
    rai_free(json);
    const std::string::size_type from = text.find("\"adapters\"");
    const std::regex name("\"name\": \"([^\"]+)\",\\s*\"peft_type\"");
    for (auto it = std::sregex_iterator(text.begin() + static_cast<std::ptrdiff_t>(from), text.end(), name);
         it != std::sregex_iterator(); ++it)
        out.push_back((*it)[1]);
    return out;
}

// A host f32 or bf16 tensor of random values exactly representable in bf16 (so that a bf16 and
// an f32 consumer see one value), with its values back as floats.
struct HostAct {
    std::vector<int64_t> shape;
    std::vector<float> f;
    std::vector<uint16_t> h;
    rai_tensor t{};
    HostAct(std::vector<int64_t> s, uint32_t seed, bool bf16, float scale = 1.0f) : shape(std::move(s)) {
        f = random_t(shape, seed, scale).v;
        h.resize(f.size());
        for (size_t i = 0; i < f.size(); ++i) {
            uint32_t u;
            std::memcpy(&u, &f[i], 4);
            h[i] = static_cast<uint16_t>(u >> 16);  // truncation: exact either way
            u = static_cast<uint32_t>(h[i]) << 16;
            std::memcpy(&f[i], &u, 4);
        }
        if (!bf16) h.clear();
        t = bf16 ? make_tensor(h.data(), kBF16, shape.data(), static_cast<int32_t>(shape.size()))
                 : make_tensor(f.data(), kF32, shape.data(), static_cast<int32_t>(shape.size()));
    }
    std::vector<float> values() const {
        if (h.empty()) return f;
        std::vector<float> v(h.size());
        for (size_t i = 0; i < h.size(); ++i) {
            const uint32_t u = static_cast<uint32_t>(h[i]) << 16;
            std::memcpy(&v[i], &u, 4);
        }
        return v;
    }
};

// Largest |a - b| over max(1, max |b|).
inline float rel_diff(const std::vector<float> &a, const std::vector<float> &b) {
    float scale = 1.0f;
    for (float v : b) scale = std::max(scale, std::fabs(v));
    return max_diff(a, b) / scale;
}

// gtest prints a failing parameter by its name.
inline void PrintTo(const PathScenario &s, std::ostream *os) { *os << s.name; }

// Compares every trainable tensor's gradient of `dev` with `ref` (relative tolerance), found
// through the public API; returns how many were compared.
inline int expect_same_grads(rai_adapter_model *ref, rai_adapter_model *dev, float tol) {
    int compared = 0;
    for (const std::string &a : adapter_names(ref))
        for (const auto &kt : trainable_tensors(ref, a)) {
            HostT g_ref(kt.second), g_dev(kt.second);
            EXPECT_EQ(rai_adapter_get_grad(ref, a.c_str(), kt.first.c_str(), &g_ref), RAI_OK) << rai_last_error_message();
            EXPECT_EQ(rai_adapter_get_grad(dev, a.c_str(), kt.first.c_str(), &g_dev), RAI_OK) << rai_last_error_message();
            EXPECT_LE(rel_diff(g_dev.v, g_ref.v), tol) << a << " grad " << kt.first;
            ++compared;
        }
    return compared;
}

namespace path_detail {

inline void ok(rai_status s) { ASSERT_EQ(s, RAI_OK) << rai_last_error_message(); }

inline void linear(rai_adapter_model *m, const std::string &name, int64_t out, int64_t in, uint32_t seed, bool bias,
                   bool bf16 = false, uint32_t flags = 0) {
    HostAct w(flags & RAI_LINEAR_FAN_IN_FAN_OUT ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in}, seed,
              bf16, 0.4f);
    HostAct b({out}, seed + 100, bf16, 0.4f);
    ok(rai_adapter_model_add_linear(m, name.c_str(), &w.t, bias ? &b.t : nullptr, flags));
}

inline rai_adapter_params params(int32_t type, const char *targets, int32_t r, float alpha, uint64_t seed) {
    rai_adapter_params p = lora_params(targets, r, alpha);
    p.peft_type = type;
    p.init = RAI_ADAPTER_INIT_RANDOM;
    p.seed = seed;
    return p;
}

inline void set_random(rai_adapter_model *m, const char *adapter, const std::string &key, std::vector<int64_t> shape,
                       uint32_t seed, float mean) {
    HostT h = random_t(std::move(shape), seed, 0.2f);
    for (float &v : h.v) v += mean;
    ok(rai_adapter_set_tensor(m, adapter, key.c_str(), &h));
}

inline void activate(rai_adapter_model *m, std::vector<const char *> names, std::vector<float> weights = {}) {
    ok(rai_adapter_set_active(m, names.data(), weights.empty() ? nullptr : weights.data(), names.size()));
}

}  // namespace path_detail

inline std::vector<PathScenario> device_path_scenarios() {
    using namespace path_detail;
    std::vector<PathScenario> s;
    const std::string q = "base_model.model.l.q_proj.", c = "base_model.model.l.c_attn.";
    // LoRA with lora_B bias, a trainable base bias and dropout, weighted with a DoRA adapter
    // (dropout too) on a fan_in_fan_out base as well.
    s.push_back({"lora_dora_bias_dropout",
                 {{"l.q_proj", 12, 10}, {"l.c_attn", 9, 11}},
                 [q](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 1, true);
                     linear(m, "l.c_attn", 11, 9, 2, true, false, RAI_LINEAR_FAN_IN_FAN_OUT);
                     rai_adapter_params p = params(RAI_PEFT_LORA, "[\"q_proj\"]", 3, 6, 11);
                     p.flags = RAI_ADAPTER_LORA_BIAS;
                     p.bias = RAI_ADAPTER_BIAS_LORA_ONLY;
                     p.dropout = 0.3f;
                     ok(rai_adapter_add(m, "lora", &p));
                     set_random(m, "lora", q + "lora_B.bias", {10}, 3, 0.0f);
                     p = params(RAI_PEFT_LORA, "[\"q_proj\", \"c_attn\"]", 2, 4, 12);
                     p.flags = RAI_ADAPTER_DORA | RAI_ADAPTER_FAN_IN_FAN_OUT;
                     p.dropout = 0.2f;
                     ok(rai_adapter_add(m, "dora", &p));
                     set_random(m, "dora", q + "lora_magnitude_vector", {10}, 4, 1.0f);
                     activate(m, {"lora", "dora"}, {0.7f, 1.3f});
                 },
                 {"lora", "dora"}});
    // DoRA alone without dropout (the (g-1)·x·Wᵀ term on x itself).
    s.push_back({"dora_no_dropout",
                 {{"l.q_proj", 12, 10}, {"l.c_attn", 9, 11}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 5, false);
                     linear(m, "l.c_attn", 11, 9, 6, true, false, RAI_LINEAR_FAN_IN_FAN_OUT);
                     rai_adapter_params p = params(RAI_PEFT_LORA, "[\"q_proj\", \"c_attn\"]", 3, 6, 13);
                     p.flags = RAI_ADAPTER_DORA | RAI_ADAPTER_RSLORA | RAI_ADAPTER_FAN_IN_FAN_OUT;
                     ok(rai_adapter_add(m, "dora", &p));
                     activate(m, {"dora"});
                 },
                 {}});
    // Two IA3 adapters (feed-forward and not) multiplied together, next to a LoRA, all weighted.
    s.push_back({"ia3_products_with_lora",
                 {{"l.q_proj", 12, 10}, {"l.down_proj", 10, 12}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 7, true);
                     linear(m, "l.down_proj", 12, 10, 8, false);
                     for (const char *n : {"ia3a", "ia3b"}) {
                         rai_adapter_params p = params(RAI_PEFT_IA3, "[\"q_proj\", \"down_proj\"]", 0, 8, n[3] == 'a' ? 14 : 15);
                         p.feedforward_modules = "[\"down_proj\"]";
                         ok(rai_adapter_add(m, n, &p));
                     }
                     rai_adapter_params p = params(RAI_PEFT_LORA, "[\"q_proj\", \"down_proj\"]", 2, 4, 16);
                     p.bias = RAI_ADAPTER_BIAS_ALL;
                     ok(rai_adapter_add(m, "lora", &p));
                     activate(m, {"ia3a", "lora", "ia3b"}, {1.0f, 0.5f, 1.0f});
                 },
                 {"ia3a", "lora"}});
    // VeRA with dropout on two module shapes (sliced shared projections).
    s.push_back({"vera_dropout",
                 {{"l.q_proj", 12, 10}, {"l.down_proj", 10, 12}},
                 [q](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 9, false);
                     linear(m, "l.down_proj", 12, 10, 10, true);
                     rai_adapter_params p = params(RAI_PEFT_VERA, "[\"q_proj\", \"down_proj\"]", 4, 8, 17);
                     p.dropout = 0.25f;
                     ok(rai_adapter_add(m, "vera", &p));
                     set_random(m, "vera", q + "vera_lambda_b", {10}, 5, 0.5f);
                     activate(m, {"vera"}, {0.8f});
                 },
                 {}});
    // LoHa with rank and module dropout; LoKr factored (r=1) and full (large r).
    s.push_back({"loha_lokr",
                 {{"l.q_proj", 12, 10}, {"l.down_proj", 10, 12}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 11, true);
                     linear(m, "l.down_proj", 12, 10, 12, false);
                     rai_adapter_params p = params(RAI_PEFT_LOHA, "[\"q_proj\", \"down_proj\"]", 2, 6, 18);
                     p.rank_dropout = 0.3f;
                     p.module_dropout = 0.1f;
                     ok(rai_adapter_add(m, "loha", &p));
                     p = params(RAI_PEFT_LOKR, "[\"q_proj\"]", 1, 6, 19);
                     p.rank_dropout = 0.2f;
                     ok(rai_adapter_add(m, "lokr1", &p));
                     p = params(RAI_PEFT_LOKR, "[\"q_proj\", \"down_proj\"]", 64, 6, 20);
                     ok(rai_adapter_add(m, "lokr64", &p));
                     activate(m, {"loha", "lokr1", "lokr64"}, {1.0f, 0.6f, 0.9f});
                 },
                 {"loha", "lokr1", "lokr64"}});
    // AdaLoRA with a pruned rank pattern.
    s.push_back({"adalora",
                 {{"l.q_proj", 12, 10}, {"l.down_proj", 10, 12}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 10, 12, 13, false);
                     linear(m, "l.down_proj", 12, 10, 14, true);
                     rai_adapter_params p = params(RAI_PEFT_ADALORA, "[\"q_proj\", \"down_proj\"]", 4, 6, 21);
                     p.rank_pattern = "{\"l.down_proj.lora_E\": [true, false, false, true]}";
                     p.dropout = 0.1f;
                     ok(rai_adapter_add(m, "adalora", &p));
                     activate(m, {"adalora"});
                 },
                 {}});
    // A bf16 base with bf16 activations: the base product runs in bf16 on the device.
    s.push_back({"bf16_lora_loha",
                 {{"l.q_proj", 24, 20}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.q_proj", 20, 24, 15, true, true);
                     rai_adapter_params p = params(RAI_PEFT_LORA, "[\"q_proj\"]", 4, 8, 22);
                     ok(rai_adapter_add(m, "lora", &p));
                     p = params(RAI_PEFT_LOHA, "[\"q_proj\"]", 2, 4, 23);
                     ok(rai_adapter_add(m, "loha", &p));
                     activate(m, {"lora", "loha"});
                 },
                 {"lora", "loha"},
                 true});
    // Awkward larger shapes: reductions longer than a thread block (DoRA norms over 300 inputs,
    // LoKr factor gradients over 18x20 blocks), grid-stride loops over many rows.
    s.push_back({"large_dora_lokr",
                 {{"l.o_proj", 300, 270}},
                 [](rai_adapter_model *m) {
                     linear(m, "l.o_proj", 270, 300, 16, true);
                     rai_adapter_params p = params(RAI_PEFT_LORA, "[\"o_proj\"]", 5, 10, 24);
                     p.flags = RAI_ADAPTER_DORA;
                     ok(rai_adapter_add(m, "dora", &p));
                     p = params(RAI_PEFT_LOKR, "[\"o_proj\"]", 2, 4, 25);
                     ok(rai_adapter_add(m, "lokr", &p));
                     activate(m, {"dora", "lokr"}, {1.0f, 0.5f});
                 },
                 {"dora", "lokr"}});
    return s;
}
