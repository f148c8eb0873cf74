// CPU dispatch of the 4-bit kernels and the CPU 4-bit linear (fused GEMV for M <= 4,
// dequantise-a-panel + blocked fp32 GEMM above).
#include <vector>

#include "cpu_features.h"
#include "q4_kernels.h"

namespace rai::q4 {

namespace {

constexpr uint64_t kAvx2Req = rai::cpu::kAvx2Level | RAI_CPU_F16C;

const rai::cpu::Variant<QuantizeFn> kQuantize[] = {
    {kAvx2Req, "avx2", quantize_avx2},
    {0, "scalar", quantize_ref},
};
const rai::cpu::Variant<DequantizeFn> kDequantize[] = {
    {kAvx2Req, "avx2", dequantize_avx2},
    {0, "scalar", dequantize_ref},
};
const rai::cpu::Variant<GemvFn> kGemv[] = {
    {kAvx2Req, "avx2", gemv_avx2},
    {0, "scalar", gemv_ref},
};
const rai::cpu::Variant<GemmNTFn> kGemmNT[] = {
    {kAvx2Req, "avx2", gemm_nt_avx2},
    {0, "scalar", gemm_nt_ref},
};
const rai::cpu::Variant<GemmNNAccFn> kGemmNNAcc[] = {
    {kAvx2Req, "avx2", gemm_nn_acc_avx2},
    {0, "scalar", gemm_nn_acc_ref},
};

// Rows of W dequantised at a time for the GEMM path.
constexpr int64_t kPanelRows = 64;

}  // namespace

void quantize(const void *src, Elem elem, int64_t n, int64_t bs, int32_t type, uint8_t *codes, float *absmax) {
    rai::cpu::select_variant(kQuantize).fn(src, elem, n, bs, type, codes, absmax);
}

void dequantize(const uint8_t *codes, const float *absmax, int64_t begin, int64_t count, int64_t bs, int32_t type,
                void *dst, Elem elem) {
    rai::cpu::select_variant(kDequantize).fn(codes, absmax, begin, count, bs, type, dst, elem);
}

const char *kernel_level() { return rai::cpu::select_variant(kQuantize).name; }

void linear_forward_cpu(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N, int64_t K,
                        const void *x, int64_t M, const void *bias, void *y, Elem elem) {
    const DequantizeFn deq = rai::cpu::select_variant(kDequantize).fn;
    std::vector<float> xf(static_cast<size_t>(M * K));
    to_f32(x, elem, M * K, xf.data());
    std::vector<float> yf(static_cast<size_t>(M * N), 0.0f);
    if (M <= kGemvMaxM) {
        // Fused GEMV: codes decoded in registers, each weight byte read once for all M rows.
        rai::cpu::select_variant(kGemv).fn(codes, absmax, bs, type, N, K, xf.data(), M, yf.data());
    } else {
        const GemmNTFn gemm = rai::cpu::select_variant(kGemmNT).fn;
        std::vector<float> panel(static_cast<size_t>(kPanelRows * K));
        for (int64_t n0 = 0; n0 < N; n0 += kPanelRows) {
            const int64_t rows = N - n0 < kPanelRows ? N - n0 : kPanelRows;
            deq(codes, absmax, n0 * K, rows * K, bs, type, panel.data(), Elem::F32);
            gemm(xf.data(), panel.data(), M, rows, K, yf.data() + n0, N);
        }
    }
    if (bias != nullptr) {
        std::vector<float> bf(static_cast<size_t>(N));
        to_f32(bias, elem, N, bf.data());
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) yf[static_cast<size_t>(m * N + n)] += bf[static_cast<size_t>(n)];
    }
    from_f32(yf.data(), M * N, y, elem);
}

void linear_backward_input_cpu(const uint8_t *codes, const float *absmax, int64_t bs, int32_t type, int64_t N,
                               int64_t K, const void *dy, int64_t M, void *dx, Elem elem) {
    const DequantizeFn deq = rai::cpu::select_variant(kDequantize).fn;
    const GemmNNAccFn gemm = rai::cpu::select_variant(kGemmNNAcc).fn;
    std::vector<float> dyf(static_cast<size_t>(M * N));
    to_f32(dy, elem, M * N, dyf.data());
    std::vector<float> acc(static_cast<size_t>(M * K), 0.0f);
    // One row at a time for small M (an axpy per row and m), panels of rows above.
    const int64_t rows_per_step = M <= kGemvMaxM ? 1 : kPanelRows;
    std::vector<float> panel(static_cast<size_t>(rows_per_step * K));
    for (int64_t n0 = 0; n0 < N; n0 += rows_per_step) {
        const int64_t rows = N - n0 < rows_per_step ? N - n0 : rows_per_step;
        deq(codes, absmax, n0 * K, rows * K, bs, type, panel.data(), Elem::F32);
        gemm(dyf.data() + n0, N, panel.data(), M, rows, K, acc.data());
    }
    from_f32(acc.data(), M * K, dx, elem);
}

}  // namespace rai::q4
