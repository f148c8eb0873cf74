#include "config.h"

#include <cmath>
#include <regex>

#include "../core/error.h"

namespace rai::adapters {

const char *peft_type_name(PeftType t) {
    switch (t) {
        case PeftType::Lora: return "LORA";
        case PeftType::Ia3: return "IA3";
        case PeftType::Vera: return "VERA";
        case PeftType::Loha: return "LOHA";
        case PeftType::Lokr: return "LOKR";
        case PeftType::Adalora: return "ADALORA";
    }
    return "?";
}

namespace {

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::regex compile(const std::string &pattern, const std::string &field) {
    try {
        return std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error &e) {
        throw Error(RAI_ERROR_INVALID_ARGUMENT, field + ": invalid regular expression \"" + pattern + "\": " + e.what());
    }
}

bool last_component_is(const std::string &module, const char *name) {
    const auto dot = module.rfind('.');
    return (dot == std::string::npos ? module : module.substr(dot + 1)) == name;
}

[[noreturn]] void bad_field(const std::string &what, const std::string &field, const std::string &msg) {
    throw Error(RAI_ERROR_FORMAT, what + ": \"" + field + "\" " + msg);
}

}  // namespace

// ---------------------------------------------------------------- ModuleSpec

bool ModuleSpec::matches(const std::string &module) const {
    switch (kind) {
        case Kind::Unset: return false;
        case Kind::AllLinear: return !last_component_is(module, "lm_head");
        case Kind::Regex: return std::regex_match(module, compile(regex, "target_modules"));
        case Kind::List: return matching_entry(module) >= 0;
    }
    return false;
}

int ModuleSpec::matching_entry(const std::string &module) const {
    if (kind != Kind::List) return -1;
    for (std::size_t k = 0; k < names.size(); ++k)
        if (module == names[k] || ends_with(module, "." + names[k])) return static_cast<int>(k);
    return -1;
}

jsonu::Value ModuleSpec::to_json() const {
    switch (kind) {
        case Kind::Unset: return jsonu::null();
        case Kind::AllLinear: return jsonu::string("all-linear");
        case Kind::Regex: return jsonu::string(regex);
        case Kind::List: {
            jsonu::Value a = jsonu::array();
            for (const std::string &n : names) a.items.push_back(jsonu::string(n));
            return a;
        }
    }
    return jsonu::null();
}

ModuleSpec ModuleSpec::from_json(const jsonu::Value &v, const std::string &field) {
    ModuleSpec s;
    if (v.kind == jsonu::Kind::Null) return s;
    if (v.kind == jsonu::Kind::String) {
        if (v.text == "all-linear") {
            s.kind = Kind::AllLinear;
        } else {
            s.kind = Kind::Regex;
            s.regex = v.text;
            compile(s.regex, field);  // fail now, not at first use
        }
        return s;
    }
    if (v.kind != jsonu::Kind::Array)
        throw Error(RAI_ERROR_INVALID_ARGUMENT, field + " must be a list of names, a regex string or \"all-linear\"");
    s.kind = Kind::List;
    for (const jsonu::Value &e : v.items) {
        if (e.kind != jsonu::Kind::String || e.text.empty())
            throw Error(RAI_ERROR_INVALID_ARGUMENT, field + " entries must be non-empty strings");
        s.names.push_back(e.text);
    }
    return s;
}

ModuleSpec ModuleSpec::from_text(const char *json_text, const std::string &field) {
    if (json_text == nullptr || *json_text == '\0') return {};
    jsonu::Value v;
    try {
        v = jsonu::parse(json_text, field);
    } catch (const Error &e) {
        throw Error(RAI_ERROR_INVALID_ARGUMENT, e.what());
    }
    return from_json(v, field);
}

// ---------------------------------------------------------------- patterns

int64_t layer_index(const std::string &module, const std::vector<std::string> &patterns) {
    std::smatch m;
    if (patterns.empty()) {
        static const std::regex any(R"(.*\.[^.]*\.(\d+)\..*)");
        if (std::regex_match(module, m, any)) return std::stoll(m[1].str());
        return -1;
    }
    for (const std::string &p : patterns) {
        const std::regex re(".*\\." + p + "\\.(\\d+)\\..*");
        if (std::regex_match(module, m, re)) return std::stoll(m[1].str());
    }
    return -1;
}

int find_pattern_key(const std::vector<std::string> &keys, const std::string &module) {
    for (std::size_t k = 0; k < keys.size(); ++k)
        if (keys[k] == module) return static_cast<int>(k);
    for (std::size_t k = 0; k < keys.size(); ++k) {
        const std::regex re("(.*\\.)?(" + keys[k] + ")", std::regex::ECMAScript);
        if (std::regex_match(module, re)) return static_cast<int>(k);
    }
    return -1;
}

// ---------------------------------------------------------------- AdaLoRA rank masks

int32_t RankMask::kept() const {
    int32_t n = 0;
    for (uint8_t k : keep) n += k != 0;
    return n;
}

std::vector<RankMask> rank_masks_from_json(const jsonu::Value &v, const std::string &field) {
    std::vector<RankMask> out;
    if (v.kind == jsonu::Kind::Null) return out;
    auto bad = [&](const std::string &m) { throw Error(RAI_ERROR_INVALID_ARGUMENT, field + m); };
    if (v.kind != jsonu::Kind::Object) bad(" must be an object {\"<module>.lora_E\": [true, false, ...]}");
    for (const auto &kv : v.members) {
        // "<module>.lora_E", or with the adapter name PEFT keeps in memory: "<module>.lora_E.<adapter>".
        const std::string &k = kv.first;
        const auto pos = k.rfind(".lora_E");
        const bool ok = pos != std::string::npos && pos > 0 &&
                        (pos + 7 == k.size() || (k[pos + 7] == '.' && k.find('.', pos + 8) == std::string::npos));
        if (!ok) bad("[\"" + k + "\"]: the key must be \"<module>.lora_E\"");
        RankMask m;
        m.module = k.substr(0, pos);
        for (const auto &e : out)
            if (e.module == m.module) bad("[\"" + k + "\"]: module \"" + m.module + "\" is named twice");
        if (kv.second.kind != jsonu::Kind::Array) bad("[\"" + k + "\"] must be a list of booleans");
        for (const jsonu::Value &b : kv.second.items) {
            if (b.kind == jsonu::Kind::Bool) m.keep.push_back(b.boolean ? 1 : 0);
            else if (jsonu::is_integer(b) && (jsonu::as_number(b) == 0 || jsonu::as_number(b) == 1))
                m.keep.push_back(static_cast<uint8_t>(jsonu::as_number(b)));
            else bad("[\"" + k + "\"] must be a list of booleans");
        }
        out.push_back(std::move(m));
    }
    return out;
}

// ---------------------------------------------------------------- AdapterConfig

void AdapterConfig::validate() const {
    auto bad = [](const std::string &m) { throw Error(RAI_ERROR_INVALID_ARGUMENT, m); };
    if (type != PeftType::Ia3) {
        if (r <= 0) bad(std::string(type == PeftType::Adalora ? "init_r" : "r") + " must be > 0, got " + std::to_string(r));
        for (const auto &p : rank_pattern)
            if (p.second <= 0) bad("rank_pattern[\"" + p.first + "\"] must be > 0");
    }
    if (type == PeftType::Lora || type == PeftType::Loha || type == PeftType::Lokr || type == PeftType::Adalora) {
        if (!(alpha > 0) || !std::isfinite(alpha)) bad("alpha must be a finite value > 0, got " + std::to_string(alpha));
        for (const auto &p : alpha_pattern)
            if (!(p.second > 0) || !std::isfinite(p.second)) bad("alpha_pattern[\"" + p.first + "\"] must be > 0");
    }
    if (!(dropout >= 0 && dropout < 1)) bad("dropout must be in [0, 1), got " + std::to_string(dropout));
    if (!(rank_dropout >= 0 && rank_dropout < 1)) bad("rank_dropout must be in [0, 1)");
    if (!(module_dropout >= 0 && module_dropout < 1)) bad("module_dropout must be in [0, 1)");
    if (type == PeftType::Vera && !(std::isfinite(vera_d_initial))) bad("d_initial must be finite");
    if (targets.kind == ModuleSpec::Kind::Unset) bad("target_modules must be set");
    if (type == PeftType::Ia3 && feedforward.kind == ModuleSpec::Kind::List) {
        // PEFT: feedforward_modules must be a subset of target_modules.
        if (targets.kind == ModuleSpec::Kind::List)
            for (const std::string &f : feedforward.names) {
                bool found = false;
                for (const std::string &t : targets.names) found = found || t == f;
                if (!found) bad("feedforward_modules entry \"" + f + "\" is not in target_modules");
            }
    }
    if (use_dora && type != PeftType::Lora) bad("use_dora applies to LoRA only");
    if (type == PeftType::Adalora) {
        // PEFT's AdaLoraConfig.__post_init__ and RankAllocator checks.
        if (total_step <= 0) bad("total_step must be > 0 (PEFT refuses an AdaLoRA config without it), got " + std::to_string(total_step));
        if (tinit < 0 || tfinal < 0) bad("tinit and tfinal must be >= 0");
        if (tinit >= total_step - tfinal)
            bad("tinit (" + std::to_string(tinit) + ") must be < total_step - tfinal (" + std::to_string(total_step - tfinal) +
                "): no budgeting phase");
        if (delta_t <= 0) bad("deltaT must be > 0, got " + std::to_string(delta_t));
        if (target_r < 0) bad("target_r must be >= 0, got " + std::to_string(target_r));
        if (!(beta1 > 0 && beta1 < 1)) bad("beta1 must be in (0, 1), got " + std::to_string(beta1));
        if (!(beta2 > 0 && beta2 < 1)) bad("beta2 must be in (0, 1), got " + std::to_string(beta2));
        if (!(orth_reg_weight >= 0) || !std::isfinite(orth_reg_weight))
            bad("orth_reg_weight must be a finite value >= 0, got " + std::to_string(orth_reg_weight));
        for (const RankMask &m : rank_masks)
            if (static_cast<int64_t>(m.keep.size()) != r)
                bad("rank_pattern[\"" + m.module + ".lora_E\"] has " + std::to_string(m.keep.size()) +
                    " entries; init_r is " + std::to_string(r));
        if (bias != BiasMode::None) bad("AdaLoRA with bias other than \"none\" is not supported");
        if (lora_bias) bad("AdaLoRA has no lora_bias");
    }
    if (type == PeftType::Lora && use_dora && lora_bias) bad("use_dora and lora_bias cannot be combined (as in PEFT)");
}

const RankMask *AdapterConfig::rank_mask_for(const std::string &module) const {
    for (const RankMask &m : rank_masks)
        if (m.module == module) return &m;
    return nullptr;
}

int32_t AdapterConfig::rank_for(const std::string &module) const {
    if (type == PeftType::Adalora) {
        const RankMask *m = rank_mask_for(module);
        return m != nullptr ? m->kept() : r;
    }
    std::vector<std::string> keys;
    for (const auto &p : rank_pattern) keys.push_back(p.first);
    const int k = find_pattern_key(keys, module);
    return k >= 0 ? rank_pattern[static_cast<std::size_t>(k)].second : r;
}

double AdapterConfig::alpha_for(const std::string &module) const {
    std::vector<std::string> keys;
    for (const auto &p : alpha_pattern) keys.push_back(p.first);
    const int k = find_pattern_key(keys, module);
    return k >= 0 ? alpha_pattern[static_cast<std::size_t>(k)].second : alpha;
}

double AdapterConfig::scaling_for(const std::string &module) const {
    // AdaLoRA ignores alpha_pattern; its ranknum is init_r even after rank_pattern shrank the
    // module (PEFT copies the old ranknum into the resized layer).
    if (type == PeftType::Adalora) return alpha / (static_cast<double>(r) + 1e-5);
    const double a = alpha_for(module);
    const double rr = rank_for(module);
    if (type == PeftType::Lora && use_rslora) return a / std::sqrt(rr);
    return a / rr;
}

bool AdapterConfig::targets_module(const std::string &module) const {
    if (excludes.matches(module)) return false;
    if (!targets.matches(module)) return false;
    if (targets.kind == ModuleSpec::Kind::List && !layers_to_transform.empty()) {
        const int64_t idx = layer_index(module, layers_pattern);
        if (idx < 0) return false;
        bool in = false;
        for (int64_t l : layers_to_transform) in = in || l == idx;
        return in;
    }
    return true;
}

bool AdapterConfig::is_feedforward(const std::string &module) const {
    if (type != PeftType::Ia3) return false;
    switch (feedforward.kind) {
        case ModuleSpec::Kind::Unset: return false;
        case ModuleSpec::Kind::AllLinear: return feedforward.matches(module);
        case ModuleSpec::Kind::Regex: return feedforward.matches(module);
        case ModuleSpec::Kind::List:
            for (const std::string &f : feedforward.names)
                if (ends_with(module, f)) return true;  // PEFT uses a bare endswith here
            return false;
    }
    return false;
}

namespace {

jsonu::Value num(double v, bool as_int) {
    if (as_int && std::floor(v) == v && std::fabs(v) < 9e15) return jsonu::integer(static_cast<int64_t>(v));
    return jsonu::number(v);
}

double get_number(const jsonu::Value &o, const char *key, double dflt, const std::string &what, bool *was_int = nullptr) {
    const jsonu::Value *v = o.find(key);
    if (v == nullptr || v->kind == jsonu::Kind::Null) return dflt;
    if (v->kind != jsonu::Kind::Number) bad_field(what, key, std::string("must be a number, got ") + jsonu::kind_name(v->kind));
    if (was_int) *was_int = jsonu::is_integer(*v);
    return jsonu::as_number(*v);
}

bool get_bool(const jsonu::Value &o, const char *key, bool dflt, const std::string &what) {
    const jsonu::Value *v = o.find(key);
    if (v == nullptr || v->kind == jsonu::Kind::Null) return dflt;
    if (v->kind != jsonu::Kind::Bool) bad_field(what, key, std::string("must be a boolean, got ") + jsonu::kind_name(v->kind));
    return v->boolean;
}

ModuleSpec get_spec(const jsonu::Value &o, const char *key, const std::string &what) {
    const jsonu::Value *v = o.find(key);
    if (v == nullptr) return {};
    try {
        return ModuleSpec::from_json(*v, key);
    } catch (const Error &e) {
        throw Error(RAI_ERROR_FORMAT, what + ": " + e.what());
    }
}

}  // namespace

AdapterConfig AdapterConfig::from_json(const jsonu::Value &v, const std::string &what) {
    if (v.kind != jsonu::Kind::Object) throw Error(RAI_ERROR_FORMAT, what + ": the adapter config is not a JSON object");
    AdapterConfig c;
    c.raw = v;
    const jsonu::Value *pt = v.find("peft_type");
    if (pt == nullptr)
        throw Error(RAI_ERROR_FORMAT, what + ": \"peft_type\" is missing (HF PEFT requires it: LORA, IA3, VERA, LOHA, LOKR, ADALORA)");
    if (pt->kind != jsonu::Kind::String) bad_field(what, "peft_type", "must be a string");
    const std::string t = pt->text;
    if (t == "LORA") c.type = PeftType::Lora;
    else if (t == "IA3") c.type = PeftType::Ia3;
    else if (t == "VERA") c.type = PeftType::Vera;
    else if (t == "LOHA") c.type = PeftType::Loha;
    else if (t == "LOKR") c.type = PeftType::Lokr;
    else if (t == "ADALORA") c.type = PeftType::Adalora;
    else throw Error(RAI_ERROR_UNSUPPORTED, what + ": peft_type \"" + t + "\" is not supported (LORA, IA3, VERA, LOHA, LOKR, ADALORA)");

    const double r_default = c.type == PeftType::Vera ? 256 : 8;
    bool r_int = true;
    const double r = get_number(v, "r", r_default, what, &r_int);
    if (!r_int || r != std::floor(r) || std::fabs(r) > 1e9) bad_field(what, "r", "must be an integer");
    c.r = static_cast<int32_t>(r);
    c.targets = get_spec(v, "target_modules", what);
    c.excludes = get_spec(v, "exclude_modules", what);
    c.fan_in_fan_out = get_bool(v, "fan_in_fan_out", false, what);

    auto read_patterns = [&](const char *key, bool ints) {
        const jsonu::Value *p = v.find(key);
        if (p == nullptr || p->kind == jsonu::Kind::Null) return;
        if (p->kind != jsonu::Kind::Object) bad_field(what, key, "must be an object");
        for (const auto &kv : p->members) {
            if (kv.second.kind != jsonu::Kind::Number) bad_field(what, key, "values must be numbers");
            if (ints) {
                if (!jsonu::is_integer(kv.second) && jsonu::as_number(kv.second) != std::floor(jsonu::as_number(kv.second)))
                    bad_field(what, key, "values must be integers");
                c.rank_pattern.emplace_back(kv.first, static_cast<int32_t>(jsonu::as_number(kv.second)));
            } else {
                c.alpha_pattern.emplace_back(kv.first, jsonu::as_number(kv.second));
            }
        }
    };

    switch (c.type) {
        case PeftType::Lora: {
            c.alpha = get_number(v, "lora_alpha", 8, what, &c.alpha_is_int);
            c.dropout = get_number(v, "lora_dropout", 0, what);
            c.use_rslora = get_bool(v, "use_rslora", false, what);
            c.use_dora = get_bool(v, "use_dora", false, what);
            c.lora_bias = get_bool(v, "lora_bias", false, what);
            if (const jsonu::Value *b = v.find("bias"); b != nullptr && b->kind != jsonu::Kind::Null) {
                if (b->kind != jsonu::Kind::String) bad_field(what, "bias", "must be \"none\", \"all\" or \"lora_only\"");
                if (b->text == "none") c.bias = BiasMode::None;
                else if (b->text == "all") c.bias = BiasMode::All;
                else if (b->text == "lora_only") c.bias = BiasMode::LoraOnly;
                else bad_field(what, "bias", "must be \"none\", \"all\" or \"lora_only\", got \"" + b->text + "\"");
            }
            if (const jsonu::Value *i = v.find("init_lora_weights"); i != nullptr && i->kind != jsonu::Kind::Null) {
                if (i->kind == jsonu::Kind::Bool) c.init = i->boolean ? LoraInit::Default : LoraInit::Random;
                else if (i->kind == jsonu::Kind::String && i->text == "gaussian") c.init = LoraInit::Gaussian;
                else if (i->kind == jsonu::Kind::String) c.init = LoraInit::None;  // data-dependent inits: weights come from the file
                else bad_field(what, "init_lora_weights", "must be a boolean or a string");
            }
            read_patterns("rank_pattern", true);
            read_patterns("alpha_pattern", false);
            break;
        }
        case PeftType::Ia3:
            c.feedforward = get_spec(v, "feedforward_modules", what);
            c.init_ia3_ones = get_bool(v, "init_ia3_weights", true, what);
            break;
        case PeftType::Vera:
            c.dropout = get_number(v, "vera_dropout", 0, what);
            c.vera_d_initial = get_number(v, "d_initial", 0.1, what);
            c.projection_prng_key = static_cast<int64_t>(get_number(v, "projection_prng_key", 0, what));
            c.save_projection = get_bool(v, "save_projection", true, what);
            if (const jsonu::Value *b = v.find("bias"); b != nullptr && b->kind == jsonu::Kind::String && b->text != "none")
                throw Error(RAI_ERROR_UNSUPPORTED, what + ": VeRA with bias \"" + b->text + "\" is not supported");
            break;
        case PeftType::Loha:
        case PeftType::Lokr:
            c.alpha = get_number(v, "alpha", 8, what, &c.alpha_is_int);
            c.rank_dropout = get_number(v, "rank_dropout", 0, what);
            c.module_dropout = get_number(v, "module_dropout", 0, what);
            if (const jsonu::Value *i = v.find("init_weights"); i != nullptr && i->kind == jsonu::Kind::Bool)
                c.init = i->boolean ? LoraInit::Default : LoraInit::Random;
            read_patterns("rank_pattern", true);
            read_patterns("alpha_pattern", false);
            if (c.type == PeftType::Lokr) {
                c.decompose_both = get_bool(v, "decompose_both", false, what);
                c.decompose_factor = static_cast<int32_t>(get_number(v, "decompose_factor", -1, what));
                c.rank_dropout_scale = get_bool(v, "rank_dropout_scale", false, what);
                if (get_bool(v, "use_effective_conv2d", false, what) && false) break;
            }
            break;
        case PeftType::Adalora: {
            c.alpha = get_number(v, "lora_alpha", 8, what, &c.alpha_is_int);
            c.dropout = get_number(v, "lora_dropout", 0, what);
            c.use_dora = get_bool(v, "use_dora", false, what);
            c.lora_bias = get_bool(v, "lora_bias", false, what);
            if (const jsonu::Value *b = v.find("bias"); b != nullptr && b->kind == jsonu::Kind::String && b->text != "none")
                throw Error(RAI_ERROR_UNSUPPORTED, what + ": AdaLoRA with bias \"" + b->text + "\" is not supported");
            if (const jsonu::Value *i = v.find("init_lora_weights"); i != nullptr && i->kind != jsonu::Kind::Null) {
                if (i->kind != jsonu::Kind::Bool) bad_field(what, "init_lora_weights", "must be a boolean for AdaLoRA");
                c.init = i->boolean ? LoraInit::Default : LoraInit::Random;
            }
            auto integer = [&](const char *key, double dflt) {
                bool is_int = true;
                const double x = get_number(v, key, dflt, what, &is_int);
                if (!is_int || x != std::floor(x) || std::fabs(x) > 1e15) bad_field(what, key, "must be an integer");
                return static_cast<int64_t>(x);
            };
            c.r = static_cast<int32_t>(integer("init_r", 12));
            c.target_r = static_cast<int32_t>(integer("target_r", 8));
            c.tinit = integer("tinit", 0);
            c.tfinal = integer("tfinal", 0);
            c.delta_t = integer("deltaT", 1);
            c.total_step = integer("total_step", 0);
            c.beta1 = get_number(v, "beta1", 0.85, what);
            c.beta2 = get_number(v, "beta2", 0.85, what);
            c.orth_reg_weight = get_number(v, "orth_reg_weight", 0.5, what);
            if (const jsonu::Value *p = v.find("rank_pattern")) {
                try {
                    c.rank_masks = rank_masks_from_json(*p, "rank_pattern");
                } catch (const Error &e) {
                    throw Error(RAI_ERROR_FORMAT, what + ": " + e.what());
                }
            }
            break;
        }
    }
    if (c.type != PeftType::Ia3) {
        if (const jsonu::Value *l = v.find("layers_to_transform"); l != nullptr && l->kind != jsonu::Kind::Null) {
            if (jsonu::is_integer(*l)) c.layers_to_transform.push_back(static_cast<int64_t>(jsonu::as_number(*l)));
            else if (l->kind == jsonu::Kind::Array) {
                for (const jsonu::Value &e : l->items) {
                    if (!jsonu::is_integer(e)) bad_field(what, "layers_to_transform", "entries must be integers");
                    c.layers_to_transform.push_back(static_cast<int64_t>(jsonu::as_number(e)));
                }
            } else bad_field(what, "layers_to_transform", "must be an integer or a list of integers");
        }
        if (const jsonu::Value *l = v.find("layers_pattern"); l != nullptr && l->kind != jsonu::Kind::Null) {
            if (l->kind == jsonu::Kind::String) c.layers_pattern.push_back(l->text);
            else if (l->kind == jsonu::Kind::Array) {
                for (const jsonu::Value &e : l->items) {
                    if (e.kind != jsonu::Kind::String) bad_field(what, "layers_pattern", "entries must be strings");
                    c.layers_pattern.push_back(e.text);
                }
            } else bad_field(what, "layers_pattern", "must be a string or a list of strings");
        }
    }
    try {
        c.validate();
    } catch (const Error &e) {
        throw Error(RAI_ERROR_FORMAT, what + ": " + e.what());
    }
    return c;
}

jsonu::Value AdapterConfig::to_json() const {
    jsonu::Value o = raw.kind == jsonu::Kind::Object ? raw : jsonu::object();
    jsonu::set(o, "peft_type", jsonu::string(peft_type_name(type)));
    jsonu::set(o, "target_modules", targets.to_json());
    // Only the fields each PEFT config class has (peft warns about, and drops, any other).
    if (type != PeftType::Vera) jsonu::set(o, "exclude_modules", excludes.to_json());
    if (type == PeftType::Lora || type == PeftType::Ia3 || type == PeftType::Vera || type == PeftType::Adalora)
        jsonu::set(o, "fan_in_fan_out", jsonu::boolean(fan_in_fan_out));
    if (type != PeftType::Ia3) {
        if (layers_to_transform.empty()) {
            jsonu::set(o, "layers_to_transform", jsonu::null());
        } else {
            jsonu::Value l = jsonu::array();
            for (int64_t x : layers_to_transform) l.items.push_back(jsonu::integer(x));
            jsonu::set(o, "layers_to_transform", std::move(l));
        }
        if (layers_pattern.empty()) {
            jsonu::set(o, "layers_pattern", jsonu::null());
        } else {
            jsonu::Value l = jsonu::array();
            for (const std::string &x : layers_pattern) l.items.push_back(jsonu::string(x));
            jsonu::set(o, "layers_pattern", std::move(l));
        }
    }
    if (o.find("modules_to_save") == nullptr) jsonu::set(o, "modules_to_save", jsonu::null());
    if (o.find("task_type") == nullptr) jsonu::set(o, "task_type", jsonu::null());
    if (o.find("base_model_name_or_path") == nullptr) jsonu::set(o, "base_model_name_or_path", jsonu::null());
    if (o.find("inference_mode") == nullptr) jsonu::set(o, "inference_mode", jsonu::boolean(true));
    if (o.find("revision") == nullptr) jsonu::set(o, "revision", jsonu::null());
    auto patterns = [&](const char *key, bool ints) {
        jsonu::Value p = jsonu::object();
        if (ints)
            for (const auto &kv : rank_pattern) jsonu::set(p, kv.first, jsonu::integer(kv.second));
        else
            for (const auto &kv : alpha_pattern) jsonu::set(p, kv.first, jsonu::number(kv.second));
        jsonu::set(o, key, std::move(p));
    };
    switch (type) {
        case PeftType::Lora: {
            jsonu::set(o, "r", jsonu::integer(r));
            jsonu::set(o, "lora_alpha", num(alpha, alpha_is_int));
            jsonu::set(o, "lora_dropout", jsonu::number(dropout));
            jsonu::set(o, "bias", jsonu::string(bias == BiasMode::None ? "none" : bias == BiasMode::All ? "all" : "lora_only"));
            jsonu::set(o, "use_rslora", jsonu::boolean(use_rslora));
            jsonu::set(o, "use_dora", jsonu::boolean(use_dora));
            jsonu::set(o, "lora_bias", jsonu::boolean(lora_bias));
            const jsonu::Value *old = raw.kind == jsonu::Kind::Object ? raw.find("init_lora_weights") : nullptr;
            if (init == LoraInit::Default) jsonu::set(o, "init_lora_weights", jsonu::boolean(true));
            else if (init == LoraInit::Gaussian) jsonu::set(o, "init_lora_weights", jsonu::string("gaussian"));
            else if (init == LoraInit::Random) jsonu::set(o, "init_lora_weights", jsonu::boolean(false));
            else if (old == nullptr || old->kind != jsonu::Kind::String) jsonu::set(o, "init_lora_weights", jsonu::boolean(true));
            patterns("rank_pattern", true);
            patterns("alpha_pattern", false);
            break;
        }
        case PeftType::Ia3:
            jsonu::set(o, "feedforward_modules", feedforward.to_json());
            jsonu::set(o, "init_ia3_weights", jsonu::boolean(init_ia3_ones));
            break;
        case PeftType::Vera:
            jsonu::set(o, "r", jsonu::integer(r));
            jsonu::set(o, "vera_dropout", jsonu::number(dropout));
            jsonu::set(o, "d_initial", jsonu::number(vera_d_initial));
            jsonu::set(o, "projection_prng_key", jsonu::integer(projection_prng_key));
            jsonu::set(o, "save_projection", jsonu::boolean(save_projection));
            jsonu::set(o, "bias", jsonu::string("none"));
            if (o.find("init_weights") == nullptr) jsonu::set(o, "init_weights", jsonu::boolean(true));
            break;
        case PeftType::Loha:
        case PeftType::Lokr:
            jsonu::set(o, "r", jsonu::integer(r));
            jsonu::set(o, "alpha", num(alpha, alpha_is_int));
            jsonu::set(o, "rank_dropout", jsonu::number(rank_dropout));
            jsonu::set(o, "module_dropout", jsonu::number(module_dropout));
            jsonu::set(o, "init_weights", jsonu::boolean(init != LoraInit::Random));
            jsonu::set(o, "use_effective_conv2d", jsonu::boolean(false));
            patterns("rank_pattern", true);
            patterns("alpha_pattern", false);
            if (type == PeftType::Lokr) {
                jsonu::set(o, "decompose_both", jsonu::boolean(decompose_both));
                jsonu::set(o, "decompose_factor", jsonu::integer(decompose_factor));
                jsonu::set(o, "rank_dropout_scale", jsonu::boolean(rank_dropout_scale));
            }
            break;
        case PeftType::Adalora: {
            // AdaLoraConfig is a LoraConfig: its fields plus the schedule; "r" is not AdaLoRA's rank
            // (PEFT warns when it is not 8), so it is kept as read.
            if (o.find("r") == nullptr) jsonu::set(o, "r", jsonu::integer(8));
            jsonu::set(o, "init_r", jsonu::integer(r));
            jsonu::set(o, "target_r", jsonu::integer(target_r));
            jsonu::set(o, "lora_alpha", num(alpha, alpha_is_int));
            jsonu::set(o, "lora_dropout", jsonu::number(dropout));
            jsonu::set(o, "bias", jsonu::string("none"));
            jsonu::set(o, "use_rslora", jsonu::boolean(false));
            jsonu::set(o, "use_dora", jsonu::boolean(false));
            jsonu::set(o, "lora_bias", jsonu::boolean(false));
            jsonu::set(o, "init_lora_weights", jsonu::boolean(init != LoraInit::Random));
            jsonu::set(o, "tinit", jsonu::integer(tinit));
            jsonu::set(o, "tfinal", jsonu::integer(tfinal));
            jsonu::set(o, "deltaT", jsonu::integer(delta_t));
            jsonu::set(o, "total_step", jsonu::integer(total_step));
            jsonu::set(o, "beta1", jsonu::number(beta1));
            jsonu::set(o, "beta2", jsonu::number(beta2));
            jsonu::set(o, "orth_reg_weight", jsonu::number(orth_reg_weight));
            if (o.find("alpha_pattern") == nullptr) jsonu::set(o, "alpha_pattern", jsonu::object());
            if (rank_masks.empty()) {
                jsonu::set(o, "rank_pattern", jsonu::null());
            } else {
                jsonu::Value p = jsonu::object();
                for (const RankMask &m : rank_masks) {
                    jsonu::Value l = jsonu::array();
                    for (uint8_t k : m.keep) l.items.push_back(jsonu::boolean(k != 0));
                    jsonu::set(p, m.module + ".lora_E", std::move(l));
                }
                jsonu::set(o, "rank_pattern", std::move(p));
            }
            break;
        }
    }
    return o;
}

}  // namespace rai::adapters
