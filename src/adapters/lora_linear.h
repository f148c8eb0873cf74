// One LoRA/DoRA linear layer on caller tensors: the C ABI's rai_lora_linear_* (CPU reference
// through the tuner math, CUDA through the plugin's "adapters/1" table).
#pragma once
#include <cstddef>

#include "rai.h"

namespace rai::adapters {

void lora_linear_forward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x, const rai_tensor *w,
                         const rai_tensor *bias, const rai_tensor *a, const rai_tensor *b, const rai_tensor *magnitude,
                         rai_tensor *y);
void lora_linear_backward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x, const rai_tensor *w,
                          const rai_tensor *a, const rai_tensor *b, const rai_tensor *magnitude, const rai_tensor *dy,
                          rai_tensor *dx, rai_tensor *da, rai_tensor *db, rai_tensor *dmagnitude);
// QLoRA: the same with a frozen 4-bit base (a 2-D rai_q4_state [out, in] and its codes).
void qlora_linear_forward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x,
                          const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *bias, const rai_tensor *a,
                          const rai_tensor *b, const rai_tensor *magnitude, rai_tensor *y);
void qlora_linear_backward(rai_context &ctx, const rai_lora_linear_params &p, const rai_tensor *x,
                           const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *a, const rai_tensor *b,
                           const rai_tensor *magnitude, const rai_tensor *dy, rai_tensor *dx, rai_tensor *da,
                           rai_tensor *db, rai_tensor *dmagnitude);
void lora_linear_forward_mixed(rai_context &ctx, const rai_tensor *x, const rai_tensor *w, const rai_tensor *bias,
                               std::size_t n, const rai_tensor *const *a, const rai_tensor *const *b,
                               const float *scaling, const int32_t *row_adapter, rai_tensor *y);

}  // namespace rai::adapters
