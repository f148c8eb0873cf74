// CPU feature detection, the global mask, and the dispatch mechanism kernels use.
#include "cpu_features.h"
#include "test_helpers.h"

namespace {
int scalar_impl() { return 0; }
int avx2_impl() { return 2; }
int avx512_impl() { return 5; }
using Fn = int (*)();
const rai::cpu::Variant<Fn> kFamily[] = {
    {rai::cpu::kAvx512Level, "avx512", avx512_impl},
    {rai::cpu::kAvx2Level, "avx2", avx2_impl},
    {0, "scalar", scalar_impl},
};

class MaskGuard {
public:
    ~MaskGuard() { rai_cpu_set_feature_mask(~uint64_t{0}); }
};
}  // namespace

TEST(CpuFeatures, MaskRestrictsUsableFeatures) {
    MaskGuard guard;
    const uint64_t detected = rai_cpu_features_detected();
    rai_cpu_set_feature_mask(~uint64_t{0});
    EXPECT_EQ(rai_cpu_features(), detected);
    rai_cpu_set_feature_mask(0);
    EXPECT_EQ(rai_cpu_features(), 0u);
    EXPECT_STREQ(rai_cpu_dispatch_level(), "scalar");
    rai_cpu_set_feature_mask(RAI_CPU_AVX2);
    EXPECT_EQ(rai_cpu_features(), detected & RAI_CPU_AVX2);
}

TEST(CpuFeatures, ImpliedFeaturesAreConsistent) {
    const uint64_t f = rai_cpu_features_detected();
    if (f & RAI_CPU_AVX512BW) {
        EXPECT_TRUE(f & RAI_CPU_AVX512F);
    }
    if (f & RAI_CPU_AVX512VPOPCNTDQ) {
        EXPECT_TRUE(f & RAI_CPU_AVX512F);
    }
    for (uint64_t bit = 1; bit <= RAI_CPU_AVX512BF16; bit <<= 1) EXPECT_NE(rai_cpu_feature_name(bit), nullptr) << bit;
    EXPECT_EQ(rai_cpu_feature_name(1u << 20), nullptr);
    EXPECT_STREQ(rai_cpu_feature_name(RAI_CPU_AVX2), "avx2");
}

TEST(CpuDispatch, SelectsBestVariantTheMaskAllows) {
    MaskGuard guard;
    const uint64_t f = rai_cpu_features_detected();
    rai_cpu_set_feature_mask(0);
    EXPECT_EQ(rai::cpu::select_variant(kFamily).fn(), 0);
    rai_cpu_set_feature_mask(rai::cpu::kAvx2Level);
    const bool has_avx2 = (f & rai::cpu::kAvx2Level) == rai::cpu::kAvx2Level;
    EXPECT_EQ(rai::cpu::select_variant(kFamily).fn(), has_avx2 ? 2 : 0);
    EXPECT_STREQ(rai_cpu_dispatch_level(), has_avx2 ? "avx2" : "scalar");
    rai_cpu_set_feature_mask(~uint64_t{0});
    const bool has_512 = (f & rai::cpu::kAvx512Level) == rai::cpu::kAvx512Level;
    EXPECT_EQ(rai::cpu::select_variant(kFamily).fn(), has_512 ? 5 : (has_avx2 ? 2 : 0));
}
