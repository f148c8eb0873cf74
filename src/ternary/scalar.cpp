#include "scalar.h"

#include <string>

#include "error.h"
#include "error.h"

namespace rai::ternary {

namespace {
// Balanced digit of v and the quotient: v = digit + 3 * next, digit in {-1, 0, 1}, without
// overflow for any int64 (the remainder 2 becomes -1 with a carry, -2 becomes +1).
inline int8_t balanced_step(int64_t v, int64_t *next) {
    const int64_t q = v / 3, r = v % 3;
    if (r == 2) {
        *next = q + 1;
        return -1;
    }
    if (r == -2) {
        *next = q - 1;
        return 1;
    }
    *next = q;
    return static_cast<int8_t>(r);
}

inline int8_t decode_code(uint32_t code) { return code == 0 ? -1 : (code == 2 ? 1 : 0); }
inline uint32_t encode_trit(int8_t t) { return static_cast<uint32_t>(t + 1); }
}  // namespace

void check_trit(int32_t v, const char *name) {
    RAI_CHECK(v >= -1 && v <= 1, RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + " is " + std::to_string(v) + ", a trit must be -1, 0 or 1");
}

void trit_add(int8_t a, int8_t b, int8_t *digit, int8_t *carry) {
    const int s = a + b;  // in [-2, 2]
    *carry = static_cast<int8_t>(s > 1 ? 1 : (s < -1 ? -1 : 0));
    *digit = static_cast<int8_t>(s - 3 * *carry);
}

int8_t trit_from_bits(uint8_t plus, uint8_t minus, const char *name) {
    RAI_CHECK(plus <= 1 && minus <= 1, RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + ": bits must be 0 or 1, got plus " + std::to_string(plus) + ", minus " +
                std::to_string(minus));
    RAI_CHECK(!(plus && minus), RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + ": plus and minus bits are both set (not a trit)");
    return static_cast<int8_t>(plus - minus);
}

int32_t raw_to_int(const Trits &t, uint32_t raw, const char *name) {
    RAI_CHECK((raw >> (2 * t.n)) == 0, RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + ": raw " + t.kind + " " + std::to_string(raw) + " has bits set above bit " +
                std::to_string(2 * t.n - 1));
    int32_t v = 0;
    for (int k = t.n - 1; k >= 0; --k) v = 3 * v + decode_code((raw >> (2 * k)) & 3u);
    return v;
}

uint32_t int_to_raw(const Trits &t, int64_t value, const char *name) {
    RAI_CHECK(value >= -t.max && value <= t.max, RAI_ERROR_OUT_OF_RANGE,
            std::string(name) + " is " + std::to_string(value) + ", a " + t.kind + " holds [" +
                std::to_string(-t.max) + ", " + std::to_string(t.max) + "]");
    uint32_t raw = 0;
    int64_t v = value;
    for (int k = 0; k < t.n; ++k) {
        const int8_t d = balanced_step(v, &v);
        raw |= encode_trit(d) << (2 * k);
    }
    return raw;
}

void raw_to_trits(const Trits &t, uint32_t raw, int8_t *trits, const char *name) {
    raw_to_int(t, raw, name);  // validates
    for (int k = 0; k < t.n; ++k) trits[k] = decode_code((raw >> (2 * k)) & 3u);
}

uint32_t trits_to_raw(const Trits &t, const int8_t *trits, const char *name) {
    for (int k = 0; k < t.n; ++k)
        RAI_CHECK(trits[k] >= -1 && trits[k] <= 1, RAI_ERROR_INVALID_ARGUMENT,
                  std::string(name) + "[" + std::to_string(k) + "] is " + std::to_string(trits[k]) +
                      ", a trit must be -1, 0 or 1");
    uint32_t raw = 0;
    for (int k = 0; k < t.n; ++k) raw |= encode_trit(trits[k]) << (2 * k);
    return raw;
}

int8_t raw_get_trit(const Trits &t, uint32_t raw, std::size_t index, const char *name) {
    raw_to_int(t, raw, name);
    RAI_CHECK(index < static_cast<std::size_t>(t.n), RAI_ERROR_OUT_OF_RANGE,
            "index " + std::to_string(index) + " is out of range: a " + t.kind + " has " + std::to_string(t.n) +
                " trits");
    return decode_code((raw >> (2 * index)) & 3u);
}

void raw_add(const Trits &t, uint32_t a, uint32_t b, uint32_t *sum, int8_t *carry) {
    raw_to_int(t, a, "a");
    raw_to_int(t, b, "b");
    // Ripple of add_with_carry; the per-digit total is in [-3, 3].
    int c = 0;
    uint32_t raw = 0;
    for (int k = 0; k < t.n; ++k) {
        const int total = decode_code((a >> (2 * k)) & 3u) + decode_code((b >> (2 * k)) & 3u) + c;
        c = total > 1 ? 1 : (total < -1 ? -1 : 0);
        raw |= encode_trit(static_cast<int8_t>(total - 3 * c)) << (2 * k);
    }
    *sum = raw;
    *carry = static_cast<int8_t>(c);
}

void raw_mul(const Trits &t, uint32_t a, uint32_t b, uint32_t *low, uint32_t *high) {
    const int64_t p = static_cast<int64_t>(raw_to_int(t, a, "a")) * raw_to_int(t, b, "b");
    const int64_t lo = ((p % t.base) + t.base + t.max) % t.base - t.max;
    const int64_t hi = (p - lo) / t.base;  // |hi| <= max for every product of two in-range values
    *low = int_to_raw(t, lo, "low");
    *high = int_to_raw(t, hi, "high");
}

uint32_t raw_neg(const Trits &t, uint32_t a) {
    raw_to_int(t, a, "a");
    uint32_t raw = 0;
    for (int k = 0; k < t.n; ++k) raw |= encode_trit(static_cast<int8_t>(-decode_code((a >> (2 * k)) & 3u))) << (2 * k);
    return raw;
}

}  // namespace rai::ternary
