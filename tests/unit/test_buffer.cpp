// rai_buffer on the CPU: allocation, round trips, range checks.
#include <cstring>

#include "test_helpers.h"

TEST(Buffer, RoundTripAtOffsets) {
    rai_context *ctx = make_cpu_context();
    rai_buffer *buf = nullptr;
    ASSERT_RAI_OK(rai_buffer_create(ctx, 1001, &buf));
    EXPECT_EQ(rai_buffer_size(buf), 1001u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(rai_buffer_data(buf)) % 256, 0u);
    rai_device dev;
    ASSERT_RAI_OK(rai_buffer_device(buf, &dev));
    EXPECT_EQ(dev.device_type, RAI_DEVICE_CPU);
    std::vector<uint8_t> in(1001);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 7 + 3);
    ASSERT_RAI_OK(rai_buffer_write(ctx, buf, 0, in.data(), in.size()));
    std::vector<uint8_t> out(500, 0);
    ASSERT_RAI_OK(rai_buffer_read(ctx, buf, 501, out.data(), out.size()));
    EXPECT_EQ(0, std::memcmp(out.data(), in.data() + 501, out.size()));
    ASSERT_RAI_OK(rai_buffer_write(ctx, buf, 1001, nullptr, 0));  // empty range at the end is fine
    rai_buffer_destroy(buf);
    rai_context_destroy(ctx);
}

TEST(Buffer, ErrorsNameTheArgumentAndWriteNothing) {
    rai_context *ctx = make_cpu_context();
    rai_buffer *buf = reinterpret_cast<rai_buffer *>(0x1);
    EXPECT_RAI_ERROR(rai_buffer_create(ctx, 0, &buf), RAI_ERROR_INVALID_ARGUMENT, "bytes");
    EXPECT_EQ(buf, nullptr);
    EXPECT_RAI_ERROR(rai_buffer_create(nullptr, 8, &buf), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_buffer_create(ctx, 8, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_buffer_create(ctx, SIZE_MAX - 10, &buf), RAI_ERROR_OUT_OF_MEMORY, "bytes");
    ASSERT_RAI_OK(rai_buffer_create(ctx, 16, &buf));
    uint8_t data[32] = {1, 2, 3};
    ASSERT_RAI_OK(rai_buffer_write(ctx, buf, 0, std::vector<uint8_t>(16, 9).data(), 16));
    EXPECT_RAI_ERROR(rai_buffer_write(ctx, buf, 8, data, 9), RAI_ERROR_OUT_OF_RANGE, "outside the buffer of 16");
    EXPECT_RAI_ERROR(rai_buffer_write(ctx, buf, SIZE_MAX, data, 2), RAI_ERROR_OUT_OF_RANGE, "outside");
    EXPECT_RAI_ERROR(rai_buffer_read(ctx, buf, 0, data, 17), RAI_ERROR_OUT_OF_RANGE, "outside");
    EXPECT_RAI_ERROR(rai_buffer_write(ctx, buf, 0, nullptr, 4), RAI_ERROR_INVALID_ARGUMENT, "src");
    EXPECT_RAI_ERROR(rai_buffer_read(ctx, buf, 0, nullptr, 4), RAI_ERROR_INVALID_ARGUMENT, "dst");
    EXPECT_RAI_ERROR(rai_buffer_write(ctx, nullptr, 0, data, 4), RAI_ERROR_INVALID_ARGUMENT, "buffer");
    EXPECT_RAI_ERROR(rai_buffer_read(nullptr, buf, 0, data, 4), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    rai_device dev;
    EXPECT_RAI_ERROR(rai_buffer_device(nullptr, &dev), RAI_ERROR_INVALID_ARGUMENT, "buffer");
    EXPECT_RAI_ERROR(rai_buffer_device(buf, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    // The failed writes left the contents alone.
    uint8_t check[16];
    ASSERT_RAI_OK(rai_buffer_read(ctx, buf, 0, check, 16));
    for (uint8_t v : check) EXPECT_EQ(v, 9);
    EXPECT_EQ(rai_buffer_data(nullptr), nullptr);
    EXPECT_EQ(rai_buffer_size(nullptr), 0u);
    rai_buffer_destroy(buf);
    rai_buffer_destroy(nullptr);
    rai_context_destroy(ctx);
}
