#include "digits.h"

#include <string>

#include "error.h"
#include "error.h"

namespace rai::ternary {

void check_digits(const int8_t *d, std::size_t n, const char *name) {
    if (n != 0) require_not_null(d, name);
    for (std::size_t i = 0; i < n; ++i)
        RAI_CHECK(d[i] >= -1 && d[i] <= 1, RAI_ERROR_INVALID_ARGUMENT,
                std::string(name) + "[" + std::to_string(i) + "] is " + std::to_string(d[i]) +
                    ", a trit must be -1, 0 or 1");
}

Digits digits_from_int(int64_t value, std::size_t min_digits) {
    Digits out;
    int64_t v = value;
    do {
        const int64_t q = v / 3, r = v % 3;
        if (r == 2) {
            out.push_back(-1);
            v = q + 1;
        } else if (r == -2) {
            out.push_back(1);
            v = q - 1;
        } else {
            out.push_back(static_cast<int8_t>(r));
            v = q;
        }
    } while (v != 0);
    if (out.size() < min_digits) out.resize(min_digits, 0);
    return out;
}

int64_t digits_to_int(const int8_t *d, std::size_t n, const char *name) {
    // Horner from the most significant digit in 128-bit arithmetic. Once a prefix exceeds 2^63
    // in magnitude the value cannot come back into range: the remaining k digits add at most
    // (3^k - 1) / 2 while the prefix is multiplied by 3^k.
    constexpr __int128 kLimit = static_cast<__int128>(1) << 63;
    __int128 v = 0;
    for (std::size_t i = n; i-- > 0;) {
        v = 3 * v + d[i];
        RAI_CHECK(v <= kLimit && v >= -kLimit, RAI_ERROR_OUT_OF_RANGE,
                std::string(name) + ": the value of " + std::to_string(n) + " digits does not fit in int64");
    }
    RAI_CHECK(v < kLimit, RAI_ERROR_OUT_OF_RANGE,
            std::string(name) + ": the value of " + std::to_string(n) + " digits does not fit in int64");
    return static_cast<int64_t>(v);
}

Digits digits_add(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb) {
    const std::size_t n = na > nb ? na : nb;
    Digits out(n);
    int carry = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const int total = (i < na ? a[i] : 0) + (i < nb ? b[i] : 0) + carry;  // in [-3, 3]
        carry = total > 1 ? 1 : (total < -1 ? -1 : 0);
        out[i] = static_cast<int8_t>(total - 3 * carry);
    }
    if (carry != 0) out.push_back(static_cast<int8_t>(carry));
    return out;
}

Digits digits_mul(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb) {
    if (na == 0 || nb == 0) return Digits{0};
    // |a * b| < 3^(na + nb) / 4, so na + nb digits hold the product and no carry leaves them.
    Digits acc(na + nb, 0);
    for (std::size_t i = 0; i < na; ++i) {
        if (a[i] == 0) continue;
        int carry = 0;
        for (std::size_t j = i; j < na + nb; ++j) {
            const int partial = j - i < nb ? a[i] * b[j - i] : 0;
            if (j - i >= nb && carry == 0) break;
            const int total = acc[j] + partial + carry;
            carry = total > 1 ? 1 : (total < -1 ? -1 : 0);
            acc[j] = static_cast<int8_t>(total - 3 * carry);
        }
    }
    while (acc.size() > 1 && acc.back() == 0) acc.pop_back();
    return acc;
}

int32_t digits_compare(const int8_t *a, std::size_t na, const int8_t *b, std::size_t nb) {
    // The most significant differing digit decides: lower digits add at most (3^k - 1) / 2.
    for (std::size_t i = na > nb ? na : nb; i-- > 0;) {
        const int x = i < na ? a[i] : 0, y = i < nb ? b[i] : 0;
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

}  // namespace rai::ternary
