#include "rng.h"

#include <cmath>
#include <string>

#include "chacha8.h"
#include "error.h"

namespace rai::ternary {

RandomSpec random_spec(int32_t generator, int32_t distribution, uint64_t seed, double density) {
    RAI_CHECK(generator >= kRngTritvsaXs64 && generator <= kRngTritterChacha8, RAI_ERROR_INVALID_ARGUMENT,
            "params->generator " + std::to_string(generator) + " is not a rai_vsa_rng");
    RAI_CHECK(distribution >= kDistDense && distribution <= kDistSparse, RAI_ERROR_INVALID_ARGUMENT,
            "params->distribution " + std::to_string(distribution) + " is not a rai_vsa_distribution");
    RAI_CHECK(generator != kRngTritterChacha8 || distribution == kDistDense, RAI_ERROR_INVALID_ARGUMENT,
            "params->distribution " + std::to_string(distribution) +
                    ": RAI_VSA_RNG_TRITTER_CHACHA8 draws only RAI_VSA_DENSE (tritter-accel has no other)");
    RandomSpec s;
    s.generator = generator;
    s.distribution = distribution;
    s.seed = seed;
    if (distribution == kDistSparse) {
        RAI_CHECK(density > 0.0 && density <= 1.0, RAI_ERROR_INVALID_ARGUMENT,
                "params->density is " + std::to_string(density) + ", RAI_VSA_SPARSE needs a density in (0, 1]");
        s.sparse_threshold = static_cast<uint64_t>(std::llround(std::ldexp(density, 53)));
    }
    return s;
}

namespace {
template <class Next>
void fill(const RandomSpec &spec, Next next, u64 *plus, u64 *minus, std::size_t dim) {
    for (std::size_t w = 0; w * 64 < dim; ++w) {
        const std::size_t n = dim - w * 64 < 64 ? dim - w * 64 : 64;
        u64 p = 0, m = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const uint64_t r = next(w * 64 + j);
            int t;
            if (spec.distribution == kDistDense) {
                const uint64_t c = r % 3;
                t = c == 0 ? -1 : (c == 1 ? 0 : 1);
            } else if (spec.distribution == kDistBipolar) {
                t = (r >> 63) ? 1 : -1;
            } else {
                t = (r >> 11) < spec.sparse_threshold ? ((r & 1) ? 1 : -1) : 0;
            }
            p |= static_cast<u64>(t == 1) << j;
            m |= static_cast<u64>(t == -1) << j;
        }
        plus[w] = p;
        minus[w] = m;
    }
}
}  // namespace

void random_fill(const RandomSpec &spec, uint64_t seed, u64 *plus, u64 *minus, std::size_t dim) {
    if (spec.generator == kRngTritterChacha8) {
        const chacha8::Key key = chacha8::key_from_u64(seed);
        for (std::size_t w = 0; w * 64 < dim; ++w) {
            const int n = dim - w * 64 < 64 ? static_cast<int>(dim - w * 64) : 64;
            chacha8::planes_word(key, w, n, plus[w], minus[w]);
        }
    } else if (spec.generator == kRngCounter) {
        const uint64_t base = mix64(seed);
        fill(spec, [base](uint64_t i) { return mix64(base + (i + 1) * 0x9E3779B97F4A7C15ULL); }, plus, minus, dim);
    } else {
        uint64_t state = seed;
        fill(spec,
             [&state](uint64_t i) {
                 uint64_t s = state + i * 0x9E3779B97F4A7C15ULL;
                 s ^= s << 13;
                 s ^= s >> 7;
                 s ^= s << 17;
                 state += s;
                 return s;
             },
             plus, minus, dim);
    }
}

}  // namespace rai::ternary
