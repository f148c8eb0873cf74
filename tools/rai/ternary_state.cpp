#include "ternary_state.h"

#include <cmath>
#include <map>

#include "json_text.h"

std::string ternary_state_json(const TernaryState &s) {
    return "{\"layout\": " + json_quote(s.layout) + ", \"shape\": [" + std::to_string(s.out) + ", " +
           std::to_string(s.in) + "], \"dtype\": " + json_quote(s.dtype) + ", \"granularity\": " +
           json_quote(s.granularity) + ", \"group_size\": " + std::to_string(s.group_size) + "}";
}

bool parse_ternary_state(const std::string &json, TernaryState *out, std::string *why) {
    std::map<std::string, FlatJsonValue> v;
    if (!parse_flat_json(json, &v, why)) return false;
    auto str = [&](const char *key, std::string *dst) {
        auto it = v.find(key);
        if (it == v.end() || !it->second.is_string) {
            *why = std::string("\"") + key + "\" is missing or not a string";
            return false;
        }
        *dst = it->second.text;
        return true;
    };
    TernaryState s;
    if (!str("layout", &s.layout) || !str("dtype", &s.dtype) || !str("granularity", &s.granularity)) return false;
    auto shape = v.find("shape");
    if (shape == v.end() || !shape->second.is_array || shape->second.values.size() != 2) {
        *why = "\"shape\" is missing or not [out, in]";
        return false;
    }
    const double o = shape->second.values[0], i = shape->second.values[1];
    auto gs = v.find("group_size");
    if (gs == v.end() || gs->second.is_string || gs->second.is_array) {
        *why = "\"group_size\" is missing or not a number";
        return false;
    }
    const double g = gs->second.number;
    if (!(o >= 1 && i >= 1 && g >= 1) || o != std::floor(o) || i != std::floor(i) || g != std::floor(g) ||
        o > 9.0e15 || i > 9.0e15) {
        *why = "\"shape\" and \"group_size\" must be positive integers";
        return false;
    }
    s.out = static_cast<int64_t>(o), s.in = static_cast<int64_t>(i), s.group_size = static_cast<uint64_t>(g);
    if (ternary_layout_id(s.layout) == 0) {
        *why = "unknown layout \"" + s.layout + "\" (expected byte2 or i2_s)";
        return false;
    }
    if (s.granularity != "tensor" && s.granularity != "row" && s.granularity != "group") {
        *why = "unknown granularity \"" + s.granularity + "\" (expected tensor, row or group)";
        return false;
    }
    if (static_cast<uint64_t>(s.in) % s.group_size != 0) {
        *why = "group_size " + std::to_string(s.group_size) + " does not divide in = " + std::to_string(s.in);
        return false;
    }
    *out = s;
    return true;
}

int32_t ternary_layout_id(const std::string &layout) {
    if (layout == "byte2") return RAI_TERNARY_LAYOUT_BYTE2;
    if (layout == "i2_s") return RAI_TERNARY_LAYOUT_I2_S;
    return 0;
}

std::string torch_dtype_name(const rai_dtype &d) {
    if (d.code == RAI_DTYPE_BFLOAT && d.bits == 16) return "bfloat16";
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 16) return "float16";
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 32) return "float32";
    const char *name = rai_dtype_name(&d);
    return name ? name : "unknown";
}

const char *granularity_name(int32_t g) {
    return g == RAI_BITNET_GRANULARITY_TENSOR ? "tensor" : g == RAI_BITNET_GRANULARITY_ROW ? "row" : "group";
}
