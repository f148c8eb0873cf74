// Dtypes, descriptor validation, and rai_tensor_copy on the CPU.
#include <numeric>
#include <random>

#include "error.h"
#include "tensor_check.h"
#include "test_helpers.h"

TEST(Dtype, SizesAndNamesOfTheSupportedSet) {
    struct Case {
        rai_dtype d;
        size_t bytes;
        const char *name;
    } cases[] = {
        {{RAI_DTYPE_FLOAT, 32, 1}, 4, "f32"}, {{RAI_DTYPE_FLOAT, 16, 1}, 2, "f16"}, {{RAI_DTYPE_BFLOAT, 16, 1}, 2, "bf16"},
        {{RAI_DTYPE_FLOAT, 64, 1}, 8, "f64"}, {{RAI_DTYPE_INT, 8, 1}, 1, "i8"},     {{RAI_DTYPE_UINT, 8, 1}, 1, "u8"},
        {{RAI_DTYPE_INT, 32, 1}, 4, "i32"},   {{RAI_DTYPE_INT, 64, 1}, 8, "i64"},   {{RAI_DTYPE_UINT, 32, 1}, 4, "u32"},
        {{RAI_DTYPE_UINT, 64, 1}, 8, "u64"},
    };
    for (const Case &c : cases) {
        size_t n = 0;
        ASSERT_RAI_OK(rai_dtype_size(&c.d, &n));
        EXPECT_EQ(n, c.bytes) << c.name;
        EXPECT_STREQ(rai_dtype_name(&c.d), c.name);
    }
    const rai_dtype bad[] = {{RAI_DTYPE_FLOAT, 8, 1}, {RAI_DTYPE_FLOAT, 32, 4}, {RAI_DTYPE_BFLOAT, 32, 1}, {7, 16, 1}};
    for (const rai_dtype &d : bad) {
        size_t n = 0;
        EXPECT_RAI_ERROR(rai_dtype_size(&d, &n), RAI_ERROR_DTYPE_MISMATCH, "unsupported dtype");
        EXPECT_EQ(rai_dtype_name(&d), nullptr);
    }
    EXPECT_EQ(rai_dtype_name(nullptr), nullptr);
}

TEST(TensorValidate, RejectsEachKindOfBadDescriptor) {
    float data[6] = {};
    const int64_t shape[2] = {2, 3};
    rai_tensor t = make_tensor(data, kF32, shape, 2);
    ASSERT_RAI_OK(rai_tensor_validate(&t));
    EXPECT_RAI_ERROR(rai_tensor_validate(nullptr), RAI_ERROR_INVALID_ARGUMENT, "tensor must not be NULL");

    rai_tensor b = t;
    b.dtype = {RAI_DTYPE_FLOAT, 32, 2};
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_DTYPE_MISMATCH, "lanes 2");
    b = t;
    b.ndim = 33;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_INVALID_ARGUMENT, "ndim");
    b = t;
    b.shape = nullptr;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_INVALID_ARGUMENT, "shape must not be NULL");
    const int64_t negative[2] = {2, -3};
    b = t;
    b.shape = negative;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_INVALID_ARGUMENT, "shape[1]");
    b = t;
    b.data = nullptr;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_INVALID_ARGUMENT, "data");
    b = t;
    b.byte_offset = 2;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_LAYOUT, "byte_offset");
    const int64_t neg_strides[2] = {3, -1};
    b = t;
    b.strides = neg_strides;
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_LAYOUT, "strides[1]");
    b = t;
    b.device = {5, 0};
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_INVALID_ARGUMENT, "device_type");
    const int64_t huge[3] = {int64_t{1} << 40, int64_t{1} << 40, 2};
    b = make_tensor(data, kF32, huge, 3);
    EXPECT_RAI_ERROR(rai_tensor_validate(&b), RAI_ERROR_OUT_OF_RANGE, "int64");

    // An empty tensor may have NULL data; a 0-d tensor is a scalar.
    const int64_t empty[2] = {0, 3};
    b = make_tensor(nullptr, kF32, empty, 2);
    EXPECT_EQ(rai_tensor_validate(&b), RAI_OK);
    b = make_tensor(data, kF32, nullptr, 0);
    EXPECT_EQ(rai_tensor_validate(&b), RAI_OK);
}

// Copies a [rows x cols] matrix into awkward layouts and back, checking every element.
class TensorCopySizes : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(TensorCopySizes, TransposeAndStridedRoundTrip) {
    const auto [rows, cols] = GetParam();
    rai_context *ctx = make_cpu_context();
    std::vector<int32_t> src(static_cast<size_t>(rows * cols));
    std::mt19937 rng(static_cast<uint32_t>(rows * 1000 + cols));
    for (auto &v : src) v = static_cast<int32_t>(rng());
    const int64_t shape[2] = {rows, cols};
    rai_tensor s = make_tensor(src.data(), kI32, shape, 2);

    // dst is the transpose of a [cols x rows] buffer viewed as [rows x cols].
    std::vector<int32_t> tbuf(src.size(), 0);
    const int64_t tstrides[2] = {1, rows};
    rai_tensor t = make_tensor(tbuf.data(), kI32, shape, 2, tstrides);
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &s, &t));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(tbuf[c * rows + r], src[r * cols + c]) << r << "," << c;

    // Every other row of a padded buffer, with a byte offset.
    std::vector<int32_t> padded(static_cast<size_t>((2 * rows + 1) * (cols + 3)), -7);
    const int64_t pstrides[2] = {2 * (cols + 3), 1};
    rai_tensor p = make_tensor(padded.data(), kI32, shape, 2, pstrides);
    p.byte_offset = sizeof(int32_t) * static_cast<uint64_t>(cols + 3);
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &t, &p));
    std::vector<int32_t> back(src.size(), 0);
    rai_tensor b = make_tensor(back.data(), kI32, shape, 2);
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &p, &b));
    EXPECT_EQ(back, src);
    // The padding was never written.
    EXPECT_EQ(padded[0], -7);
    EXPECT_EQ(padded[static_cast<size_t>(cols + 3 + cols)], -7);
    rai_context_destroy(ctx);
}

INSTANTIATE_TEST_SUITE_P(Awkward, TensorCopySizes,
                         ::testing::Values(std::make_pair(1, 1), std::make_pair(1, 31), std::make_pair(33, 1),
                                           std::make_pair(31, 33), std::make_pair(7, 65), std::make_pair(257, 3)));

TEST(TensorCopy, MismatchesGiveSpecificStatuses) {
    rai_context *ctx = make_cpu_context();
    float a[6] = {1, 2, 3, 4, 5, 6}, c[6] = {};
    int32_t i[6] = {};
    const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6};
    rai_tensor ta = make_tensor(a, kF32, s23, 2);
    rai_tensor tc = make_tensor(c, kF32, s32, 2);
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &ta, &tc), RAI_ERROR_SHAPE_MISMATCH, "expected [2, 3], got [3, 2]");
    tc = make_tensor(c, kF32, s6, 1);
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &ta, &tc), RAI_ERROR_SHAPE_MISMATCH, "dst");
    rai_tensor ti = make_tensor(i, kI32, s23, 2);
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &ta, &ti), RAI_ERROR_DTYPE_MISMATCH, "expected dtype f32, got i32");
    rai_tensor gpu = make_tensor(c, kF32, s23, 2, nullptr, {RAI_DEVICE_CUDA, 0});
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &ta, &gpu), RAI_ERROR_DEVICE_MISMATCH, "dst");
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &gpu, &ta), RAI_ERROR_DEVICE_MISMATCH, "src");
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, nullptr, &ta), RAI_ERROR_INVALID_ARGUMENT, "src");
    EXPECT_RAI_ERROR(rai_tensor_copy(ctx, &ta, nullptr), RAI_ERROR_INVALID_ARGUMENT, "dst");
    EXPECT_RAI_ERROR(rai_tensor_copy(nullptr, &ta, &ta), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    // Nothing was written by any failed call.
    for (float v : c) EXPECT_EQ(v, 0.0f);
    // Pinned host memory counts as host memory.
    rai_tensor pinned = make_tensor(c, kF32, s23, 2, nullptr, {RAI_DEVICE_CUDA_HOST, 0});
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &ta, &pinned));
    EXPECT_EQ(c[5], 6.0f);
    rai_context_destroy(ctx);
}

TEST(TensorCopy, ScalarAndEmpty) {
    rai_context *ctx = make_cpu_context();
    double x = 3.5, y = 0;
    const rai_dtype f64{RAI_DTYPE_FLOAT, 64, 1};
    rai_tensor tx = make_tensor(&x, f64, nullptr, 0), ty = make_tensor(&y, f64, nullptr, 0);
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &tx, &ty));
    EXPECT_EQ(y, 3.5);
    const int64_t empty[2] = {4, 0};
    rai_tensor e1 = make_tensor(nullptr, f64, empty, 2), e2 = make_tensor(nullptr, f64, empty, 2);
    ASSERT_RAI_OK(rai_tensor_copy(ctx, &e1, &e2));
    rai_context_destroy(ctx);
}

TEST(TensorCheck, WildcardDimensionsKeepTheirPlace) {
    float data[24] = {};
    const int64_t shape[3] = {2, 3, 4};
    const rai_tensor t = make_tensor(data, kF32, shape, 3);
    rai::TensorCheck c("x", &t);
    EXPECT_NO_THROW(c.shape({rai::kAnyDim, 3, 4}));
    EXPECT_NO_THROW(c.shape({2, rai::kAnyDim, 4}));
    EXPECT_NO_THROW(c.shape({rai::kAnyDim, rai::kAnyDim, 4}));
    try {
        c.shape({rai::kAnyDim, 4, 3});
        ADD_FAILURE() << "a wrong extent after a wildcard was accepted";
    } catch (const rai::Error &e) {
        EXPECT_EQ(e.status(), RAI_ERROR_SHAPE_MISMATCH);
        EXPECT_NE(std::string(e.what()).find("x: shape mismatch: expected [*, 4, 3], got [2, 3, 4]"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(c.shape({2, 3}), rai::Error);
}

// numpy 2 gives zero-element arrays 0 strides: such a tensor is contiguous (there is nothing to
// lay out), so callers get the real error (e.g. a shape mismatch), not a layout one.
TEST(TensorCheck, ZeroElementTensorsAreContiguousWhateverTheirStrides) {
    const int64_t shape[2] = {0, 5};
    const int64_t zero_strides[2] = {0, 0};
    rai_tensor t = make_tensor(nullptr, kF32, shape, 2);
    t.strides = zero_strides;
    rai::TensorCheck c("x", &t);
    EXPECT_TRUE(c.is_contiguous());
    EXPECT_NO_THROW(c.contiguous());
    const int64_t nonempty[2] = {2, 5};
    float data[10] = {};
    rai_tensor u = make_tensor(data, kF32, nonempty, 2);
    u.strides = zero_strides;
    EXPECT_FALSE(rai::TensorCheck("y", &u).is_contiguous());
}
