// C ABI: balanced ternary scalars, packed and sparse trit vectors, VSA operations and the item
// memory. Argument checks and conversions only; the algorithms are in src/ternary/.
#include <cstring>
#include <string>
#include <vector>

#include "../core/context.h"
#include "../core/params.h"
#include "../ternary/digits.h"
#include "../ternary/item_memory.h"
#include "../ternary/kernels.h"
#include "../ternary/matrix.h"
#include "../ternary/rng.h"
#include "../ternary/scalar.h"
#include "../ternary/similarity.h"
#include "../ternary/svec.h"
#include "../ternary/tvec.h"
#include "../ternary/vsa.h"
#include "guard.h"
#include "../core/error.h"

using rai::abi::create_locked;
using rai::abi::deref;
using rai::abi::guarded;
using rai::abi::locked;
namespace tern = rai::ternary;

namespace {
// Params structs as first released (0.1).
constexpr size_t kBundleParamsV1 = sizeof(rai_bundle_params);
constexpr size_t kRandomParamsV1 = sizeof(rai_random_params);

template <class T>
T *out_ptr(T *p, const char *name) {
    rai::require_not_null(p, name);
    return p;
}

// The capacity protocol: *out_count = needed always; BUFFER_TOO_SMALL when capacity < needed;
// the buffer may be NULL only when nothing is needed.
void check_capacity(size_t needed, size_t capacity, size_t *out_count, const void *buffer, const char *buffer_name,
                    const char *unit) {
    rai::require_not_null(out_count, "out_count");
    *out_count = needed;
    RAI_CHECK(capacity >= needed, RAI_ERROR_BUFFER_TOO_SMALL,
                 std::string(buffer_name) + ": capacity " + std::to_string(capacity) + " is smaller than the " +
                     std::to_string(needed) + " " + unit + " needed");
    if (needed != 0) rai::require_not_null(buffer, buffer_name);
}

void copy_digits(const tern::Digits &d, int8_t *out, size_t capacity, size_t *out_count) {
    check_capacity(d.size(), capacity, out_count, out, "out", "digits");
    if (!d.empty()) std::memcpy(out, d.data(), d.size());
}

// Two vectors of one dimension.
void same_dim(const rai_tvec &a, const char *an, const rai_tvec &b, const char *bn) {
    tern::check_same_dim(b, bn, a.dim, an);
}

// The vector list of bind_many / bundle: non-empty, non-NULL entries, one dimension.
std::vector<const tern::u64 *> vector_rows(const rai_tvec *const *vectors, size_t count, const rai_tvec **first) {
    RAI_CHECK(count > 0, RAI_ERROR_INVALID_ARGUMENT, "count is 0: the vector list is empty");
    rai::require_not_null(vectors, "vectors");
    std::vector<const tern::u64 *> rows(count);
    for (size_t i = 0; i < count; ++i) {
        RAI_CHECK(vectors[i] != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                  "vectors[" + std::to_string(i) + "] must not be NULL");
        RAI_CHECK(vectors[i]->dim == vectors[0]->dim, RAI_ERROR_SHAPE_MISMATCH,
                  "vectors[" + std::to_string(i) + "]: dimension " + std::to_string(vectors[i]->dim) +
                      " differs from vectors[0]'s dimension " + std::to_string(vectors[0]->dim));
        rows[i] = vectors[i]->row();
    }
    *first = vectors[0];
    return rows;
}

tern::RandomSpec read_random(const rai_random_params *params) {
    const rai_random_params p = rai::read_params(params, kRandomParamsV1, "params");
    RAI_CHECK(p.reserved0 == 0, RAI_ERROR_INVALID_ARGUMENT, "params->reserved0 must be 0");
    return tern::random_spec(p.generator, p.distribution, p.seed, p.density);
}

tern::BundleOptions read_bundle(const rai_bundle_params *params) {
    const rai_bundle_params p = rai::read_params(params, kBundleParamsV1, "params");
    return tern::bundle_options(p.tie_break, p.seed);
}

void check_trit_arg(int8_t t, const char *name) { tern::check_trit(t, name); }
}  // namespace

namespace {
void sparse_dims(const rai_svec &a, const rai_svec &b) {
    RAI_CHECK(a.dim == b.dim, RAI_ERROR_SHAPE_MISMATCH,
                 "b: dimension " + std::to_string(b.dim) + " differs from a's dimension " + std::to_string(a.dim));
}
}  // namespace

namespace {
rai_status bind_common(const rai_tvec *a, const char *an, const rai_tvec *b, int32_t mode, rai_tvec *out,
                       bool unbind) {
    return guarded([&] {
        const rai_tvec &x = deref(a, an), &y = deref(b, "b");
        rai_tvec &o = deref(out, "out");
        tern::check_bind_mode(mode, "mode");
        same_dim(x, an, y, "b");
        same_dim(x, an, o, "out");
        tern::kernels().binary(tern::bind_op(mode, unbind), x.row(), y.row(), o.row(), x.wpad);
    });
}
}  // namespace

namespace {
// Matrix calls run under locked(ctx, ...); matrix_arg checks that each matrix lives on ctx's device.
template <class M>
M &matrix_arg(const rai_context &ctx, M *m, const char *name) {
    M &x = deref(m, name);
    tern::check_matrix_on(ctx, x, name);
    return x;
}
}  // namespace

namespace {
rai_status matrix_bind_common(rai_context *ctx, const rai_vsa_matrix *a, const char *an,
                              const rai_vsa_matrix *b, int32_t mode, rai_vsa_matrix *out, bool unbind) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        const rai_vsa_matrix &x = matrix_arg(c, a, an), &y = matrix_arg(c, b, "b");
        rai_vsa_matrix &o = matrix_arg(c, out, "out");
        tern::check_bind_mode(mode, "mode");
        tern::matrix_binary(c, x, y, tern::bind_op(mode, unbind), o);
    });
}
}  // namespace

namespace {
namespace raw_abi {
// The tryte3 and word6 entry points: the same checks and calls, differing only in the format
// (3 or 6 trits) and in the raw integer the C ABI uses (Raw = uint8_t or uint16_t).
template <class Raw>
rai_status from_int(const tern::Trits &t, int32_t value, Raw *out_raw) {
    return guarded([&] {
        const uint32_t r = tern::int_to_raw(t, value, "value");
        *out_ptr(out_raw, "out_raw") = static_cast<Raw>(r);
    });
}

template <class Raw>
rai_status to_int(const tern::Trits &t, Raw raw, int32_t *out) {
    return guarded([&] {
        const int32_t v = tern::raw_to_int(t, raw, "raw");
        *out_ptr(out, "out") = v;
    });
}

template <class Raw>
rai_status from_trits(const tern::Trits &t, const int8_t *trits, Raw *out_raw) {
    return guarded([&] {
        rai::require_not_null(trits, "trits");
        const uint32_t r = tern::trits_to_raw(t, trits, "trits");
        *out_ptr(out_raw, "out_raw") = static_cast<Raw>(r);
    });
}

template <class Raw>
rai_status to_trits(const tern::Trits &t, Raw raw, int8_t *out_trits) {
    return guarded([&] {
        out_ptr(out_trits, "out_trits");
        int8_t digits[6];  // the widest format, words
        tern::raw_to_trits(t, raw, digits, "raw");
        std::memcpy(out_trits, digits, static_cast<size_t>(t.n));
    });
}

template <class Raw>
rai_status get_trit(const tern::Trits &t, Raw raw, size_t index, int8_t *out) {
    return guarded([&] {
        const int8_t v = tern::raw_get_trit(t, raw, index, "raw");
        *out_ptr(out, "out") = v;
    });
}

template <class Raw>
rai_status add(const tern::Trits &t, Raw a, Raw b, Raw *out_sum, int8_t *out_carry) {
    return guarded([&] {
        out_ptr(out_sum, "out_sum");
        out_ptr(out_carry, "out_carry");
        uint32_t s;
        int8_t c;
        tern::raw_add(t, a, b, &s, &c);
        *out_sum = static_cast<Raw>(s);
        *out_carry = c;
    });
}

template <class Raw>
rai_status mul(const tern::Trits &t, Raw a, Raw b, Raw *out_low, Raw *out_high) {
    return guarded([&] {
        out_ptr(out_low, "out_low");
        out_ptr(out_high, "out_high");
        uint32_t lo, hi;
        tern::raw_mul(t, a, b, &lo, &hi);
        *out_low = static_cast<Raw>(lo);
        *out_high = static_cast<Raw>(hi);
    });
}

template <class Raw>
rai_status neg(const tern::Trits &t, Raw a, Raw *out) {
    return guarded([&] {
        const uint32_t r = tern::raw_neg(t, a);
        *out_ptr(out, "out") = static_cast<Raw>(r);
    });
}
}  // namespace raw_abi
}  // namespace

extern "C" {

/* ---- trits */

rai_status rai_trit_from_int(int32_t value, int8_t *out) {
    return guarded([&] {
        tern::check_trit(value, "value");
        *out_ptr(out, "out") = static_cast<int8_t>(value);
    });
}

rai_status rai_trit_neg(int8_t a, int8_t *out) {
    return guarded([&] {
        check_trit_arg(a, "a");
        *out_ptr(out, "out") = static_cast<int8_t>(-a);
    });
}

rai_status rai_trit_mul(int8_t a, int8_t b, int8_t *out) {
    return guarded([&] {
        check_trit_arg(a, "a");
        check_trit_arg(b, "b");
        *out_ptr(out, "out") = static_cast<int8_t>(a * b);
    });
}

rai_status rai_trit_add(int8_t a, int8_t b, int8_t *out_digit, int8_t *out_carry) {
    return guarded([&] {
        check_trit_arg(a, "a");
        check_trit_arg(b, "b");
        out_ptr(out_digit, "out_digit");
        out_ptr(out_carry, "out_carry");
        tern::trit_add(a, b, out_digit, out_carry);
    });
}

rai_status rai_trit_to_bits(int8_t a, uint8_t *out_plus, uint8_t *out_minus) {
    return guarded([&] {
        check_trit_arg(a, "a");
        out_ptr(out_plus, "out_plus");
        out_ptr(out_minus, "out_minus");
        *out_plus = a == 1;
        *out_minus = a == -1;
    });
}

rai_status rai_trit_from_bits(uint8_t plus, uint8_t minus, int8_t *out) {
    return guarded([&] {
        const int8_t t = tern::trit_from_bits(plus, minus, "plus/minus");
        *out_ptr(out, "out") = t;
    });
}

/* ---- trytes and words (bodies in raw_abi above) */

rai_status rai_tryte3_from_int(int32_t value, uint8_t *out_raw) {
    return raw_abi::from_int(tern::kTryte, value, out_raw);
}
rai_status rai_tryte3_to_int(uint8_t raw, int32_t *out) { return raw_abi::to_int(tern::kTryte, raw, out); }
rai_status rai_tryte3_from_trits(const int8_t *trits, uint8_t *out_raw) {
    return raw_abi::from_trits(tern::kTryte, trits, out_raw);
}
rai_status rai_tryte3_to_trits(uint8_t raw, int8_t *out_trits) {
    return raw_abi::to_trits(tern::kTryte, raw, out_trits);
}
rai_status rai_tryte3_get_trit(uint8_t raw, size_t index, int8_t *out) {
    return raw_abi::get_trit(tern::kTryte, raw, index, out);
}
rai_status rai_tryte3_add(uint8_t a, uint8_t b, uint8_t *out_sum, int8_t *out_carry) {
    return raw_abi::add(tern::kTryte, a, b, out_sum, out_carry);
}
rai_status rai_tryte3_mul(uint8_t a, uint8_t b, uint8_t *out_low, uint8_t *out_high) {
    return raw_abi::mul(tern::kTryte, a, b, out_low, out_high);
}
rai_status rai_tryte3_neg(uint8_t a, uint8_t *out) { return raw_abi::neg(tern::kTryte, a, out); }

rai_status rai_word6_from_int(int32_t value, uint16_t *out_raw) {
    return raw_abi::from_int(tern::kWord, value, out_raw);
}
rai_status rai_word6_to_int(uint16_t raw, int32_t *out) { return raw_abi::to_int(tern::kWord, raw, out); }
rai_status rai_word6_from_trits(const int8_t *trits, uint16_t *out_raw) {
    return raw_abi::from_trits(tern::kWord, trits, out_raw);
}
rai_status rai_word6_to_trits(uint16_t raw, int8_t *out_trits) {
    return raw_abi::to_trits(tern::kWord, raw, out_trits);
}
rai_status rai_word6_get_trit(uint16_t raw, size_t index, int8_t *out) {
    return raw_abi::get_trit(tern::kWord, raw, index, out);
}
rai_status rai_word6_add(uint16_t a, uint16_t b, uint16_t *out_sum, int8_t *out_carry) {
    return raw_abi::add(tern::kWord, a, b, out_sum, out_carry);
}
rai_status rai_word6_mul(uint16_t a, uint16_t b, uint16_t *out_low, uint16_t *out_high) {
    return raw_abi::mul(tern::kWord, a, b, out_low, out_high);
}
rai_status rai_word6_neg(uint16_t a, uint16_t *out) { return raw_abi::neg(tern::kWord, a, out); }

rai_status rai_word6_from_trytes(uint8_t low, uint8_t high, uint16_t *out_raw) {
    return guarded([&] {
        tern::raw_to_int(tern::kTryte, low, "low");
        tern::raw_to_int(tern::kTryte, high, "high");
        *out_ptr(out_raw, "out_raw") = static_cast<uint16_t>(low | (high << 6));
    });
}

rai_status rai_word6_to_trytes(uint16_t raw, uint8_t *out_low, uint8_t *out_high) {
    return guarded([&] {
        tern::raw_to_int(tern::kWord, raw, "raw");
        out_ptr(out_low, "out_low");
        out_ptr(out_high, "out_high");
        *out_low = static_cast<uint8_t>(raw & 63u);
        *out_high = static_cast<uint8_t>(raw >> 6);
    });
}

/* ---- digit arrays */

rai_status rai_ternary_digits_from_int(int64_t value, size_t min_digits, int8_t *out, size_t capacity,
                                       size_t *out_count) {
    return guarded([&] { copy_digits(tern::digits_from_int(value, min_digits), out, capacity, out_count); });
}

rai_status rai_ternary_digits_to_int(const int8_t *digits, size_t count, int64_t *out) {
    return guarded([&] {
        tern::check_digits(digits, count, "digits");
        const int64_t v = tern::digits_to_int(digits, count, "digits");
        *out_ptr(out, "out") = v;
    });
}

rai_status rai_ternary_digits_add(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b, int8_t *out,
                                  size_t capacity, size_t *out_count) {
    return guarded([&] {
        tern::check_digits(a, count_a, "a");
        tern::check_digits(b, count_b, "b");
        copy_digits(tern::digits_add(a, count_a, b, count_b), out, capacity, out_count);
    });
}

rai_status rai_ternary_digits_mul(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b, int8_t *out,
                                  size_t capacity, size_t *out_count) {
    return guarded([&] {
        tern::check_digits(a, count_a, "a");
        tern::check_digits(b, count_b, "b");
        copy_digits(tern::digits_mul(a, count_a, b, count_b), out, capacity, out_count);
    });
}

rai_status rai_ternary_digits_neg(const int8_t *a, size_t count, int8_t *out, size_t capacity, size_t *out_count) {
    return guarded([&] {
        tern::check_digits(a, count, "a");
        check_capacity(count, capacity, out_count, out, "out", "digits");
        for (size_t i = 0; i < count; ++i) out[i] = static_cast<int8_t>(-a[i]);
    });
}

rai_status rai_ternary_digits_compare(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b,
                                      int32_t *out) {
    return guarded([&] {
        tern::check_digits(a, count_a, "a");
        tern::check_digits(b, count_b, "b");
        *out_ptr(out, "out") = tern::digits_compare(a, count_a, b, count_b);
    });
}

/* ---- packed vectors */

rai_status rai_tvec_create(size_t dim, rai_tvec **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = tern::tvec_create(dim);
    });
}

void rai_tvec_destroy(rai_tvec *v) { delete v; }

rai_status rai_tvec_clone(const rai_tvec *v, rai_tvec **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        const rai_tvec &src = deref(v, "v");
        rai::require_not_null(out, "out");
        *out = tern::tvec_clone(src);
    });
}

rai_status rai_tvec_dim(const rai_tvec *v, size_t *out_dim) {
    return guarded([&] { *out_ptr(out_dim, "out_dim") = deref(v, "v").dim; });
}

rai_status rai_tvec_import_int8(rai_tvec *v, const int8_t *values, size_t count) {
    return guarded([&] { tern::tvec_import_int8(deref(v, "v"), values, count, "values"); });
}

rai_status rai_tvec_export_int8(const rai_tvec *v, int8_t *out, size_t capacity, size_t *out_count) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        check_capacity(x.dim, capacity, out_count, out, "out", "trits");
        tern::tvec_export_int8(x, out);
    });
}

rai_status rai_tvec_import_planes_u32(rai_tvec *v, const uint32_t *plus, const uint32_t *minus, size_t words) {
    return guarded([&] { tern::tvec_import_planes_u32(deref(v, "v"), plus, minus, words); });
}

rai_status rai_tvec_export_planes_u32(const rai_tvec *v, uint32_t *plus, uint32_t *minus, size_t capacity_words,
                                      size_t *out_words) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        const size_t need = x.dim / 32 + (x.dim % 32 != 0);
        check_capacity(need, capacity_words, out_words, plus, "plus", "u32 words");
        if (need != 0) rai::require_not_null(minus, "minus");
        tern::tvec_export_planes_u32(x, plus, minus);
    });
}

rai_status rai_tvec_import_planes_u64(rai_tvec *v, const uint64_t *plus, const uint64_t *minus, size_t words) {
    return guarded([&] { tern::tvec_import_planes_u64(deref(v, "v"), plus, minus, words); });
}

rai_status rai_tvec_export_planes_u64(const rai_tvec *v, uint64_t *plus, uint64_t *minus, size_t capacity_words,
                                      size_t *out_words) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        const size_t need = tern::words_for(x.dim);
        check_capacity(need, capacity_words, out_words, plus, "plus", "u64 words");
        if (need != 0) rai::require_not_null(minus, "minus");
        tern::tvec_export_planes_u64(x, plus, minus);
    });
}

rai_status rai_tvec_get(const rai_tvec *v, size_t index, int8_t *out) {
    return guarded([&] {
        const int8_t t = tern::tvec_get(deref(v, "v"), index);
        *out_ptr(out, "out") = t;
    });
}

rai_status rai_tvec_set(rai_tvec *v, size_t index, int8_t value) {
    return guarded([&] { tern::tvec_set(deref(v, "v"), index, value); });
}

rai_status rai_tvec_count_nonzero(const rai_tvec *v, size_t *out) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        *out_ptr(out, "out") = tern::tvec_count_positive(x) + tern::tvec_count_negative(x);
    });
}

rai_status rai_tvec_count_positive(const rai_tvec *v, size_t *out) {
    return guarded([&] { *out_ptr(out, "out") = tern::tvec_count_positive(deref(v, "v")); });
}

rai_status rai_tvec_count_negative(const rai_tvec *v, size_t *out) {
    return guarded([&] { *out_ptr(out, "out") = tern::tvec_count_negative(deref(v, "v")); });
}

rai_status rai_tvec_sparsity(const rai_tvec *v, double *out) {
    return guarded([&] { *out_ptr(out, "out") = tern::tvec_sparsity(deref(v, "v")); });
}

rai_status rai_tvec_sum(const rai_tvec *v, int64_t *out) {
    return guarded([&] { *out_ptr(out, "out") = tern::tvec_sum(deref(v, "v")); });
}

rai_status rai_tvec_negate(const rai_tvec *v, rai_tvec *out) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        rai_tvec &o = deref(out, "out");
        same_dim(x, "v", o, "out");
        tern::tvec_negate(x, o);
    });
}

rai_status rai_tvec_add_clamped(const rai_tvec *a, const rai_tvec *b, rai_tvec *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        rai_tvec &o = deref(out, "out");
        same_dim(x, "a", y, "b");
        same_dim(x, "a", o, "out");
        tern::kernels().binary(tern::kOpAddClamped, x.row(), y.row(), o.row(), x.wpad);
    });
}

rai_status rai_tvec_equal(const rai_tvec *a, const rai_tvec *b, int32_t *out) {
    return guarded([&] {
        const bool eq = tern::tvec_equal(deref(a, "a"), deref(b, "b"));
        *out_ptr(out, "out") = eq ? 1 : 0;
    });
}

/* ---- sparse vectors */

rai_status rai_svec_create(size_t dim, rai_svec **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = tern::svec_create(dim);
    });
}

void rai_svec_destroy(rai_svec *s) { delete s; }

rai_status rai_svec_dim(const rai_svec *s, size_t *out_dim) {
    return guarded([&] { *out_ptr(out_dim, "out_dim") = deref(s, "s").dim; });
}

rai_status rai_svec_import_indices(rai_svec *s, const uint64_t *positive, size_t count_positive,
                                   const uint64_t *negative, size_t count_negative) {
    return guarded([&] { tern::svec_import(deref(s, "s"), positive, count_positive, negative, count_negative); });
}

rai_status rai_svec_export_indices(const rai_svec *s, uint64_t *positive, size_t capacity_positive,
                                   uint64_t *negative, size_t capacity_negative, size_t *out_count_positive,
                                   size_t *out_count_negative) {
    return guarded([&] {
        const rai_svec &x = deref(s, "s");
        rai::require_not_null(out_count_positive, "out_count_positive");
        rai::require_not_null(out_count_negative, "out_count_negative");
        *out_count_positive = x.pos.size();
        *out_count_negative = x.neg.size();
        RAI_CHECK(capacity_positive >= x.pos.size() && capacity_negative >= x.neg.size(),
                     RAI_ERROR_BUFFER_TOO_SMALL,
                     "positive/negative: capacities " + std::to_string(capacity_positive) + " and " +
                         std::to_string(capacity_negative) + " are smaller than the " + std::to_string(x.pos.size()) +
                         " and " + std::to_string(x.neg.size()) + " indices needed");
        if (!x.pos.empty()) rai::require_not_null(positive, "positive");
        if (!x.neg.empty()) rai::require_not_null(negative, "negative");
        if (!x.pos.empty()) std::memcpy(positive, x.pos.data(), x.pos.size() * sizeof(uint64_t));
        if (!x.neg.empty()) std::memcpy(negative, x.neg.data(), x.neg.size() * sizeof(uint64_t));
    });
}

rai_status rai_svec_get(const rai_svec *s, size_t index, int8_t *out) {
    return guarded([&] {
        const int8_t t = tern::svec_get(deref(s, "s"), index);
        *out_ptr(out, "out") = t;
    });
}

rai_status rai_svec_set(rai_svec *s, size_t index, int8_t value) {
    return guarded([&] { tern::svec_set(deref(s, "s"), index, value); });
}

rai_status rai_svec_nnz(const rai_svec *s, size_t *out) {
    return guarded([&] {
        const rai_svec &x = deref(s, "s");
        *out_ptr(out, "out") = x.pos.size() + x.neg.size();
    });
}

rai_status rai_svec_memory_bytes(const rai_svec *s, size_t *out) {
    return guarded([&] { *out_ptr(out, "out") = tern::svec_memory_bytes(deref(s, "s")); });
}

rai_status rai_svec_from_tvec(const rai_tvec *v, rai_svec *out) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        rai_svec &o = deref(out, "out");
        tern::check_same_dim(x, "v", o.dim, "out");
        tern::svec_from_tvec(x, o);
    });
}

rai_status rai_svec_to_tvec(const rai_svec *s, rai_tvec *out) {
    return guarded([&] {
        const rai_svec &x = deref(s, "s");
        rai_tvec &o = deref(out, "out");
        tern::check_same_dim(o, "out", x.dim, "s");
        tern::svec_to_tvec(x, o);
    });
}


rai_status rai_svec_dot(const rai_svec *a, const rai_svec *b, int64_t *out) {
    return guarded([&] {
        const rai_svec &x = deref(a, "a"), &y = deref(b, "b");
        sparse_dims(x, y);
        *out_ptr(out, "out") = tern::svec_dot(x, y);
    });
}

rai_status rai_svec_dot_tvec(const rai_svec *a, const rai_tvec *b, int64_t *out) {
    return guarded([&] {
        const rai_svec &x = deref(a, "a");
        const rai_tvec &y = deref(b, "b");
        tern::check_same_dim(y, "b", x.dim, "a");
        *out_ptr(out, "out") = tern::svec_dot_tvec(x, y);
    });
}

rai_status rai_svec_cosine(const rai_svec *a, const rai_svec *b, float *out) {
    return guarded([&] {
        const rai_svec &x = deref(a, "a"), &y = deref(b, "b");
        sparse_dims(x, y);
        *out_ptr(out, "out") = tern::svec_cosine(x, y);
    });
}

rai_status rai_svec_cosine_tvec(const rai_svec *a, const rai_tvec *b, float *out) {
    return guarded([&] {
        const rai_svec &x = deref(a, "a");
        const rai_tvec &y = deref(b, "b");
        tern::check_same_dim(y, "b", x.dim, "a");
        *out_ptr(out, "out") = tern::svec_cosine_tvec(x, y);
    });
}

/* ---- VSA */


rai_status rai_vsa_bind(const rai_tvec *a, const rai_tvec *b, int32_t mode, rai_tvec *out) {
    return bind_common(a, "a", b, mode, out, false);
}

rai_status rai_vsa_unbind(const rai_tvec *c, const rai_tvec *b, int32_t mode, rai_tvec *out) {
    return bind_common(c, "c", b, mode, out, true);
}

rai_status rai_vsa_bind_many(const rai_tvec *const *vectors, size_t count, int32_t mode, rai_tvec *out) {
    return guarded([&] {
        tern::check_bind_mode(mode, "mode");
        const rai_tvec *first = nullptr;
        const std::vector<const tern::u64 *> rows = vector_rows(vectors, count, &first);
        rai_tvec &o = deref(out, "out");
        tern::check_same_dim(o, "out", first->dim, "vectors[0]");
        // Fold into a temporary so that out may be any of the inputs.
        tern::Words acc = first->words.clone();
        const tern::Kernels &k = tern::kernels();
        for (size_t i = 1; i < count; ++i) k.binary(tern::bind_op(mode, false), acc.data(), rows[i], acc.data(), first->wpad);
        if (first->wpad != 0) std::memcpy(o.row(), acc.data(), 2 * first->wpad * sizeof(tern::u64));
    });
}

rai_status rai_bundle_params_init_sized(rai_bundle_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kBundleParamsV1, "params"); });
}

rai_status rai_vsa_bundle(const rai_tvec *const *vectors, const int32_t *weights, size_t count,
                          const rai_bundle_params *params, rai_tvec *out) {
    return guarded([&] {
        const tern::BundleOptions opt = read_bundle(params);
        const rai_tvec *first = nullptr;
        const std::vector<const tern::u64 *> rows = vector_rows(vectors, count, &first);
        rai_tvec &o = deref(out, "out");
        tern::check_same_dim(o, "out", first->dim, "vectors[0]");
        tern::check_weights(weights, count);
        tern::bundle_rows(rows.data(), weights, count, first->dim, first->wpad, opt, o.row());
    });
}

rai_status rai_vsa_bundle_counts(const rai_tvec *const *vectors, const int32_t *weights, size_t count,
                                 int32_t *counts, size_t capacity, size_t *out_count) {
    return guarded([&] {
        const rai_tvec *first = nullptr;
        const std::vector<const tern::u64 *> rows = vector_rows(vectors, count, &first);
        tern::check_weights(weights, count);
        check_capacity(first->dim, capacity, out_count, counts, "counts", "counts");
        tern::bundle_counts(rows.data(), weights, count, first->dim, first->wpad, counts);
    });
}

rai_status rai_vsa_accumulate(const rai_tvec *v, int32_t weight, int32_t *counts, size_t count) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        RAI_CHECK(count == x.dim, RAI_ERROR_SHAPE_MISMATCH,
                     "count " + std::to_string(count) + " differs from v's dimension " + std::to_string(x.dim));
        if (count != 0) rai::require_not_null(counts, "counts");
        tern::accumulate_counts(x, weight, counts);
    });
}

rai_status rai_vsa_threshold(const int32_t *counts, size_t count, int32_t threshold, rai_tvec *out) {
    return guarded([&] {
        rai_tvec &o = deref(out, "out");
        RAI_CHECK(count == o.dim, RAI_ERROR_SHAPE_MISMATCH,
                     "count " + std::to_string(count) + " differs from out's dimension " + std::to_string(o.dim));
        if (count != 0) rai::require_not_null(counts, "counts");
        RAI_CHECK(threshold >= 0, RAI_ERROR_INVALID_ARGUMENT,
                     "threshold is " + std::to_string(threshold) + ", it must be >= 0");
        tern::threshold_counts(counts, count, threshold, o);
    });
}

rai_status rai_vsa_permute(const rai_tvec *v, int64_t shift, rai_tvec *out) {
    return guarded([&] {
        const rai_tvec &x = deref(v, "v");
        rai_tvec &o = deref(out, "out");
        same_dim(x, "v", o, "out");
        if (&o != &x) {
            tern::permute_row(x.row(), o.row(), x.dim, x.wpad, shift);
            return;
        }
        tern::Words tmp(2 * x.wpad);  // in place: through a temporary
        tern::permute_row(x.row(), tmp.data(), x.dim, x.wpad, shift);
        o.words = std::move(tmp);
    });
}

rai_status rai_vsa_dot(const rai_tvec *a, const rai_tvec *b, int64_t *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        same_dim(x, "a", y, "b");
        *out_ptr(out, "out") = tern::vsa_dot(x, y);
    });
}

rai_status rai_vsa_cosine(const rai_tvec *a, const rai_tvec *b, float *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        same_dim(x, "a", y, "b");
        *out_ptr(out, "out") = tern::vsa_cosine(x, y);
    });
}

rai_status rai_vsa_hamming_distance(const rai_tvec *a, const rai_tvec *b, size_t *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        same_dim(x, "a", y, "b");
        *out_ptr(out, "out") = tern::vsa_hamming(x, y);
    });
}

rai_status rai_vsa_hamming_similarity(const rai_tvec *a, const rai_tvec *b, float *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        same_dim(x, "a", y, "b");
        *out_ptr(out, "out") = tern::hamming_similarity_from(tern::vsa_hamming(x, y), x.dim);
    });
}

rai_status rai_vsa_equal_count(const rai_tvec *a, const rai_tvec *b, size_t *out) {
    return guarded([&] {
        const rai_tvec &x = deref(a, "a"), &y = deref(b, "b");
        same_dim(x, "a", y, "b");
        *out_ptr(out, "out") = x.dim - tern::vsa_hamming(x, y);
    });
}

rai_status rai_random_params_init_sized(rai_random_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kRandomParamsV1, "params"); });
}

rai_status rai_vsa_random(const rai_random_params *params, rai_tvec *out) {
    return guarded([&] {
        const tern::RandomSpec spec = read_random(params);
        rai_tvec &o = deref(out, "out");
        tern::random_fill(spec, spec.seed, o.plus(), o.minus(), o.dim);
    });
}

const char *rai_vsa_cpu_backend(void) { return tern::kernels().name; }

/* ---- item memory */

rai_status rai_vsa_matrix_create(rai_context *ctx, size_t rows, size_t dim, rai_vsa_matrix **out) {
    return create_locked(ctx, out, [&](rai_context &c) { return tern::matrix_create(c, rows, dim); });
}

void rai_vsa_matrix_destroy(rai_vsa_matrix *m) { tern::matrix_destroy(m); }

rai_status rai_vsa_matrix_shape(const rai_vsa_matrix *m, size_t *out_rows, size_t *out_dim) {
    return guarded([&] {
        const rai_vsa_matrix &x = deref(m, "m");
        rai::require_not_null(out_rows, "out_rows");
        rai::require_not_null(out_dim, "out_dim");
        *out_rows = x.rows;
        *out_dim = x.dim;
    });
}


rai_status rai_vsa_matrix_set_row(rai_context *ctx, rai_vsa_matrix *m, size_t row, const rai_tvec *v) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::matrix_set_row(c, matrix_arg(c, m, "m"), row, deref(v, "v"));
    });
}

rai_status rai_vsa_matrix_get_row(rai_context *ctx, const rai_vsa_matrix *m, size_t row, rai_tvec *out) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::matrix_get_row(c, matrix_arg(c, m, "m"), row, deref(out, "out"));
    });
}

rai_status rai_vsa_matrix_write_int8(rai_context *ctx, rai_vsa_matrix *m, size_t row_offset, const rai_tensor *src) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::matrix_write_int8(c, matrix_arg(c, m, "m"), row_offset, src);
    });
}

rai_status rai_vsa_matrix_read_int8(rai_context *ctx, const rai_vsa_matrix *m, size_t row_offset, rai_tensor *dst) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::matrix_read_int8(c, matrix_arg(c, m, "m"), row_offset, dst);
    });
}

rai_status rai_vsa_matrix_random(rai_context *ctx, rai_vsa_matrix *m, const rai_random_params *params) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        rai_vsa_matrix &x = matrix_arg(c, m, "m");
        tern::matrix_random(c, x, read_random(params));
    });
}


rai_status rai_vsa_matrix_bind(rai_context *ctx, const rai_vsa_matrix *a, const rai_vsa_matrix *b, int32_t mode,
                               rai_vsa_matrix *out) {
    return matrix_bind_common(ctx, a, "a", b, mode, out, false);
}

rai_status rai_vsa_matrix_unbind(rai_context *ctx, const rai_vsa_matrix *c, const rai_vsa_matrix *b, int32_t mode,
                                 rai_vsa_matrix *out) {
    return matrix_bind_common(ctx, c, "c", b, mode, out, true);
}

rai_status rai_vsa_matrix_permute(rai_context *ctx, const rai_vsa_matrix *m, int64_t shift, rai_vsa_matrix *out) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::matrix_permute(c, matrix_arg(c, m, "m"), shift, matrix_arg(c, out, "out"));
    });
}

rai_status rai_vsa_matrix_bundle(rai_context *ctx, const rai_vsa_matrix *m, const int32_t *weights,
                                 const rai_bundle_params *params, rai_vsa_matrix *out) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        const tern::BundleOptions opt = read_bundle(params);
        tern::matrix_bundle(c, matrix_arg(c, m, "m"), weights, opt, matrix_arg(c, out, "out"));
    });
}

rai_status rai_vsa_similarity_matrix(rai_context *ctx, const rai_vsa_matrix *queries, const rai_vsa_matrix *items,
                                     int32_t metric, rai_tensor *out) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::similarity_matrix(c, matrix_arg(c, queries, "queries"), matrix_arg(c, items, "items"), metric, out);
    });
}

rai_status rai_vsa_topk(rai_context *ctx, const rai_vsa_matrix *queries, const rai_vsa_matrix *items, size_t k,
                        int32_t metric, rai_tensor *out_index, rai_tensor *out_score) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        tern::topk(c, matrix_arg(c, queries, "queries"), matrix_arg(c, items, "items"), k, metric, out_index,
                   out_score);
    });
}

}  // extern "C"
