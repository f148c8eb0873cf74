// Which tensors of a checkpoint are linear-layer weights (rai merge, rai quantize), and the
// --include / --exclude name filters of rai quantize.
#pragma once
#include <regex>
#include <string>

#include "rai.h"

// f32, f16 or bf16: the dtypes rai quantizes and merges.
bool is_float16_32(const rai_dtype &dtype);
// Embedding tables are 2-D ".weight" tensors too, but not linear layers ("embed_tokens",
// "wte", "wpe", "embed_out", ...); `module` is the name without ".weight".
bool is_embedding(const std::string &module);

// rai quantize's default rule, what bitsandbytes (transformers keeps lm_head in full precision)
// and llama.cpp users expect: a 2-D f32 / f16 / bf16 tensor named "<module>.weight" whose module
// is neither an embedding nor lm_head. Norms, biases and other 1-D tensors are not selected.
bool is_quantizable_linear_weight(const rai_safetensors_tensor_info &info);

class TensorFilter {
public:
    // ECMAScript regular expressions, matched anywhere in the name (std::regex_search).
    bool set_include(const std::string &pattern, std::string *why);
    bool set_exclude(const std::string &pattern, std::string *why);
    // --include replaces the default rule; --exclude then removes names from either.
    bool has_include() const { return has_include_; }
    bool selects(const rai_safetensors_tensor_info &info) const;

private:
    bool has_include_ = false, has_exclude_ = false;
    std::regex include_, exclude_;
};
