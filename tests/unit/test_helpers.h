// Shared helpers for the GoogleTest suites.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "rai.h"

// Asserts a call's status and that the thread-local message contains `fragment`.
#define EXPECT_RAI_ERROR(call, status, fragment)                                         \
    do {                                                                                 \
        const rai_status st_ = (call);                                                   \
        EXPECT_EQ(st_, status) << rai_last_error_message();                              \
        EXPECT_NE(std::string(rai_last_error_message()).find(fragment), std::string::npos) \
            << "message: " << rai_last_error_message();                                  \
    } while (0)

#define ASSERT_RAI_OK(call) ASSERT_EQ((call), RAI_OK) << rai_last_error_message()
#define EXPECT_RAI_OK(call) EXPECT_EQ((call), RAI_OK) << rai_last_error_message()

// Sets an environment variable for the scope of a test.
class ScopedEnv {
public:
    ScopedEnv(const char *name, const char *value) : name_(name) {
        if (const char *old = std::getenv(name)) {
            had_ = true;
            old_ = old;
        }
        if (value) setenv(name, value, 1);
        else unsetenv(name);
    }
    ~ScopedEnv() {
        if (had_) setenv(name_.c_str(), old_.c_str(), 1);
        else unsetenv(name_.c_str());
    }

private:
    std::string name_, old_;
    bool had_ = false;
};

inline rai_context *make_cpu_context() {
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CPU;
    p.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    EXPECT_EQ(rai_context_create(&p, &ctx), RAI_OK) << rai_last_error_message();
    return ctx;
}

inline int32_t cuda_devices() {
    int32_t n = 0;
    rai_cuda_device_count(&n);
    return n;
}

// A strict CUDA context (no fallback to the CPU), for the GPU suites.
inline rai_context *make_cuda_context() {
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CUDA;
    p.flags = RAI_CONTEXT_STRICT | RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    EXPECT_EQ(rai_context_create(&p, &ctx), RAI_OK) << rai_last_error_message();
    return ctx;
}

// The fixture of the CPU suites that need nothing but a CPU context `ctx`.
class CpuContextTest : public ::testing::Test {
protected:
    void SetUp() override { ctx = make_cpu_context(); }
    void TearDown() override { rai_context_destroy(ctx); }
    rai_context *ctx = nullptr;
};

// The fixture of the GPU == CPU suites: a strict CUDA context `gpu` and a CPU context `cpu`;
// the test is skipped when there is no CUDA device.
class GpuVsCpu : public ::testing::Test {
protected:
    void SetUp() override {
        if (cuda_devices() == 0) GTEST_SKIP() << "no CUDA device: " << rai_cuda_plugin_status();
        gpu = make_cuda_context();
        ASSERT_NE(gpu, nullptr);
        cpu = make_cpu_context();
    }
    void TearDown() override {
        rai_context_destroy(gpu);
        rai_context_destroy(cpu);
    }
    rai_context *gpu = nullptr, *cpu = nullptr;
};

inline rai_tensor make_tensor(void *data, rai_dtype dtype, const int64_t *shape, int32_t ndim,
                              const int64_t *strides = nullptr, rai_device device = {RAI_DEVICE_CPU, 0}) {
    rai_tensor t{};
    t.data = data;
    t.device = device;
    t.ndim = ndim;
    t.dtype = dtype;
    t.shape = shape;
    t.strides = strides;
    t.byte_offset = 0;
    return t;
}

constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};
constexpr rai_dtype kI32{RAI_DTYPE_INT, 32, 1};
constexpr rai_dtype kU8{RAI_DTYPE_UINT, 8, 1};
