// bitsandbytes 4-bit checkpoint keys (Linear4bit state dicts) on top of safetensors.
#pragma once
#include <string>

#include "rai.h"

namespace rai::bnb4 {

rai_q4_state *load(const rai_context &ctx, const rai_safetensors &file, const std::string &prefix);
void save(const rai_context &ctx, rai_safetensors_writer &writer, const std::string &prefix, const rai_q4_state &state,
          const rai_tensor *codes);
// The JSON blob bitsandbytes writes for a state (json.dumps of its non-tensor fields).
std::string quant_state_json(const rai_q4_state &state);

}  // namespace rai::bnb4
