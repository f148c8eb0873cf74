// NF4 / FP4 4-bit formats, bit-compatible with bitsandbytes (see docs/quant.md).
//
// Everything in this header is the scalar definition of the format: codebooks, the literal
// thresholds of bitsandbytes' CUDA quantiser, the 8-bit dynamic map used for double
// quantisation, and the exact per-element rules. Every fast path (AVX2, CUDA) is tested
// bit-for-bit against these functions.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../core/half.h"

namespace rai::q4 {

constexpr int32_t kFP4 = 1;  // RAI_Q4_FP4
constexpr int32_t kNF4 = 2;  // RAI_Q4_NF4
constexpr int32_t kDefaultBlocksize = 64;
constexpr int32_t kNestedBlocksize = 256;
constexpr int32_t kMaxDims = 8;

// Element types the kernels read and write.
enum class Elem : int32_t { F32 = 0, F16 = 1, BF16 = 2 };
inline std::size_t elem_size(Elem e) { return e == Elem::F32 ? 4 : 2; }

// bitsandbytes' allowed block sizes for 4-bit quantisation: 32, 64, ..., 4096.
inline bool valid_blocksize(int64_t bs) {
    return bs >= 32 && bs <= 4096 && (bs & (bs - 1)) == 0;
}

// Codebooks in code order (for FP4: bit-pattern order, code c >= 8 is -(c-8), code 8 is -0).
extern const float kNF4Code[16];
extern const float kFP4Code[16];
// The 15 fp32 literals of bnb's NF4 decision tree, ascending: code = #{i : x > t[i]}.
extern const float kNF4Thresholds[15];
// The 7 fp32 literals of bnb's FP4 magnitude tree, ascending: applied to |x|.
extern const float kFP4Thresholds[7];
// FP4 magnitude code for "number of thresholds exceeded" 0..7.
extern const uint8_t kFP4CountToCode[8];
// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), exact fp32.
extern const float kDynamicMap[256];

inline const float *codebook(int32_t type) { return type == kFP4 ? kFP4Code : kNF4Code; }

// ---- per-element rules (bnb CUDA kQuantizeBlockwise, DATA_TYPE NF4 / FP4)

// x is already scaled (x * (1/absmax) in fp32). Strict '>' against the literals; NaN gives 0.
inline uint8_t quantize_nf4(float x) {
    uint8_t c = 0;
    for (int i = 0; i < 15; ++i) c += x > kNF4Thresholds[i] ? 1 : 0;
    return c;
}

// Sign bit 8 for x < 0 (so -0.0 and NaN get sign 0), then strict '>' on |x|.
inline uint8_t quantize_fp4(float x) {
    const uint8_t sign = x < 0.0f ? 8 : 0;
    const float a = std::fabs(x);
    int c = 0;
    for (int i = 0; i < 7; ++i) c += a > kFP4Thresholds[i] ? 1 : 0;
    return static_cast<uint8_t>(kFP4CountToCode[c] + sign);
}

inline uint8_t quantize_4bit(int32_t type, float x) { return type == kFP4 ? quantize_fp4(x) : quantize_nf4(x); }

// bnb CUDA dQuantize<0>: binary search over a sorted 256-entry code, then the midpoint rule
// (ties stay with the pivot). Reproduced step for step, including the edge handling.
inline uint8_t quantize_8bit(const float *code, float x) {
    int pivot = 127, upper_pivot = 255, lower_pivot = 0;
    float lower = -1.0f, upper = 1.0f;
    float val = code[pivot];
    for (int i = 64; i > 0; i >>= 1) {
        if (x > val) {
            lower_pivot = pivot;
            lower = val;
            pivot += i;
        } else {
            upper_pivot = pivot;
            upper = val;
            pivot -= i;
        }
        val = code[pivot];
    }
    if (upper_pivot == 255) upper = code[upper_pivot];
    if (lower_pivot == 0) lower = code[lower_pivot];
    if (x > val) {
        const float midpoint = (upper + val) * 0.5f;
        return static_cast<uint8_t>(x > midpoint ? upper_pivot : pivot);
    }
    const float midpoint = (lower + val) * 0.5f;
    return static_cast<uint8_t>(x < midpoint ? lower_pivot : pivot);
}

// fmaxf semantics (a NaN operand is ignored), as bnb's absmax reduction.
inline float fmax_ignore_nan(float m, float v) { return v > m || std::isnan(m) ? v : m; }

// ---- half conversions (round to nearest even; NaN stays a quiet NaN with its top payload bits,
// as F16C and CUDA's __float2half_rn do)

// The 16-bit float conversions are core's (half.h).
using half::bf16_to_f32;
using half::bits_f32;
using half::f16_to_f32;
using half::f32_bits;
using half::f32_to_bf16;
using half::f32_to_f16;

inline float load_elem(const void *p, Elem e, int64_t i) {
    switch (e) {
    case Elem::F32: return static_cast<const float *>(p)[i];
    case Elem::F16: return f16_to_f32(static_cast<const uint16_t *>(p)[i]);
    default: return bf16_to_f32(static_cast<const uint16_t *>(p)[i]);
    }
}

inline void store_elem(void *p, Elem e, int64_t i, float v) {
    switch (e) {
    case Elem::F32: static_cast<float *>(p)[i] = v; break;
    case Elem::F16: static_cast<uint16_t *>(p)[i] = f32_to_f16(v); break;
    default: static_cast<uint16_t *>(p)[i] = f32_to_bf16(v); break;
    }
}

inline int64_t num_blocks(int64_t n, int64_t bs) { return (n + bs - 1) / bs; }
inline int64_t codes_bytes(int64_t n) { return (n + 1) / 2; }

}  // namespace rai::q4
