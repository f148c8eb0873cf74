// The scalar reference ternary GEMM: one trit at a time, the oracle for every fast path.
#include <vector>

#include "kernels.h"

namespace rai::bitnet {

void gemm_rows_scalar(const GemmProblem &p, int64_t n0, int64_t n1) {
    const int64_t row_bytes = p.kp / 4;
    const int64_t groups = p.scale_kind == kScaleGroup ? p.groups : 1;
    const int64_t group = p.scale_kind == kScaleGroup ? p.group : p.k;
    std::vector<int32_t> isum(static_cast<std::size_t>(groups > 0 ? groups : 1));
    for (int64_t o = n0; o < n1; ++o) {
        const uint8_t *w = p.w + o * row_bytes;
        for (int64_t b = 0; b < p.m; ++b) {
            if (p.x_kind == kXI8) {
                const int8_t *x = static_cast<const int8_t *>(p.x) + b * p.x_stride;
                if (p.y_kind == kYI32) {
                    int32_t s = 0;
                    for (int64_t c = 0; c < p.k; ++c) s += prepared_trit(w, c) * x[c];
                    static_cast<int32_t *>(p.y)[b * p.y_stride + o] = s;
                    continue;
                }
                for (int64_t g = 0; g < groups; ++g) {
                    int32_t s = 0;
                    for (int64_t c = g * group; c < (g + 1) * group; ++c) s += prepared_trit(w, c) * x[c];
                    isum[static_cast<std::size_t>(g)] = s;
                }
                static_cast<float *>(p.y)[b * p.y_stride + o] = w2a8_epilogue(p, isum.data(), b, o);
            } else {
                const float *x = static_cast<const float *>(p.x) + b * p.x_stride;
                float acc = 0.0f;
                for (int64_t g = 0; g < groups; ++g) {
                    float s = 0.0f;
                    for (int64_t c = g * group; c < (g + 1) * group; ++c) {
                        const int32_t t = prepared_trit(w, c);
                        if (t > 0) s = s + x[c];
                        else if (t < 0) s = s - x[c];
                    }
                    const int64_t si = p.scale_kind == kScaleTensor ? 0 : (p.scale_kind == kScaleRow ? o : o * p.groups + g);
                    acc = acc + s * p.ws[si];
                }
                if (p.bias != nullptr) acc = acc + p.bias[o];
                static_cast<float *>(p.y)[b * p.y_stride + o] = acc;
            }
        }
    }
}

}  // namespace rai::bitnet
