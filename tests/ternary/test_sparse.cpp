// Sparse COO vectors (reference sections 2.2 item 5, 3.3, 4).
#include "ternary_test_util.h"

namespace {
void set_indices(rai_svec *s, std::vector<uint64_t> pos, std::vector<uint64_t> neg) {
    ASSERT_RAI_OK(rai_svec_import_indices(s, pos.data(), pos.size(), neg.data(), neg.size()));
}
}  // namespace

TEST(SVec, ImportSortsAndValidates) {
    SVec s(10);
    const std::vector<uint64_t> pos{7, 1, 4}, neg{9, 0};
    ASSERT_RAI_OK(rai_svec_import_indices(s, pos.data(), pos.size(), neg.data(), neg.size()));
    uint64_t p[3], n[2];
    size_t np = 0, nn = 0;
    ASSERT_RAI_OK(rai_svec_export_indices(s, p, 3, n, 2, &np, &nn));
    EXPECT_EQ(std::vector<uint64_t>(p, p + np), (std::vector<uint64_t>{1, 4, 7}));
    EXPECT_EQ(std::vector<uint64_t>(n, n + nn), (std::vector<uint64_t>{0, 9}));
    size_t nnz;
    ASSERT_RAI_OK(rai_svec_nnz(s, &nnz));
    EXPECT_EQ(nnz, 5u);

    const std::vector<uint64_t> oob{10}, dup{3, 5, 3}, overlap_p{2, 3}, overlap_n{3};
    EXPECT_RAI_ERROR(rai_svec_import_indices(s, oob.data(), 1, nullptr, 0), RAI_ERROR_OUT_OF_RANGE,
                     "positive[0] = 10 is out of range for dimension 10");
    EXPECT_RAI_ERROR(rai_svec_import_indices(s, nullptr, 0, dup.data(), 3), RAI_ERROR_INVALID_ARGUMENT,
                     "negative: index 3 appears twice");
    EXPECT_RAI_ERROR(rai_svec_import_indices(s, overlap_p.data(), 2, overlap_n.data(), 1), RAI_ERROR_INVALID_ARGUMENT,
                     "index 3 is in both");
    EXPECT_RAI_ERROR(rai_svec_import_indices(s, nullptr, 2, nullptr, 0), RAI_ERROR_INVALID_ARGUMENT, "positive");
    // Unchanged after the errors.
    ASSERT_RAI_OK(rai_svec_nnz(s, &nnz));
    EXPECT_EQ(nnz, 5u);
    EXPECT_RAI_ERROR(rai_svec_export_indices(s, p, 2, n, 2, &np, &nn), RAI_ERROR_BUFFER_TOO_SMALL, "needed");
    EXPECT_EQ(np, 3u);
    EXPECT_EQ(nn, 2u);
}

TEST(SVec, GetSetAndMemory) {
    SVec s(100);
    ASSERT_RAI_OK(rai_svec_set(s, 50, 1));
    ASSERT_RAI_OK(rai_svec_set(s, 20, -1));
    ASSERT_RAI_OK(rai_svec_set(s, 50, -1));
    int8_t g;
    ASSERT_RAI_OK(rai_svec_get(s, 50, &g));
    EXPECT_EQ(g, -1);
    ASSERT_RAI_OK(rai_svec_get(s, 51, &g));
    EXPECT_EQ(g, 0);
    ASSERT_RAI_OK(rai_svec_set(s, 20, 0));
    size_t nnz, bytes;
    ASSERT_RAI_OK(rai_svec_nnz(s, &nnz));
    EXPECT_EQ(nnz, 1u);
    ASSERT_RAI_OK(rai_svec_memory_bytes(s, &bytes));
    EXPECT_GE(bytes, 8u);
    EXPECT_RAI_ERROR(rai_svec_set(s, 100, 1), RAI_ERROR_OUT_OF_RANGE, "index 100");
    EXPECT_RAI_ERROR(rai_svec_set(s, 1, -2), RAI_ERROR_INVALID_ARGUMENT, "value is -2");
    EXPECT_RAI_ERROR(rai_svec_get(s, 100, &g), RAI_ERROR_OUT_OF_RANGE, "index 100");
}

TEST(SVec, DotExamplesAndDenseRoundTrip) {
    // dot of [1,-1,0,1] and [1,1,-1,0] is 0; after b[1] = -1 it is 2.
    SVec a(4), b(4);
    set_indices(a, {0, 3}, {1});
    set_indices(b, {0, 1}, {2});
    int64_t d = 9;
    ASSERT_RAI_OK(rai_svec_dot(a, b, &d));
    EXPECT_EQ(d, 0);
    TVec bd(Trits{1, 1, -1, 0});
    ASSERT_RAI_OK(rai_svec_dot_tvec(a, bd, &d));
    EXPECT_EQ(d, 0);
    ASSERT_RAI_OK(rai_svec_set(b, 1, -1));
    ASSERT_RAI_OK(rai_svec_dot(a, b, &d));
    EXPECT_EQ(d, 2);
    ASSERT_RAI_OK(rai_tvec_set(bd, 1, -1));
    ASSERT_RAI_OK(rai_svec_dot_tvec(a, bd, &d));
    EXPECT_EQ(d, 2);

    // Cosine [1,1] vs [1,1] in 1000 dims: 1.
    SVec x(1000), y(1000);
    set_indices(x, {3, 900}, {});
    set_indices(y, {3, 900}, {});
    float c = 0;
    ASSERT_RAI_OK(rai_svec_cosine(x, y, &c));
    EXPECT_EQ(c, 1.0f);
    SVec z(1000);
    ASSERT_RAI_OK(rai_svec_cosine(x, z, &c));
    EXPECT_EQ(c, 0.0f);

    // Round trip through dense, and agreement with the dense dot on random data.
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        const Trits t = random_trits(777, seed, 90), u = random_trits(777, seed + 100, 85);
        TVec vt(t), vu(u), back(777);
        SVec st(777), su(777);
        ASSERT_RAI_OK(rai_svec_from_tvec(vt, st));
        ASSERT_RAI_OK(rai_svec_from_tvec(vu, su));
        ASSERT_RAI_OK(rai_svec_to_tvec(st, back));
        EXPECT_EQ(back.trits(), t);
        ASSERT_RAI_OK(rai_svec_dot(st, su, &d));
        EXPECT_EQ(d, ref_dot(t, u));
        ASSERT_RAI_OK(rai_svec_dot_tvec(st, vu, &d));
        EXPECT_EQ(d, ref_dot(t, u));
        float cs, cd, ct;
        ASSERT_RAI_OK(rai_svec_cosine(st, su, &cs));
        ASSERT_RAI_OK(rai_vsa_cosine(vt, vu, &cd));
        ASSERT_RAI_OK(rai_svec_cosine_tvec(st, vu, &ct));
        EXPECT_EQ(cs, cd);
        EXPECT_EQ(ct, cd);
    }
}

TEST(SVec, DimensionErrors) {
    SVec a(4), b(5);
    TVec v(5);
    int64_t d = 3;
    EXPECT_RAI_ERROR(rai_svec_dot(a, b, &d), RAI_ERROR_SHAPE_MISMATCH, "b: dimension 5 differs from a's dimension 4");
    EXPECT_RAI_ERROR(rai_svec_dot_tvec(a, v, &d), RAI_ERROR_SHAPE_MISMATCH, "b: dimension 5");
    EXPECT_EQ(d, 3);
    EXPECT_RAI_ERROR(rai_svec_to_tvec(a, v), RAI_ERROR_SHAPE_MISMATCH, "out: dimension 5");
    EXPECT_RAI_ERROR(rai_svec_from_tvec(v, a), RAI_ERROR_SHAPE_MISMATCH, "v: dimension 5");
    rai_svec *s = reinterpret_cast<rai_svec *>(0x1);
    EXPECT_RAI_ERROR(rai_svec_create(3, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    rai_svec_destroy(nullptr);
    (void)s;
}
