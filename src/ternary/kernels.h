// The packed-trit kernel table. One table per CPU backend (scalar reference, AVX2, AVX-512 with
// VPOPCNTDQ); kernels() picks one through rai::cpu::select_variant on every call, so the global
// CPU mask (rai_cpu_set_feature_mask) selects the backend. All tables compute bit-identical
// results; the per-ISA tables live in separately compiled files (kernels_avx2.cpp,
// kernels_avx512.cpp) and share their algorithms through kernel_impl.h.
//
// Every kernel takes rows in the words.h layout: plus plane then minus plane, `wpad` words each,
// wpad a multiple of kBlockWords, padding bits zero (and kept zero by every kernel).
#pragma once
#include <cstddef>
#include <cstdint>

#include "words.h"

namespace rai::ternary {

// Element-wise operations of two packed rows (kernel `binary`).
enum BinaryOp : int {
    kOpBind = 0,        // (a - b) mod 3, balanced
    kOpUnbind = 1,      // (a + b) mod 3, balanced
    kOpMul = 2,         // a * b
    kOpAddClamped = 3,  // sign(a + b)
};

struct Kernels {
    const char *name;
    // out = op(a, b); out may be a or b.
    void (*binary)(int op, const u64 *a, const u64 *b, u64 *out, std::size_t wpad);
    // Sum of a[i] * b[i].
    int64_t (*dot)(const u64 *a, const u64 *b, std::size_t wpad);
    // Number of positions whose trits differ.
    uint64_t (*hamming)(const u64 *a, const u64 *b, std::size_t wpad);
    // Number of set bits in `nwords` words (nwords a multiple of kBlockWords).
    uint64_t (*popcount)(const u64 *words, std::size_t nwords);
    // Majority (sign of the sum, ties -> 0) of n >= 1 rows into out. If `ties` is not NULL it
    // receives one plane (wpad words) with a bit set where the sum is 0 but some input is non-zero.
    // out may be one of the rows.
    void (*bundle)(const u64 *const *rows, std::size_t n, u64 *out, u64 *ties, std::size_t wpad);
    // out[j] = dot(q, items + j * stride) (stride in words) for j < nitems.
    void (*dot_many)(const u64 *q, const u64 *items, std::size_t nitems, std::size_t stride, std::size_t wpad,
                     int64_t *out);
    // out[j] = hamming(q, items + j * stride).
    void (*hamming_many)(const u64 *q, const u64 *items, std::size_t nitems, std::size_t stride, std::size_t wpad,
                         int64_t *out);
    // Funnel shift of a word stream: d[i] = (s[i] >> sh) | (s[i + 1] << (64 - sh)) for i < n,
    // sh in [1, 63]; reads s[0..n]. Any alignment; d and s do not overlap. (Permutation.)
    void (*funnel)(u64 *d, const u64 *s, std::size_t n, unsigned sh);
};

// The tables (defined in kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp).
extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;

// The table the current CPU features select (dispatch.cpp).
const Kernels &kernels();

}  // namespace rai::ternary
