// RAI_VSA_RNG_TRITTER_CHACHA8 against the real rand_chacha 0.3.1 with tritter-accel's mapping
// (golden file tests/ternary/golden/tritter_chacha/golden.txt, made by make_golden.sh there).
#include <fstream>
#include <sstream>
#include <string>

#include "ternary/chacha8.h"
#include "ternary_test_util.h"

namespace {

namespace cc = rai::ternary::chacha8;

struct WordsRecord {
    uint64_t seed;
    std::vector<uint32_t> words;
};
struct TritsRecord {
    uint64_t seed;
    size_t dim;
    std::string trits;  // '-', '0', '+'
};
struct Golden {
    std::vector<WordsRecord> words;
    std::vector<TritsRecord> trits;
};

const Golden &golden() {
    static const Golden g = [] {
        Golden out;
        std::ifstream in(RAI_TRITTER_CHACHA_GOLDEN);
        EXPECT_TRUE(in.good()) << "cannot open " << RAI_TRITTER_CHACHA_GOLDEN;
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string kind;
            ls >> kind;
            if (kind == "words") {
                WordsRecord r;
                ls >> r.seed;
                std::string hex;
                while (ls >> hex) r.words.push_back(static_cast<uint32_t>(std::stoul(hex, nullptr, 16)));
                out.words.push_back(r);
            } else if (kind == "trits") {
                TritsRecord r;
                ls >> r.seed >> r.dim >> r.trits;
                out.trits.push_back(r);
            }
        }
        return out;
    }();
    return g;
}

rai_random_params chacha_params(uint64_t seed) {
    rai_random_params p;
    rai_random_params_init(&p);
    p.generator = RAI_VSA_RNG_TRITTER_CHACHA8;
    p.seed = seed;
    return p;
}

// tritter-accel's expression, literally: r = (f32)((f64)u / u32::MAX); r < 0.333f, r < 0.666f.
int tritter_trit(uint32_t u) {
    const float r = static_cast<float>(static_cast<double>(u) / 4294967295.0);
    return r < 0.333f ? -1 : (r < 0.666f ? 0 : 1);
}

}  // namespace

TEST(Chacha8, GoldenFileCoversTheAgreedCases) {
    // 6 seeds (0, 1, 42, 12345, 2^32 - 1, 2^32 + 42) x dims (1, 15, 16, 17, 100, 1000).
    ASSERT_EQ(golden().words.size(), 6u);
    ASSERT_EQ(golden().trits.size(), 36u);
    for (const auto &r : golden().words) EXPECT_EQ(r.words.size(), 64u);
    for (const auto &r : golden().trits) EXPECT_EQ(r.trits.size(), r.dim);
}

TEST(Chacha8, RawWordsMatchRandChacha) {
    for (const auto &r : golden().words) {
        const cc::Key key = cc::key_from_u64(r.seed);
        for (size_t i = 0; i < r.words.size(); i += 16) {
            uint32_t out[16];
            cc::block(key, i / 16, out);
            for (size_t j = 0; j < 16; ++j)
                ASSERT_EQ(out[j], r.words[i + j]) << "seed " << r.seed << " word " << i + j;
        }
        // The mapping of every golden word agrees with tritter's float expression.
        for (uint32_t u : r.words) EXPECT_EQ(cc::trit(u), tritter_trit(u)) << u;
    }
}

TEST(Chacha8, ThresholdsAreWhereTrittersFloatExpressionCrosses) {
    // r is monotone in u, so agreeing on both sides of each threshold and at the ends means
    // agreeing everywhere.
    for (uint32_t u : {0u, cc::kMinusBelow - 1, cc::kMinusBelow, cc::kZeroBelow - 1, cc::kZeroBelow, 0xFFFFFFFFu})
        EXPECT_EQ(cc::trit(u), tritter_trit(u)) << u;
    EXPECT_EQ(tritter_trit(cc::kMinusBelow - 1), -1);
    EXPECT_EQ(tritter_trit(cc::kMinusBelow), 0);
    EXPECT_EQ(tritter_trit(cc::kZeroBelow - 1), 0);
    EXPECT_EQ(tritter_trit(cc::kZeroBelow), 1);
}

TEST(Chacha8, RandomMatchesGoldenTrits) {
    MaskGuard guard;
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        for (const auto &r : golden().trits) {
            const rai_random_params p = chacha_params(r.seed);
            TVec v(r.dim);
            ASSERT_RAI_OK(rai_vsa_random(&p, v));
            EXPECT_EQ(v.trits(), parse_trits(r.trits)) << be.name << " seed " << r.seed << " dim " << r.dim;
        }
    }
}

TEST(Chacha8, SeedIsTheFull64Bits) {
    // The generator takes the u64 seed as is; only tritter's Python wrapper truncates to u32.
    const rai_random_params a = chacha_params(42), b = chacha_params((1ULL << 32) + 42);
    TVec va(1000), vb(1000);
    ASSERT_RAI_OK(rai_vsa_random(&a, va));
    ASSERT_RAI_OK(rai_vsa_random(&b, vb));
    EXPECT_NE(va.trits(), vb.trits());
}

TEST(Chacha8, MatrixRowsAreSeedPlusRow) {
    // Rows 0 and 1 from seed 0 are the golden vectors of seeds 0 and 1 (dim 1000: 15 full words
    // and a 40-trit tail, blocks computed independently per word).
    Ctx ctx;
    Mat m(ctx, 2, 1000);
    const rai_random_params p = chacha_params(0);
    ASSERT_RAI_OK(rai_vsa_matrix_random(ctx, m, &p));
    for (size_t r = 0; r < 2; ++r) {
        TVec row(1000);
        ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, r, row));
        bool found = false;
        for (const auto &g : golden().trits) {
            if (g.seed != r || g.dim != 1000) continue;
            EXPECT_EQ(row.trits(), parse_trits(g.trits)) << "row " << r;
            found = true;
        }
        EXPECT_TRUE(found);
    }
}

TEST(Chacha8, OnlyDenseAndErrorsLeaveOutputUntouched) {
    Ctx ctx;
    Mat m(ctx, 2, 70);
    for (int32_t dist : {RAI_VSA_BIPOLAR, RAI_VSA_SPARSE}) {
        rai_random_params p = chacha_params(1);
        p.distribution = dist;
        p.density = 0.5;
        TVec v(Trits{1, -1, 0});
        EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT,
                         "params->distribution " + std::to_string(dist) + ": RAI_VSA_RNG_TRITTER_CHACHA8");
        EXPECT_EQ(v.trits(), (Trits{1, -1, 0}));
        EXPECT_RAI_ERROR(rai_vsa_matrix_random(ctx, m, &p), RAI_ERROR_INVALID_ARGUMENT, "params->distribution");
    }
    rai_random_params p = chacha_params(1);
    p.generator = 3;
    TVec v(3);
    EXPECT_RAI_ERROR(rai_vsa_random(&p, v), RAI_ERROR_INVALID_ARGUMENT, "params->generator 3");
}
