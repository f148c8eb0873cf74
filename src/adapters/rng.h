// Counter-based random numbers for adapter init and dropout masks: value = f(key, index), so a
// backward pass regenerates its forward's dropout mask, and the CPU and CUDA paths agree.
#pragma once
#include <cmath>
#include <cstdint>

#include "../core/host_device.h"

namespace rai::adapters {

RAI_HD uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
RAI_HD uint64_t mix_key(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b + 0x632BE59BD9B4E019ull)); }
// Uniform in [0, 1) with 24 random bits.
RAI_HD float rand01(uint64_t key, uint64_t index) {
    return static_cast<float>(splitmix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40) * (1.0f / 16777216.0f);
}
// Dropout keeps an element when its uniform draw is >= p (probability 1 - p).
RAI_HD bool dropout_keep(uint64_t key, uint64_t index, float p) { return rand01(key, index) >= p; }
// The key of the functional API's dropout stream for (seed, step).
RAI_HD uint64_t dropout_key(uint64_t seed, uint64_t step) { return mix_key(seed, step); }

}  // namespace rai::adapters
