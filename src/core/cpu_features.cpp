#include "cpu_features.h"

#include <atomic>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define RAI_X86 1
#endif

namespace rai::cpu {

namespace {

#ifdef RAI_X86
uint64_t xgetbv0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

uint64_t detect() {
    uint64_t f = 0;
#ifdef RAI_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_POPCNT) f |= RAI_CPU_POPCNT;
    const bool osxsave = (c & bit_OSXSAVE) != 0;
    const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm_os = (xcr0 & 0x6) == 0x6;           // SSE + AVX state
    const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; // opmask + ZMM state
    const bool fma = (c & bit_FMA) != 0, f16c = (c & bit_F16C) != 0;
    if (ymm_os && fma) f |= RAI_CPU_FMA;
    if (ymm_os && f16c) f |= RAI_CPU_F16C;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (ymm_os && (b & bit_AVX2)) f |= RAI_CPU_AVX2;
        if (zmm_os) {
            if (b & bit_AVX512F) f |= RAI_CPU_AVX512F;
            if (b & bit_AVX512BW) f |= RAI_CPU_AVX512BW;
            if (b & bit_AVX512VL) f |= RAI_CPU_AVX512VL;
            if (c & bit_AVX512VNNI) f |= RAI_CPU_AVX512VNNI;
            if (c & bit_AVX512VPOPCNTDQ) f |= RAI_CPU_AVX512VPOPCNTDQ;
        }
        unsigned a1, b1, c1, d1;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
            if (ymm_os && (a1 & (1u << 4))) f |= RAI_CPU_AVXVNNI;
            if (zmm_os && (a1 & (1u << 5))) f |= RAI_CPU_AVX512BF16;
        }
    }
#endif
    return f;
}

uint64_t initial_mask() {
    const char *env = std::getenv("RAI_CPU_MASK");
    if (env == nullptr || *env == '\0') return ~uint64_t{0};
    char *end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 16);
    return (end != nullptr && *end == '\0') ? static_cast<uint64_t>(v) : ~uint64_t{0};
}

std::atomic<uint64_t> &mask_storage() {
    static std::atomic<uint64_t> mask{initial_mask()};
    return mask;
}

}  // namespace

uint64_t detected() {
    static const uint64_t features = detect();
    return features;
}

uint64_t usable() { return detected() & mask_storage().load(std::memory_order_relaxed); }

void set_mask(uint64_t mask) { mask_storage().store(mask, std::memory_order_relaxed); }

const char *level_name(uint64_t f) {
    if ((f & kAvx512Level) == kAvx512Level) return "avx512";
    if ((f & kAvx2Level) == kAvx2Level) return "avx2";
    return "scalar";
}

const char *feature_name(uint64_t bit) {
    switch (bit) {
    case RAI_CPU_POPCNT: return "popcnt";
    case RAI_CPU_AVX2: return "avx2";
    case RAI_CPU_FMA: return "fma";
    case RAI_CPU_F16C: return "f16c";
    case RAI_CPU_AVX512F: return "avx512f";
    case RAI_CPU_AVX512BW: return "avx512bw";
    case RAI_CPU_AVX512VL: return "avx512vl";
    case RAI_CPU_AVX512VNNI: return "avx512vnni";
    case RAI_CPU_AVX512VPOPCNTDQ: return "avx512vpopcntdq";
    case RAI_CPU_AVXVNNI: return "avxvnni";
    case RAI_CPU_AVX512BF16: return "avx512bf16";
    default: return nullptr;
    }
}

}  // namespace rai::cpu
