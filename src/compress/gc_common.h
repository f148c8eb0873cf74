// Gradient compression: helpers shared by the CPU code (src/compress) and the CUDA kernels
// (cuda/compress), so both draw the same random numbers and pack the same bits.
//
// Random numbers come from a counter-based generator (SplitMix64 finaliser): the value for
// (key, counter) is a pure function, so element i of a stochastic rounding or a projection row
// can be generated on any thread, on the CPU or the GPU, without state and without storing a
// matrix. Keys are derived from (seed, tensor id, step, purpose).
#pragma once
#include <stdint.h>
#include <string.h>

#include "../core/half.h"
#include "../core/host_device.h"

namespace rai {
namespace gc {

RAI_HD uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The counter-based generator: 64 random bits for (key, counter).
RAI_HD uint64_t rng_u64(uint64_t key, uint64_t counter) { return mix64(key ^ mix64(counter)); }

// Uniform in [0, 1) with 24 random bits (exactly representable in f32).
RAI_HD float rng_uniform(uint64_t key, uint64_t counter) {
    return static_cast<float>(rng_u64(key, counter) >> 40) * (1.0f / 16777216.0f);
}

// Purposes of random streams, part of the key.
enum RngPurpose : uint64_t {
    kRngTernaryStoch = 1,
    kRngQsgd = 2,
    kRngPowerSgdInit = 3,
    kRngVsaProjection = 4,
    kRngVsaKey = 5,
};

RAI_HD uint64_t stream_key(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b) {
    return mix64(seed ^ mix64(purpose ^ mix64(a ^ mix64(b))));
}

// Momentum correction's velocity update u' = mu*u + g, rounded the same on the CPU and the GPU:
// a product then a sum, never fused into an FMA.
RAI_HD float momentum_step(float mu, float u, float g) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(__fmul_rn(mu, u), g);
#else
    // librai's host code targets the baseline x86-64 ISA, which has no FMA to contract into.
    const float p = mu * u;
    return p + g;
#endif
}

// bf16 <-> f32 are core's (half.h).
using half::bf16_to_f32;
using half::f32_to_bf16;

// 2-bit trit codes used by TERNARY, TERNARY_STOCH, the sign vote and VSA_COMPAT.
constexpr uint8_t kTritZero = 0, kTritPlus = 1, kTritMinus = 2;
RAI_HD float trit_value(uint32_t code) { return code == kTritPlus ? 1.0f : (code == kTritMinus ? -1.0f : 0.0f); }

// Sort key for top-k: |x| as an unsigned integer that orders like the magnitude; NaN counts as
// the largest magnitude. Ties are broken by the smaller index (CPU and GPU alike).
RAI_HD uint32_t magnitude_key(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u &= 0x7fffffffu;
    return u > 0x7f800000u ? 0x7f800000u : u;
}

// QSGD: element i is stochastically rounded to one of `levels` magnitudes of its bucket's
// max |x|. Code = sign bit (top bit of the field) | magnitude level.
RAI_HD uint32_t qsgd_code(float x, float scale, uint32_t levels, uint32_t width, float u) {
    if (!(scale > 0.0f)) return 0;
    float a = x < 0 ? -x : x;
    float r = a / scale * static_cast<float>(levels);
    if (!(r <= static_cast<float>(levels))) r = static_cast<float>(levels);  // also NaN
    uint32_t lo = static_cast<uint32_t>(r);
    if (lo > levels) lo = levels;
    const float frac = r - static_cast<float>(lo);
    uint32_t level = (u < frac && lo < levels) ? lo + 1 : lo;
    if (level == 0) return 0;
    return level | (x < 0 ? (1u << (width - 1)) : 0u);
}
RAI_HD float qsgd_value(uint32_t code, float scale, uint32_t levels, uint32_t width) {
    const uint32_t sign = 1u << (width - 1);
    const float v = scale * static_cast<float>(code & (sign - 1)) / static_cast<float>(levels);
    return (code & sign) ? -v : v;
}

}  // namespace gc
}  // namespace rai
