// C ABI: BitNet b1.58 quantization, ternary layouts, prepared weights, ternary GEMM, BitLinear.
#include <limits>

#include "../core/context.h"
#include "../quant/bitnet/bitnet.h"
#include "../quant/bitnet/prepared.h"
#include "guard.h"

using rai::abi::create_locked;
using rai::abi::deref;
using rai::abi::guarded;
using rai::abi::locked;
namespace bn = rai::bitnet;

namespace {
int64_t to_dim(size_t v, const char *name) {
    rai::require(v <= static_cast<size_t>(std::numeric_limits<int64_t>::max()), RAI_ERROR_OUT_OF_RANGE,
                 std::string(name) + " is too large");
    return static_cast<int64_t>(v);
}
}  // namespace

extern "C" {

rai_status rai_bitnet_weight_params_init_sized(rai_bitnet_weight_params *params, size_t struct_size) {
    return guarded([&] { bn::init_weight_params(params, struct_size); });
}

rai_status rai_bitnet_act_params_init_sized(rai_bitnet_act_params *params, size_t struct_size) {
    return guarded([&] { bn::init_act_params(params, struct_size); });
}

rai_status rai_ternary_weight_info_init_sized(rai_ternary_weight_info *info, size_t struct_size) {
    return guarded([&] { bn::init_weight_info(info, struct_size); });
}

rai_status rai_bitnet_quantize_weights(rai_context *ctx, const rai_bitnet_weight_params *params, const rai_tensor *w,
                                       rai_tensor *trits, rai_tensor *scales) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::quantize_weights(c, params, w, trits, scales); });
}

rai_status rai_bitnet_dequantize_weights(rai_context *ctx, const rai_tensor *trits, const rai_tensor *scales,
                                         rai_tensor *w) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::dequantize_weights(c, trits, scales, w); });
}

rai_status rai_bitnet_quantize_activations(rai_context *ctx, const rai_bitnet_act_params *params, const rai_tensor *x,
                                           rai_tensor *q, rai_tensor *scales) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::quantize_activations(c, params, x, q, scales); });
}

rai_status rai_bitnet_dequantize_activations(rai_context *ctx, const rai_bitnet_act_params *params,
                                             const rai_tensor *q, const rai_tensor *scales, rai_tensor *x) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::dequantize_activations(c, params, q, scales, x); });
}

rai_status rai_bitnet_rmsnorm_quantize(rai_context *ctx, const rai_bitnet_act_params *params, const rai_tensor *x,
                                       const rai_tensor *gamma, float norm_eps, rai_tensor *q, rai_tensor *scales) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        bn::rmsnorm_quantize(c, params, x, gamma, norm_eps, q, scales);
    });
}

rai_status rai_bitnet_ste_forward(rai_context *ctx, const rai_tensor *x, float scale, float lo, float hi,
                                  int32_t round_mode, rai_tensor *y) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::ste_forward(c, x, scale, lo, hi, round_mode, y); });
}

rai_status rai_bitnet_ste_backward(rai_context *ctx, const rai_tensor *grad_y, rai_tensor *grad_x) {
    return locked(ctx, "ctx", [&](rai_context &c) { bn::ste_backward(c, grad_y, grad_x); });
}

rai_status rai_ternary_packed_size(int32_t layout, size_t rows, size_t cols, size_t *out_bytes) {
    return guarded([&] {
        rai::require_not_null(out_bytes, "out_bytes");
        *out_bytes = bn::packed_size(layout, to_dim(rows, "rows"), to_dim(cols, "cols"));
    });
}

rai_status rai_ternary_pack(int32_t layout, const rai_tensor *trits, const rai_tensor *scales, rai_tensor *packed) {
    return guarded([&] { bn::pack(layout, trits, scales, packed); });
}

rai_status rai_ternary_unpack(int32_t layout, const rai_tensor *packed, rai_tensor *trits, rai_tensor *scales) {
    return guarded([&] { bn::unpack(layout, packed, trits, scales); });
}

rai_status rai_ternary_quantize_tq(int32_t layout, const rai_tensor *x, rai_tensor *packed) {
    return guarded([&] { bn::quantize_tq(layout, x, packed); });
}

rai_status rai_ternary_weight_create(rai_context *ctx, const rai_tensor *trits, const rai_tensor *scales,
                                     rai_ternary_weight **out) {
    return create_locked(ctx, out, [&](rai_context &c) { return bn::weight_create(c, trits, scales); });
}

void rai_ternary_weight_destroy(rai_ternary_weight *weight) { delete weight; }

rai_status rai_ternary_weight_get_info(const rai_ternary_weight *weight, rai_ternary_weight_info *info) {
    return guarded([&] { bn::weight_info(deref(weight, "weight"), info); });
}

rai_status rai_ternary_weight_unpack(rai_context *ctx, const rai_ternary_weight *weight, rai_tensor *trits,
                                     rai_tensor *scales) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        const rai_ternary_weight &w = deref(weight, "weight");
        bn::weight_unpack(c, w, trits, scales);
    });
}

rai_status rai_ternary_gemm(rai_context *ctx, const rai_ternary_weight *weight, const rai_tensor *x,
                            const rai_tensor *x_scales, const rai_bitnet_act_params *act, const rai_tensor *bias,
                            rai_tensor *y) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        const rai_ternary_weight &w = deref(weight, "weight");
        bn::gemm(c, w, x, x_scales, act, bias, y);
    });
}

rai_status rai_bitlinear_create(rai_context *ctx, const rai_bitnet_weight_params *wparams,
                                const rai_bitnet_act_params *aparams, const rai_tensor *weight, const rai_tensor *bias,
                                rai_bitlinear **out) {
    return create_locked(ctx, out, [&](rai_context &c) {
        return bn::bitlinear_create(c, wparams, aparams, weight, bias);
    });
}

rai_status rai_bitlinear_create_from_trits(rai_context *ctx, const rai_bitnet_act_params *aparams,
                                           const rai_tensor *trits, const rai_tensor *scales, const rai_tensor *bias,
                                           rai_bitlinear **out) {
    return create_locked(ctx, out, [&](rai_context &c) {
        return bn::bitlinear_create_from_trits(c, aparams, trits, scales, bias);
    });
}

void rai_bitlinear_destroy(rai_bitlinear *layer) { delete layer; }

rai_status rai_bitlinear_weight(const rai_bitlinear *layer, const rai_ternary_weight **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        const rai_bitlinear &l = deref(layer, "layer");
        rai::require_not_null(out, "out");
        *out = l.weight.get();
    });
}

rai_status rai_bitlinear_forward(rai_context *ctx, const rai_bitlinear *layer, int32_t mode, const rai_tensor *x,
                                 rai_tensor *y) {
    return locked(ctx, "ctx", [&](rai_context &c) {
        const rai_bitlinear &l = deref(layer, "layer");
        bn::bitlinear_forward(c, l, mode, x, y);
    });
}

}  // extern "C"
