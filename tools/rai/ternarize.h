// BitNet b1.58 steps shared by the ternary outputs (bitnet, i2_s, tq1_0, tq2_0): absmean
// ternarization of a [out, in] weight, and trits * scales back to f32 for the error.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "host_tensor.h"

struct Ternary {
    std::unique_ptr<HostTensor> trits;   // i8 [out, in]
    std::unique_ptr<HostTensor> scales;  // f32 [1], [out] or [out, in / group_size]
};

// rai_bitnet_quantize_weights into freshly allocated trits and scales.
bool ternarize(rai_context *ctx, const rai_bitnet_weight_params &p, const rai_tensor &w, Ternary *out,
               std::string *why);
// rai_bitnet_dequantize_weights: trits [out, in] times scales (any BitNet scale shape) as f32.
bool dequantize_ternary(rai_context *ctx, const rai_tensor &trits, const rai_tensor &scales,
                        std::vector<float> *out, std::string *why);
// A packed layout round trip: packed bytes -> trits (and the scales the layout stores, shaped
// scale_shape; none for layouts without scales) -> f32 values. This is what a reader of the
// output file gets, so the reconstruction error is measured on the stored bytes.
bool restore_packed(rai_context *ctx, int32_t layout, const HostTensor &packed, int64_t out_features,
                    int64_t in_features, const std::vector<int64_t> &scale_shape, const rai_tensor *scales_if_none,
                    std::vector<float> *out, std::string *why);
// "" when w's shape suits the params (2-D, GROUP size dividing in), else why not.
std::string ternary_shape_problem(const rai_safetensors_tensor_info &info, const rai_bitnet_weight_params &p);
// "group 64" / "row" / "tensor".
std::string describe_granularity(const rai_bitnet_weight_params &p);
