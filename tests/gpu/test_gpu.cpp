// GPU suite (meson test --suite gpu): skips cleanly without a CUDA device. Checks contexts,
// device queries, buffers, stream adoption, and GPU == CPU for strided tensor copies.
#include <cstring>
#include <random>

#include "../unit/test_helpers.h"

namespace {

class Gpu : public ::testing::Test {
protected:
    void SetUp() override {
        if (cuda_devices() == 0) GTEST_SKIP() << "no CUDA device: " << rai_cuda_plugin_status();
        ctx = make_cuda_context();
        ASSERT_NE(ctx, nullptr);
    }
    void TearDown() override { rai_context_destroy(ctx); }
    rai_context *ctx = nullptr;
};

}  // namespace

TEST_F(Gpu, ContextIsOnCudaWithItsOwnStream) {
    rai_device dev;
    ASSERT_RAI_OK(rai_context_device(ctx, &dev));
    EXPECT_EQ(dev.device_type, RAI_DEVICE_CUDA);
    EXPECT_EQ(dev.device_id, 0);
    void *stream = nullptr;
    ASSERT_RAI_OK(rai_context_stream(ctx, &stream));
    EXPECT_NE(stream, nullptr);
    ASSERT_RAI_OK(rai_context_synchronize(ctx));
    EXPECT_EQ(rai_cuda_plugin_loaded(), 1);
}

TEST_F(Gpu, DeviceInfoIsPlausible) {
    rai_device_info info;
    rai_device_info_init(&info);
    ASSERT_RAI_OK(rai_cuda_device_info(0, &info));
    EXPECT_GT(std::strlen(info.name), 0u);
    EXPECT_GE(info.compute_capability_major, 7);
    EXPECT_GT(info.multiprocessor_count, 0);
    EXPECT_GT(info.total_memory_bytes, uint64_t{1} << 30);
    EXPECT_LE(info.free_memory_bytes, info.total_memory_bytes);
    EXPECT_GT(info.l2_cache_bytes, uint64_t{1} << 20);
}

TEST_F(Gpu, AdoptedStreamIsUsedAndReleased) {
    // Adopt the context's own stream through a second context, then return to an owned one.
    void *stream = nullptr;
    ASSERT_RAI_OK(rai_context_stream(ctx, &stream));
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CUDA;
    p.flags = RAI_CONTEXT_STRICT | RAI_CONTEXT_IGNORE_ENV;
    p.stream = stream;
    rai_context *borrower = nullptr;
    ASSERT_RAI_OK(rai_context_create(&p, &borrower));
    void *seen = nullptr;
    ASSERT_RAI_OK(rai_context_stream(borrower, &seen));
    EXPECT_EQ(seen, stream);
    ASSERT_RAI_OK(rai_context_set_stream(borrower, nullptr));
    ASSERT_RAI_OK(rai_context_stream(borrower, &seen));
    EXPECT_NE(seen, stream);
    // The borrower's own stream waits for the first context's stream (device-side, no host block).
    ASSERT_RAI_OK(rai_context_wait_stream(borrower, stream));
    ASSERT_RAI_OK(rai_context_wait_stream(borrower, nullptr));  // the legacy default stream
    ASSERT_RAI_OK(rai_context_set_stream(borrower, stream));
    rai_context_destroy(borrower);  // must not destroy the borrowed stream
    ASSERT_RAI_OK(rai_context_synchronize(ctx));
}

TEST_F(Gpu, BufferRoundTripAndDeviceMismatch) {
    rai_buffer *buf = nullptr;
    const size_t n = (size_t{1} << 24) + 13;
    ASSERT_RAI_OK(rai_buffer_create(ctx, n, &buf));
    rai_device dev;
    ASSERT_RAI_OK(rai_buffer_device(buf, &dev));
    EXPECT_EQ(dev.device_type, RAI_DEVICE_CUDA);
    std::vector<uint8_t> in(n), out(n, 0);
    for (size_t i = 0; i < n; ++i) in[i] = static_cast<uint8_t>(i * 131 + 7);
    ASSERT_RAI_OK(rai_buffer_write(ctx, buf, 0, in.data(), n));
    ASSERT_RAI_OK(rai_buffer_read(ctx, buf, 0, out.data(), n));
    EXPECT_EQ(in, out);
    rai_context *cpu = make_cpu_context();
    uint8_t b[4];
    EXPECT_RAI_ERROR(rai_buffer_read(cpu, buf, 0, b, 4), RAI_ERROR_DEVICE_MISMATCH, "buffer");
    rai_context_destroy(cpu);
    rai_buffer_destroy(buf);
}

TEST_F(Gpu, HugeAllocationIsOutOfMemoryNotACrash) {
    rai_buffer *buf = nullptr;
    EXPECT_RAI_ERROR(rai_buffer_create(ctx, size_t{1} << 50, &buf), RAI_ERROR_OUT_OF_MEMORY, "bytes");
    EXPECT_EQ(buf, nullptr);
    ASSERT_RAI_OK(rai_buffer_create(ctx, 1024, &buf));  // the device still works afterwards
    rai_buffer_destroy(buf);
}

TEST_F(Gpu, StridedCopiesEqualTheCpuReference) {
    std::mt19937 rng(7);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {31, 33}, {65537, 3}, {129, 257}}) {
        const size_t count = static_cast<size_t>(rows * cols);
        std::vector<float> host(count);
        for (auto &v : host) v = static_cast<float>(rng()) / 1e6f;
        const int64_t shape[2] = {rows, cols};
        rai_tensor h = make_tensor(host.data(), kF32, shape, 2);

        rai_buffer *dbuf = nullptr, *tbuf = nullptr;
        ASSERT_RAI_OK(rai_buffer_create(ctx, count * 4, &dbuf));
        ASSERT_RAI_OK(rai_buffer_create(ctx, count * 4, &tbuf));
        rai_device gpu{RAI_DEVICE_CUDA, 0};
        rai_tensor d = make_tensor(rai_buffer_data(dbuf), kF32, shape, 2, nullptr, gpu);
        const int64_t tstrides[2] = {1, rows};
        rai_tensor t = make_tensor(rai_buffer_data(tbuf), kF32, shape, 2, tstrides, gpu);

        ASSERT_RAI_OK(rai_tensor_copy(ctx, &h, &d));  // H2D contiguous
        ASSERT_RAI_OK(rai_tensor_copy(ctx, &d, &t));  // D2D strided (transpose kernel)
        std::vector<float> back(count, 0);
        const int64_t bstrides[2] = {1, rows};
        rai_tensor hb = make_tensor(back.data(), kF32, shape, 2, bstrides);
        ASSERT_RAI_OK(rai_tensor_copy(ctx, &t, &hb));  // D2H strided on both sides
        std::vector<float> ref(count, 0);
        rai_context *cpu = make_cpu_context();
        rai_tensor hr = make_tensor(ref.data(), kF32, shape, 2, bstrides);
        ASSERT_RAI_OK(rai_tensor_copy(cpu, &h, &hr));  // the CPU reference
        rai_context_destroy(cpu);
        EXPECT_EQ(0, std::memcmp(back.data(), ref.data(), count * 4)) << rows << "x" << cols;
        rai_buffer_destroy(dbuf);
        rai_buffer_destroy(tbuf);
    }
}

TEST_F(Gpu, CudaTensorOfAnotherOrdinalIsRejected) {
    float x = 0;
    const int64_t shape[1] = {1};
    rai_tensor h = make_tensor(&x, kF32, shape, 1);
    rai_tensor other = make_tensor(&x, kF32, shape, 1, nullptr, {RAI_DEVICE_CUDA, 5});
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &h, &other), RAI_ERROR_DEVICE_MISMATCH, "CUDA device 0");
}
