// CPU feature detection and the one run-time dispatch mechanism every CPU kernel uses.
//
// A kernel family lists its variants best-first, each with the RAI_CPU_* bits it needs; the
// last variant is the scalar reference with no requirement. select_variant() picks the first
// whose requirements are all in rai_cpu_features() (detected & the global mask), so tests and
// benchmarks can force any backend with rai_cpu_set_feature_mask().
#pragma once
#include <cstddef>
#include <cstdint>

#include "rai.h"

namespace rai::cpu {

uint64_t detected();
uint64_t usable();  // detected() & mask
void set_mask(uint64_t mask);

// Feature sets that define the kernel levels.
constexpr uint64_t kAvx2Level = RAI_CPU_AVX2 | RAI_CPU_FMA | RAI_CPU_POPCNT;
constexpr uint64_t kAvx512Level = kAvx2Level | RAI_CPU_AVX512F | RAI_CPU_AVX512BW | RAI_CPU_AVX512VL;

const char *level_name(uint64_t features);
const char *feature_name(uint64_t bit);

template <class Fn>
struct Variant {
    uint64_t required;
    const char *name;
    Fn fn;
};

template <class Fn, std::size_t N>
const Variant<Fn> &select_variant(const Variant<Fn> (&variants)[N]) {
    static_assert(N > 0, "a kernel family needs at least the scalar variant");
    const uint64_t have = usable();
    for (std::size_t i = 0; i + 1 < N; ++i)
        if ((variants[i].required & have) == variants[i].required) return variants[i];
    return variants[N - 1];
}

}  // namespace rai::cpu
