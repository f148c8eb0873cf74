// Adapter configuration with HF PEFT semantics: the tuner, its hyper-parameters, which modules
// it targets, and per-module rank/alpha patterns. Read from and written to adapter_config.json
// tolerantly: float or int alpha, unknown fields kept (in `raw`) and written back.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "json_util.h"
#include "rai.h"

namespace rai::adapters {

enum class PeftType { Lora = 1, Ia3 = 2, Vera = 3, Loha = 4, Lokr = 5, Adalora = 6 };
enum class LoraInit { Default = 0, Gaussian = 1, None = 2, Random = 3 };
enum class BiasMode { None = 0, All = 1, LoraOnly = 2 };

const char *peft_type_name(PeftType t);  // "LORA", "IA3", ...

// PEFT's target_modules / exclude_modules / feedforward_modules value.
struct ModuleSpec {
    enum class Kind { Unset, List, Regex, AllLinear };
    Kind kind = Kind::Unset;
    std::vector<std::string> names;  // List
    std::string regex;               // Regex
    // A list matches a module whose full name equals an entry or ends with "." + entry; a string
    // is a regex full match; "all-linear" matches every linear module except the output layer.
    bool matches(const std::string &module) const;
    // Which list entry matched (for the "target absent from the base" check); -1 otherwise.
    int matching_entry(const std::string &module) const;
    jsonu::Value to_json() const;
    static ModuleSpec from_json(const jsonu::Value &v, const std::string &field);
    static ModuleSpec from_text(const char *json_text, const std::string &field);
};

// AdaLoRA's rank_pattern entry: which of a module's init_r singular values (rows of lora_A and
// lora_E, columns of lora_B) the budget allocator kept. PEFT keys it "<module>.lora_E".
struct RankMask {
    std::string module;
    std::vector<uint8_t> keep;  // init_r entries, 0 or 1
    int32_t kept() const;
};

struct AdapterConfig {
    PeftType type = PeftType::Lora;
    int32_t r = 8;  // AdaLoRA: init_r (PEFT's own "r" field is ignored by AdaLoRA)
    double alpha = 8;
    bool alpha_is_int = true;  // how lora_alpha is written back
    double dropout = 0;
    LoraInit init = LoraInit::Default;
    bool use_rslora = false;
    bool use_dora = false;
    bool fan_in_fan_out = false;
    bool lora_bias = false;  // lora_B carries a bias
    BiasMode bias = BiasMode::None;
    ModuleSpec targets, excludes, feedforward;
    std::vector<std::pair<std::string, int32_t>> rank_pattern;
    std::vector<std::pair<std::string, double>> alpha_pattern;
    std::vector<int64_t> layers_to_transform;  // empty = all layers
    std::vector<std::string> layers_pattern;   // empty = PEFT's defaults
    bool init_ia3_ones = true;
    double vera_d_initial = 0.1;
    int64_t projection_prng_key = 0;
    bool save_projection = true;
    double rank_dropout = 0, module_dropout = 0;
    int32_t decompose_factor = -1;
    bool decompose_both = false;
    bool rank_dropout_scale = false;
    // AdaLoRA: the budget schedule (kept and written back; rai trains at a fixed rank pattern)
    // and the rank pattern the allocator produced.
    int32_t target_r = 8;
    int64_t tinit = 0, tfinal = 0, delta_t = 1, total_step = 0;  // total_step 0 = unset (PEFT refuses)
    double beta1 = 0.85, beta2 = 0.85, orth_reg_weight = 0.5;
    std::vector<RankMask> rank_masks;
    jsonu::Value raw = jsonu::object();  // the config as read: unknown fields survive

    // Throws INVALID_ARGUMENT naming the field: r <= 0, alpha <= 0, dropout outside [0, 1), ...
    void validate() const;
    // Per-module rank and alpha after rank_pattern / alpha_pattern (PEFT's get_pattern_key).
    int32_t rank_for(const std::string &module) const;
    double alpha_for(const std::string &module) const;
    // LoRA: alpha/r or alpha/sqrt(r); LoHa/LoKr: alpha/r; AdaLoRA: alpha/(init_r + 1e-5) (PEFT's
    // ranknum stays init_r when rank_pattern shrinks a module).
    double scaling_for(const std::string &module) const;
    // AdaLoRA: the module's rank_pattern entry, or NULL (all init_r singular values kept).
    const RankMask *rank_mask_for(const std::string &module) const;
    // Whether a module (a linear layer of the base) is adapted by this config.
    bool targets_module(const std::string &module) const;
    bool is_feedforward(const std::string &module) const;

    jsonu::Value to_json() const;
    static AdapterConfig from_json(const jsonu::Value &v, const std::string &what);
};

// Layer index of a module name ("model.layers.3.mlp" -> 3 with pattern "layers"), or -1.
int64_t layer_index(const std::string &module, const std::vector<std::string> &patterns);
// PEFT's rank/alpha pattern key lookup: an exact name, else the first key K whose regex
// "(.*\.)?K$" matches the module name; returns -1 when none matches.
int find_pattern_key(const std::vector<std::string> &keys, const std::string &module);
// AdaLoRA rank_pattern JSON ({"<module>.lora_E[.<adapter>]": [bool, ...]}) -> masks; `field`
// names the value in errors (RAI_ERROR_INVALID_ARGUMENT).
std::vector<RankMask> rank_masks_from_json(const jsonu::Value &v, const std::string &field);

}  // namespace rai::adapters
