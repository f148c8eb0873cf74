// Reading/writing rai_tensor element buffers of the three float dtypes the adapters take
// (f32, bf16, f16), on core's conversions.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../core/half.h"
#include "rai.h"

namespace rai::adapters {

// The 16-bit float conversions are core's (half.h).
using half::bf16_to_f32;
using half::f16_to_f32;
using half::f32_to_bf16;
using half::f32_to_f16;

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
