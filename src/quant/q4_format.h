// NF4 / FP4 4-bit formats, bit-compatible with bitsandbytes (see docs/quant.md).
//
// Everything in this header is the scalar definition of the format: codebooks, the literal
// thresholds of bitsandbytes' CUDA quantiser, the 8-bit dynamic map used for double
// quantisation, and the exact per-element rules. Every fast path (AVX2, CUDA) is tested
// bit-for-bit against these functions.
#pragma once
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "../core/half.h"
#include "q4_codes.h"

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

// The per-element rules and the literal tables, shared with the CUDA kernels: quantize_nf4,
// quantize_fp4, quantize_8bit, nf4_value / fp4_value, nf4_threshold / fp4_threshold.
// Below, the same tables as arrays for the AVX2 path, codebook() and the tests.
template <class F, std::size_t... I>
constexpr std::array<float, sizeof...(I)> tabulate(F f, std::index_sequence<I...>) {
    return {{f(static_cast<int>(I))...}};
}
inline constexpr std::array<float, 16> kNF4Code = tabulate(nf4_value, std::make_index_sequence<16>{});
inline constexpr std::array<float, 16> kFP4Code = tabulate(fp4_value, std::make_index_sequence<16>{});
inline constexpr std::array<float, 15> kNF4Thresholds = tabulate(nf4_threshold, std::make_index_sequence<15>{});
inline constexpr std::array<float, 7> kFP4Thresholds = tabulate(fp4_threshold, std::make_index_sequence<7>{});
// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), exact fp32.
extern const float kDynamicMap[256];

inline const float *codebook(int32_t type) { return type == kFP4 ? kFP4Code.data() : kNF4Code.data(); }

inline uint8_t quantize_4bit(int32_t type, float x) { return type == kFP4 ? quantize_fp4(x) : quantize_nf4(x); }

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
