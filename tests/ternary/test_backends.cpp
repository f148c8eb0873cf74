// Every CPU backend against the scalar reference and the int8 oracle, at the awkward dimensions
// of the issue: results must be bit-identical.
#include <memory>

#include "ternary_test_util.h"

namespace {

struct Results {
    Trits bind, unbind, mul, add, bundle3, bundle16, bundle_w, perm, neg;
    int64_t dot = 0, sum = 0;
    size_t ham = 0, eq = 0, pos = 0, negc = 0;
    float cos = 0, hsim = 0;
    uint64_t plane_hash = 0;
};

Results run_all(const std::vector<std::unique_ptr<TVec>> &v, size_t dim) {
    Results r;
    TVec out(dim);
    EXPECT_RAI_OK(rai_vsa_bind(*v[0], *v[1], RAI_VSA_BIND_MOD3, out));
    r.bind = out.trits();
    EXPECT_RAI_OK(rai_vsa_unbind(*v[0], *v[1], RAI_VSA_BIND_MOD3, out));
    r.unbind = out.trits();
    EXPECT_RAI_OK(rai_vsa_bind(*v[0], *v[1], RAI_VSA_BIND_MUL, out));
    r.mul = out.trits();
    EXPECT_RAI_OK(rai_tvec_add_clamped(*v[0], *v[1], out));
    r.add = out.trits();
    std::vector<const rai_tvec *> list;
    for (const auto &x : v) list.push_back(*x);
    EXPECT_RAI_OK(rai_vsa_bundle(list.data(), nullptr, 3, nullptr, out));
    r.bundle3 = out.trits();
    EXPECT_RAI_OK(rai_vsa_bundle(list.data(), nullptr, 16, nullptr, out));
    r.bundle16 = out.trits();
    std::vector<int32_t> w(16);
    for (size_t k = 0; k < 16; ++k) w[k] = static_cast<int32_t>(k) - 5;
    EXPECT_RAI_OK(rai_vsa_bundle(list.data(), w.data(), 16, nullptr, out));
    r.bundle_w = out.trits();
    EXPECT_RAI_OK(rai_vsa_permute(*v[0], -12345, out));
    r.perm = out.trits();
    EXPECT_RAI_OK(rai_tvec_negate(*v[2], out));
    r.neg = out.trits();
    EXPECT_RAI_OK(rai_vsa_dot(*v[0], *v[1], &r.dot));
    EXPECT_RAI_OK(rai_vsa_hamming_distance(*v[0], *v[1], &r.ham));
    EXPECT_RAI_OK(rai_vsa_equal_count(*v[0], *v[1], &r.eq));
    EXPECT_RAI_OK(rai_vsa_cosine(*v[0], *v[1], &r.cos));
    EXPECT_RAI_OK(rai_vsa_hamming_similarity(*v[0], *v[1], &r.hsim));
    EXPECT_RAI_OK(rai_tvec_sum(*v[3], &r.sum));
    EXPECT_RAI_OK(rai_tvec_count_positive(*v[3], &r.pos));
    EXPECT_RAI_OK(rai_tvec_count_negative(*v[3], &r.negc));
    return r;
}

void expect_same(const Results &a, const Results &b, const std::string &what) {
    EXPECT_EQ(a.bind, b.bind) << what;
    EXPECT_EQ(a.unbind, b.unbind) << what;
    EXPECT_EQ(a.mul, b.mul) << what;
    EXPECT_EQ(a.add, b.add) << what;
    EXPECT_EQ(a.bundle3, b.bundle3) << what;
    EXPECT_EQ(a.bundle16, b.bundle16) << what;
    EXPECT_EQ(a.bundle_w, b.bundle_w) << what;
    EXPECT_EQ(a.perm, b.perm) << what;
    EXPECT_EQ(a.neg, b.neg) << what;
    EXPECT_EQ(a.dot, b.dot) << what;
    EXPECT_EQ(a.ham, b.ham) << what;
    EXPECT_EQ(a.eq, b.eq) << what;
    EXPECT_EQ(a.sum, b.sum) << what;
    EXPECT_EQ(a.pos, b.pos) << what;
    EXPECT_EQ(a.negc, b.negc) << what;
    // Float results are computed from the same integers: identical bits too.
    EXPECT_EQ(a.cos, b.cos) << what;
    EXPECT_EQ(a.hsim, b.hsim) << what;
}

}  // namespace

class BackendDims : public ::testing::TestWithParam<size_t> {};

TEST_P(BackendDims, AllBackendsBitIdenticalToScalarAndOracle) {
    const size_t dim = GetParam();
    std::vector<Trits> data;
    std::vector<std::unique_ptr<TVec>> vecs;
    for (size_t k = 0; k < 16; ++k) {
        data.push_back(random_trits(dim, 1000 * dim + k, static_cast<int>(10 + 5 * (k % 8))));
        vecs.push_back(std::make_unique<TVec>(data.back()));
    }
    MaskGuard guard;
    const auto backends = cpu_backends();
    std::vector<Results> results;
    for (const Backend &be : backends) {
        rai_cpu_set_feature_mask(be.mask);
        ASSERT_STREQ(rai_vsa_cpu_backend(), be.name);
        results.push_back(run_all(vecs, dim));
    }
    // The scalar reference against the int8 oracle.
    const Results &s = results[0];
    const Trits &a = data[0], &b = data[1];
    EXPECT_EQ(s.bind, ref_bind(a, b));
    EXPECT_EQ(s.unbind, ref_unbind(a, b));
    EXPECT_EQ(s.mul, ref_mul(a, b));
    EXPECT_EQ(s.add, ref_bundle({a, b}));
    EXPECT_EQ(s.bundle3, ref_bundle({data.begin(), data.begin() + 3}));
    EXPECT_EQ(s.bundle16, ref_bundle(data));
    std::vector<int32_t> w(16);
    for (size_t k = 0; k < 16; ++k) w[k] = static_cast<int32_t>(k) - 5;
    EXPECT_EQ(s.bundle_w, ref_bundle(data, w));
    EXPECT_EQ(s.perm, ref_permute(a, -12345));
    EXPECT_EQ(s.dot, ref_dot(a, b));
    EXPECT_EQ(s.ham, ref_hamming(a, b));
    EXPECT_EQ(s.eq, dim - ref_hamming(a, b));
    long long sum = 0;
    for (auto x : data[3]) sum += x;
    EXPECT_EQ(s.sum, sum);
    // Every SIMD backend against the scalar one.
    for (size_t i = 1; i < results.size(); ++i)
        expect_same(results[i], s, std::string(backends[i].name) + " dim " + std::to_string(dim));
}

INSTANTIATE_TEST_SUITE_P(Dims, BackendDims, ::testing::Values(1, 31, 32, 33, 64, 10000, 65537, 1000000));

TEST(Backends, ReportsNames) {
    MaskGuard guard;
    rai_cpu_set_feature_mask(0);
    EXPECT_STREQ(rai_vsa_cpu_backend(), "scalar");
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        EXPECT_STREQ(rai_vsa_cpu_backend(), be.name);
    }
}
