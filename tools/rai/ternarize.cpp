#include "ternarize.h"

namespace {

uint64_t group_size_of(const rai_bitnet_weight_params &p) { return p.group_size == 0 ? 64 : p.group_size; }

}  // namespace

bool ternarize(rai_context *ctx, const rai_bitnet_weight_params &p, const rai_tensor &w, Ternary *out,
               std::string *why) {
    const int64_t rows = w.shape[0], cols = w.shape[1];
    std::vector<int64_t> scale_shape{1};
    if (p.granularity == RAI_BITNET_GRANULARITY_ROW) scale_shape = {rows};
    else if (p.granularity == RAI_BITNET_GRANULARITY_GROUP) scale_shape = {rows, cols / static_cast<int64_t>(group_size_of(p))};
    out->trits = std::make_unique<HostTensor>(std::vector<int64_t>{rows, cols}, dtype_i8());
    out->scales = std::make_unique<HostTensor>(scale_shape, dtype_f32());
    const rai_status st = rai_bitnet_quantize_weights(ctx, &p, &w, &out->trits->t, &out->scales->t);
    return st == RAI_OK || (*why = api_error("ternarize", st), false);
}

bool dequantize_ternary(rai_context *ctx, const rai_tensor &trits, const rai_tensor &scales, std::vector<float> *out,
                        std::string *why) {
    HostTensor w(std::vector<int64_t>(trits.shape, trits.shape + 2), dtype_f32());
    const rai_status st = rai_bitnet_dequantize_weights(ctx, &trits, &scales, &w.t);
    if (st != RAI_OK) {
        *why = api_error("dequantize", st);
        return false;
    }
    out->assign(w.as<float>(), w.as<float>() + w.numel());
    return true;
}

bool restore_packed(rai_context *ctx, int32_t layout, const HostTensor &packed, int64_t out_features,
                    int64_t in_features, const std::vector<int64_t> &scale_shape, const rai_tensor *scales_if_none,
                    std::vector<float> *out, std::string *why) {
    HostTensor trits({out_features, in_features}, dtype_i8());
    HostTensor scales(scale_shape.empty() ? std::vector<int64_t>{1} : scale_shape, dtype_f32());
    const rai_status st = rai_ternary_unpack(layout, &packed.t, &trits.t, scale_shape.empty() ? nullptr : &scales.t);
    if (st != RAI_OK) {
        *why = api_error("unpack", st);
        return false;
    }
    return dequantize_ternary(ctx, trits.t, scale_shape.empty() ? *scales_if_none : scales.t, out, why);
}

std::string ternary_shape_problem(const rai_safetensors_tensor_info &info, const rai_bitnet_weight_params &p) {
    if (info.ndim != 2 || info.shape[0] == 0 || info.shape[1] == 0) return "ternary weights are non-empty 2-D [out, in]";
    if (p.granularity == RAI_BITNET_GRANULARITY_GROUP && static_cast<uint64_t>(info.shape[1]) % group_size_of(p) != 0)
        return "group size " + std::to_string(group_size_of(p)) + " does not divide in = " + std::to_string(info.shape[1]);
    return "";
}

std::string describe_granularity(const rai_bitnet_weight_params &p) {
    if (p.granularity == RAI_BITNET_GRANULARITY_TENSOR) return "tensor scale";
    if (p.granularity == RAI_BITNET_GRANULARITY_ROW) return "row scales";
    return "group " + std::to_string(group_size_of(p)) + " scales";
}
