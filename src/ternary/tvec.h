// rai_tvec: a dense packed trit vector (two bit-planes, words.h layout) on the host, and the
// operations that only read or write one vector: import/export, get/set, counts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "rai.h"
#include "words.h"

struct rai_tvec {
    std::size_t dim = 0;
    std::size_t wpad = 0;     // words per plane, a multiple of kBlockWords
    rai::ternary::Words words;  // 2 * wpad words: plus plane, then minus plane

    rai::ternary::u64 *plus() { return words.data(); }
    rai::ternary::u64 *minus() { return words.data() + wpad; }
    const rai::ternary::u64 *plus() const { return words.data(); }
    const rai::ternary::u64 *minus() const { return words.data() + wpad; }
    const rai::ternary::u64 *row() const { return words.data(); }
    rai::ternary::u64 *row() { return words.data(); }
};

namespace rai::ternary {

rai_tvec *tvec_create(std::size_t dim);
rai_tvec *tvec_clone(const rai_tvec &v);

// Throws SHAPE_MISMATCH "<name>: dimension X differs from <ref_name>'s dimension Y".
void check_same_dim(const rai_tvec &v, const char *name, std::size_t dim, const char *ref_name);

// Packs `count` == v.dim int8 trits; INVALID_ARGUMENT naming values[i] for a value outside
// {-1, 0, 1}, and v is left unchanged.
void tvec_import_int8(rai_tvec &v, const int8_t *values, std::size_t count, const char *name);
void tvec_export_int8(const rai_tvec &v, int8_t *out);
// Packs one row of int8 trits into plus/minus planes (no validation: values are in {-1, 0, 1}).
void pack_int8_row(const int8_t *values, std::ptrdiff_t stride, std::size_t dim, u64 *plus, u64 *minus);
// First index whose value is outside {-1, 0, 1}, or dim.
std::size_t find_invalid_int8(const int8_t *values, std::ptrdiff_t stride, std::size_t dim);
void unpack_int8_row(const u64 *plus, const u64 *minus, std::size_t dim, int8_t *out, std::ptrdiff_t stride);

// Planes as u32 (trit-vsa serde format, ceil(dim/32) words) or u64 (ceil(dim/64) words).
// Import checks the word count (SHAPE_MISMATCH), disjoint planes and zero padding
// (INVALID_ARGUMENT); v is left unchanged on error.
void tvec_import_planes_u32(rai_tvec &v, const uint32_t *plus, const uint32_t *minus, std::size_t words);
void tvec_import_planes_u64(rai_tvec &v, const uint64_t *plus, const uint64_t *minus, std::size_t words);
void tvec_export_planes_u32(const rai_tvec &v, uint32_t *plus, uint32_t *minus);
void tvec_export_planes_u64(const rai_tvec &v, uint64_t *plus, uint64_t *minus);

int8_t tvec_get(const rai_tvec &v, std::size_t index);
void tvec_set(rai_tvec &v, std::size_t index, int8_t value);
void check_index(std::size_t index, std::size_t dim, const char *name);

std::size_t tvec_count_positive(const rai_tvec &v);
std::size_t tvec_count_negative(const rai_tvec &v);
int64_t tvec_sum(const rai_tvec &v);
double tvec_sparsity(const rai_tvec &v);
void tvec_negate(const rai_tvec &v, rai_tvec &out);
bool tvec_equal(const rai_tvec &a, const rai_tvec &b);

}  // namespace rai::ternary
