// Counter-based randomness for the training benchmarks: every value is a pure function of its
// key, so a sample, an initial weight or a corpus window never depends on the order in which
// the program asked for it (runs are reproducible bit for bit, arms share identical data).
#pragma once
#include <cmath>
#include <cstdint>

namespace bench_task {

// splitmix64's finaliser.
inline uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
// Uniform in (0, 1), never 0 (safe for log).
inline double unit(uint64_t key) { return (static_cast<double>(mix(key) >> 11) + 0.5) * 0x1.0p-53; }
// Standard normal (Box-Muller on two derived keys).
inline float gauss(uint64_t key) {
    const double u1 = unit(key * 2 + 1), u2 = unit(key * 2 + 2);
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}
inline uint64_t key(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    return mix(mix(mix(a) ^ b) ^ c) * 1315423911ull + d;
}

}  // namespace bench_task
