// VSA operations on packed rows: bind/unbind, bind_many, bundle (majority, weights, seeded
// tie-break), integer counts and thresholding, cyclic permutation. The row-level functions take
// words.h rows (plus plane then minus plane, wpad words each) so that rai_tvec and
// rai_vsa_matrix share them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tvec.h"
#include "words.h"

namespace rai::ternary {

enum BindMode : int32_t { kBindMod3 = 0, kBindMul = 1 };
enum TieBreak : int32_t { kTieZero = 0, kTieRandom = 1 };

void check_bind_mode(int32_t mode, const char *name);
// The kernel op for bind (or unbind) in `mode`.
int bind_op(int32_t mode, bool unbind);

struct BundleOptions {
    int32_t tie_break = kTieZero;
    uint64_t seed = 0;
};
// Validates rai_bundle_params fields.
BundleOptions bundle_options(int32_t tie_break, uint64_t seed);
// Checks that sum |weights| fits in int32 (OUT_OF_RANGE naming `weights`), NULL = all ones.
void check_weights(const int32_t *weights, std::size_t n);

// Majority of n >= 1 rows into out (which may be one of the rows): sign of sum w_i * v_i, ties
// -> 0, or with kTieRandom a tie among non-zero voters -> +1/-1 from the COUNTER generator
// (bit 63 of counter_u64(seed, index)). weights NULL = all ones.
void bundle_rows(const u64 *const *rows, const int32_t *weights, std::size_t n, std::size_t dim, std::size_t wpad,
                 const BundleOptions &opt, u64 *out);

// counts[i] = sum_k w_k * v_k[i] (weights NULL = ones).
void bundle_counts(const u64 *const *rows, const int32_t *weights, std::size_t n, std::size_t dim, std::size_t wpad,
                   int32_t *counts);
// counts[i] += weight * v[i]; OUT_OF_RANGE (counts untouched) if any result leaves int32.
void accumulate_counts(const rai_tvec &v, int32_t weight, int32_t *counts);
// out[i] = +1 if counts[i] > t, -1 if counts[i] < -t, else 0 (t >= 0).
void threshold_counts(const int32_t *counts, std::size_t dim, int32_t threshold, rai_tvec &out);

// dst = src rolled by shift (element i moves to (i + shift) mod dim); dst must not be src.
void permute_row(const u64 *src, u64 *dst, std::size_t dim, std::size_t wpad, int64_t shift);

}  // namespace rai::ternary
