// VSA operations: bind/unbind/bundle/permute/similarities/random (reference sections 3.4, 3.6, 4),
// checked on every CPU backend.
#include <cmath>

#include "ternary_test_util.h"

namespace {

Trits vbind(const Trits &a, const Trits &b, int32_t mode = RAI_VSA_BIND_MOD3) {
    TVec va(a), vb(b), out(a.size());
    EXPECT_RAI_OK(rai_vsa_bind(va, vb, mode, out));
    return out.trits();
}
Trits vunbind(const Trits &c, const Trits &b, int32_t mode = RAI_VSA_BIND_MOD3) {
    TVec vc(c), vb(b), out(c.size());
    EXPECT_RAI_OK(rai_vsa_unbind(vc, vb, mode, out));
    return out.trits();
}
Trits neg(const Trits &a) {
    Trits o(a);
    for (auto &x : o) x = static_cast<int8_t>(-x);
    return o;
}
Trits vbundle(const std::vector<Trits> &vs, const int32_t *weights = nullptr, const rai_bundle_params *p = nullptr) {
    std::vector<TVec *> owned;
    std::vector<const rai_tvec *> list;
    for (const auto &v : vs) {
        owned.push_back(new TVec(v));
        list.push_back(*owned.back());
    }
    TVec out(vs[0].size());
    EXPECT_RAI_OK(rai_vsa_bundle(list.data(), weights, list.size(), p, out));
    for (auto *o : owned) delete o;
    return out.trits();
}
Trits random_vec(size_t dim, uint64_t seed, int32_t gen = RAI_VSA_RNG_TRITVSA_XS64, int32_t dist = RAI_VSA_DENSE,
                 double density = 0) {
    rai_random_params p;
    rai_random_params_init(&p);
    p.seed = seed;
    p.generator = gen;
    p.distribution = dist;
    p.density = density;
    TVec v(dim);
    EXPECT_RAI_OK(rai_vsa_random(&p, v));
    return v.trits();
}
float cosine(const Trits &a, const Trits &b) {
    TVec va(a), vb(b);
    float c = 0;
    EXPECT_RAI_OK(rai_vsa_cosine(va, vb, &c));
    return c;
}

}  // namespace

TEST(Vsa, BindAndUnbindTruthTables) {
    // Rows a (or c) = -1, 0, +1; columns b = -1, 0, +1 (reference section 3.4).
    const int bind_table[3][3] = {{0, -1, 1}, {1, 0, -1}, {-1, 1, 0}};
    const int unbind_table[3][3] = {{1, -1, 0}, {-1, 0, 1}, {0, 1, -1}};
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        EXPECT_STREQ(rai_vsa_cpu_backend(), be.name);
        Trits a, b, eb, eu;
        for (int x = -1; x <= 1; ++x)
            for (int y = -1; y <= 1; ++y) {
                a.push_back(static_cast<int8_t>(x));
                b.push_back(static_cast<int8_t>(y));
                eb.push_back(static_cast<int8_t>(bind_table[x + 1][y + 1]));
                eu.push_back(static_cast<int8_t>(unbind_table[x + 1][y + 1]));
            }
        EXPECT_EQ(vbind(a, b), eb) << be.name;
        EXPECT_EQ(vunbind(a, b), eu) << be.name;
        EXPECT_EQ(vunbind(vbind(a, b), b), a) << be.name;  // all 9 pairs
        EXPECT_EQ(vbind(a, Trits(9, 0)), a);
        EXPECT_EQ(vbind(a, a), Trits(9, 0));
        EXPECT_EQ(vbind(b, a), neg(vbind(a, b)));  // anti-commutative
        EXPECT_EQ(vunbind(b, a), vunbind(a, b));   // unbind commutes
        EXPECT_EQ(vbind(a, b, RAI_VSA_BIND_MUL), ref_mul(a, b));
        EXPECT_EQ(vunbind(a, b, RAI_VSA_BIND_MUL), ref_mul(a, b));
    }
}

TEST(Vsa, AlgebraOnRandomVectors) {
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        for (size_t dim : {1, 31, 32, 33, 64, 10000, 65537, 1000000}) {
            const Trits a = random_trits(dim, dim), b = random_trits(dim, dim + 1), c = random_trits(dim, dim + 2);
            const Trits ab = vbind(a, b);
            EXPECT_EQ(ab, ref_bind(a, b)) << be.name << " dim " << dim;
            EXPECT_EQ(vunbind(ab, b), a) << be.name << " dim " << dim;
            EXPECT_EQ(vbind(b, a), neg(ab));
            EXPECT_EQ(vbind(a, a), Trits(dim, 0));
            EXPECT_EQ(vbind(a, Trits(dim, 0)), a);
            // bind_many([a, b, c]) = vbind(vbind(a, b), c), with out aliasing an input.
            TVec va(a), vb(b), vc(c);
            const rai_tvec *list[3] = {va, vb, vc};
            ASSERT_RAI_OK(rai_vsa_bind_many(list, 3, RAI_VSA_BIND_MOD3, vb));
            EXPECT_EQ(vb.trits(), vbind(ab, c));
            // MUL: self-inverse for keys without zeros.
            Trits key = random_vec(dim, dim, RAI_VSA_RNG_COUNTER, RAI_VSA_BIPOLAR);
            EXPECT_EQ(vbind(vbind(a, key, RAI_VSA_BIND_MUL), key, RAI_VSA_BIND_MUL), a);
        }
    }
}

TEST(Vsa, BindErrors) {
    TVec a(5), b(6), out(5);
    EXPECT_RAI_ERROR(rai_vsa_bind(a, b, RAI_VSA_BIND_MOD3, out), RAI_ERROR_SHAPE_MISMATCH,
                     "b: dimension 6 differs from a's dimension 5");
    EXPECT_RAI_ERROR(rai_vsa_unbind(a, a, RAI_VSA_BIND_MOD3, b), RAI_ERROR_SHAPE_MISMATCH, "out: dimension 6");
    EXPECT_RAI_ERROR(rai_vsa_bind(a, a, 7, out), RAI_ERROR_INVALID_ARGUMENT, "mode 7");
    EXPECT_RAI_ERROR(rai_vsa_bind(nullptr, a, 0, out), RAI_ERROR_INVALID_ARGUMENT, "a must not be NULL");
    EXPECT_RAI_ERROR(rai_vsa_unbind(nullptr, a, 0, out), RAI_ERROR_INVALID_ARGUMENT, "c must not be NULL");
    EXPECT_RAI_ERROR(rai_vsa_bind_many(nullptr, 0, 0, out), RAI_ERROR_INVALID_ARGUMENT, "empty");
    const rai_tvec *list[2] = {a, nullptr};
    EXPECT_RAI_ERROR(rai_vsa_bind_many(list, 2, 0, out), RAI_ERROR_INVALID_ARGUMENT, "vectors[1] must not be NULL");
    const rai_tvec *mixed[2] = {a, b};
    EXPECT_RAI_ERROR(rai_vsa_bind_many(mixed, 2, 0, out), RAI_ERROR_SHAPE_MISMATCH, "vectors[1]: dimension 6");
}

TEST(Vsa, BundleVectors) {
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        // Columns: (P,P,N) -> P; (P,N,Z) -> Z; (N,N,N) -> N; (Z,P,N) -> Z; (Z,N,Z) -> N; (P,Z,Z) -> P.
        const Trits r0{1, 1, -1, 0, 0, 1}, r1{1, -1, -1, 1, -1, 0}, r2{-1, 0, -1, -1, 0, 0};
        EXPECT_EQ(vbundle({r0, r1, r2}), (Trits{1, 0, -1, 0, -1, 1})) << be.name;
        // [P,N,P,N] -> Z.
        EXPECT_EQ(vbundle({{1}, {-1}, {1}, {-1}}), (Trits{0}));
        // Two inputs equal add_clamped: (P,P) P, (P,N) Z, (N,N) N, (Z,Z) Z.
        EXPECT_EQ(vbundle({{1, 1, -1, 0}, {1, -1, -1, 0}}), (Trits{1, 0, -1, 0}));
        // (+,0,0) -> + (the GPU plurality rule of the Rust code is not reproduced).
        EXPECT_EQ(vbundle({{1}, {0}, {0}}), (Trits{1}));
        for (size_t n : {1, 2, 3, 7, 8, 16, 33, 256}) {
            std::vector<Trits> vs;
            for (size_t k = 0; k < n; ++k) vs.push_back(random_trits(1000, 7 * n + k));
            EXPECT_EQ(vbundle(vs), ref_bundle(vs)) << be.name << " n " << n;
            std::vector<int32_t> w;
            for (size_t k = 0; k < n; ++k) w.push_back(static_cast<int32_t>(k % 5) - 1);
            EXPECT_EQ(vbundle(vs, w.data()), ref_bundle(vs, w)) << be.name << " weighted n " << n;
        }
    }
}

TEST(Vsa, BundleRandomTieBreak) {
    MaskGuard guard;
    const Trits a = random_trits(5000, 1), b = neg(a);
    std::vector<Trits> results;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        rai_bundle_params p;
        rai_bundle_params_init(&p);
        p.tie_break = RAI_VSA_TIE_RANDOM;
        p.seed = 99;
        const Trits r = vbundle({a, b}, nullptr, &p);
        // Every position where a is non-zero is a tie among voters: broken to +/-1; zeros stay 0.
        size_t plus = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            if (a[i] == 0) EXPECT_EQ(r[i], 0);
            else EXPECT_NE(r[i], 0);
            plus += r[i] == 1;
        }
        EXPECT_NEAR(static_cast<double>(plus) / static_cast<double>(ref_nnz(a)), 0.5, 0.05);
        // Weighted path and unweighted path agree, and non-tied positions follow the majority.
        const int32_t w[3] = {1, 1, 1};
        EXPECT_EQ(vbundle({a, b, Trits(a.size(), 0)}, w, &p), r);
        EXPECT_EQ(vbundle({a, b, Trits(a.size(), 0)}, nullptr, &p), r);
        results.push_back(r);
        p.seed = 100;
        EXPECT_NE(vbundle({a, b}, nullptr, &p), r);
    }
    for (const auto &r : results) EXPECT_EQ(r, results[0]);
}

TEST(Vsa, BundleCountsAccumulateThreshold) {
    const Trits a{1, 1, 0, -1}, b{1, -1, 0, -1}, c{1, 0, 0, 1};
    TVec va(a), vb(b), vc(c), out(4);
    const rai_tvec *list[3] = {va, vb, vc};
    std::vector<int32_t> counts(4, 99);
    size_t n = 0;
    ASSERT_RAI_OK(rai_vsa_bundle_counts(list, nullptr, 3, counts.data(), counts.size(), &n));
    EXPECT_EQ(counts, (std::vector<int32_t>{3, 0, 0, -1}));
    const int32_t w[3] = {2, -1, 5};
    ASSERT_RAI_OK(rai_vsa_bundle_counts(list, w, 3, counts.data(), counts.size(), &n));
    EXPECT_EQ(counts, (std::vector<int32_t>{6, 3, 0, 4}));
    ASSERT_RAI_OK(rai_vsa_accumulate(va, -2, counts.data(), counts.size()));
    EXPECT_EQ(counts, (std::vector<int32_t>{4, 1, 0, 6}));
    ASSERT_RAI_OK(rai_vsa_threshold(counts.data(), 4, 0, out));
    EXPECT_EQ(out.trits(), (Trits{1, 1, 0, 1}));
    ASSERT_RAI_OK(rai_vsa_threshold(counts.data(), 4, 4, out));
    EXPECT_EQ(out.trits(), (Trits{0, 0, 0, 1}));
    // Errors.
    std::vector<int32_t> small(3, 7);
    EXPECT_RAI_ERROR(rai_vsa_bundle_counts(list, nullptr, 3, small.data(), small.size(), &n),
                     RAI_ERROR_BUFFER_TOO_SMALL, "4 counts needed");
    EXPECT_EQ(n, 4u);
    EXPECT_EQ(small, std::vector<int32_t>(3, 7));
    std::vector<int32_t> big{INT32_MAX, 0, 0, 0};
    EXPECT_RAI_ERROR(rai_vsa_accumulate(va, 1, big.data(), 4), RAI_ERROR_OUT_OF_RANGE, "counts[0]");
    EXPECT_EQ(big[0], INT32_MAX);
    EXPECT_RAI_ERROR(rai_vsa_accumulate(va, 1, big.data(), 3), RAI_ERROR_SHAPE_MISMATCH, "count 3");
    EXPECT_RAI_ERROR(rai_vsa_threshold(counts.data(), 4, -1, out), RAI_ERROR_INVALID_ARGUMENT, "threshold is -1");
    EXPECT_RAI_ERROR(rai_vsa_threshold(counts.data(), 5, 0, out), RAI_ERROR_SHAPE_MISMATCH, "count 5");
    const int32_t huge[2] = {INT32_MAX, 1};
    const rai_tvec *two[2] = {va, vb};
    EXPECT_RAI_ERROR(rai_vsa_bundle(two, huge, 2, nullptr, out), RAI_ERROR_OUT_OF_RANGE, "weights");
}

TEST(Vsa, BundleErrorsLeaveOutputUntouched) {
    TVec a(Trits{1, 0, -1}), b(4), out(Trits{1, 1, 1});
    EXPECT_RAI_ERROR(rai_vsa_bundle(nullptr, nullptr, 0, nullptr, out), RAI_ERROR_INVALID_ARGUMENT, "empty");
    const rai_tvec *mixed[2] = {a, b};
    EXPECT_RAI_ERROR(rai_vsa_bundle(mixed, nullptr, 2, nullptr, out), RAI_ERROR_SHAPE_MISMATCH,
                     "vectors[1]: dimension 4");
    const rai_tvec *one[1] = {a};
    rai_bundle_params p;
    rai_bundle_params_init(&p);
    p.tie_break = 5;
    EXPECT_RAI_ERROR(rai_vsa_bundle(one, nullptr, 1, &p, out), RAI_ERROR_INVALID_ARGUMENT, "params->tie_break 5");
    p.tie_break = 0;
    p.struct_size = 4;
    EXPECT_RAI_ERROR(rai_vsa_bundle(one, nullptr, 1, &p, out), RAI_ERROR_STRUCT_SIZE, "params->struct_size");
    EXPECT_RAI_ERROR(rai_bundle_params_init_sized(&p, 3), RAI_ERROR_STRUCT_SIZE, "params");
    EXPECT_EQ(out.trits(), (Trits{1, 1, 1}));
    // A newer caller's larger struct is accepted; its extra bytes are zeroed by init.
    struct Bigger {
        rai_bundle_params p;
        uint64_t extra;
    } big;
    big.extra = 77;
    ASSERT_RAI_OK(rai_bundle_params_init_sized(&big.p, sizeof big));
    EXPECT_EQ(big.extra, 0u);
    ASSERT_RAI_OK(rai_vsa_bundle(one, nullptr, 1, &big.p, out));
    EXPECT_EQ(out.trits(), (Trits{1, 0, -1}));
}

TEST(Vsa, Permute) {
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        for (size_t dim : {1, 31, 32, 33, 64, 65, 200, 10000}) {
            const Trits v = random_trits(dim, dim * 3);
            TVec tv(v), out(dim), back(dim);
            const long long n = static_cast<long long>(dim);
            for (long long shift : {0LL, 1LL, -1LL, 5LL, 63LL, 64LL, 65LL, n - 1, n, -n, 3 * n + 7, -2 * n - 3}) {
                ASSERT_RAI_OK(rai_vsa_permute(tv, shift, out));
                EXPECT_EQ(out.trits(), ref_permute(v, shift)) << be.name << " dim " << dim << " shift " << shift;
                ASSERT_RAI_OK(rai_vsa_permute(out, -shift, back));
                EXPECT_EQ(back.trits(), v);
            }
            ASSERT_RAI_OK(rai_vsa_permute(tv, 7, tv));  // in place
            EXPECT_EQ(tv.trits(), ref_permute(v, 7));
        }
    }
    TVec a(3), b(4);
    EXPECT_RAI_ERROR(rai_vsa_permute(a, 1, b), RAI_ERROR_SHAPE_MISMATCH, "out: dimension 4");
}

TEST(Vsa, SimilarityExamples) {
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        int64_t d;
        TVec a(Trits{1, -1, 0, 1}), b(Trits{1, 1, -1, 0});
        ASSERT_RAI_OK(rai_vsa_dot(a, b, &d));
        EXPECT_EQ(d, 0) << be.name;
        ASSERT_RAI_OK(rai_tvec_set(b, 1, -1));
        ASSERT_RAI_OK(rai_vsa_dot(a, b, &d));
        EXPECT_EQ(d, 2);
        TVec x(Trits{1, 1, -1, -1}), xn(Trits{-1, -1, 1, 1}), y(Trits{1, -1, 1, -1});
        ASSERT_RAI_OK(rai_vsa_dot(x, x, &d));
        EXPECT_EQ(d, 4);
        ASSERT_RAI_OK(rai_vsa_dot(x, xn, &d));
        EXPECT_EQ(d, -4);
        ASSERT_RAI_OK(rai_vsa_dot(x, y, &d));
        EXPECT_EQ(d, 0);

        auto hamming = [](const Trits &p, const Trits &q) {
            TVec vp(p), vq(q);
            size_t h = 99;
            EXPECT_RAI_OK(rai_vsa_hamming_distance(vp, vq, &h));
            return h;
        };
        EXPECT_EQ(hamming({1, 0, -1, 1}, {1, -1, -1, 0}), 2u);
        EXPECT_EQ(hamming({1, 0, -1}, {-1, 1, 0}), 3u);
        EXPECT_EQ(hamming({1, 0, -1}, {1, 0, 0}), 1u);
        Trits p10(10, 0), q10(10, 0);
        p10[0] = 1, p10[1] = -1, q10[0] = -1, q10[1] = -1, q10[2] = 1;
        EXPECT_EQ(hamming(p10, q10), 2u);
        for (size_t n : {33, 63, 64, 65}) {  // padding-word cases
            Trits p(n, 0), q(n, 0);
            p[n - 1] = 1;
            q[0] = -1;
            EXPECT_EQ(hamming(p, q), 2u) << n;
            EXPECT_EQ(hamming(p, p), 0u);
            TVec vp(p), vq(q);
            size_t eq;
            float hs;
            ASSERT_RAI_OK(rai_vsa_equal_count(vp, vq, &eq));
            EXPECT_EQ(eq, n - 2);
            ASSERT_RAI_OK(rai_vsa_hamming_similarity(vp, vq, &hs));
            EXPECT_FLOAT_EQ(hs, 1.0f - 2.0f / static_cast<float>(n));
        }
        TVec e1(0), e2(0);
        float hs = 0;
        ASSERT_RAI_OK(rai_vsa_hamming_similarity(e1, e2, &hs));
        EXPECT_EQ(hs, 1.0f);

        // Cosine: identical (32 plus, 16 minus in 64) 1; opposite -1; disjoint 0; zero exactly 0.
        Trits c(64, 0);
        for (size_t i = 0; i < 32; ++i) c[i] = 1;
        for (size_t i = 32; i < 48; ++i) c[i] = -1;
        EXPECT_EQ(cosine(c, c), 1.0f);
        EXPECT_EQ(cosine(c, neg(c)), -1.0f);
        Trits disjoint(64, 0);
        disjoint[50] = 1;
        EXPECT_EQ(cosine(c, disjoint), 0.0f);
        EXPECT_EQ(cosine(c, Trits(64, 0)), 0.0f);
        EXPECT_EQ(cosine(Trits(64, 0), Trits(64, 0)), 0.0f);
    }
    TVec a(3), b(4);
    int64_t d = 5;
    size_t h = 5;
    float f = 5;
    EXPECT_RAI_ERROR(rai_vsa_dot(a, b, &d), RAI_ERROR_SHAPE_MISMATCH, "b: dimension 4");
    EXPECT_RAI_ERROR(rai_vsa_hamming_distance(a, b, &h), RAI_ERROR_SHAPE_MISMATCH, "b: dimension 4");
    EXPECT_RAI_ERROR(rai_vsa_cosine(a, b, &f), RAI_ERROR_SHAPE_MISMATCH, "b");
    EXPECT_RAI_ERROR(rai_vsa_equal_count(a, b, &h), RAI_ERROR_SHAPE_MISMATCH, "b");
    EXPECT_RAI_ERROR(rai_vsa_hamming_similarity(a, b, &f), RAI_ERROR_SHAPE_MISMATCH, "b");
    EXPECT_RAI_ERROR(rai_vsa_dot(a, a, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
    EXPECT_EQ(d, 5);
    EXPECT_EQ(h, 5u);
    EXPECT_EQ(f, 5.0f);
}

TEST(Vsa, RandomGoldenPrefixes) {
    auto str = [](const Trits &t) {
        std::string s;
        for (auto x : t) s += x > 0 ? '+' : (x < 0 ? '-' : '0');
        return s;
    };
    EXPECT_EQ(str(random_vec(32, 42)), "0+-++0+-0-0---+00++0-+0++-+-+-+0");
    EXPECT_EQ(str(random_vec(32, 12345)), "-00+0+0--0--+00++0-0+++0+++0+0--");
    EXPECT_EQ(random_vec(5, 0)[0], -1);
    // params NULL = defaults = seed 0.
    TVec v(5);
    ASSERT_RAI_OK(rai_vsa_random(nullptr, v));
    EXPECT_EQ(v.trits(), random_vec(5, 0));
    // 1000 trits of seed 42: 335 (-), 333 (0), 332 (+).
    const Trits t = random_vec(1000, 42);
    size_t m = 0, z = 0, p = 0;
    for (auto x : t) (x < 0 ? m : (x == 0 ? z : p))++;
    EXPECT_EQ(m, 335u);
    EXPECT_EQ(z, 333u);
    EXPECT_EQ(p, 332u);
    // Prefix stability: a longer vector starts with the shorter one.
    const Trits longer = random_vec(100, 42);
    EXPECT_EQ(Trits(longer.begin(), longer.begin() + 32), random_vec(32, 42));
}

TEST(Vsa, RandomGenerators) {
    for (int32_t gen : {RAI_VSA_RNG_TRITVSA_XS64, RAI_VSA_RNG_COUNTER}) {
        EXPECT_EQ(random_vec(100, 42, gen), random_vec(100, 42, gen));
        EXPECT_NE(random_vec(100, 42, gen), random_vec(100, 43, gen));
        const Trits d = random_vec(100, 42, gen);
        size_t cls[3] = {0, 0, 0};
        for (auto x : d) cls[x + 1]++;
        for (size_t c : cls) EXPECT_GT(c, 10u);
        const Trits bip = random_vec(10000, 7, gen, RAI_VSA_BIPOLAR);
        EXPECT_EQ(ref_nnz(bip), 10000u);
        long long s = 0;
        for (auto x : bip) s += x;
        EXPECT_LT(std::llabs(s), 400);
        const Trits sp = random_vec(100000, 7, gen, RAI_VSA_SPARSE, 0.05);
        EXPECT_NEAR(static_cast<double>(ref_nnz(sp)) / 100000.0, 0.05, 0.005);
        EXPECT_EQ(ref_nnz(random_vec(1000, 3, gen, RAI_VSA_SPARSE, 1.0)), 1000u);
    }
    // The counter generator: any index on its own, so a prefix is stable too.
    const Trits c100 = random_vec(100, 5, RAI_VSA_RNG_COUNTER);
    EXPECT_EQ(Trits(c100.begin(), c100.begin() + 40), random_vec(40, 5, RAI_VSA_RNG_COUNTER));
    EXPECT_NE(c100, random_vec(100, 5, RAI_VSA_RNG_TRITVSA_XS64));

    rai_random_params p;
    rai_random_params_init(&p);
    TVec v(Trits{1, 1, 1});
    p.distribution = RAI_VSA_SPARSE;
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "params->density");
    p.density = 1.5;
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "params->density");
    p.density = 0.5;
    p.generator = 9;
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "params->generator 9");
    p.generator = 0;
    p.distribution = 3;
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "params->distribution 3");
    p.distribution = 0;
    p.reserved0 = 1;
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "reserved0");
    EXPECT_EQ(v.trits(), (Trits{1, 1, 1}));
    EXPECT_RAI_ERROR(rai_vsa_random(nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
}

TEST(Vsa, StatisticsAtDimension10000) {
    const size_t D = 10000;
    const Trits a = random_vec(D, 1), b = random_vec(D, 2), c = random_vec(D, 3);
    EXPECT_LT(std::fabs(cosine(a, b)), 0.05f);
    const float cb = cosine(vbundle({a, b}), a);
    EXPECT_NEAR(cb, 0.66f, 0.03f);  // measured 0.661 in the reference
    EXPECT_LT(std::fabs(cosine(vbind(a, b), a)), 0.05f);
    // Record query: vunbind(vbind(role, filler), role) recovers the filler exactly; the reversed
    // (README) query does not.
    const Trits rec = vbind(a, b);
    EXPECT_EQ(vunbind(rec, b), a);
    EXPECT_LT(std::fabs(cosine(vunbind(rec, a), b)), 0.05f);
    // A bundle of three bound pairs: each filler comes back as the most similar item.
    const Trits r1 = random_vec(D, 11), r2 = random_vec(D, 12), r3 = random_vec(D, 13);
    const Trits record = vbundle({vbind(a, r1), vbind(b, r2), vbind(c, r3)});
    const Trits q = vunbind(record, r2);
    EXPECT_GT(cosine(q, b), 0.3f);
    EXPECT_LT(std::fabs(cosine(q, a)), 0.05f);
    EXPECT_LT(std::fabs(cosine(q, c)), 0.05f);
}
