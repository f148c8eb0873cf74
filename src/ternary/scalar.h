// Balanced ternary scalars: single trits, Tryte3 (3 trits in a u8) and Word6 (6 trits in a u16).
//
// Trits are int8_t in {-1, 0, +1}. Raw trytes and words store trit k at bits 2k..2k+1 with the
// codes 0 = -1, 1 = 0, 2 = +1 (code 3 decodes as 0); the bits above the last trit must be zero.
// Every function validates its inputs and throws rai::Error naming `name` on bad input.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rai::ternary {

constexpr int32_t kTryteMax = 13;   // (3^3 - 1) / 2
constexpr int32_t kWordMax = 364;   // (3^6 - 1) / 2
constexpr uint8_t kTryteZero = 21;  // 0b010101
constexpr uint16_t kWordZero = 1365;  // 0b010101010101

// Throws INVALID_ARGUMENT unless v is -1, 0 or 1.
void check_trit(int32_t v, const char *name);
// (digit, carry) with a + b = digit + 3 * carry.
void trit_add(int8_t a, int8_t b, int8_t *digit, int8_t *carry);
int8_t trit_from_bits(uint8_t plus, uint8_t minus, const char *name);

// A ternary number of `n` trits (n = 3 or 6) in raw 2-bit codes.
struct Trits {
    int n;
    const char *kind;    // "tryte" or "word"
    int32_t max;         // largest value
    int64_t base;        // 3^n
};
constexpr Trits kTryte{3, "tryte", kTryteMax, 27};
constexpr Trits kWord{6, "word", kWordMax, 729};

// raw -> value; INVALID_ARGUMENT if bits above the trits are set.
int32_t raw_to_int(const Trits &t, uint32_t raw, const char *name);
// value -> raw; OUT_OF_RANGE outside [-max, max].
uint32_t int_to_raw(const Trits &t, int64_t value, const char *name);
void raw_to_trits(const Trits &t, uint32_t raw, int8_t *trits, const char *name);
uint32_t trits_to_raw(const Trits &t, const int8_t *trits, const char *name);
int8_t raw_get_trit(const Trits &t, uint32_t raw, std::size_t index, const char *name);
// sum + base * carry = a + b.
void raw_add(const Trits &t, uint32_t a, uint32_t b, uint32_t *sum, int8_t *carry);
// low + base * high = a * b.
void raw_mul(const Trits &t, uint32_t a, uint32_t b, uint32_t *low, uint32_t *high);
uint32_t raw_neg(const Trits &t, uint32_t a);

}  // namespace rai::ternary
