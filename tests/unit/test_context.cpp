// Contexts: params struct_size convention, device choice, environment override, streams.
#include <cstring>

#include "test_helpers.h"

TEST(ContextParams, InitFillsDefaultsAndCallerSize) {
    rai_context_params p;
    std::memset(&p, 0xAB, sizeof p);
    ASSERT_RAI_OK(rai_context_params_init(&p));
    EXPECT_EQ(p.struct_size, sizeof p);
    EXPECT_EQ(p.device_type, RAI_DEVICE_AUTO);
    EXPECT_EQ(p.device_id, 0);
    EXPECT_EQ(p.flags, 0u);
    EXPECT_EQ(p.stream, nullptr);
}

TEST(ContextParams, NewerCallerGetsZeroedTail) {
    // A caller compiled against a future header with a larger struct.
    struct Bigger {
        rai_context_params base;
        uint64_t future_field;
    } big;
    std::memset(&big, 0xCD, sizeof big);
    ASSERT_RAI_OK(rai_context_params_init_sized(&big.base, sizeof big));
    EXPECT_EQ(big.base.struct_size, sizeof big);
    EXPECT_EQ(big.future_field, 0u);
    rai_context *ctx = nullptr;
    big.base.device_type = RAI_DEVICE_CPU;
    big.base.flags = RAI_CONTEXT_IGNORE_ENV;
    ASSERT_RAI_OK(rai_context_create(&big.base, &ctx));
    rai_context_destroy(ctx);
}

TEST(ContextParams, TooSmallStructSizeIsRefused) {
    rai_context_params p;
    EXPECT_RAI_ERROR(rai_context_params_init_sized(&p, 4), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_context_params_init_sized(nullptr, sizeof p), RAI_ERROR_INVALID_ARGUMENT, "params");
    rai_context_params_init(&p);
    p.struct_size = 0;  // forgot to init
    rai_context *ctx = reinterpret_cast<rai_context *>(0x1);
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_STRUCT_SIZE, "params->struct_size");
    EXPECT_EQ(ctx, nullptr);  // out-handle is NULL on failure
}

TEST(Context, NullParamsMeansDefaults) {
    ScopedEnv env("RAI_DEVICE", nullptr);
    rai_context *ctx = nullptr;
    ASSERT_RAI_OK(rai_context_create(nullptr, &ctx));
    rai_device dev;
    ASSERT_RAI_OK(rai_context_device(ctx, &dev));
    EXPECT_EQ(dev.device_type, cuda_devices() > 0 ? RAI_DEVICE_CUDA : RAI_DEVICE_CPU);
    rai_context_destroy(ctx);
}

TEST(Context, CpuContextHasNoStream) {
    rai_context *ctx = make_cpu_context();
    void *stream = reinterpret_cast<void *>(0x1);
    ASSERT_RAI_OK(rai_context_stream(ctx, &stream));
    EXPECT_EQ(stream, nullptr);
    ASSERT_RAI_OK(rai_context_synchronize(ctx));
    EXPECT_RAI_ERROR(rai_context_set_stream(ctx, nullptr), RAI_ERROR_UNSUPPORTED, "CPU context");
    EXPECT_RAI_ERROR(rai_context_wait_stream(ctx, nullptr), RAI_ERROR_UNSUPPORTED, "CPU context");
    EXPECT_RAI_ERROR(rai_context_wait_stream(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    rai_context_destroy(ctx);
}

TEST(Context, InvalidParamsNameTheField) {
    rai_context_params p;
    rai_context_params_init(&p);
    p.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    p.device_type = 9;
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_INVALID_ARGUMENT, "device_type");
    p.device_type = RAI_DEVICE_CUDA;
    p.device_id = -1;
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_INVALID_ARGUMENT, "device_id");
    p.device_id = 0;
    p.flags = 0x80;
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_INVALID_ARGUMENT, "flags");
    p.flags = RAI_CONTEXT_IGNORE_ENV;
    p.device_type = RAI_DEVICE_CPU;
    p.stream = reinterpret_cast<void *>(0x1234);
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_INVALID_ARGUMENT, "stream");
    EXPECT_RAI_ERROR(rai_context_create(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_EQ(ctx, nullptr);
}

TEST(Context, StrictCudaRequestBeyondDeviceCountFails) {
    const int32_t n = cuda_devices();
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CUDA;
    p.device_id = n + 6;
    p.flags = RAI_CONTEXT_STRICT | RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_NO_DEVICE,
                     "CUDA device " + std::to_string(n + 6) + " requested");
    EXPECT_EQ(ctx, nullptr);
    // Without STRICT it falls back to the CPU.
    p.flags = RAI_CONTEXT_IGNORE_ENV;
    ASSERT_RAI_OK(rai_context_create(&p, &ctx));
    rai_device dev;
    ASSERT_RAI_OK(rai_context_device(ctx, &dev));
    EXPECT_EQ(dev.device_type, RAI_DEVICE_CPU);
    rai_context_destroy(ctx);
}

TEST(Context, EnvironmentOverridesParams) {
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CUDA;
    p.flags = RAI_CONTEXT_STRICT;
    rai_context *ctx = nullptr;
    {
        ScopedEnv env("RAI_DEVICE", "cpu");
        ASSERT_RAI_OK(rai_context_create(&p, &ctx));
        rai_device dev;
        ASSERT_RAI_OK(rai_context_device(ctx, &dev));
        EXPECT_EQ(dev.device_type, RAI_DEVICE_CPU);
        rai_context_destroy(ctx);
    }
    {
        ScopedEnv env("RAI_DEVICE", "cuda:77");
        p.device_type = RAI_DEVICE_CPU;
        EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_NO_DEVICE, "CUDA device 77 requested");
        p.flags |= RAI_CONTEXT_IGNORE_ENV;  // the caller can opt out of the override
        ASSERT_RAI_OK(rai_context_create(&p, &ctx));
        rai_context_destroy(ctx);
        p.flags = RAI_CONTEXT_STRICT;
    }
    for (const char *bad : {"gpu", "cuda:", "cuda:x", "CPU", "cuda:-1"}) {
        ScopedEnv env("RAI_DEVICE", bad);
        EXPECT_RAI_ERROR(rai_context_create(&p, &ctx), RAI_ERROR_INVALID_ARGUMENT, "RAI_DEVICE");
        EXPECT_EQ(ctx, nullptr);
    }
}

TEST(Context, NullHandlesAreRejectedOrIgnored) {
    rai_device dev;
    void *stream;
    EXPECT_RAI_ERROR(rai_context_device(nullptr, &dev), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_context_stream(nullptr, &stream), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_context_set_stream(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_context_synchronize(nullptr), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    rai_context *ctx = make_cpu_context();
    EXPECT_RAI_ERROR(rai_context_device(ctx, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_context_stream(ctx, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_stream");
    rai_context_destroy(ctx);
    rai_context_destroy(nullptr);  // NULL-safe
}

TEST(Devices, QueriesWithoutGpuAreClean) {
    int32_t n = -1;
    ASSERT_RAI_OK(rai_cuda_device_count(&n));
    EXPECT_GE(n, 0);
    EXPECT_NE(std::string(rai_cuda_plugin_status()), "");
    rai_device_info info;
    ASSERT_RAI_OK(rai_device_info_init(&info));
    EXPECT_RAI_ERROR(rai_cuda_device_info(n, &info), RAI_ERROR_NO_DEVICE, "requested");
    EXPECT_RAI_ERROR(rai_cuda_device_info(-1, &info), RAI_ERROR_NO_DEVICE, "requested");
    EXPECT_RAI_ERROR(rai_cuda_device_info(0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "info");
    info.struct_size = 8;
    EXPECT_RAI_ERROR(rai_cuda_device_info(0, &info), RAI_ERROR_STRUCT_SIZE, "struct_size");
    EXPECT_RAI_ERROR(rai_device_info_init_sized(&info, 3), RAI_ERROR_STRUCT_SIZE, "struct_size");
}
