// The prepared ternary weight (rai_ternary_weight), the GEMM driver and BitLinear.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/cuda_plugin.h"
#include "bitnet.h"
#include "kernels.h"

struct rai_ternary_weight {
    rai_device device{RAI_DEVICE_CPU, 0};
    int64_t rows = 0, cols = 0, kp = 0;
    rai::bitnet::ScaleMap smap;
    int64_t nonzero = 0;
    std::vector<float> scales;                   // host copy, smap.count() values
    std::vector<uint8_t> codes;                  // CPU: rows * kp / 4 bytes
    std::unique_ptr<rai::cuda::DeviceMemory> d_codes;   // CUDA copies
    std::unique_ptr<rai::cuda::DeviceMemory> d_scales;

    std::size_t packed_bytes() const { return static_cast<std::size_t>(rows * (kp / 4)); }
};

struct rai_bitlinear {
    std::unique_ptr<rai_ternary_weight> weight;
    rai::bitnet::ActQuant act;
    std::vector<float> bias;                     // host copy (empty = none)
    std::unique_ptr<rai::cuda::DeviceMemory> d_bias;
};

namespace rai::bitnet {

// Prepared codes of [rows, cols] trits: rows * round_up(cols, 128) / 4 bytes.
void prepare_codes(const int8_t *trits, int64_t rows, int64_t cols, uint8_t *out);
void unprepare_codes(const uint8_t *codes, int64_t rows, int64_t cols, int8_t *trits);

rai_ternary_weight *weight_create(rai_context &ctx, const rai_tensor *trits, const rai_tensor *scales);
// From already checked host trits and scales.
std::unique_ptr<rai_ternary_weight> weight_create_raw(const rai_context &ctx, const int8_t *trits, int64_t rows,
                                                      int64_t cols, const ScaleMap &smap, const float *scales);
void weight_info(const rai_ternary_weight &w, rai_ternary_weight_info *info);
void weight_unpack(rai_context &ctx, const rai_ternary_weight &w, const rai_tensor *trits, const rai_tensor *scales);

// y = W x (see rai_ternary_gemm).
void gemm(rai_context &ctx, const rai_ternary_weight &w, const rai_tensor *x, const rai_tensor *x_scales,
          const rai_bitnet_act_params *act, const rai_tensor *bias, const rai_tensor *y);

// CPU GEMM on raw host pointers: x (f32 or i8) [m, k] contiguous; used by gemm() and BitLinear.
struct CpuGemmArgs {
    const void *x = nullptr;
    int32_t x_kind = kXF32;
    int64_t m = 0;
    const float *xs = nullptr;
    int64_t xs_count = 0;
    bool xs_divide = false;
    const float *bias = nullptr;
    void *y = nullptr;
    int32_t y_kind = kYF32;
};
void cpu_gemm(const rai_ternary_weight &w, const CpuGemmArgs &a);

rai_bitlinear *bitlinear_create(rai_context &ctx, const rai_bitnet_weight_params *wp, const rai_bitnet_act_params *ap,
                                const rai_tensor *weight, const rai_tensor *bias);
rai_bitlinear *bitlinear_create_from_trits(rai_context &ctx, const rai_bitnet_act_params *ap, const rai_tensor *trits,
                                           const rai_tensor *scales, const rai_tensor *bias);
void bitlinear_forward(rai_context &ctx, const rai_bitlinear &layer, int32_t mode, const rai_tensor *x,
                       const rai_tensor *y);

}  // namespace rai::bitnet
