// Random hypervectors. Three generators. TRITVSA_XS64 and COUNTER produce one 64-bit value r_i per
// trit index i:
//
//  TRITVSA_XS64 (default): bit-exact with trit-vsa's CpuBackend::random. state = seed; for each i:
//    s = state + i * 0x9E3779B97F4A7C15; s ^= s << 13; s ^= s >> 7; s ^= s << 17; r_i = s;
//    state += s (all wrapping). Sequential.
//  COUNTER: r_i = mix64(mix64(seed) + (i + 1) * 0x9E3779B97F4A7C15), mix64 the SplitMix64
//    finaliser; i.e. output i of SplitMix64 started from mix64(seed). Any index is computed on its
//    own, so CPU and GPU produce identical vectors in parallel.
//
// Trits from r_i: DENSE: r mod 3 (0 -> -1, 1 -> 0, 2 -> +1). BIPOLAR: bit 63 (1 -> +1, 0 -> -1).
// SPARSE(density): non-zero iff (r >> 11) < round(density * 2^53), then bit 0 gives the sign
// (1 -> +1, 0 -> -1).
//
//  TRITTER_CHACHA8: bit-exact with tritter-accel's VsaOps::random (cpu_random): one u32 of
//    rand_chacha's ChaCha8Rng::seed_from_u64(seed) per trit, tritter's thresholds (chacha8.h).
//    DENSE only: tritter has no bipolar or sparse draw, and rai does not invent one
//    (INVALID_ARGUMENT naming params->distribution). Counter-based by block, so rows and words
//    are computed independently.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rai.h"
#include "words.h"

namespace rai::ternary {

enum Generator : int32_t { kRngTritvsaXs64 = 0, kRngCounter = 1, kRngTritterChacha8 = 2 };
enum Distribution : int32_t { kDistDense = 0, kDistBipolar = 1, kDistSparse = 2 };

struct RandomSpec {
    int32_t generator = kRngTritvsaXs64;
    int32_t distribution = kDistDense;
    uint64_t seed = 0;
    uint64_t sparse_threshold = 0;  // round(density * 2^53)
};

// Validates the fields of rai_random_params (INVALID_ARGUMENT naming params->field).
RandomSpec random_spec(int32_t generator, int32_t distribution, uint64_t seed, double density);

inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
// The COUNTER generator's value for index i.
inline uint64_t counter_u64(uint64_t seed, uint64_t i) { return mix64(mix64(seed) + (i + 1) * 0x9E3779B97F4A7C15ULL); }

// Fills one row (plus, minus: words_for(dim) words each; padding left zero) with `seed`.
void random_fill(const RandomSpec &spec, uint64_t seed, u64 *plus, u64 *minus, std::size_t dim);

}  // namespace rai::ternary
