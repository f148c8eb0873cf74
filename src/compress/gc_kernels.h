// Hot loops of the CPU compressors, dispatched with rai::cpu::select_variant (scalar reference
// in gc_kernels.cpp, AVX2 in gc_kernels_avx2.cpp). Sign bits are identical across variants; the
// double sums may differ in the last bits (summation order).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rai::gc::kern {

struct Kernels {
    const char *name;
    // m[i] = g[i] + (r ? r[i] : 0)
    void (*ef_add)(const float *g, const float *r, float *m, std::size_t n);
    // sums of |x| and x^2 in double
    void (*abs_stats)(const float *x, std::size_t n, double *sum_abs, double *sum_sq);
    // bit i (byte i/8, bit i%8) = x[i] < 0; writes ceil(n/8) bytes
    void (*pack_sign)(const float *x, std::size_t n, uint8_t *bits);
    // 2-bit trits (1 = +1, 2 = -1) of |x| > thr, 4 per byte (ceil(n/4) bytes written); the count
    // and the double sum of the kept |x|
    void (*pack_ternary)(const float *x, std::size_t n, float thr, uint8_t *codes, double *kept_sum,
                         uint64_t *kept_count);
};

const Kernels &scalar_kernels();
const Kernels &avx2_kernels();
// The variant rai_cpu_features() selects now.
const Kernels &kernels();

}  // namespace rai::gc::kern
