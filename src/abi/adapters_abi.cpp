// C ABI: adapters (LoRA family). Argument checks and the conversion of params; the work is in
// src/adapters/.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../adapters/adalora.h"
#include "../adapters/json_util.h"
#include "../adapters/lora_linear.h"
#include "../adapters/model.h"
#include "../core/context.h"
#include "../core/params.h"
#include "../core/tensor_check.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;
namespace ad = rai::adapters;
namespace jsonu = rai::jsonu;

namespace {

// Sizes of the params structs as first released (0.1).
constexpr size_t kAdapterParamsV1 = sizeof(rai_adapter_params);
constexpr size_t kLoraLinearParamsV1 = sizeof(rai_lora_linear_params);

std::string text(const char *s, const char *name) {
    rai::require_not_null(s, name);
    return s;
}

std::vector<std::string> name_list(const char *const *names, size_t n, const char *what) {
    rai::require(n == 0 || names != nullptr, RAI_ERROR_INVALID_ARGUMENT, std::string(what) + " must not be NULL when n > 0");
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) {
        rai::require(names[i] != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                     std::string(what) + "[" + std::to_string(i) + "] must not be NULL");
        out.emplace_back(names[i]);
    }
    return out;
}

char *copy_out(const std::string &s) {
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

std::vector<std::pair<std::string, double>> number_map(const char *json_text, const char *field, bool integers) {
    std::vector<std::pair<std::string, double>> out;
    if (json_text == nullptr || *json_text == '\0') return out;
    jsonu::Value v;
    try {
        v = jsonu::parse(json_text, field);
    } catch (const rai::Error &e) {
        throw rai::Error(RAI_ERROR_INVALID_ARGUMENT, e.what());
    }
    rai::require(v.kind == jsonu::Kind::Object, RAI_ERROR_INVALID_ARGUMENT, std::string(field) + " must be a JSON object");
    for (const auto &kv : v.members) {
        rai::require(kv.second.kind == jsonu::Kind::Number && (!integers || jsonu::as_number(kv.second) == std::floor(jsonu::as_number(kv.second))),
                     RAI_ERROR_INVALID_ARGUMENT,
                     std::string(field) + "[\"" + kv.first + "\"] must be " + (integers ? "an integer" : "a number"));
        out.emplace_back(kv.first, jsonu::as_number(kv.second));
    }
    return out;
}

// rai_adapter_params -> the PEFT config. Zero fields take PEFT's defaults; bad values are
// refused with a message naming the field.
ad::AdapterConfig to_config(const rai_adapter_params &p) {
    ad::AdapterConfig c;
    rai::require(p.peft_type >= 0 && p.peft_type <= RAI_PEFT_ADALORA, RAI_ERROR_INVALID_ARGUMENT,
                 "params->peft_type " + std::to_string(p.peft_type) + " is not a rai_peft_type");
    c.type = p.peft_type == 0 ? ad::PeftType::Lora : static_cast<ad::PeftType>(p.peft_type);
    rai::require(p.r >= 0, RAI_ERROR_INVALID_ARGUMENT, "params->r must be > 0 (0 = default), got " + std::to_string(p.r));
    c.r = p.r != 0 ? p.r : (c.type == ad::PeftType::Vera ? 256 : 8);
    rai::require(std::isfinite(p.alpha) && p.alpha >= 0.0f, RAI_ERROR_INVALID_ARGUMENT,
                 "params->alpha must be > 0 (0 = default 8), got " + std::to_string(p.alpha));
    c.alpha = p.alpha != 0.0f ? p.alpha : 8.0;
    c.alpha_is_int = c.alpha == std::floor(c.alpha);
    rai::require(p.dropout >= 0.0f && p.dropout < 1.0f, RAI_ERROR_INVALID_ARGUMENT,
                 "params->dropout must be in [0, 1), got " + std::to_string(p.dropout));
    c.dropout = p.dropout;
    rai::require(p.init >= 0 && p.init <= RAI_ADAPTER_INIT_RANDOM, RAI_ERROR_INVALID_ARGUMENT,
                 "params->init " + std::to_string(p.init) + " is not a rai_adapter_init");
    c.init = static_cast<ad::LoraInit>(p.init);
    constexpr uint32_t known = RAI_ADAPTER_RSLORA | RAI_ADAPTER_DORA | RAI_ADAPTER_FAN_IN_FAN_OUT | RAI_ADAPTER_LORA_BIAS;
    rai::require((p.flags & ~known) == 0, RAI_ERROR_INVALID_ARGUMENT, "params->flags has unknown bits");
    c.use_rslora = (p.flags & RAI_ADAPTER_RSLORA) != 0;
    c.use_dora = (p.flags & RAI_ADAPTER_DORA) != 0;
    c.fan_in_fan_out = (p.flags & RAI_ADAPTER_FAN_IN_FAN_OUT) != 0;
    c.lora_bias = (p.flags & RAI_ADAPTER_LORA_BIAS) != 0;
    rai::require(p.bias >= 0 && p.bias <= RAI_ADAPTER_BIAS_LORA_ONLY, RAI_ERROR_INVALID_ARGUMENT,
                 "params->bias " + std::to_string(p.bias) + " is not a rai_adapter_bias");
    c.bias = static_cast<ad::BiasMode>(p.bias);
    rai::require(p.target_modules != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                 "params->target_modules must be set (JSON: a list of names, a regex string or \"all-linear\")");
    c.targets = ad::ModuleSpec::from_text(p.target_modules, "params->target_modules");
    c.excludes = ad::ModuleSpec::from_text(p.exclude_modules, "params->exclude_modules");
    c.feedforward = ad::ModuleSpec::from_text(p.feedforward_modules, "params->feedforward_modules");
    if (c.type == ad::PeftType::Adalora) {
        // AdaLoRA's rank_pattern is the allocator's keep-mask per module; total_step has no
        // default in PEFT but must be > 0 for PEFT to load the config, and rai runs no schedule.
        if (p.rank_pattern != nullptr && *p.rank_pattern != '\0') {
            jsonu::Value v;
            try {
                v = jsonu::parse(p.rank_pattern, "params->rank_pattern");
            } catch (const rai::Error &e) {
                throw rai::Error(RAI_ERROR_INVALID_ARGUMENT, e.what());
            }
            c.rank_masks = ad::rank_masks_from_json(v, "params->rank_pattern");
        }
        c.total_step = 1;
    } else {
        for (const auto &kv : number_map(p.rank_pattern, "params->rank_pattern", true))
            c.rank_pattern.emplace_back(kv.first, static_cast<int32_t>(kv.second));
    }
    for (const auto &kv : number_map(p.alpha_pattern, "params->alpha_pattern", false)) c.alpha_pattern.push_back(kv);
    rai::require(std::isfinite(p.vera_d_initial), RAI_ERROR_INVALID_ARGUMENT, "params->vera_d_initial must be finite");
    c.vera_d_initial = p.vera_d_initial != 0.0f ? p.vera_d_initial : 0.1;
    c.rank_dropout = p.rank_dropout;
    c.module_dropout = p.module_dropout;
    c.decompose_factor = p.decompose_factor != 0 ? p.decompose_factor : -1;
    rai::require(c.decompose_factor == -1 || c.decompose_factor > 0, RAI_ERROR_INVALID_ARGUMENT,
                 "params->decompose_factor must be > 0 (0 = automatic)");
    if (c.type == ad::PeftType::Ia3) c.init_ia3_ones = c.init != ad::LoraInit::Random;
    c.raw = c.to_json();
    return c;
}

ad::Model &model_of(rai_adapter_model *m) { return deref(m, "model").impl; }

}  // namespace

extern "C" {

rai_status rai_adapter_params_init_sized(rai_adapter_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kAdapterParamsV1, "params"); });
}

rai_status rai_lora_linear_params_init_sized(rai_lora_linear_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kLoraLinearParamsV1, "params"); });
}

rai_status rai_lora_linear_forward(rai_context *ctx, const rai_lora_linear_params *params, const rai_tensor *x,
                                   const rai_tensor *weight, const rai_tensor *bias, const rai_tensor *lora_a,
                                   const rai_tensor *lora_b, const rai_tensor *magnitude, rai_tensor *y) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_lora_linear_params p = rai::read_params(params, kLoraLinearParamsV1, "params");
        std::lock_guard<std::mutex> lock(c.mutex);
        ad::lora_linear_forward(c, p, x, weight, bias, lora_a, lora_b, magnitude, y);
    });
}

rai_status rai_lora_linear_backward(rai_context *ctx, const rai_lora_linear_params *params, const rai_tensor *x,
                                    const rai_tensor *weight, const rai_tensor *lora_a, const rai_tensor *lora_b,
                                    const rai_tensor *magnitude, const rai_tensor *dy, rai_tensor *dx, rai_tensor *d_a,
                                    rai_tensor *d_b, rai_tensor *d_magnitude) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_lora_linear_params p = rai::read_params(params, kLoraLinearParamsV1, "params");
        std::lock_guard<std::mutex> lock(c.mutex);
        ad::lora_linear_backward(c, p, x, weight, lora_a, lora_b, magnitude, dy, dx, d_a, d_b, d_magnitude);
    });
}

rai_status rai_qlora_linear_forward(rai_context *ctx, const rai_lora_linear_params *params, const rai_tensor *x,
                                    const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *bias,
                                    const rai_tensor *lora_a, const rai_tensor *lora_b, const rai_tensor *magnitude,
                                    rai_tensor *y) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_lora_linear_params p = rai::read_params(params, kLoraLinearParamsV1, "params");
        std::lock_guard<std::mutex> lock(c.mutex);
        ad::qlora_linear_forward(c, p, x, state, codes, bias, lora_a, lora_b, magnitude, y);
    });
}

rai_status rai_qlora_linear_backward(rai_context *ctx, const rai_lora_linear_params *params, const rai_tensor *x,
                                     const rai_q4_state *state, const rai_tensor *codes, const rai_tensor *lora_a,
                                     const rai_tensor *lora_b, const rai_tensor *magnitude, const rai_tensor *dy,
                                     rai_tensor *dx, rai_tensor *d_a, rai_tensor *d_b, rai_tensor *d_magnitude) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_lora_linear_params p = rai::read_params(params, kLoraLinearParamsV1, "params");
        std::lock_guard<std::mutex> lock(c.mutex);
        ad::qlora_linear_backward(c, p, x, state, codes, lora_a, lora_b, magnitude, dy, dx, d_a, d_b, d_magnitude);
    });
}

rai_status rai_lora_linear_forward_mixed(rai_context *ctx, const rai_tensor *x, const rai_tensor *weight,
                                         const rai_tensor *bias, size_t n_adapters, const rai_tensor *const *lora_a,
                                         const rai_tensor *const *lora_b, const float *scaling,
                                         const int32_t *row_adapter, rai_tensor *y) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        ad::lora_linear_forward_mixed(c, x, weight, bias, n_adapters, lora_a, lora_b, scaling, row_adapter, y);
    });
}

rai_status rai_adapter_model_create(rai_context *ctx, rai_adapter_model **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        *out = new rai_adapter_model(&c);
    });
}

void rai_adapter_model_destroy(rai_adapter_model *model) { delete model; }

rai_status rai_adapter_model_add_linear(rai_adapter_model *model, const char *name, const rai_tensor *weight,
                                        const rai_tensor *bias, uint32_t flags) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.add_linear(n, weight, bias, flags);
    });
}

rai_status rai_adapter_model_add_linear_q4(rai_adapter_model *model, const char *name, const rai_q4_state *state,
                                           const rai_tensor *codes, const rai_tensor *bias) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        rai::require_not_null(state, "state");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.add_linear_q4(n, *state, codes, bias);
    });
}

rai_status rai_adapter_merged_weight(rai_adapter_model *model, const char *module, const char *const *names, size_t n,
                                     const rai_tensor *master, rai_tensor *out) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string mod = text(module, "module");
        const std::vector<std::string> list = name_list(names, n, "names");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.merged_weight(mod, list, master, out);
    });
}

rai_status rai_adapter_model_get_weight(rai_adapter_model *model, const char *name, rai_tensor *weight,
                                        rai_tensor *bias) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.get_weight(n, weight, bias);
    });
}

rai_status rai_adapter_model_info_json(rai_adapter_model *model, char **out_json) {
    if (out_json != nullptr) *out_json = nullptr;
    return guarded([&] {
        ad::Model &m = model_of(model);
        rai::require_not_null(out_json, "out_json");
        std::lock_guard<std::mutex> lock(m.mutex);
        namespace J = rai::jsonu;
        using J::Value;
        Value root = J::object();
        Value mods = J::array();
        for (const ad::BaseModule &b : m.modules()) {
            Value o = J::object();
            jsonu::set(o, "name", J::string(b.name));
            jsonu::set(o, "out", J::integer(b.out));
            jsonu::set(o, "in", J::integer(b.in));
            jsonu::set(o, "dtype", J::string(b.dtype == ad::Fp::F32 ? "f32" : b.dtype == ad::Fp::BF16 ? "bf16" : "f16"));
            jsonu::set(o, "bias", J::boolean(!b.bias.empty()));
            jsonu::set(o, "fan_in_fan_out", J::boolean(b.fan_in_fan_out));
            mods.items.push_back(std::move(o));
        }
        jsonu::set(root, "modules", std::move(mods));
        Value ads = J::array();
        for (const std::string &an : m.adapter_names()) {
            const ad::Adapter &a = m.adapter(an);
            Value o = J::object();
            jsonu::set(o, "name", J::string(an));
            jsonu::set(o, "peft_type", J::string(ad::peft_type_name(a.cfg.type)));
            Value ms = J::array();
            int64_t params = 0;
            for (const ad::ModuleAdapter &ma : a.modules) {
                ms.items.push_back(J::string(m.modules()[ma.module].name));
                for (const ad::Param &p : ma.params) params += p.numel();
            }
            for (const auto &kv : a.biases) params += kv.second.numel();
            jsonu::set(o, "modules", std::move(ms));
            jsonu::set(o, "parameters", J::integer(params));
            ads.items.push_back(std::move(o));
        }
        jsonu::set(root, "adapters", std::move(ads));
        Value active = J::array();
        for (const auto &[an, weight] : m.active()) {
            Value o = J::object();
            jsonu::set(o, "name", J::string(an));
            jsonu::set(o, "weight", J::number(weight));
            active.items.push_back(std::move(o));
        }
        jsonu::set(root, "active", std::move(active));
        Value merged = J::array();
        for (const std::string &n : m.merged()) merged.items.push_back(J::string(n));
        jsonu::set(root, "merged", std::move(merged));
        jsonu::set(root, "enabled", J::boolean(m.enabled()));
        jsonu::set(root, "training", J::boolean(m.training()));
        *out_json = copy_out(jsonu::dump(root, 2));
    });
}

rai_status rai_adapter_model_set_training(rai_adapter_model *model, int32_t training) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        rai::require(training == 0 || training == 1, RAI_ERROR_INVALID_ARGUMENT, "training must be 0 or 1");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.set_training(training != 0);
    });
}

rai_status rai_adapter_add(rai_adapter_model *model, const char *name, const rai_adapter_params *params) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        rai::require_not_null(params, "params");
        const rai_adapter_params p = rai::read_params(params, kAdapterParamsV1, "params");
        ad::AdapterConfig c = to_config(p);
        std::lock_guard<std::mutex> lock(m.mutex);
        m.add_adapter(n, std::move(c), p.seed, true);
    });
}

rai_status rai_adapter_add_json(rai_adapter_model *model, const char *name, const char *config_json, uint64_t seed) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        const std::string j = text(config_json, "config_json");
        ad::AdapterConfig c = ad::AdapterConfig::from_json(jsonu::parse(j, "config_json"), "config_json");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.add_adapter(n, std::move(c), seed, true);
    });
}

rai_status rai_adapter_delete(rai_adapter_model *model, const char *name) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.delete_adapter(n);
    });
}

rai_status rai_adapter_set_active(rai_adapter_model *model, const char *const *names, const float *weights, size_t n) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::vector<std::string> list = name_list(names, n, "names");
        std::vector<float> w;
        if (weights != nullptr) w.assign(weights, weights + n);
        std::lock_guard<std::mutex> lock(m.mutex);
        m.set_active(list, w);
    });
}

rai_status rai_adapter_set_enabled(rai_adapter_model *model, int32_t enabled) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        rai::require(enabled == 0 || enabled == 1, RAI_ERROR_INVALID_ARGUMENT, "enabled must be 0 or 1");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.set_enabled(enabled != 0);
    });
}

rai_status rai_adapter_add_weighted(rai_adapter_model *model, const char *new_name, const char *const *names,
                                    const float *weights, size_t n, int32_t combination) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string nn = text(new_name, "new_name");
        const std::vector<std::string> list = name_list(names, n, "names");
        rai::require_not_null(weights, "weights");
        std::vector<float> w(weights, weights + n);
        std::lock_guard<std::mutex> lock(m.mutex);
        m.add_weighted(nn, list, w, combination);
    });
}

namespace {
void copy_param(const rai_context &ctx, const ad::Param &p, const std::vector<float> &src, rai_tensor *dst) {
    rai::TensorCheck c("dst", dst);
    c.on(ctx).contiguous();
    ad::Fp k = ad::Fp::F32;
    rai::require(ad::float_kind(dst->dtype, &k), RAI_ERROR_DTYPE_MISMATCH,
                 "dst: expected dtype f32, bf16 or f16, got " + rai::dtype::describe(dst->dtype));
    rai::require(c.numel() == p.numel() && dst->ndim == static_cast<int32_t>(p.shape.size()), RAI_ERROR_SHAPE_MISMATCH,
                 "dst: shape " + c.shape_string() + ", the tensor has shape " +
                     rai::format_shape(p.shape.data(), static_cast<int32_t>(p.shape.size())));
    for (size_t i = 0; i < p.shape.size(); ++i)
        rai::require(dst->shape[i] == p.shape[i], RAI_ERROR_SHAPE_MISMATCH,
                     "dst: shape " + c.shape_string() + ", the tensor has shape " +
                         rai::format_shape(p.shape.data(), static_cast<int32_t>(p.shape.size())));
    if (!src.empty()) ad::store_floats(k, src.data(), c.data(), src.size());
}
}  // namespace

rai_status rai_adapter_get_tensor(rai_adapter_model *model, const char *adapter, const char *key, rai_tensor *dst) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string a = text(adapter, "adapter"), k = text(key, "key");
        std::lock_guard<std::mutex> lock(m.mutex);
        const ad::Param &p = m.tensor(a, k);
        copy_param(m.state_context(), p, p.value, dst);
    });
}

rai_status rai_adapter_get_grad(rai_adapter_model *model, const char *adapter, const char *key, rai_tensor *dst) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string a = text(adapter, "adapter"), k = text(key, "key");
        std::lock_guard<std::mutex> lock(m.mutex);
        const ad::Param &p = m.tensor(a, k);
        rai::require(p.trainable, RAI_ERROR_INVALID_ARGUMENT, "key \"" + k + "\" is frozen and has no gradient");
        copy_param(m.state_context(), p, p.grad, dst);
    });
}

rai_status rai_adapter_set_tensor(rai_adapter_model *model, const char *adapter, const char *key, const rai_tensor *src) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string a = text(adapter, "adapter"), k = text(key, "key");
        std::lock_guard<std::mutex> lock(m.mutex);
        for (const std::string &n : m.merged())
            rai::require(n != a, RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + a + "\" is merged; unmerge before changing it");
        ad::Param &p = m.tensor(a, k);
        rai::TensorCheck c("src", src);
        c.on(m.state_context()).contiguous();
        ad::Fp kind = ad::Fp::F32;
        rai::require(ad::float_kind(src->dtype, &kind), RAI_ERROR_DTYPE_MISMATCH,
                     "src: expected dtype f32, bf16 or f16, got " + rai::dtype::describe(src->dtype));
        bool ok = src->ndim == static_cast<int32_t>(p.shape.size());
        for (size_t i = 0; ok && i < p.shape.size(); ++i) ok = src->shape[i] == p.shape[i];
        rai::require(ok, RAI_ERROR_SHAPE_MISMATCH,
                     "src: shape " + c.shape_string() + ", the tensor has shape " +
                         rai::format_shape(p.shape.data(), static_cast<int32_t>(p.shape.size())));
        std::vector<float> v(static_cast<size_t>(p.numel()));
        if (!v.empty()) ad::load_floats(kind, c.data(), v.data(), v.size());
        p.value = std::move(v);
    });
}

rai_status rai_adapter_tensors_json(rai_adapter_model *model, const char *adapter, char **out_json) {
    if (out_json != nullptr) *out_json = nullptr;
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string a = text(adapter, "adapter");
        rai::require_not_null(out_json, "out_json");
        std::lock_guard<std::mutex> lock(m.mutex);
        namespace J = rai::jsonu;
        using J::Value;
        Value list = J::array();
        for (const auto &kv : m.tensors(a)) {
            Value o = J::object();
            jsonu::set(o, "key", J::string(kv.first));
            Value shape = J::array();
            for (int64_t d : kv.second->shape) shape.items.push_back(J::integer(d));
            jsonu::set(o, "shape", std::move(shape));
            jsonu::set(o, "trainable", J::boolean(kv.second->trainable));
            list.items.push_back(std::move(o));
        }
        *out_json = copy_out(jsonu::dump(list, 2));
    });
}

rai_status rai_adapter_config_json(rai_adapter_model *model, const char *adapter, char **out_json) {
    if (out_json != nullptr) *out_json = nullptr;
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string a = text(adapter, "adapter");
        rai::require_not_null(out_json, "out_json");
        std::lock_guard<std::mutex> lock(m.mutex);
        *out_json = copy_out(jsonu::dump(m.adapter(a).cfg.to_json(), 2));
    });
}

rai_status rai_adapter_clip_grad_norm(rai_adapter_model *model, const char *adapter, float max_norm, float *out_norm) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        std::lock_guard<std::mutex> lock(m.mutex);
        const float n = m.clip_grad_norm(adapter != nullptr ? adapter : "", max_norm);
        if (out_norm != nullptr) *out_norm = n;
    });
}

rai_status rai_adapter_zero_grad(rai_adapter_model *model, const char *adapter) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        std::lock_guard<std::mutex> lock(m.mutex);
        m.zero_grad(adapter != nullptr ? adapter : "");
    });
}

rai_status rai_adapter_adalora_update(rai_adapter_model *model, const char *adapter, int64_t global_step,
                                      int64_t *out_budget) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string name = text(adapter, "adapter");
        std::lock_guard<std::mutex> lock(m.mutex);
        const int64_t budget = ad::adalora_update_and_allocate(m, m.adapter(name), global_step);
        if (out_budget != nullptr) *out_budget = budget;
    });
}

rai_status rai_adapter_adalora_orth_reg(rai_adapter_model *model, const char *adapter, int32_t accumulate_grad,
                                        float *out_loss) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string name = text(adapter, "adapter");
        std::lock_guard<std::mutex> lock(m.mutex);
        const float loss = ad::adalora_orth_reg(m.adapter(name), accumulate_grad != 0);
        if (out_loss != nullptr) *out_loss = loss;
    });
}

rai_status rai_adapter_forward(rai_adapter_model *model, const char *module, const rai_tensor *x, rai_tensor *y) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string mod = text(module, "module");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.forward(mod, x, y);
    });
}

rai_status rai_adapter_forward_mixed(rai_adapter_model *model, const char *module, const rai_tensor *x,
                                     const char *const *names, size_t n_names, const int32_t *row_adapter,
                                     rai_tensor *y) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string mod = text(module, "module");
        const std::vector<std::string> list = name_list(names, n_names, "names");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.forward_mixed(mod, x, list, row_adapter, y);
    });
}

rai_status rai_adapter_backward(rai_adapter_model *model, const char *module, const rai_tensor *x,
                                const rai_tensor *dy, rai_tensor *dx) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string mod = text(module, "module");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.backward(mod, x, dy, dx);
    });
}

rai_status rai_adapter_merge(rai_adapter_model *model, const char *const *names, size_t n, uint32_t flags) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::vector<std::string> list = name_list(names, n, "names");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.merge(list, flags);
    });
}

rai_status rai_adapter_unmerge(rai_adapter_model *model, int32_t count) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        rai::require(count >= 0, RAI_ERROR_INVALID_ARGUMENT, "count must be >= 0 (0 = all)");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.unmerge(count);
    });
}

rai_status rai_adapter_load_peft(rai_adapter_model *model, const char *dir, const char *name) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string d = text(dir, "dir"), n = text(name, "name");
        std::lock_guard<std::mutex> lock(m.mutex);
        m.load_peft(d, n, 0);
    });
}

rai_status rai_adapter_save_peft(rai_adapter_model *model, const char *name, const char *dir, const rai_dtype *dtype) {
    return guarded([&] {
        ad::Model &m = model_of(model);
        const std::string n = text(name, "name"), d = text(dir, "dir");
        ad::Fp k = ad::Fp::F32;
        if (dtype != nullptr)
            rai::require(ad::float_kind(*dtype, &k), RAI_ERROR_DTYPE_MISMATCH,
                         "dtype: expected f32, bf16 or f16, got " + rai::dtype::describe(*dtype));
        std::lock_guard<std::mutex> lock(m.mutex);
        m.save_peft(n, d, k);
    });
}

}  // extern "C"
