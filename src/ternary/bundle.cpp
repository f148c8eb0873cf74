// Bundling (majority vote) and integer count accumulation.
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "error.h"
#include "kernels.h"
#include "rng.h"
#include "vsa.h"
#include "error.h"

namespace rai::ternary {

BundleOptions bundle_options(int32_t tie_break, uint64_t seed) {
    RAI_CHECK(tie_break == kTieZero || tie_break == kTieRandom, RAI_ERROR_INVALID_ARGUMENT,
            "params->tie_break " + std::to_string(tie_break) + " is not a rai_vsa_tie_break");
    BundleOptions o;
    o.tie_break = tie_break;
    o.seed = seed;
    return o;
}

void check_weights(const int32_t *weights, std::size_t n) {
    if (weights == nullptr) {
        RAI_CHECK(n <= static_cast<std::size_t>(std::numeric_limits<int32_t>::max()), RAI_ERROR_OUT_OF_RANGE,
                "count " + std::to_string(n) + ": the vote count does not fit in int32");
        return;
    }
    int64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        total += std::llabs(static_cast<int64_t>(weights[i]));
        RAI_CHECK(total <= std::numeric_limits<int32_t>::max(), RAI_ERROR_OUT_OF_RANGE,
                "weights: the sum of |weights| exceeds the int32 range of the counts");
    }
}

namespace {
// counts[i] += w * v[i] for one row (no overflow check).
void add_row(const u64 *row, std::size_t dim, std::size_t wpad, int32_t w, int32_t *counts) {
    const u64 *plus = row, *minus = row + wpad;
    for (std::size_t word = 0; word * 64 < dim; ++word) {
        const std::size_t n = dim - word * 64 < 64 ? dim - word * 64 : 64;
        const u64 p = plus[word], m = minus[word];
        int32_t *c = counts + word * 64;
        for (std::size_t j = 0; j < n; ++j)
            c[j] += w * (static_cast<int32_t>((p >> j) & 1u) - static_cast<int32_t>((m >> j) & 1u));
    }
}

// Ties among voters -> +1 / -1 from the counter generator, per index.
void break_ties(const u64 *ties, std::size_t wpad, uint64_t seed, u64 *out) {
    for (std::size_t w = 0; w < wpad; ++w) {
        for (u64 t = ties[w]; t != 0; t &= t - 1) {
            const unsigned j = static_cast<unsigned>(__builtin_ctzll(t));
            const u64 bit = u64{1} << j;
            if (counter_u64(seed, w * 64 + j) >> 63) out[w] |= bit;
            else out[wpad + w] |= bit;
        }
    }
}
}  // namespace

void bundle_counts(const u64 *const *rows, const int32_t *weights, std::size_t n, std::size_t dim, std::size_t wpad,
                   int32_t *counts) {
    for (std::size_t i = 0; i < dim; ++i) counts[i] = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const int32_t w = weights ? weights[k] : 1;
        if (w != 0) add_row(rows[k], dim, wpad, w, counts);
    }
}

void bundle_rows(const u64 *const *rows, const int32_t *weights, std::size_t n, std::size_t dim, std::size_t wpad,
                 const BundleOptions &opt, u64 *out) {
    const Kernels &k = kernels();
    const bool random_ties = opt.tie_break == kTieRandom;
    if (weights == nullptr) {
        if (n == 2 && !random_ties) {
            k.binary(kOpAddClamped, rows[0], rows[1], out, wpad);
            return;
        }
        Words ties(random_ties ? wpad : 0);
        k.bundle(rows, n, out, random_ties ? ties.data() : nullptr, wpad);
        if (random_ties) break_ties(ties.data(), wpad, opt.seed, out);
        return;
    }
    // Weighted: exact int32 sums, then the sign; zero-weight rows abstain.
    std::vector<int32_t> counts(dim);
    bundle_counts(rows, weights, n, dim, wpad, counts.data());
    Words voters(wpad);
    for (std::size_t r = 0; r < n; ++r)
        if (weights[r] != 0)
            for (std::size_t w = 0; w < wpad; ++w) voters.data()[w] |= rows[r][w] | rows[r][wpad + w];
    Words ties(wpad);
    for (std::size_t w = 0; w < wpad; ++w) {
        u64 p = 0, m = 0, t = 0;
        for (std::size_t j = 0; j < 64 && w * 64 + j < dim; ++j) {
            const int32_t c = counts[w * 64 + j];
            p |= static_cast<u64>(c > 0) << j;
            m |= static_cast<u64>(c < 0) << j;
            t |= static_cast<u64>(c == 0) << j;
        }
        out[w] = p;
        out[wpad + w] = m;
        ties.data()[w] = t & voters.data()[w];
    }
    if (random_ties) break_ties(ties.data(), wpad, opt.seed, out);
}

void accumulate_counts(const rai_tvec &v, int32_t weight, int32_t *counts) {
    for (std::size_t i = 0; i < v.dim; ++i) {
        const u64 bit = u64{1} << (i % 64);
        const int64_t t = ((v.plus()[i / 64] & bit) != 0) - ((v.minus()[i / 64] & bit) != 0);
        const int64_t r = static_cast<int64_t>(counts[i]) + t * weight;
        RAI_CHECK(r >= std::numeric_limits<int32_t>::min() && r <= std::numeric_limits<int32_t>::max(),
                RAI_ERROR_OUT_OF_RANGE,
                "counts[" + std::to_string(i) + "] would leave the int32 range (nothing was added)");
    }
    add_row(v.row(), v.dim, v.wpad, weight, counts);
}

void threshold_counts(const int32_t *counts, std::size_t dim, int32_t threshold, rai_tvec &out) {
    for (std::size_t w = 0; w * 64 < dim; ++w) {
        u64 p = 0, m = 0;
        for (std::size_t j = 0; j < 64 && w * 64 + j < dim; ++j) {
            const int32_t c = counts[w * 64 + j];
            p |= static_cast<u64>(c > threshold) << j;
            m |= static_cast<u64>(c < -threshold) << j;
        }
        out.plus()[w] = p;
        out.minus()[w] = m;
    }
}

}  // namespace rai::ternary
