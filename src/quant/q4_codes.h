// The NF4 / FP4 per-element rules of bitsandbytes' CUDA quantiser (kQuantizeBlockwise,
// dQuantizeNF4 / dQuantizeFP4 / dQuantize<0>) and the two 4-bit codebooks, defined once for the
// CPU reference (q4_format.h) and the CUDA kernels (cuda/quant/quant.cu): the GPU quantiser equals
// the CPU one by construction. Plain C++ for the host compiler, __host__ __device__ under nvcc
// (RAI_HD); no tables at namespace scope, because device code cannot index host arrays.
#pragma once
#include <cmath>
#include <cstdint>

#include "../core/host_device.h"

#if defined(__CUDA_ARCH__)
#define RAI_Q4_UNROLL _Pragma("unroll")
#else
#define RAI_Q4_UNROLL
#endif

namespace rai::q4 {

// bitsandbytes get_4bit_type("nf4"): N(0,1) quantiles normalised to [-1, 1], in code order.
RAI_HD constexpr float nf4_value(int code) {
    constexpr float v[16] = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    };
    return v[code];
}

// bitsandbytes FP4 (1 sign, 2 exponent, 1 mantissa bit; magnitudes {0, 0.0625, 8, 12, 4, 6, 2, 3}/12),
// the values of its CUDA dequantisation tree, in bit-pattern order: code c >= 8 is -(c-8), code 8
// is -0.
RAI_HD constexpr float fp4_value(int code) {
    constexpr float v[16] = {
        0.0f, 5.208333333e-03f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f,
        -0.0f, -5.208333333e-03f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f,
    };
    return v[code];
}

// The literals of bnb's dQuantizeNF4 decision tree, ascending. t0, t8, t12 and t14 differ by 1-2
// ulp from the fp32 midpoints of the codebook: these literals, not the midpoints, are canonical.
RAI_HD constexpr float nf4_threshold(int i) {
    constexpr float t[15] = {
        -0.8480964004993439f,  -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
        -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
        0.1202552504837513f,   0.2035212516784668f,  0.2920137718319893f,  0.3893125355243683f,
        0.5016634166240692f,   0.6427869200706482f,  0.8614784181118011f,
    };
    return t[i];
}

// The literals of bnb's dQuantizeFP4 tree (on |x|), ascending.
RAI_HD constexpr float fp4_threshold(int i) {
    constexpr float t[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
    return t[i];
}

// FP4 magnitude code for "number of thresholds exceeded" c = 0..7: magnitudes in ascending order
// are the codes 0, 1, 6, 7, 4, 5, 2, 3 (nibble c of the constant).
RAI_HD constexpr uint8_t fp4_count_to_code(int c) { return static_cast<uint8_t>((0x32547610u >> (4 * c)) & 0xfu); }

// x is already scaled (x * (1/absmax) in fp32). Strict '>' against the literals; NaN gives 0.
RAI_HD uint8_t quantize_nf4(float x) {
    uint8_t c = 0;
    RAI_Q4_UNROLL
    for (int i = 0; i < 15; ++i) c += x > nf4_threshold(i) ? 1 : 0;
    return c;
}

// Sign bit 8 for x < 0 (so -0.0 and NaN get sign 0), then strict '>' on |x|.
RAI_HD uint8_t quantize_fp4(float x) {
    const uint8_t sign = x < 0.0f ? 8 : 0;
    const float a = fabsf(x);
    int c = 0;
    RAI_Q4_UNROLL
    for (int i = 0; i < 7; ++i) c += a > fp4_threshold(i) ? 1 : 0;
    return static_cast<uint8_t>(fp4_count_to_code(c) + sign);
}

// bnb CUDA dQuantize<0>: binary search over a sorted 256-entry code, then the midpoint rule
// (ties stay with the pivot). Reproduced step for step, including the edge handling. The
// midpoint is an add then a multiply, which nvcc cannot contract into an FMA, so host and device
// round it the same way.
RAI_HD uint8_t quantize_8bit(const float *code, float x) {
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

}  // namespace rai::q4
