// Per-module adapter math on fp32 host matrices (the CPU reference): delta weights, DoRA norms,
// the additive contribution of one adapter to a module's output and its backward.
#pragma once
#include <cstdint>
#include <vector>

#include "model.h"

namespace rai::adapters {

// Δ = the adapter's weight update [out, in] in fp32 (LoRA s·B·A, AdaLoRA s·B·(A⊙E), VeRA (λb⊙B)(λd⊙A), LoHa,
// LoKr). row_keep (LoHa/LoKr rank dropout) may be NULL.
std::vector<float> delta_weight(const Adapter &a, const ModuleAdapter &ma, const BaseModule &bm,
                                const std::vector<float> *row_scale = nullptr);
// DoRA: ‖W + s·B·A‖ per output row, W the fp32 [out,in] weight.
std::vector<float> dora_weight_norm(const ModuleAdapter &ma, const BaseModule &bm, const std::vector<float> &w32);

// The additive part of one adapter on rows [0, M) of a module's output: Y += w·adapter(X).
// Y0 = X·Wᵀ (no bias) for DoRA. key: dropout stream (training); row0: global index of row 0.
struct RowBlock {
    int64_t M;
    const float *X;   // [M, in]
    const float *Y0;  // [M, out]
    float *Y;         // [M, out]
};
void add_contribution(const Adapter &a, const ModuleAdapter &ma, float w, const BaseModule &bm, const RowBlock &rb,
                      bool training, uint64_t key);
// Backward of add_contribution: accumulates parameter gradients into ma's params and adds the
// adapter path's input gradient into dX [M, in].
void backward_contribution(Adapter &a, ModuleAdapter &ma, float w, const BaseModule &bm, int64_t M, const float *X,
                           const float *Y0, const float *dY, float *dX, bool training, uint64_t key);

// Keys of the independent random streams of one training forward (under the module step key).
constexpr uint64_t kStreamInput = 1, kStreamRank = 2, kStreamModule = 3;
// LoHa/LoKr in training: whether module dropout skips the adapter, and the rank-dropout row
// scale (empty when none applies).
bool module_dropped(const Adapter &a, bool training, uint64_t key);
std::vector<float> rank_row_scale(const Adapter &a, int64_t out, bool training, uint64_t key);
// AdaLoRA: A⊙E, the right singular vectors [r, in] scaled by their singular values.
std::vector<float> adalora_ae(const ModuleAdapter &ma, int64_t in);

// Kaiming-uniform with a = sqrt(5) (nn.Linear's default): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void kaiming_uniform(std::vector<float> &v, int64_t fan_in, uint64_t key);
void gaussian(std::vector<float> &v, float stddev, uint64_t key);

}  // namespace rai::adapters
