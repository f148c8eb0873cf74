// The AVX2 compressor loops against the scalar reference on awkward sizes: sign and trit codes
// bit-identical, sums within rounding, EF add exact.
#include <cmath>
#include <random>
#include <vector>

#include "compress/gc_kernels.h"
#include "../unit/test_helpers.h"

TEST(GcKernels, Avx2MatchesTheScalarReference) {
    if ((rai_cpu_features_detected() & (RAI_CPU_AVX2 | RAI_CPU_FMA | RAI_CPU_POPCNT)) !=
        (RAI_CPU_AVX2 | RAI_CPU_FMA | RAI_CPU_POPCNT))
        GTEST_SKIP() << "no AVX2 on this CPU";
    const auto &S = rai::gc::kern::scalar_kernels();
    const auto &A = rai::gc::kern::avx2_kernels();
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{31}, size_t{33}, size_t{65537}}) {
        SCOPED_TRACE(n);
        std::vector<float> x(n), r(n);
        for (float &v : x) v = nd(rng);
        for (float &v : r) v = nd(rng);
        if (n > 8) x[3] = 0.0f, x[5] = -0.0f, x[6] = std::nanf("");
        std::vector<float> ms(n), ma(n);
        S.ef_add(x.data(), r.data(), ms.data(), n);
        A.ef_add(x.data(), r.data(), ma.data(), n);
        for (size_t i = 0; i < n; ++i) {
            if (std::isnan(ms[i])) EXPECT_TRUE(std::isnan(ma[i]));
            else EXPECT_EQ(ms[i], ma[i]);
        }
        std::vector<uint8_t> bs((n + 7) / 8, 0xAA), ba((n + 7) / 8, 0x55);
        S.pack_sign(x.data(), n, bs.data());
        A.pack_sign(x.data(), n, ba.data());
        EXPECT_EQ(bs, ba);
        std::vector<float> y(x);
        for (float &v : y)
            if (std::isnan(v)) v = 1.0f;  // sums need finite input
        double sa = 0, ss = 0, aa = 0, as = 0;
        S.abs_stats(y.data(), n, &sa, &ss);
        A.abs_stats(y.data(), n, &aa, &as);
        EXPECT_NEAR(sa, aa, 1e-9 * (1 + sa));
        EXPECT_NEAR(ss, as, 1e-9 * (1 + ss));
        for (float thr : {0.0f, 0.5f, 1.5f}) {
            std::vector<uint8_t> cs((n + 3) / 4, 0xAA), ca((n + 3) / 4, 0x55);
            double ks = 0, ka = 0;
            uint64_t ns = 0, na = 0;
            S.pack_ternary(x.data(), n, thr, cs.data(), &ks, &ns);
            A.pack_ternary(x.data(), n, thr, ca.data(), &ka, &na);
            EXPECT_EQ(cs, ca);
            EXPECT_EQ(ns, na);
            EXPECT_NEAR(ks, ka, 1e-9 * (1 + ks));
        }
    }
}
