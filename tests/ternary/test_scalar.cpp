// Balanced ternary scalars: trits, Tryte3, Word6 and digit arrays (reference sections 3.2, 4).
#include "ternary_test_util.h"

namespace {

int8_t T(int v) { return static_cast<int8_t>(v); }

int32_t tryte_value(uint8_t raw) {
    int32_t v = 0;
    EXPECT_RAI_OK(rai_tryte3_to_int(raw, &v));
    return v;
}
uint8_t tryte(int32_t v) {
    uint8_t r = 0;
    EXPECT_RAI_OK(rai_tryte3_from_int(v, &r));
    return r;
}
int32_t word_value(uint16_t raw) {
    int32_t v = 0;
    EXPECT_RAI_OK(rai_word6_to_int(raw, &v));
    return v;
}
uint16_t word(int32_t v) {
    uint16_t r = 0;
    EXPECT_RAI_OK(rai_word6_from_int(v, &r));
    return r;
}

Trits digits_of(int64_t v, size_t min_digits = 0) {
    Trits d(64);
    size_t n = 0;
    EXPECT_RAI_OK(rai_ternary_digits_from_int(v, min_digits, d.data(), d.size(), &n));
    d.resize(n);
    return d;
}
int64_t value_of(const Trits &d) {
    int64_t v = 0;
    EXPECT_RAI_OK(rai_ternary_digits_to_int(d.data(), d.size(), &v));
    return v;
}

}  // namespace

TEST(Trit, FromIntAcceptsOnlyTrits) {
    int8_t t = 7;
    for (int v = -1; v <= 1; ++v) {
        ASSERT_RAI_OK(rai_trit_from_int(v, &t));
        EXPECT_EQ(t, v);
    }
    t = 7;
    EXPECT_RAI_ERROR(rai_trit_from_int(2, &t), RAI_ERROR_INVALID_ARGUMENT, "value is 2");
    EXPECT_RAI_ERROR(rai_trit_from_int(-2, &t), RAI_ERROR_INVALID_ARGUMENT, "value");
    EXPECT_EQ(t, 7);
    EXPECT_RAI_ERROR(rai_trit_from_int(0, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out must not be NULL");
}

TEST(Trit, NegMulTables) {
    for (int a = -1; a <= 1; ++a) {
        int8_t n;
        ASSERT_RAI_OK(rai_trit_neg(T(a), &n));
        EXPECT_EQ(n, -a);
        for (int b = -1; b <= 1; ++b) {
            int8_t p;
            ASSERT_RAI_OK(rai_trit_mul(T(a), T(b), &p));
            EXPECT_EQ(p, a * b) << a << "*" << b;  // zero absorbs, equal signs +, opposite -
        }
    }
    int8_t o;
    EXPECT_RAI_ERROR(rai_trit_mul(3, 1, &o), RAI_ERROR_INVALID_ARGUMENT, "a is 3");
    EXPECT_RAI_ERROR(rai_trit_mul(1, -3, &o), RAI_ERROR_INVALID_ARGUMENT, "b is -3");
    EXPECT_RAI_ERROR(rai_trit_neg(5, &o), RAI_ERROR_INVALID_ARGUMENT, "a is 5");
}

TEST(Trit, AddWithCarryVectors) {
    struct Case {
        int a, b, digit, carry;
    } cases[] = {{1, 1, -1, 1}, {-1, -1, 1, -1}, {1, -1, 0, 0}, {1, 0, 1, 0}, {0, 0, 0, 0}, {-1, 0, -1, 0}};
    for (const Case &c : cases) {
        int8_t d = 9, k = 9;
        ASSERT_RAI_OK(rai_trit_add(T(c.a), T(c.b), &d, &k));
        EXPECT_EQ(d, c.digit) << c.a << "+" << c.b;
        EXPECT_EQ(k, c.carry) << c.a << "+" << c.b;
        EXPECT_EQ(d + 3 * k, c.a + c.b);
    }
    int8_t d;
    EXPECT_RAI_ERROR(rai_trit_add(1, 1, &d, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_carry");
}

TEST(Trit, Bits) {
    uint8_t p, m;
    ASSERT_RAI_OK(rai_trit_to_bits(1, &p, &m));
    EXPECT_EQ(p, 1);
    EXPECT_EQ(m, 0);
    ASSERT_RAI_OK(rai_trit_to_bits(-1, &p, &m));
    EXPECT_EQ(p, 0);
    EXPECT_EQ(m, 1);
    ASSERT_RAI_OK(rai_trit_to_bits(0, &p, &m));
    EXPECT_EQ(p + m, 0);
    int8_t t = 5;
    ASSERT_RAI_OK(rai_trit_from_bits(1, 0, &t));
    EXPECT_EQ(t, 1);
    ASSERT_RAI_OK(rai_trit_from_bits(0, 1, &t));
    EXPECT_EQ(t, -1);
    ASSERT_RAI_OK(rai_trit_from_bits(0, 0, &t));
    EXPECT_EQ(t, 0);
    t = 5;
    EXPECT_RAI_ERROR(rai_trit_from_bits(1, 1, &t), RAI_ERROR_INVALID_ARGUMENT, "both set");
    EXPECT_RAI_ERROR(rai_trit_from_bits(2, 0, &t), RAI_ERROR_INVALID_ARGUMENT, "0 or 1");
    EXPECT_EQ(t, 5);
}

TEST(Tryte3, RoundTripAndRange) {
    for (int v = -13; v <= 13; ++v) EXPECT_EQ(tryte_value(tryte(v)), v);
    uint8_t r = 77;
    EXPECT_RAI_ERROR(rai_tryte3_from_int(14, &r), RAI_ERROR_OUT_OF_RANGE, "value is 14");
    EXPECT_RAI_ERROR(rai_tryte3_from_int(-14, &r), RAI_ERROR_OUT_OF_RANGE, "[-13, 13]");
    EXPECT_EQ(r, 77);
    EXPECT_EQ(tryte(0), RAI_TRYTE3_ZERO);
    EXPECT_EQ(RAI_TRYTE3_ZERO, 21u);
}

TEST(Tryte3, TritsAndRaw) {
    int8_t t[3];
    ASSERT_RAI_OK(rai_tryte3_to_trits(tryte(5), t));
    EXPECT_EQ(Trits(t, t + 3), (Trits{-1, -1, 1}));  // 5 = -1 - 3 + 9
    const int8_t pzn[3] = {1, 0, -1};
    uint8_t raw;
    ASSERT_RAI_OK(rai_tryte3_from_trits(pzn, &raw));
    EXPECT_EQ(tryte_value(raw), -8);
    // Raw layout: trit k at bits 2k, codes 0 = -1, 1 = 0, 2 = +1.
    EXPECT_EQ(raw, 2u | (1u << 2) | (0u << 4));
    // Code 3 decodes as 0.
    EXPECT_EQ(tryte_value(0x3F), 0);
    EXPECT_EQ(tryte_value(2u | (3u << 2) | (1u << 4)), 1);
    int32_t v = 99;
    EXPECT_RAI_ERROR(rai_tryte3_to_int(0x40, &v), RAI_ERROR_INVALID_ARGUMENT, "raw");
    EXPECT_EQ(v, 99);
    const int8_t bad[3] = {1, 2, 0};
    EXPECT_RAI_ERROR(rai_tryte3_from_trits(bad, &raw), RAI_ERROR_INVALID_ARGUMENT, "trits[1] is 2");
    int8_t g;
    ASSERT_RAI_OK(rai_tryte3_get_trit(tryte(5), 2, &g));
    EXPECT_EQ(g, 1);
    EXPECT_RAI_ERROR(rai_tryte3_get_trit(tryte(5), 3, &g), RAI_ERROR_OUT_OF_RANGE, "index 3");
}

TEST(Tryte3, AddMulNeg) {
    uint8_t s;
    int8_t c;
    ASSERT_RAI_OK(rai_tryte3_add(tryte(13), tryte(1), &s, &c));
    EXPECT_EQ(tryte_value(s) + 27 * c, 14);
    for (int a = -13; a <= 13; ++a)
        for (int b = -13; b <= 13; ++b) {
            ASSERT_RAI_OK(rai_tryte3_add(tryte(a), tryte(b), &s, &c));
            EXPECT_EQ(tryte_value(s) + 27 * c, a + b);
            uint8_t lo, hi;
            ASSERT_RAI_OK(rai_tryte3_mul(tryte(a), tryte(b), &lo, &hi));
            EXPECT_EQ(tryte_value(lo) + 27 * tryte_value(hi), a * b);
        }
    uint8_t lo, hi;
    ASSERT_RAI_OK(rai_tryte3_mul(tryte(3), tryte(4), &lo, &hi));
    EXPECT_EQ(tryte_value(lo) + 27 * tryte_value(hi), 12);
    ASSERT_RAI_OK(rai_tryte3_mul(tryte(10), tryte(10), &lo, &hi));
    EXPECT_EQ(tryte_value(lo) + 27 * tryte_value(hi), 100);
    uint8_t n;
    ASSERT_RAI_OK(rai_tryte3_neg(tryte(-8), &n));
    EXPECT_EQ(tryte_value(n), 8);
    EXPECT_RAI_ERROR(rai_tryte3_add(0xC0, tryte(1), &s, &c), RAI_ERROR_INVALID_ARGUMENT, "a: raw tryte");
}

TEST(Word6, RoundTripRangeAndArithmetic) {
    for (int v = -364; v <= 364; ++v) EXPECT_EQ(word_value(word(v)), v);
    uint16_t r = 5;
    EXPECT_RAI_ERROR(rai_word6_from_int(365, &r), RAI_ERROR_OUT_OF_RANGE, "value is 365");
    EXPECT_RAI_ERROR(rai_word6_from_int(-365, &r), RAI_ERROR_OUT_OF_RANGE, "word");
    EXPECT_EQ(r, 5);
    EXPECT_EQ(word(0), RAI_WORD6_ZERO);
    uint16_t s;
    int8_t c;
    ASSERT_RAI_OK(rai_word6_add(word(300), word(200), &s, &c));
    EXPECT_EQ(word_value(s) + 729 * c, 500);
    uint16_t lo, hi;
    ASSERT_RAI_OK(rai_word6_mul(word(50), word(50), &lo, &hi));
    EXPECT_EQ(word_value(lo) + 729 * word_value(hi), 2500);
    for (int a = -364; a <= 364; a += 7)
        for (int b = -364; b <= 364; b += 11) {
            ASSERT_RAI_OK(rai_word6_add(word(a), word(b), &s, &c));
            EXPECT_EQ(word_value(s) + 729 * c, a + b);
            ASSERT_RAI_OK(rai_word6_mul(word(a), word(b), &lo, &hi));
            EXPECT_EQ(word_value(lo) + 729 * word_value(hi), a * b);
        }
    uint16_t n;
    ASSERT_RAI_OK(rai_word6_neg(word(-300), &n));
    EXPECT_EQ(word_value(n), 300);
    int8_t t6[6];
    ASSERT_RAI_OK(rai_word6_to_trits(word(100), t6));
    uint16_t back;
    ASSERT_RAI_OK(rai_word6_from_trits(t6, &back));
    EXPECT_EQ(back, word(100));
    int8_t g;
    EXPECT_RAI_ERROR(rai_word6_get_trit(word(1), 6, &g), RAI_ERROR_OUT_OF_RANGE, "index 6");
    int32_t v;
    EXPECT_RAI_ERROR(rai_word6_to_int(0x1000, &v), RAI_ERROR_INVALID_ARGUMENT, "raw word");
}

TEST(Word6, TryteSplitAndJoin) {
    uint8_t lo, hi;
    ASSERT_RAI_OK(rai_word6_to_trytes(word(100), &lo, &hi));
    EXPECT_EQ(tryte_value(lo) + 27 * tryte_value(hi), 100);
    uint16_t w;
    ASSERT_RAI_OK(rai_word6_from_trytes(lo, hi, &w));
    EXPECT_EQ(word_value(w), 100);
    EXPECT_RAI_ERROR(rai_word6_from_trytes(0x40, hi, &w), RAI_ERROR_INVALID_ARGUMENT, "low");
}

TEST(Digits, Vectors) {
    EXPECT_EQ(digits_of(5, 4), (Trits{-1, -1, 1, 0}));
    EXPECT_EQ(digits_of(0), (Trits{0}));
    EXPECT_EQ(value_of({1, -1, 1}), 7);
    EXPECT_EQ(value_of({}), 0);
    const Trits a{1, 0, 1}, b{-1, 1, 0};
    Trits out(8);
    size_t n = 0;
    ASSERT_RAI_OK(rai_ternary_digits_add(a.data(), a.size(), b.data(), b.size(), out.data(), out.size(), &n));
    out.resize(n);
    EXPECT_EQ(value_of(out), 12);
    const Trits c{1, 1}, d{-1, 1};
    out.assign(8, 0);
    ASSERT_RAI_OK(rai_ternary_digits_mul(c.data(), c.size(), d.data(), d.size(), out.data(), out.size(), &n));
    out.resize(n);
    EXPECT_EQ(value_of(out), 8);
}

TEST(Digits, RoundTripAndArithmetic) {
    for (int64_t v = -1000; v <= 1000; ++v) EXPECT_EQ(value_of(digits_of(v)), v);
    for (int64_t v : {INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1}) EXPECT_EQ(value_of(digits_of(v)), v);
    const std::pair<int64_t, int64_t> adds[] = {{5, 3}, {10, 20}, {-5, 5}, {100, -50}, {0, 0}, {-100, -100}};
    for (auto [x, y] : adds) {
        const Trits a = digits_of(x), b = digits_of(y);
        Trits out(64);
        size_t n;
        ASSERT_RAI_OK(rai_ternary_digits_add(a.data(), a.size(), b.data(), b.size(), out.data(), out.size(), &n));
        out.resize(n);
        EXPECT_EQ(value_of(out), x + y);
        EXPECT_LE(n, std::max(a.size(), b.size()) + 1);
    }
    const std::pair<int64_t, int64_t> muls[] = {{4, 2}, {3, 3}, {5, -2}, {-3, -4}, {0, 100}, {1, 50}, {-1000, 999}};
    for (auto [x, y] : muls) {
        const Trits a = digits_of(x), b = digits_of(y);
        Trits out(64);
        size_t n;
        ASSERT_RAI_OK(rai_ternary_digits_mul(a.data(), a.size(), b.data(), b.size(), out.data(), out.size(), &n));
        out.resize(n);
        EXPECT_EQ(value_of(out), x * y);
        EXPECT_GE(n, 1u);
        if (n > 1) {
            EXPECT_NE(out.back(), 0);  // trimmed
        }
    }
    // Empty multiplicand gives [0].
    const Trits one{1};
    Trits out(4);
    size_t n;
    ASSERT_RAI_OK(rai_ternary_digits_mul(nullptr, 0, one.data(), 1, out.data(), out.size(), &n));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(out[0], 0);
    // Negate and compare.
    const Trits seven = digits_of(7);
    Trits neg(seven.size());
    ASSERT_RAI_OK(rai_ternary_digits_neg(seven.data(), seven.size(), neg.data(), neg.size(), &n));
    EXPECT_EQ(value_of(neg), -7);
    for (int64_t x = -20; x <= 20; ++x)
        for (int64_t y = -20; y <= 20; ++y) {
            const Trits a = digits_of(x, static_cast<size_t>((x + 40) % 5)), b = digits_of(y);
            int32_t cmp = 9;
            ASSERT_RAI_OK(rai_ternary_digits_compare(a.data(), a.size(), b.data(), b.size(), &cmp));
            EXPECT_EQ(cmp, x < y ? -1 : (x > y ? 1 : 0)) << x << " vs " << y;
        }
}

TEST(Digits, Errors) {
    Trits out(2, 7);
    size_t n = 0;
    // 1000 needs 7 digits: BUFFER_TOO_SMALL reports the size and writes nothing.
    EXPECT_RAI_ERROR(rai_ternary_digits_from_int(1000, 0, out.data(), out.size(), &n), RAI_ERROR_BUFFER_TOO_SMALL,
                     "7 digits needed");
    EXPECT_EQ(n, 7u);
    EXPECT_EQ(out, (Trits{7, 7}));
    EXPECT_RAI_ERROR(rai_ternary_digits_from_int(1000, 0, nullptr, 0, &n), RAI_ERROR_BUFFER_TOO_SMALL, "out");
    EXPECT_EQ(n, 7u);
    EXPECT_RAI_ERROR(rai_ternary_digits_from_int(1, 0, out.data(), out.size(), nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "out_count");
    const Trits bad{1, 0, 2};
    int64_t v = 3;
    EXPECT_RAI_ERROR(rai_ternary_digits_to_int(bad.data(), bad.size(), &v), RAI_ERROR_INVALID_ARGUMENT,
                     "digits[2] is 2");
    EXPECT_EQ(v, 3);
    EXPECT_RAI_ERROR(rai_ternary_digits_to_int(nullptr, 3, &v), RAI_ERROR_INVALID_ARGUMENT, "digits must not be NULL");
    const Trits huge(45, 1);  // (3^45 - 1) / 2 > INT64_MAX
    EXPECT_RAI_ERROR(rai_ternary_digits_to_int(huge.data(), huge.size(), &v), RAI_ERROR_OUT_OF_RANGE, "int64");
    const Trits ok{1};
    EXPECT_RAI_ERROR(rai_ternary_digits_add(ok.data(), 1, bad.data(), 3, out.data(), out.size(), &n),
                     RAI_ERROR_INVALID_ARGUMENT, "b[2]");
    const Trits big = digits_of(3000000);
    EXPECT_RAI_ERROR(rai_ternary_digits_mul(big.data(), big.size(), big.data(), big.size(), out.data(), 1, &n),
                     RAI_ERROR_BUFFER_TOO_SMALL, "needed");
    int32_t cmp;
    EXPECT_RAI_ERROR(rai_ternary_digits_compare(bad.data(), 3, ok.data(), 1, &cmp), RAI_ERROR_INVALID_ARGUMENT, "a[2]");
}
