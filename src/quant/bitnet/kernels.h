// CPU ternary GEMM kernels over the prepared layout. One scalar reference (kernels_scalar.cpp)
// and fast variants (kernels_avx2.cpp, kernels_avx512.cpp) compiled into per-ISA libraries and
// chosen with rai::cpu::select_variant. Plain structs and raw pointers only: these files are
// compiled with different -m flags: helpers here are static (one copy per file), never shared
// inline code that could carry wide instructions into the scalar path.
//
// Prepared layout (bitnet.cpp I2_S x86, per row): a row holds kp = round_up(k, 128) codes,
// code = trit + 1, kp / 4 bytes. Column c of row r sits in byte r * kp/4 + (c/128)*32 + c%32
// at bits (6 - 2 * ((c % 128) / 32)) + 1 : (6 - 2 * ((c % 128) / 32)). Padding codes are 1 (zero).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rai::bitnet {

constexpr int64_t kPrepBlock = 128;

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The trit at column c of a prepared row.
static inline int32_t prepared_trit(const uint8_t *row, int64_t c) {
    const uint8_t byte = row[(c / 128) * 32 + (c % 32)];
    return static_cast<int32_t>((byte >> (6 - 2 * ((c % 128) / 32))) & 3u) - 1;
}

enum ScaleKind : int32_t { kScaleTensor = 0, kScaleRow = 1, kScaleGroup = 2 };
enum XKind : int32_t { kXF32 = 0, kXI8 = 1 };
enum YKind : int32_t { kYF32 = 0, kYI32 = 1 };

struct GemmProblem {
    // weight
    const uint8_t *w = nullptr;  // n rows of kp / 4 bytes
    int64_t n = 0, k = 0, kp = 0;
    const float *ws = nullptr;   // scales
    int32_t scale_kind = kScaleTensor;
    int64_t group = 0;           // columns per scale (k for tensor / row)
    int64_t groups = 1;          // groups per row
    // activations: m rows; row b starts at x + b * x_stride elements; elements [k, kp) are zero
    // when x_padded (the fast kernels need it; the scalar kernel reads only [0, k)).
    int64_t m = 0;
    const void *x = nullptr;
    int32_t x_kind = kXF32;
    int64_t x_stride = 0;
    bool x_padded = false;
    const int32_t *xsum = nullptr;  // int8: sum of x over each group, [m][groups] (or [m][1] raw)
    const float *xs = nullptr;      // int8 + f32 output: activation scales
    int64_t xs_count = 0;           // 1 or m
    bool xs_divide = false;         // OFFICIAL: y = acc / s
    const float *bias = nullptr;    // [n] or null
    void *y = nullptr;
    int32_t y_kind = kYF32;
    int64_t y_stride = 0;           // elements between rows of y
};

// Computes output rows [n0, n1) for all m activation rows.
using GemmRowsFn = void (*)(const GemmProblem &p, int64_t n0, int64_t n1);

void gemm_rows_scalar(const GemmProblem &p, int64_t n0, int64_t n1);
void gemm_rows_avx2(const GemmProblem &p, int64_t n0, int64_t n1);
void gemm_rows_avx512(const GemmProblem &p, int64_t n0, int64_t n1);

// The W2A8 epilogue shared by every CPU kernel, so that the float output is bit-identical:
// acc = sum_g float(isum_g) * scale_g in order, then * or / the activation scale, then + bias.
static inline float w2a8_epilogue(const GemmProblem &p, const int32_t *isum, int64_t b, int64_t o) {
    float acc = 0.0f;
    const int64_t groups = p.scale_kind == kScaleGroup ? p.groups : 1;
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t si = p.scale_kind == kScaleTensor ? 0 : (p.scale_kind == kScaleRow ? o : o * p.groups + g);
        const float prod = static_cast<float>(isum[g]) * p.ws[si];
        acc = acc + prod;
    }
    const float s = p.xs[p.xs_count == 1 ? 0 : b];
    float yv = p.xs_divide ? acc / s : acc * s;
    if (p.bias != nullptr) yv = yv + p.bias[o];
    return yv;
}

// Whether the fast kernels take this problem (else they call the scalar kernel): a single scale
// group per row, or groups that are whole multiples of 32 columns.
static inline bool fast_groups(const GemmProblem &p) {
    return p.y_kind == kYI32 || p.scale_kind != kScaleGroup || p.group % 32 == 0;
}

}  // namespace rai::bitnet
