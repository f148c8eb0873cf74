#include "gc_kernels.h"

#include <cmath>
#include <cstring>

#include "../core/cpu_features.h"

namespace rai::gc::kern {

namespace {

void ef_add_scalar(const float *g, const float *r, float *m, std::size_t n) {
    if (r == nullptr) {
        if (m != g) std::memcpy(m, g, n * sizeof(float));
        return;
    }
    for (std::size_t i = 0; i < n; ++i) m[i] = g[i] + r[i];
}

void abs_stats_scalar(const float *x, std::size_t n, double *sum_abs, double *sum_sq) {
    double a = 0, s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = x[i];
        a += std::fabs(v);
        s += v * v;
    }
    *sum_abs = a;
    *sum_sq = s;
}

void pack_sign_scalar(const float *x, std::size_t n, uint8_t *bits) {
    const std::size_t nb = (n + 7) / 8;
    for (std::size_t b = 0; b < nb; ++b) {
        uint8_t v = 0;
        const std::size_t base = b * 8;
        for (std::size_t j = 0; j < 8 && base + j < n; ++j) v |= static_cast<uint8_t>((x[base + j] < 0.0f) << j);
        bits[b] = v;
    }
}

void pack_ternary_scalar(const float *x, std::size_t n, float thr, uint8_t *codes, double *kept_sum,
                         uint64_t *kept_count) {
    double kept = 0;
    uint64_t cnt = 0;
    for (std::size_t b = 0; b < (n + 3) / 4; ++b) {
        uint32_t v = 0;
        for (std::size_t j = 0; j < 4 && 4 * b + j < n; ++j) {
            const float xi = x[4 * b + j], a = std::fabs(xi);
            if (a > thr) {
                kept += a;
                ++cnt;
                v |= (xi < 0.0f ? 2u : 1u) << (2 * j);
            }
        }
        codes[b] = static_cast<uint8_t>(v);
    }
    *kept_sum = kept;
    *kept_count = cnt;
}

const Kernels kScalar{"scalar", ef_add_scalar, abs_stats_scalar, pack_sign_scalar, pack_ternary_scalar};

}  // namespace

const Kernels &scalar_kernels() { return kScalar; }

const Kernels &kernels() {
    static const cpu::Variant<const Kernels *> kFamily[] = {
        {cpu::kAvx2Level, "avx2", &avx2_kernels()},
        {0, "scalar", &kScalar},
    };
    return *cpu::select_variant(kFamily).fn;
}

}  // namespace rai::gc::kern
