// rai inspect on safetensors: tensors, __metadata__, and the quantized weights it recognizes:
// bitsandbytes 4-bit key groups (validated by loading them with rai_q4_state_load_bnb) and rai's
// ternary container (ternary_state.h; validated by unpacking the codes).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "host_tensor.h"
#include "inspect.h"
#include "json_text.h"
#include "ternary_state.h"

namespace {

struct Tensor {
    std::string name, dtype;
    std::vector<int64_t> shape;
    uint64_t nbytes = 0, offset = 0;
};

struct QuantGroup {
    std::string weight;  // "<module>.weight"
    std::string quant_type, layout, dtype, granularity, error;
    std::vector<int64_t> shape;
    int32_t blocksize = 0, nested_blocksize = 0;
    bool nested = false;
    double nested_offset = 0;
    uint64_t group_size = 0, nbytes = 0;
    std::vector<std::string> keys;
};

std::string shape_json(const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
    return s + "]";
}

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The keys of weight N present in the file (N itself first) and their total bytes.
void collect_keys(const std::vector<Tensor> &tensors, QuantGroup *g) {
    for (const Tensor &t : tensors) {
        if (t.name == g->weight || t.name.compare(0, g->weight.size() + 1, g->weight + ".") == 0) {
            g->keys.push_back(t.name);
            g->nbytes += t.nbytes;
        }
    }
}

void describe_bnb(rai_context *ctx, const rai_safetensors *f, const std::string &weight, QuantGroup *g) {
    rai_q4_state *state = nullptr;
    const std::string prefix = weight.substr(0, weight.size() - 7);
    rai_status st = rai_q4_state_load_bnb(ctx, f, prefix.c_str(), &state);
    if (st != RAI_OK) {
        g->error = api_error("bitsandbytes keys of " + prefix, st);
        return;
    }
    rai_q4_state_info info;
    rai_q4_state_info_init(&info);
    rai_q4_state_get_info(state, &info);
    rai_q4_state_destroy(state);
    g->quant_type = info.type == RAI_Q4_FP4 ? "fp4" : "nf4";
    g->blocksize = info.blocksize;
    g->nested = info.double_quant != 0;
    g->nested_blocksize = info.nested_blocksize;
    g->nested_offset = info.offset;
    g->shape.assign(info.shape, info.shape + info.ndim);
    g->dtype = torch_dtype_name(info.dtype);
}

// Reads a u8 tensor's bytes as text.
std::string tensor_text(const rai_safetensors *f, const std::string &name) {
    int64_t idx = -1;
    rai_safetensors_find(f, name.c_str(), &idx);
    rai_safetensors_tensor_info info;
    rai_safetensors_tensor_info_init(&info);
    if (idx < 0 || rai_safetensors_get_info(f, static_cast<size_t>(idx), &info) != RAI_OK) return "";
    return std::string(static_cast<const char *>(info.data), info.nbytes);
}

// Checks the codes' size and decodes them (rai_ternary_unpack refuses invalid codes).
void describe_ternary(const rai_safetensors *f, const std::string &weight, QuantGroup *g) {
    TernaryState s;
    std::string why;
    if (!parse_ternary_state(tensor_text(f, weight + kTernaryStateSuffix), &s, &why)) {
        g->error = weight + kTernaryStateSuffix + ": " + why;
        return;
    }
    const int32_t layout = ternary_layout_id(s.layout);
    g->quant_type = layout == RAI_TERNARY_LAYOUT_I2_S ? "i2_s" : "bitnet";
    g->layout = s.layout, g->dtype = s.dtype, g->granularity = s.granularity, g->group_size = s.group_size;
    g->shape = {s.out, s.in};
    int64_t ci = -1, si = -1;
    rai_safetensors_find(f, weight.c_str(), &ci);
    rai_safetensors_find(f, (weight + kTernaryScaleSuffix).c_str(), &si);
    rai_tensor codes{}, scales{};
    if (ci < 0 || rai_safetensors_tensor_view(f, static_cast<size_t>(ci), &codes) != RAI_OK || codes.dtype.bits != 8) {
        g->error = weight + ": missing, or not u8 codes";
        return;
    }
    const bool byte2 = layout == RAI_TERNARY_LAYOUT_BYTE2;
    if (byte2 && (si < 0 || rai_safetensors_tensor_view(f, static_cast<size_t>(si), &scales) != RAI_OK)) {
        g->error = weight + kTernaryScaleSuffix + ": missing";
        return;
    }
    HostTensor trits({s.out, s.in}, dtype_i8());
    HostTensor i2s_scale({1}, dtype_f32());
    rai_status st = rai_ternary_unpack(layout, &codes, &trits.t, byte2 ? nullptr : &i2s_scale.t);
    if (st != RAI_OK) {
        g->error = api_error(weight, st);
        return;
    }
    if (byte2) {  // the scales must be a BitNet scale shape matching the state
        std::vector<int64_t> want{1};
        if (s.granularity == "row") want = {s.out};
        if (s.granularity == "group") want = {s.out, s.in / static_cast<int64_t>(s.group_size)};
        if (std::vector<int64_t>(scales.shape, scales.shape + scales.ndim) != want || scales.dtype.bits != 32) {
            g->error = weight + kTernaryScaleSuffix + ": expected f32 " + shape_json(want) + " for granularity " +
                       s.granularity;
        }
    }
}

}  // namespace

int inspect_safetensors(const char *path, bool json) {
    rai_safetensors *f = nullptr;
    rai_status st = rai_safetensors_open(path, &f);
    if (st != RAI_OK) {
        std::fprintf(stderr, "rai inspect: %s\n", api_error(path, st).c_str());
        return 1;
    }
    std::unique_ptr<rai_safetensors, void (*)(rai_safetensors *)> guard(f, rai_safetensors_destroy);
    rai_context *ctx = nullptr;
    if ((st = create_cpu_context(&ctx)) != RAI_OK) {
        std::fprintf(stderr, "rai inspect: %s\n", api_error("context", st).c_str());
        return 1;
    }
    std::unique_ptr<rai_context, void (*)(rai_context *)> ctx_guard(ctx, rai_context_destroy);

    size_t n = 0, nmeta = 0;
    rai_safetensors_count(f, &n);
    std::vector<Tensor> tensors;
    std::vector<QuantGroup> groups;
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
        rai_safetensors_tensor_info info;
        rai_safetensors_tensor_info_init(&info);
        rai_safetensors_get_info(f, i, &info);
        tensors.push_back({info.name, info.dtype_name, std::vector<int64_t>(info.shape, info.shape + info.ndim),
                           info.nbytes, info.data_offset});
        total += info.nbytes;
    }
    for (const Tensor &t : tensors) {
        static const std::string bnb_nf4 = ".quant_state.bitsandbytes__nf4", bnb_fp4 = ".quant_state.bitsandbytes__fp4";
        QuantGroup g;
        if (ends_with(t.name, bnb_nf4) || ends_with(t.name, bnb_fp4)) {
            g.weight = t.name.substr(0, t.name.size() - bnb_nf4.size());
            if (ends_with(g.weight, ".weight")) describe_bnb(ctx, f, g.weight, &g);
            else g.error = t.name + ": bitsandbytes quant states belong to a \"<module>.weight\"";
        } else if (ends_with(t.name, kTernaryStateSuffix)) {
            g.weight = t.name.substr(0, t.name.size() - std::string(kTernaryStateSuffix).size());
            describe_ternary(f, g.weight, &g);
        } else {
            continue;
        }
        collect_keys(tensors, &g);
        groups.push_back(g);
    }
    rai_safetensors_metadata_count(f, &nmeta);
    std::vector<std::pair<std::string, std::string>> meta;
    for (size_t k = 0; k < nmeta; ++k) {
        const char *key = nullptr, *value = nullptr;
        if (rai_safetensors_metadata_get(f, k, &key, &value) == RAI_OK) meta.emplace_back(key, value);
    }
    int rc = 0;
    for (const QuantGroup &g : groups)
        if (!g.error.empty()) rc = 1, std::fprintf(stderr, "rai inspect: %s: invalid quantized weight: %s\n", path, g.error.c_str());

    if (json) {
        std::string out = "{\"file\": " + json_quote(path) + ", \"format\": \"safetensors\", \"tensor_bytes\": " +
                          std::to_string(total) + ", \"metadata\": {";
        for (size_t k = 0; k < meta.size(); ++k) out += (k ? ", " : "") + json_quote(meta[k].first) + ": " + json_quote(meta[k].second);
        out += "}, \"tensors\": [";
        for (size_t i = 0; i < tensors.size(); ++i) {
            const Tensor &t = tensors[i];
            out += std::string(i ? ", " : "") + "{\"name\": " + json_quote(t.name) + ", \"dtype\": " + json_quote(t.dtype) +
                   ", \"shape\": " + shape_json(t.shape) + ", \"nbytes\": " + std::to_string(t.nbytes) +
                   ", \"data_offset\": " + std::to_string(t.offset) + "}";
        }
        out += "], \"quantized\": [";
        for (size_t i = 0; i < groups.size(); ++i) {
            const QuantGroup &g = groups[i];
            out += std::string(i ? ", " : "") + "{\"weight\": " + json_quote(g.weight);
            if (!g.error.empty()) {
                out += ", \"error\": " + json_quote(g.error);
            } else {
                out += ", \"quant_type\": " + json_quote(g.quant_type) + ", \"shape\": " + shape_json(g.shape) +
                       ", \"dtype\": " + json_quote(g.dtype);
                if (g.layout.empty()) {
                    char off[48];
                    std::snprintf(off, sizeof off, "%.9g", g.nested_offset);
                    out += ", \"blocksize\": " + std::to_string(g.blocksize) +
                           ", \"nested\": " + (g.nested ? "true" : "false");
                    if (g.nested)
                        out += ", \"nested_blocksize\": " + std::to_string(g.nested_blocksize) + ", \"nested_offset\": " + off;
                } else {
                    out += ", \"layout\": " + json_quote(g.layout) + ", \"granularity\": " + json_quote(g.granularity) +
                           ", \"group_size\": " + std::to_string(g.group_size);
                }
            }
            out += ", \"nbytes\": " + std::to_string(g.nbytes) + ", \"keys\": [";
            for (size_t k = 0; k < g.keys.size(); ++k) out += (k ? ", " : "") + json_quote(g.keys[k]);
            out += "]}";
        }
        out += "]}\n";
        std::fputs(out.c_str(), stdout);
        return rc;
    }

    std::printf("%s: safetensors, %zu tensors, %" PRIu64 " bytes of tensor data\n", path, tensors.size(), total);
    if (!meta.empty()) {
        std::printf("metadata:\n");
        for (const auto &m : meta) std::printf("  %s = %s\n", m.first.c_str(), m.second.c_str());
    }
    size_t width = 4;
    for (const Tensor &t : tensors) width = std::max(width, t.name.size());
    std::printf("tensors:\n  %-*s  %-7s %-20s %s\n", static_cast<int>(width), "name", "dtype", "shape", "bytes");
    for (const Tensor &t : tensors)
        std::printf("  %-*s  %-7s %-20s %" PRIu64 "\n", static_cast<int>(width), t.name.c_str(), t.dtype.c_str(),
                    shape_json(t.shape).c_str(), t.nbytes);
    if (!groups.empty()) std::printf("quantized weights:\n");
    for (const QuantGroup &g : groups) {
        if (!g.error.empty()) {
            std::printf("  %s: INVALID: %s\n", g.weight.c_str(), g.error.c_str());
        } else if (g.layout.empty()) {
            std::printf("  %s: %s, blocksize %d, %s, shape %s, dtype %s, %zu keys, %" PRIu64 " bytes\n", g.weight.c_str(),
                        g.quant_type.c_str(), g.blocksize,
                        g.nested ? ("double quant (nested blocksize " + std::to_string(g.nested_blocksize) + ")").c_str()
                                 : "no double quant",
                        shape_json(g.shape).c_str(), g.dtype.c_str(), g.keys.size(), g.nbytes);
        } else {
            std::printf("  %s: %s (%s layout), %s scales%s, shape %s, dtype %s, %zu keys, %" PRIu64 " bytes\n",
                        g.weight.c_str(), g.quant_type.c_str(), g.layout.c_str(), g.granularity.c_str(),
                        g.granularity == "group" ? (" of " + std::to_string(g.group_size)).c_str() : "",
                        shape_json(g.shape).c_str(), g.dtype.c_str(), g.keys.size(), g.nbytes);
        }
    }
    return rc;
}
