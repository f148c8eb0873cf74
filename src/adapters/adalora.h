// AdaLoRA's training-time pieces, as PEFT runs them: the budget allocator (RankAllocator and
// AdaLoraModel.update_and_allocate) and the orthogonal regulariser AdaLoraModel.forward adds to
// the loss. Host (fp32) arithmetic over the adapter's parameters and accumulated gradients.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "model.h"

namespace rai::adapters {

// The allocator's state for one adapter: per module, the EMAs of the sensitivity |p·grad|
// (exp_avg_ipt) and of its uncertainty (exp_avg_unc) for lora_A, lora_E, lora_B.
struct AdaloraAllocator {
    struct Ema {
        std::vector<float> ipt, unc;
    };
    std::map<std::size_t, std::array<Ema, 3>> ema;  // module index -> A, E, B
};

// PEFT's budget at `step` (cubic decrease from the initial to the target budget between tinit
// and total_step - tfinal) and whether masking is due (every deltaT steps in between).
struct AdaloraBudget {
    int64_t budget = 0;
    bool mask = false;
};
AdaloraBudget adalora_budget(const AdapterConfig &c, int64_t init_bgt, int64_t target_bgt, int64_t step);

// One call of AdaLoraModel.update_and_allocate(step): before total_step - tfinal the EMAs are
// updated from the parameters and their gradients and, when due, the singular values (lora_E
// entries) whose triplet score is at or below the (init - budget)-th smallest are zeroed and
// the adapter's rank_pattern records the mask; at total_step - tfinal the final mask is taken
// at the target budget and the EMAs reset; after it the final mask is re-applied. Returns the
// budget (the target budget after the final step).
int64_t adalora_update_and_allocate(Model &m, Adapter &a, int64_t step);

// orth_reg_weight * mean over lora_A and lora_B of ||P Pᵀ - I||_F (A: P = lora_A, B: P =
// lora_Bᵀ); adds its gradient to the parameters' gradients when `accumulate`. Returns the term.
float adalora_orth_reg(Adapter &a, bool accumulate);

}  // namespace rai::adapters
