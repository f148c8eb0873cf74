#include "tensor_select.h"

bool is_float16_32(const rai_dtype &d) {
    return d.lanes == 1 &&
           ((d.code == RAI_DTYPE_FLOAT && (d.bits == 32 || d.bits == 16)) || (d.code == RAI_DTYPE_BFLOAT && d.bits == 16));
}

namespace {

std::string last_component(const std::string &module) {
    const size_t dot = module.rfind('.');
    return dot == std::string::npos ? module : module.substr(dot + 1);
}

bool compile(const std::string &pattern, const char *option, std::regex *out, std::string *why) {
    try {
        *out = std::regex(pattern, std::regex::ECMAScript);
        return true;
    } catch (const std::regex_error &e) {
        *why = std::string("bad ") + option + " regular expression '" + pattern + "': " + e.what();
        return false;
    }
}

}  // namespace

bool is_embedding(const std::string &module) {
    const std::string last = last_component(module);
    return last.find("embed") != std::string::npos || last == "wte" || last == "wpe";
}

bool is_quantizable_linear_weight(const rai_safetensors_tensor_info &info) {
    const std::string name = info.name;
    if (info.ndim != 2 || !is_float16_32(info.dtype) || name.size() <= 7 ||
        name.compare(name.size() - 7, 7, ".weight") != 0)
        return false;
    const std::string module = name.substr(0, name.size() - 7);
    return !is_embedding(module) && last_component(module) != "lm_head";
}

bool TensorFilter::set_include(const std::string &pattern, std::string *why) {
    has_include_ = compile(pattern, "--include", &include_, why);
    return has_include_;
}

bool TensorFilter::set_exclude(const std::string &pattern, std::string *why) {
    has_exclude_ = compile(pattern, "--exclude", &exclude_, why);
    return has_exclude_;
}

bool TensorFilter::selects(const rai_safetensors_tensor_info &info) const {
    const bool candidate = has_include_ ? std::regex_search(info.name, include_) : is_quantizable_linear_weight(info);
    return candidate && !(has_exclude_ && std::regex_search(info.name, exclude_));
}
