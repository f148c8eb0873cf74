// fp32 <-> bf16 / fp16 conversions (round to nearest even), and reading/writing rai_tensor
// element buffers of the three float dtypes the adapters take.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "rai.h"

namespace rai::adapters {

inline float bf16_to_f32(uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal
            float f = std::ldexp(static_cast<float>(man), -24);
            std::memcpy(&u, &f, 4);
            u |= sign;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t au = u & 0x7fffffffu;
    if (au > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
    if (au >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (au < 0x38800000u) {  // below the smallest normal: subnormal or zero
        float a;
        std::memcpy(&a, &au, 4);
        const float scaled = a * 16777216.0f;  // 2^24: units of the smallest subnormal
        const uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
        return static_cast<uint16_t>(sign | m);
    }
    uint32_t m = au + 0xfffu + ((au >> 13) & 1u);
    m -= 0x38000000u;  // rebias 127 -> 15
    return static_cast<uint16_t>(sign | (m >> 13));
}

enum class Fp { F32, BF16, F16 };

// The float kind of a dtype, or false when it is not f32/bf16/f16.
inline bool float_kind(const rai_dtype &d, Fp *out) {
    if (d.lanes != 1) return false;
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 32) *out = Fp::F32;
    else if (d.code == RAI_DTYPE_BFLOAT && d.bits == 16) *out = Fp::BF16;
    else if (d.code == RAI_DTYPE_FLOAT && d.bits == 16) *out = Fp::F16;
    else return false;
    return true;
}
inline std::size_t fp_size(Fp k) { return k == Fp::F32 ? 4 : 2; }

inline void load_floats(Fp k, const void *src, float *dst, std::size_t n) {
    if (k == Fp::F32) {
        std::memcpy(dst, src, n * 4);
        return;
    }
    const uint16_t *s = static_cast<const uint16_t *>(src);
    if (k == Fp::BF16)
        for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
    else
        for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
}
inline void store_floats(Fp k, const float *src, void *dst, std::size_t n) {
    if (k == Fp::F32) {
        std::memcpy(dst, src, n * 4);
        return;
    }
    uint16_t *d = static_cast<uint16_t *>(dst);
    if (k == Fp::BF16)
        for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
    else
        for (std::size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
}

}  // namespace rai::adapters
