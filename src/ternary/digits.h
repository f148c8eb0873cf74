// Arbitrary-length balanced ternary numbers as digit arrays, least significant digit first,
// digits int8_t in {-1, 0, 1}. Results are returned in std::vector; the ABI copies them out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rai::ternary {

using Digits = std::vector<int8_t>;

// Throws INVALID_ARGUMENT naming `name`[i] for the first digit outside {-1, 0, 1}.
void check_digits(const int8_t *d, std::size_t n, const char *name);
// At least max(1, min_digits) digits, zero-padded.
Digits digits_from_int(int64_t value, std::size_t min_digits);
// OUT_OF_RANGE when the value does not fit in int64. An empty array is 0.
int64_t digits_to_int(const int8_t *d, std::size_t n, const char *name);
// Ripple add over max(na, nb) digits plus the final carry digit when it is non-zero.
Digits digits_add(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb);
// Shift-and-add product, leading zeros trimmed, at least one digit.
Digits digits_mul(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb);
// -1, 0 or 1 as value(a) <, =, > value(b).
int32_t digits_compare(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb);

}  // namespace rai::ternary
