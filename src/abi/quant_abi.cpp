// C ABI: NF4 / FP4 4-bit quantisation and the 4-bit linear layer.
#include <cstring>
#include <mutex>

#include "../core/context.h"
#include "../core/params.h"
#include "../quant/q4_format.h"
#include "../quant/q4_state.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;

namespace {
// Sizes of the structs as first released (0.1): every field present today.
constexpr size_t kQ4ParamsV1 = sizeof(rai_q4_params);
constexpr size_t kQ4StateInfoV1 = sizeof(rai_q4_state_info);
constexpr size_t kQ4StateParamsV1 = sizeof(rai_q4_state_params);

template <class F>
rai_status with_ctx(rai_context *ctx, F &&body) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        body(c);
    });
}
}  // namespace

extern "C" {

rai_status rai_q4_params_init_sized(rai_q4_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kQ4ParamsV1, "params"); });
}

rai_status rai_q4_state_info_init_sized(rai_q4_state_info *info, size_t struct_size) {
    return guarded([&] { rai::init_params(info, struct_size, kQ4StateInfoV1, "info"); });
}

rai_status rai_q4_state_params_init_sized(rai_q4_state_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kQ4StateParamsV1, "params"); });
}

rai_status rai_q4_codebook(int32_t type, float *out_values) {
    return guarded([&] {
        rai::require(type == rai::q4::kFP4 || type == rai::q4::kNF4, RAI_ERROR_INVALID_ARGUMENT,
                     "type " + std::to_string(type) + " is not RAI_Q4_FP4 (1) or RAI_Q4_NF4 (2)");
        rai::require_not_null(out_values, "out_values");
        std::memcpy(out_values, rai::q4::codebook(type), 16 * sizeof(float));
    });
}

rai_status rai_q4_codes_size(int64_t n, uint64_t *out_bytes) {
    return guarded([&] {
        rai::require(n >= 0, RAI_ERROR_INVALID_ARGUMENT, "n is negative");
        rai::require_not_null(out_bytes, "out_bytes");
        *out_bytes = static_cast<uint64_t>(rai::q4::codes_bytes(n));
    });
}

rai_status rai_q4_quantize(rai_context *ctx, const rai_q4_params *params, const rai_tensor *src, rai_tensor *codes,
                           rai_q4_state **out_state) {
    if (out_state != nullptr) *out_state = nullptr;
    return with_ctx(ctx, [&](rai_context &c) {
        rai::require_not_null(out_state, "out_state");
        const rai_q4_params p = rai::read_params(params, kQ4ParamsV1, "params");
        *out_state = rai::q4::quantize(c, p, src, codes);
    });
}

void rai_q4_state_destroy(rai_q4_state *state) { delete state; }

rai_status rai_q4_dequantize(rai_context *ctx, const rai_q4_state *state, const rai_tensor *codes, rai_tensor *dst) {
    return with_ctx(ctx, [&](rai_context &c) { rai::q4::dequantize(c, deref(state, "state"), codes, dst); });
}

rai_status rai_q4_state_get_info(const rai_q4_state *state, rai_q4_state_info *info) {
    return guarded([&] {
        const rai_q4_state &s = deref(state, "state");
        rai::require_struct_size(info, kQ4StateInfoV1, "info", "rai_q4_state_info_init");
        rai_q4_state_info full{};
        rai::q4::state_info(s, &full);
        rai::write_out_struct(info, full);
    });
}

rai_status rai_q4_state_read(rai_context *ctx, const rai_q4_state *state, int32_t field, rai_tensor *dst) {
    return with_ctx(ctx, [&](rai_context &c) { rai::q4::read_field(c, deref(state, "state"), field, dst); });
}

rai_status rai_q4_state_create(rai_context *ctx, const rai_q4_state_params *params, const rai_tensor *absmax,
                               const rai_tensor *nested_absmax, const rai_tensor *nested_quant_map,
                               rai_q4_state **out_state) {
    if (out_state != nullptr) *out_state = nullptr;
    return with_ctx(ctx, [&](rai_context &c) {
        rai::require_not_null(out_state, "out_state");
        rai::require_not_null(params, "params");
        const rai_q4_state_params p = rai::read_params(params, kQ4StateParamsV1, "params");
        *out_state = rai::q4::create_state(c, p, absmax, nested_absmax, nested_quant_map);
    });
}

rai_status rai_q4_state_copy(rai_context *ctx, const rai_q4_state *state, rai_q4_state **out_state) {
    if (out_state != nullptr) *out_state = nullptr;
    return with_ctx(ctx, [&](rai_context &c) {
        rai::require_not_null(out_state, "out_state");
        *out_state = rai::q4::copy_state(c, deref(state, "state"));
    });
}

rai_status rai_q4_linear_forward(rai_context *ctx, const rai_q4_state *state, const rai_tensor *codes,
                                 const rai_tensor *x, const rai_tensor *bias, rai_tensor *y) {
    return with_ctx(ctx, [&](rai_context &c) { rai::q4::linear_forward(c, deref(state, "state"), codes, x, bias, y); });
}

rai_status rai_q4_linear_backward_input(rai_context *ctx, const rai_q4_state *state, const rai_tensor *codes,
                                        const rai_tensor *dy, rai_tensor *dx) {
    return with_ctx(ctx,
                    [&](rai_context &c) { rai::q4::linear_backward_input(c, deref(state, "state"), codes, dy, dx); });
}

}  // extern "C"
