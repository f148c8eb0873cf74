// core/half.h: the one f32 <-> f16 / bf16 conversion set every capability uses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "half.h"

namespace {

using namespace rai::half;

TEST(Half, EveryF16ValueRoundTripsThroughF32) {
    for (uint32_t h = 0; h < 0x10000u; ++h) {
        const uint16_t v = static_cast<uint16_t>(h);
        const bool nan = (v & 0x7c00u) == 0x7c00u && (v & 0x3ffu) != 0;
        // A signalling f16 NaN comes back quiet (payload kept); every other value exactly.
        EXPECT_EQ(f32_to_f16(f16_to_f32(v)), nan ? static_cast<uint16_t>(v | 0x200u) : v) << std::hex << h;
    }
}

TEST(Half, EveryBf16ValueRoundTripsThroughF32) {
    for (uint32_t h = 0; h < 0x10000u; ++h) {
        const uint16_t v = static_cast<uint16_t>(h);
        const bool nan = (v & 0x7f80u) == 0x7f80u && (v & 0x7fu) != 0;
        // A signalling bf16 NaN comes back quiet; every other value exactly.
        EXPECT_EQ(f32_to_bf16(bf16_to_f32(v)), nan ? static_cast<uint16_t>(v | 0x40u) : v) << std::hex << h;
    }
}

TEST(Half, RoundsToNearestEvenAndSaturatesToInfinity) {
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00u);
    EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00u);           // halfway: ties to even (down)
    EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02u);       // halfway: ties to even (up)
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bffu);                  // largest finite
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00u);                  // rounds to infinity
    EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00u);
    EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001u);                  // smallest subnormal
    EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000u);                  // halfway to 0: even
    EXPECT_EQ(f32_to_f16(0x1.8p-25f), 0x0001u);
    EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80u);           // bf16 tie to even
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82u);
}

TEST(Half, NanStaysQuietNanWithItsTopPayloadBits) {
    const float nan = bits_f32(0x7fc02000u);  // quiet NaN, payload bit 13 set
    EXPECT_EQ(f32_to_f16(nan), 0x7e01u);
    EXPECT_EQ(f32_to_f16(-nan), 0xfe01u);
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7e01u)));
    EXPECT_EQ(f32_to_bf16(bits_f32(0x7f800001u)) & 0x7fc0u, 0x7fc0u);  // signalling -> quiet
}

}  // namespace
