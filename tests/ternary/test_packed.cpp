// Packed dense vectors: layout, import/export, get/set, counts (reference sections 2.2, 3.1, 3.3, 4).
#include <cstring>

#include "ternary_test_util.h"

TEST(TVec, NewVectorIsZeroAndHasTritVsaWordCounts) {
    TVec v(100);
    EXPECT_EQ(v.dim(), 100u);
    for (auto t : v.trits()) EXPECT_EQ(t, 0);
    size_t words = 0;
    uint32_t p32[8], m32[8];
    ASSERT_RAI_OK(rai_tvec_export_planes_u32(v, p32, m32, 8, &words));
    EXPECT_EQ(words, 4u);  // trit-vsa: ceil(100 / 32) u32 words
    uint64_t p64[4], m64[4];
    ASSERT_RAI_OK(rai_tvec_export_planes_u64(v, p64, m64, 4, &words));
    EXPECT_EQ(words, 2u);
    size_t nnz = 9;
    ASSERT_RAI_OK(rai_tvec_count_nonzero(v, &nnz));
    EXPECT_EQ(nnz, 0u);
    TVec empty(0);
    double sp = 0;
    ASSERT_RAI_OK(rai_tvec_sparsity(empty, &sp));
    EXPECT_EQ(sp, 1.0);
    ASSERT_RAI_OK(rai_tvec_export_planes_u32(empty, nullptr, nullptr, 0, &words));
    EXPECT_EQ(words, 0u);
}

TEST(TVec, Int8RoundTripAndStrictness) {
    const Trits t = random_trits(1000, 1);
    TVec v(t);
    EXPECT_EQ(v.trits(), t);
    Trits bad = t;
    bad[517] = 2;
    EXPECT_RAI_ERROR(rai_tvec_import_int8(v, bad.data(), bad.size()), RAI_ERROR_INVALID_ARGUMENT, "values[517] is 2");
    EXPECT_EQ(v.trits(), t);  // unchanged
    bad[517] = -128;
    EXPECT_RAI_ERROR(rai_tvec_import_int8(v, bad.data(), bad.size()), RAI_ERROR_INVALID_ARGUMENT, "-128");
    EXPECT_RAI_ERROR(rai_tvec_import_int8(v, t.data(), 999), RAI_ERROR_SHAPE_MISMATCH, "count 999");
    EXPECT_RAI_ERROR(rai_tvec_import_int8(v, nullptr, 1000), RAI_ERROR_INVALID_ARGUMENT, "values must not be NULL");
    EXPECT_RAI_ERROR(rai_tvec_import_int8(nullptr, t.data(), 1000), RAI_ERROR_INVALID_ARGUMENT, "v must not be NULL");
    Trits out(999, 5);
    size_t n = 0;
    EXPECT_RAI_ERROR(rai_tvec_export_int8(v, out.data(), out.size(), &n), RAI_ERROR_BUFFER_TOO_SMALL, "1000 trits");
    EXPECT_EQ(n, 1000u);
    EXPECT_EQ(out, Trits(999, 5));
}

TEST(TVec, PlanesMatchTritVsaLayoutAndAreValidated) {
    // trit i at bit i % 32 of u32 word i / 32, plus plane for +1, minus plane for -1.
    Trits t(70, 0);
    t[0] = 1;
    t[33] = -1;
    t[69] = 1;
    TVec v(t);
    uint32_t p[3], m[3];
    size_t words;
    ASSERT_RAI_OK(rai_tvec_export_planes_u32(v, p, m, 3, &words));
    ASSERT_EQ(words, 3u);
    EXPECT_EQ(p[0], 1u);
    EXPECT_EQ(m[1], 2u);
    EXPECT_EQ(p[2], 1u << 5);
    EXPECT_EQ(p[1] | m[0] | m[2], 0u);
    uint64_t p64[2], m64[2];
    ASSERT_RAI_OK(rai_tvec_export_planes_u64(v, p64, m64, 2, &words));
    // Little-endian: the u64 plane is the u32 plane padded to an even word count.
    uint32_t p32pad[4] = {p[0], p[1], p[2], 0};
    EXPECT_EQ(std::memcmp(p64, p32pad, 16), 0);

    TVec w(70);
    ASSERT_RAI_OK(rai_tvec_import_planes_u32(w, p, m, 3));
    EXPECT_EQ(w.trits(), t);
    TVec x(70);
    ASSERT_RAI_OK(rai_tvec_import_planes_u64(x, p64, m64, 2));
    EXPECT_EQ(x.trits(), t);

    // Errors leave the vector unchanged.
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u32(w, p, m, 2), RAI_ERROR_SHAPE_MISMATCH, "has 3 u32 words");
    uint32_t overlap_p[3] = {1, 0, 0}, overlap_m[3] = {1, 0, 0};
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u32(w, overlap_p, overlap_m, 3), RAI_ERROR_INVALID_ARGUMENT, "overlap");
    uint32_t dirty[3] = {0, 0, 1u << 6};  // bit 70 is padding
    uint32_t zero[3] = {0, 0, 0};
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u32(w, dirty, zero, 3), RAI_ERROR_INVALID_ARGUMENT, "padding");
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u32(w, zero, dirty, 3), RAI_ERROR_INVALID_ARGUMENT, "padding");
    uint64_t dirty64[2] = {0, 1ull << 63};
    uint64_t zero64[2] = {0, 0};
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u64(w, dirty64, zero64, 2), RAI_ERROR_INVALID_ARGUMENT, "padding");
    EXPECT_RAI_ERROR(rai_tvec_import_planes_u64(w, nullptr, zero64, 2), RAI_ERROR_INVALID_ARGUMENT, "plus");
    EXPECT_EQ(w.trits(), t);
    uint32_t small_p[2] = {7, 7}, small_m[2] = {7, 7};
    EXPECT_RAI_ERROR(rai_tvec_export_planes_u32(v, small_p, small_m, 2, &words), RAI_ERROR_BUFFER_TOO_SMALL,
                     "3 u32 words needed");
    EXPECT_EQ(words, 3u);
    EXPECT_EQ(small_p[0], 7u);
}

TEST(TVec, GetSetAndErrors) {
    TVec v(10);
    ASSERT_RAI_OK(rai_tvec_set(v, 0, 1));
    ASSERT_RAI_OK(rai_tvec_set(v, 9, -1));
    ASSERT_RAI_OK(rai_tvec_set(v, 5, 1));
    ASSERT_RAI_OK(rai_tvec_set(v, 5, 0));
    int8_t g = 7;
    ASSERT_RAI_OK(rai_tvec_get(v, 9, &g));
    EXPECT_EQ(g, -1);
    ASSERT_RAI_OK(rai_tvec_set(v, 9, 1));
    ASSERT_RAI_OK(rai_tvec_get(v, 9, &g));
    EXPECT_EQ(g, 1);
    EXPECT_EQ(v.trits(), (Trits{1, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    g = 7;
    EXPECT_RAI_ERROR(rai_tvec_get(v, 10, &g), RAI_ERROR_OUT_OF_RANGE, "index 10 is out of range for dimension 10");
    EXPECT_EQ(g, 7);
    EXPECT_RAI_ERROR(rai_tvec_set(v, 10, 1), RAI_ERROR_OUT_OF_RANGE, "index 10");
    EXPECT_RAI_ERROR(rai_tvec_set(v, 1, 2), RAI_ERROR_INVALID_ARGUMENT, "value is 2");
    EXPECT_RAI_ERROR(rai_tvec_get(v, 0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
}

TEST(TVec, CountsSumSparsity) {
    TVec v(Trits{1, 1, -1});
    int64_t s = 0;
    ASSERT_RAI_OK(rai_tvec_sum(v, &s));
    EXPECT_EQ(s, 1);
    size_t pos, neg, nnz;
    ASSERT_RAI_OK(rai_tvec_count_positive(v, &pos));
    ASSERT_RAI_OK(rai_tvec_count_negative(v, &neg));
    ASSERT_RAI_OK(rai_tvec_count_nonzero(v, &nnz));
    EXPECT_EQ(pos, 2u);
    EXPECT_EQ(neg, 1u);
    EXPECT_EQ(nnz, 3u);
    TVec w(100);
    for (size_t i = 0; i < 5; ++i) ASSERT_RAI_OK(rai_tvec_set(w, i * 17, i % 2 ? 1 : -1));
    double sp = 0;
    ASSERT_RAI_OK(rai_tvec_sparsity(w, &sp));
    EXPECT_DOUBLE_EQ(sp, 0.95);
}

TEST(TVec, NegateAddClampedEqualClone) {
    const Trits a{1, -1, 0, 1, -1}, b{1, 1, -1, 0, -1};
    TVec va(a), vb(b), out(5);
    ASSERT_RAI_OK(rai_tvec_add_clamped(va, vb, out));
    EXPECT_EQ(out.trits(), (Trits{1, 0, -1, 1, -1}));
    ASSERT_RAI_OK(rai_tvec_negate(va, out));
    EXPECT_EQ(out.trits(), (Trits{-1, 1, 0, -1, 1}));
    ASSERT_RAI_OK(rai_tvec_negate(va, va));  // in place
    EXPECT_EQ(va.trits(), (Trits{-1, 1, 0, -1, 1}));
    int32_t eq = 9;
    ASSERT_RAI_OK(rai_tvec_equal(va, out, &eq));
    EXPECT_EQ(eq, 1);
    ASSERT_RAI_OK(rai_tvec_equal(va, vb, &eq));
    EXPECT_EQ(eq, 0);
    TVec other(6);
    ASSERT_RAI_OK(rai_tvec_equal(va, other, &eq));
    EXPECT_EQ(eq, 0);  // different dimensions compare unequal, no error
    rai_tvec *c = nullptr;
    ASSERT_RAI_OK(rai_tvec_clone(vb, &c));
    ASSERT_RAI_OK(rai_tvec_equal(vb, c, &eq));
    EXPECT_EQ(eq, 1);
    ASSERT_RAI_OK(rai_tvec_set(c, 0, -1));
    ASSERT_RAI_OK(rai_tvec_equal(vb, c, &eq));
    EXPECT_EQ(eq, 0);
    rai_tvec_destroy(c);
    EXPECT_RAI_ERROR(rai_tvec_add_clamped(va, other, out), RAI_ERROR_SHAPE_MISMATCH, "b: dimension 6");
    EXPECT_RAI_ERROR(rai_tvec_negate(va, other), RAI_ERROR_SHAPE_MISMATCH, "out: dimension 6");
}

TEST(TVec, CreateErrorsAndNullSafety) {
    rai_tvec *v = reinterpret_cast<rai_tvec *>(0x1);
    EXPECT_RAI_ERROR(rai_tvec_create(1, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_RAI_ERROR(rai_tvec_clone(nullptr, &v), RAI_ERROR_INVALID_ARGUMENT, "v must not be NULL");
    EXPECT_EQ(v, nullptr);  // out-handles are NULL on failure
    v = reinterpret_cast<rai_tvec *>(0x1);
    EXPECT_RAI_ERROR(rai_tvec_create(SIZE_MAX, &v), RAI_ERROR_OUT_OF_MEMORY, "");
    EXPECT_EQ(v, nullptr);
    rai_tvec_destroy(nullptr);
    size_t d;
    EXPECT_RAI_ERROR(rai_tvec_dim(nullptr, &d), RAI_ERROR_INVALID_ARGUMENT, "v");
}
