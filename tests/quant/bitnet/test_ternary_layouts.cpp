// Packed ternary layouts: exact bytes of the reference vectors, round trips on awkward sizes,
// and every error path.
#include <cmath>
#include <limits>
#include <string>

#include "bitnet_test_util.h"

namespace {

constexpr int32_t kAllLayouts[] = {RAI_TERNARY_LAYOUT_PLANES, RAI_TERNARY_LAYOUT_BYTE2, RAI_TERNARY_LAYOUT_U32_16,
                                   RAI_TERNARY_LAYOUT_I2_S,   RAI_TERNARY_LAYOUT_TQ1_0, RAI_TERNARY_LAYOUT_TQ2_0};

bool has_scales(int32_t l) {
    return l == RAI_TERNARY_LAYOUT_I2_S || l == RAI_TERNARY_LAYOUT_TQ1_0 || l == RAI_TERNARY_LAYOUT_TQ2_0;
}

size_t packed_size(int32_t layout, size_t rows, size_t cols) {
    size_t n = 0;
    EXPECT_EQ(rai_ternary_packed_size(layout, rows, cols, &n), RAI_OK) << rai_last_error_message();
    return n;
}

U8 pack(int32_t layout, I8 &t, rai_tensor *s) {
    const size_t rows = t.shape.size() == 2 ? static_cast<size_t>(t.shape[0]) : 1;
    U8 p = u8({static_cast<int64_t>(packed_size(layout, rows, static_cast<size_t>(t.shape.back())))});
    EXPECT_EQ(rai_ternary_pack(layout, &t, s, &p), RAI_OK) << rai_last_error_message();
    return p;
}

// Scales exactly representable in f16 (k / 1024), one per row.
F32 f16_row_scales(int64_t rows) {
    F32 s = f32({rows});
    for (int64_t r = 0; r < rows; ++r) s[static_cast<size_t>(r)] = static_cast<float>(1 + r % 37) / 1024.0f;
    return s;
}

}  // namespace

TEST(TernaryLayouts, PackedSizes) {
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_PLANES, 3, 100), 3u * 2 * 2 * 8);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_PLANES, 1, 64), 16u);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_BYTE2, 2, 5), 4u);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_U32_16, 2, 17), 16u);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_I2_S, 4, 64), 64u + 32u);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_TQ1_0, 2, 512), 4u * 54);
    EXPECT_EQ(packed_size(RAI_TERNARY_LAYOUT_TQ2_0, 3, 256), 3u * 66);
    size_t n = 0;
    EXPECT_RAI_ERROR(rai_ternary_packed_size(RAI_TERNARY_LAYOUT_I2_S, 1, 100, &n), RAI_ERROR_SHAPE_MISMATCH,
                     "not a multiple of 128");
    EXPECT_RAI_ERROR(rai_ternary_packed_size(RAI_TERNARY_LAYOUT_TQ2_0, 2, 257, &n), RAI_ERROR_SHAPE_MISMATCH,
                     "cols = 257 is not a multiple of 256");
    EXPECT_RAI_ERROR(rai_ternary_packed_size(RAI_TERNARY_LAYOUT_TQ1_0, 1, 100, &n), RAI_ERROR_SHAPE_MISMATCH,
                     "TQ1_0 packs blocks of 256");
    EXPECT_RAI_ERROR(rai_ternary_packed_size(0, 1, 1, &n), RAI_ERROR_INVALID_ARGUMENT, "layout is 0");
    EXPECT_RAI_ERROR(rai_ternary_packed_size(RAI_TERNARY_LAYOUT_BYTE2, 1, 1, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "out_bytes");
    EXPECT_RAI_ERROR(rai_ternary_packed_size(RAI_TERNARY_LAYOUT_PLANES, SIZE_MAX / 2, SIZE_MAX / 2, &n),
                     RAI_ERROR_OUT_OF_RANGE, "overflows");
}

TEST(TernaryLayouts, Byte2ExactByteAndRoundTrip) {
    I8 t = i8({4}, {1, 0, -1, 1});
    U8 p = pack(RAI_TERNARY_LAYOUT_BYTE2, t, nullptr);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0], 0x61);  // 0b01_10_00_01
    I8 t2 = i8({2, 4}, {1, 0, -1, 1, -1, 0, 1, -1});
    U8 p2 = pack(RAI_TERNARY_LAYOUT_BYTE2, t2, nullptr);
    I8 back = i8({2, 4});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_BYTE2, &p2, &back, nullptr));
    EXPECT_EQ(back.data, t2.data);
    // tritter-accel: code 11 unpacks as 0
    U8 odd = u8({1});
    odd[0] = 0xff;
    I8 z = i8({4});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_BYTE2, &odd, &z, nullptr));
    EXPECT_EQ(z.data, (std::vector<int8_t>{0, 0, 0, 0}));
    // Every byte of a random [3, 257] matrix (groups of four plus a one-trit tail per row) against
    // the encoding written out one trit at a time, and every possible byte decoded.
    I8 r = rand_trits({3, 257}, 77);
    U8 pr = pack(RAI_TERNARY_LAYOUT_BYTE2, r, nullptr);
    ASSERT_EQ(pr.size(), 3u * 65u);
    for (int64_t row = 0; row < 3; ++row)
        for (int64_t byte = 0; byte < 65; ++byte) {
            unsigned want = 0;
            for (int64_t i = 0; i < 4 && byte * 4 + i < 257; ++i) {
                const int8_t v = r[static_cast<size_t>(row * 257 + byte * 4 + i)];
                want |= (v == 1 ? 1u : (v == -1 ? 2u : 0u)) << (2 * i);
            }
            ASSERT_EQ(pr[static_cast<size_t>(row * 65 + byte)], want) << "row " << row << " byte " << byte;
        }
    U8 all = u8({256});
    for (int b = 0; b < 256; ++b) all[static_cast<size_t>(b)] = static_cast<uint8_t>(b);
    I8 dec = i8({1, 1024});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_BYTE2, &all, &dec, nullptr));
    for (int b = 0; b < 256; ++b)
        for (int i = 0; i < 4; ++i) {
            const int code = (b >> (2 * i)) & 3;
            ASSERT_EQ(dec[static_cast<size_t>(b * 4 + i)], code == 1 ? 1 : (code == 2 ? -1 : 0)) << "byte " << b;
        }
}

TEST(TernaryLayouts, U32_16ReferenceVector) {
    I8 t = i8({16}, {1, 0, -1, 1, 0, -1, 0, 1, -1, 0, 1, -1, 0, 0, 1, -1});
    U8 p = pack(RAI_TERNARY_LAYOUT_U32_16, t, nullptr);
    ASSERT_EQ(p.size(), 4u);
    uint32_t word = 0;
    std::memcpy(&word, p.data.data(), 4);
    uint32_t expect = 0;
    for (int i = 0; i < 16; ++i) {
        const int8_t v = t[static_cast<size_t>(i)];
        expect |= static_cast<uint32_t>(v > 0 ? 1 : (v < 0 ? 2 : 0)) << (2 * i);
    }
    EXPECT_EQ(word, expect);
    I8 back = i8({16});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_U32_16, &p, &back, nullptr));
    EXPECT_EQ(back.data, t.data);
}

TEST(TernaryLayouts, PlanesBitsAndValidation) {
    I8 t = i8({2, 70});
    t[0] = 1;
    t[1] = -1;
    t[69] = 1;
    t[70 + 64] = -1;
    U8 p = pack(RAI_TERNARY_LAYOUT_PLANES, t, nullptr);
    ASSERT_EQ(p.size(), 2u * 32);
    // row 0: plus words at bytes 0..15, minus words at 16..31
    EXPECT_EQ(p[0], 0x01);        // plus bit 0
    EXPECT_EQ(p[16], 0x02);       // minus bit 1
    EXPECT_EQ(p[8], 0x20);        // plus bit 69 = word 1, bit 5
    EXPECT_EQ(p[32 + 16 + 8], 0x01);  // row 1 minus bit 64
    I8 back = i8({2, 70});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_PLANES, &p, &back, nullptr));
    EXPECT_EQ(back.data, t.data);
    U8 both = u8({32});
    both.data.assign(32, 0);
    both[0] = 0x04;
    both[16] = 0x04;
    I8 one = i8({1, 70});
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_PLANES, &both, &one, nullptr), RAI_ERROR_FORMAT,
                     "row 0 column 2 has both the plus and the minus bit set");
    U8 dirty = u8({32});
    dirty[15] = 0x80;  // plus bit 127 > 69
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_PLANES, &dirty, &one, nullptr), RAI_ERROR_FORMAT,
                     "non-zero padding");
}

TEST(TernaryLayouts, I2sX86BitPositionsAndTail) {
    I8 t = i8({1, 128});
    t[0] = 1;    // byte 0 bits 7:6 = code 2
    t[32] = -1;  // byte 0 bits 5:4 = code 0
    t[1] = 1;    // byte 1 bits 7:6
    t[127] = 1;  // byte 31 bits 1:0
    F32 s = f32({1}, {0.125f});
    U8 p = pack(RAI_TERNARY_LAYOUT_I2_S, t, &s);
    ASSERT_EQ(p.size(), 32u + 32u);
    EXPECT_EQ(p[0], 0b10'00'01'01);
    EXPECT_EQ(p[1], 0b10'01'01'01);
    EXPECT_EQ(p[31], 0b01'01'01'10);
    EXPECT_EQ(p[5], 0x55);  // all zeros = code 1
    float tail = 0;
    std::memcpy(&tail, p.data.data() + 32, 4);
    EXPECT_EQ(tail, 0.125f);
    for (size_t i = 36; i < 64; ++i) EXPECT_EQ(p[i], 0) << i;
    I8 back = i8({1, 128});
    F32 sb = f32({1});
    ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_I2_S, &p, &back, &sb));
    EXPECT_EQ(back.data, t.data);
    EXPECT_EQ(sb[0], 0.125f);
    p[3] = 0xc0;  // element 3 code 3
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_I2_S, &p, &back, &sb), RAI_ERROR_FORMAT,
                     "I2_S element 3 has code 3");
    // one scale per tensor: equal row scales are fine, different ones are not
    I8 t2 = rand_trits({2, 128}, 1);
    F32 rows_equal = f32({2}, {0.5f, 0.5f});
    U8 p2 = pack(RAI_TERNARY_LAYOUT_I2_S, t2, &rows_equal);
    F32 rows_diff = f32({2}, {0.5f, 0.25f});
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_I2_S, &t2, &rows_diff, &p2), RAI_ERROR_UNSUPPORTED,
                     "I2_S holds one scale per tensor");
}

TEST(TernaryLayouts, Tq1EncodesEveryFiveTritCombinationLosslessly) {
    // Every 5-digit base-3 number through the fixed-point byte and back (llama.cpp's decoder).
    I8 t = i8({1, 256});
    for (int v = 0; v < 243; v += 1) {
        int d = v;
        int8_t digits[5];
        for (int k = 4; k >= 0; --k) {
            digits[k] = static_cast<int8_t>(d % 3 - 1);
            d /= 3;
        }
        for (int k = 0; k < 5; ++k) t[static_cast<size_t>(32 * k + (v % 32))] = digits[k];
        F32 s = f32({1}, {1.0f});
        U8 p = pack(RAI_TERNARY_LAYOUT_TQ1_0, t, &s);
        I8 back = i8({1, 256});
        ASSERT_RAI_OK(rai_ternary_unpack(RAI_TERNARY_LAYOUT_TQ1_0, &p, &back, nullptr));
        ASSERT_EQ(back.data, t.data) << "value " << v;
    }
}

TEST(TernaryLayouts, TqByteLayoutMatchesLlamaCpp) {
    // TQ2_0: byte m of each 32-byte half holds elements m, m+32, m+64, m+96 at bits 1:0 .. 7:6.
    I8 t = i8({1, 256});
    t[0] = 1;     // byte 0 bits 1:0 = 2
    t[32] = -1;   // byte 0 bits 3:2 = 0
    t[96] = 1;    // byte 0 bits 7:6 = 2
    t[129] = 1;   // byte 33 bits 1:0
    F32 s = f32({1}, {0.5f});
    U8 p2 = pack(RAI_TERNARY_LAYOUT_TQ2_0, t, &s);
    ASSERT_EQ(p2.size(), 66u);
    EXPECT_EQ(p2[0], 0b10'01'00'10);
    EXPECT_EQ(p2[33], 0b01'01'01'10);
    EXPECT_EQ(p2[64], 0x00);  // f16 0.5 = 0x3800, little-endian
    EXPECT_EQ(p2[65], 0x38);
    // TQ1_0: qs[0] holds elements 0, 32, 64, 96, 128 as a base-3 number, first most significant,
    // stored as ceil(q * 256 / 243).
    U8 p1 = pack(RAI_TERNARY_LAYOUT_TQ1_0, t, &s);
    ASSERT_EQ(p1.size(), 54u);
    const unsigned q0 = ((((2u * 3 + 0) * 3 + 1) * 3 + 2) * 3 + 1);  // digits of 0, 32, 64, 96, 128
    EXPECT_EQ(p1[0], static_cast<uint8_t>((q0 * 256 + 242) / 243));
    const unsigned qz = 121u;  // all zeros: digits 1,1,1,1,1
    EXPECT_EQ(p1[40], static_cast<uint8_t>((qz * 256 + 242) / 243));
    const unsigned qh = ((1u * 3 + 1) * 3 + 1) * 3 + 1;  // qh: 4 digits then the padding digit 0
    EXPECT_EQ(p1[48], static_cast<uint8_t>((qh * 3 * 256 + 242) / 243));
    EXPECT_EQ(p1[52], 0x00);
    EXPECT_EQ(p1[53], 0x38);
}

TEST(TernaryLayouts, TqScaleLayoutsLosslessOrUnsupported) {
    const int64_t rows = 2, cols = 512;
    I8 t = rand_trits({rows, cols}, 2);
    // groups of 64 with equal values inside each 256 block: representable
    F32 g64 = f32({rows, 8});
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < 8; ++g) g64[static_cast<size_t>(r * 8 + g)] = (g < 4 ? 0.25f : 0.5f) + 0.125f * r;
    for (int32_t layout : {RAI_TERNARY_LAYOUT_TQ1_0, RAI_TERNARY_LAYOUT_TQ2_0}) {
        U8 p = pack(layout, t, &g64);
        I8 back = i8({rows, cols});
        F32 sb = f32({rows, 2});
        ASSERT_RAI_OK(rai_ternary_unpack(layout, &p, &back, &sb));
        EXPECT_EQ(back.data, t.data);
        EXPECT_EQ(sb.data, (std::vector<float>{0.25f, 0.5f, 0.375f, 0.625f}));
        // group 512 (a multiple of 256) and per tensor: fine
        F32 g512 = f32({rows, 1}, {0.5f, 2.0f});
        pack(layout, t, &g512);
        // per-64 scales that differ inside a block: unsupported
        g64[1] = 0.3f;
        EXPECT_RAI_ERROR(rai_ternary_pack(layout, &t, &g64, &p), RAI_ERROR_UNSUPPORTED,
                         "row 0 has different scales in columns 0..255 (group size 64)");
        g64[1] = 0.25f;
        F32 big = f32({1}, {1e6f});
        EXPECT_RAI_ERROR(rai_ternary_pack(layout, &t, &big, &p), RAI_ERROR_OUT_OF_RANGE, "does not fit f16");
        F32 tiny = f32({1}, {1e-9f});
        EXPECT_RAI_ERROR(rai_ternary_pack(layout, &t, &tiny, &p), RAI_ERROR_OUT_OF_RANGE, "rounds to 0 in f16");
        F32 nan = f32({1}, {std::nanf("")});
        EXPECT_RAI_ERROR(rai_ternary_pack(layout, &t, &nan, &p), RAI_ERROR_INVALID_ARGUMENT, "not finite");
        // f16 scale rounding: 0.1 is stored as the nearest f16 (0x2e66)
        F32 tenth = f32({1}, {0.1f});
        U8 pt = pack(layout, t, &tenth);
        ASSERT_RAI_OK(rai_ternary_unpack(layout, &pt, &back, &sb));
        EXPECT_EQ(sb[0], 0.0999755859375f);
        EXPECT_EQ(back.data, t.data);
    }
}

TEST(TernaryLayouts, QuantizeTqFollowsTheLlamaCppReferenceRule) {
    // d = max |x| per block (f16), trit = lroundf(x / d): a half-away tie at exactly d / 2.
    F32 x = f32({1, 256});
    for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = (static_cast<float>(i % 9) - 4.0f) / 4.0f;
    x[7] = 0.5f;   // tie: lroundf(0.5) = 1
    x[8] = -0.5f;  // tie: -1
    x[9] = 0.49f;  // 0
    for (int32_t layout : {RAI_TERNARY_LAYOUT_TQ1_0, RAI_TERNARY_LAYOUT_TQ2_0}) {
        U8 p = u8({static_cast<int64_t>(packed_size(layout, 1, 256))});
        ASSERT_RAI_OK(rai_ternary_quantize_tq(layout, &x, &p));
        I8 t = i8({1, 256});
        F32 s = f32({1, 1});
        ASSERT_RAI_OK(rai_ternary_unpack(layout, &p, &t, &s));
        EXPECT_EQ(s[0], 1.0f);
        for (int i = 0; i < 256; ++i)
            ASSERT_EQ(t[static_cast<size_t>(i)], static_cast<int8_t>(std::lround(x[static_cast<size_t>(i)])));
        // an all-zero block: d = 0, trits 0
        F32 z = f32({1, 256});
        ASSERT_RAI_OK(rai_ternary_quantize_tq(layout, &z, &p));
        ASSERT_RAI_OK(rai_ternary_unpack(layout, &p, &t, &s));
        EXPECT_EQ(s[0], 0.0f);
        for (int8_t v : t.data) ASSERT_EQ(v, 0);
    }
    F32 x100 = f32({1, 100});
    U8 p = u8({1000});
    EXPECT_RAI_ERROR(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_TQ2_0, &x100, &p), RAI_ERROR_SHAPE_MISMATCH,
                     "not a multiple of 256");
    EXPECT_RAI_ERROR(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_I2_S, &x, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "expected TQ1_0 or TQ2_0");
    x[3] = std::numeric_limits<float>::infinity();
    EXPECT_RAI_ERROR(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_TQ2_0, &x, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "x: element 3 is not finite");
    U8 small = u8({10});
    x[3] = 0;
    EXPECT_RAI_ERROR(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_TQ2_0, &x, &small), RAI_ERROR_BUFFER_TOO_SMALL,
                     "needs 66 bytes");
}

TEST(TernaryLayouts, RoundTripEveryLayoutOnAwkwardSizes) {
    const int64_t sizes[] = {1, 31, 33, 255, 256, 257, 65537};
    for (int32_t layout : kAllLayouts) {
        for (int64_t rows : {int64_t{1}, int64_t{3}, int64_t{128}}) {
            for (int64_t cols : sizes) {
                if (rows * cols > 600000) continue;
                size_t need = 0;
                const rai_status st = rai_ternary_packed_size(layout, static_cast<size_t>(rows),
                                                              static_cast<size_t>(cols), &need);
                const bool ok_shape = layout == RAI_TERNARY_LAYOUT_I2_S   ? (rows * cols) % 128 == 0
                                      : layout == RAI_TERNARY_LAYOUT_TQ1_0 ? cols % 256 == 0
                                      : layout == RAI_TERNARY_LAYOUT_TQ2_0 ? cols % 256 == 0
                                                                           : true;
                I8 t = rand_trits({rows, cols}, static_cast<uint32_t>(layout * 1000 + cols + rows));
                F32 s = f16_row_scales(rows);
                if (layout == RAI_TERNARY_LAYOUT_I2_S) s = f32({1}, {0.75f});
                if (!ok_shape) {
                    EXPECT_EQ(st, RAI_ERROR_SHAPE_MISMATCH) << layout << " " << rows << "x" << cols;
                    U8 p = u8({1 << 20});
                    EXPECT_RAI_ERROR(rai_ternary_pack(layout, &t, has_scales(layout) ? &s.t : nullptr, &p),
                                     RAI_ERROR_SHAPE_MISMATCH, "multiple of");
                    continue;
                }
                ASSERT_EQ(st, RAI_OK) << rai_last_error_message();
                U8 p = pack(layout, t, has_scales(layout) ? &s : nullptr);
                ASSERT_EQ(p.size(), need);
                I8 back = i8({rows, cols});
                std::fill(back.data.begin(), back.data.end(), 7);
                if (layout == RAI_TERNARY_LAYOUT_TQ1_0 || layout == RAI_TERNARY_LAYOUT_TQ2_0) {
                    F32 sb = f32({rows, cols / 256});
                    ASSERT_RAI_OK(rai_ternary_unpack(layout, &p, &back, &sb));
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t b = 0; b < cols / 256; ++b)
                            ASSERT_EQ(sb[static_cast<size_t>(r * (cols / 256) + b)], s[static_cast<size_t>(r)]);
                } else {
                    ASSERT_RAI_OK(rai_ternary_unpack(layout, &p, &back, nullptr));
                }
                ASSERT_EQ(back.data, t.data) << "layout " << layout << " " << rows << "x" << cols;
            }
        }
    }
}

TEST(TernaryLayouts, ErrorPaths) {
    I8 t = i8({2, 256}, std::vector<int8_t>(512, 0));
    F32 s = f32({1}, {1.0f});
    U8 p = u8({static_cast<int64_t>(packed_size(RAI_TERNARY_LAYOUT_TQ2_0, 2, 256))});
    t[300] = 2;
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &t, &s, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "trits[1, 44] is 2, expected -1, 0 or +1");
    t[300] = 0;
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &t, nullptr, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "scales must not be NULL");
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_BYTE2, &t, &s, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "scales must be NULL: BYTE2");
    U8 small = u8({131});
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &t, &s, &small), RAI_ERROR_BUFFER_TOO_SMALL,
                     "needs 132 bytes, got 131");
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_TQ2_0, &small, &t, nullptr), RAI_ERROR_SHAPE_MISMATCH,
                     "is 132 bytes, got 131");
    ASSERT_RAI_OK(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &t, &s, &p));
    p[5] = 0x03;  // element 5 of block 0 has code 3
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_TQ2_0, &p, &t, nullptr), RAI_ERROR_FORMAT,
                     "TQ2_0 block 0 element 5 has code 3");
    F32 wrong = f32({2, 2});
    p[5] = 0x55;
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_TQ2_0, &p, &t, &wrong), RAI_ERROR_SHAPE_MISMATCH, "scales");
    EXPECT_RAI_ERROR(rai_ternary_unpack(RAI_TERNARY_LAYOUT_BYTE2, &p, &t, &wrong), RAI_ERROR_SHAPE_MISMATCH,
                     "packed");
    EXPECT_RAI_ERROR(rai_ternary_pack(42, &t, &s, &p), RAI_ERROR_INVALID_ARGUMENT, "layout is 42");
    F32 tf = f32({2, 256});
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &tf, &s, &p), RAI_ERROR_DTYPE_MISMATCH, "trits");
    I8 t3 = i8({1, 2, 256});
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &t3, &s, &p), RAI_ERROR_SHAPE_MISMATCH, "trits");
    rai_tensor dev = t.t;
    dev.device = {RAI_DEVICE_CUDA, 0};
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, &dev, &s, &p), RAI_ERROR_DEVICE_MISMATCH, "trits");
    EXPECT_RAI_ERROR(rai_ternary_pack(RAI_TERNARY_LAYOUT_TQ2_0, nullptr, &s, &p), RAI_ERROR_INVALID_ARGUMENT,
                     "trits must not be NULL");
    // Failing unpack writes nothing.
    I8 keep = i8({2, 256});
    std::fill(keep.data.begin(), keep.data.end(), 9);
    p[5] = 0x03;
    EXPECT_NE(rai_ternary_unpack(RAI_TERNARY_LAYOUT_TQ2_0, &p, &keep, nullptr), RAI_OK);
    for (int8_t v : keep.data) ASSERT_EQ(v, 9);
}
