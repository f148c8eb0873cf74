// Helpers for the adapter tests: owned host tensors and a model fixture.
#pragma once
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"

constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kF16{RAI_DTYPE_FLOAT, 16, 1};

// A host f32 tensor that owns its data and shape.
struct HostT {
    std::vector<int64_t> shape;
    std::vector<float> v;
    rai_tensor t{};
    HostT() = default;
    HostT(std::vector<int64_t> s, std::vector<float> data = {}) : shape(std::move(s)), v(std::move(data)) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        if (v.empty()) v.assign(static_cast<size_t>(n), 0.0f);
        bind();
    }
    HostT(const HostT &o) : shape(o.shape), v(o.v) { bind(); }
    HostT &operator=(const HostT &o) {
        shape = o.shape;
        v = o.v;
        bind();
        return *this;
    }
    void bind() { t = make_tensor(v.data(), kF32, shape.data(), static_cast<int32_t>(shape.size())); }
    rai_tensor *operator&() { return &t; }
    float &operator[](size_t i) { return v[i]; }
    float max_abs() const {
        float m = 0;
        for (float x : v) m = std::max(m, std::fabs(x));
        return m;
    }
};

inline HostT random_t(std::vector<int64_t> shape, uint32_t seed, float scale = 1.0f) {
    HostT h(std::move(shape));
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    for (float &x : h.v) x = d(g);
    return h;
}

inline float max_diff(const std::vector<float> &a, const std::vector<float> &b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

inline bool bit_equal(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Distance in units in the last place between two finite floats.
inline int64_t ulp_distance(float a, float b) {
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return std::llabs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

class ModelTest : public ::testing::Test {
protected:
    void SetUp() override {
        ctx = make_cpu_context();
        ASSERT_RAI_OK(rai_adapter_model_create(ctx, &model));
    }
    void TearDown() override {
        rai_adapter_model_destroy(model);
        rai_context_destroy(ctx);
    }
    void add_linear(const std::string &name, HostT &w, rai_tensor *b = nullptr, uint32_t flags = 0) {
        ASSERT_RAI_OK(rai_adapter_model_add_linear(model, name.c_str(), &w, b, flags));
    }
    HostT forward(const std::string &module, HostT &x, int64_t out) {
        std::vector<int64_t> s = x.shape;
        s.back() = out;
        HostT y(s);
        EXPECT_EQ(rai_adapter_forward(model, module.c_str(), &x, &y), RAI_OK) << rai_last_error_message();
        return y;
    }
    HostT get(const char *adapter, const std::string &key, std::vector<int64_t> shape) {
        HostT h(std::move(shape));
        EXPECT_EQ(rai_adapter_get_tensor(model, adapter, key.c_str(), &h), RAI_OK) << rai_last_error_message();
        return h;
    }
    HostT grad(const char *adapter, const std::string &key, std::vector<int64_t> shape) {
        HostT h(std::move(shape));
        EXPECT_EQ(rai_adapter_get_grad(model, adapter, key.c_str(), &h), RAI_OK) << rai_last_error_message();
        return h;
    }
    void set(const char *adapter, const std::string &key, HostT &h) {
        ASSERT_RAI_OK(rai_adapter_set_tensor(model, adapter, key.c_str(), &h));
    }
    rai_context *ctx = nullptr;
    rai_adapter_model *model = nullptr;
};

inline rai_adapter_params lora_params(const char *targets, int32_t r = 2, float alpha = 4) {
    rai_adapter_params p;
    rai_adapter_params_init(&p);
    p.peft_type = RAI_PEFT_LORA;
    p.r = r;
    p.alpha = alpha;
    p.target_modules = targets;
    p.seed = 7;
    return p;
}
