// rai merge BASE.safetensors ADAPTER_DIR OUT.safetensors [--dtype f32|bf16|f16] [--safe]
//
// Merges a HF PEFT adapter (LoRA, rsLoRA, DoRA, IA3, VeRA, LoHa, LoKr) into a dense base
// checkpoint in fp32 and writes a full checkpoint: every linear weight "<module>.weight" (2-D
// float) is a base module, biases "<module>.bias" come along, and all other tensors and the
// __metadata__ are copied unchanged. --dtype converts every float tensor of the output.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../src/adapters/half.h"  // header-only fp32/bf16/f16 conversions
#include "commands.h"
#include "host_tensor.h"
#include "tensor_select.h"
#include "rai.h"

namespace {

int fail(const char *what) {
    std::fprintf(stderr, "rai merge: %s: %s\n", what, rai_last_error_message());
    return 1;
}

bool ends_with(const std::string &s, const char *suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::vector<int64_t> shape_of(const rai_tensor &t) { return std::vector<int64_t>(t.shape, t.shape + t.ndim); }

}  // namespace

int cmd_merge(int argc, char **argv) {
    std::vector<const char *> pos;
    const char *dtype_name = nullptr;
    bool safe = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            dtype_name = argv[++i];
        } else if (std::strcmp(argv[i], "--safe") == 0) {
            safe = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            std::fprintf(stderr, "rai merge: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            pos.push_back(argv[i]);
        }
    }
    if (pos.size() != 3) {
        std::fprintf(stderr,
                     "usage: rai merge BASE.safetensors ADAPTER_DIR OUT.safetensors [--dtype f32|bf16|f16] [--safe]\n");
        return 2;
    }
    rai_dtype out_dtype{0, 0, 1};
    if (dtype_name != nullptr) {
        if (std::strcmp(dtype_name, "f32") == 0 || std::strcmp(dtype_name, "fp32") == 0) out_dtype = {RAI_DTYPE_FLOAT, 32, 1};
        else if (std::strcmp(dtype_name, "bf16") == 0) out_dtype = {RAI_DTYPE_BFLOAT, 16, 1};
        else if (std::strcmp(dtype_name, "f16") == 0 || std::strcmp(dtype_name, "fp16") == 0) out_dtype = {RAI_DTYPE_FLOAT, 16, 1};
        else {
            std::fprintf(stderr, "rai merge: --dtype must be f32, bf16 or f16, got '%s'\n", dtype_name);
            return 2;
        }
    }
    rai_safetensors *base = nullptr;
    if (rai_safetensors_open(pos[0], &base) != RAI_OK) return fail(pos[0]);
    rai_context *ctx = nullptr;
    rai_adapter_model *model = nullptr;
    rai_safetensors_writer *w = nullptr;
    int rc = 1;
    size_t count = 0;
    std::vector<std::string> modules;
    do {
        if (create_cpu_context(&ctx) != RAI_OK) { rc = fail("context"); break; }
        if (rai_adapter_model_create(ctx, &model) != RAI_OK) { rc = fail("model"); break; }
        if (rai_safetensors_count(base, &count) != RAI_OK) { rc = fail("base"); break; }
        bool ok = true;
        for (size_t i = 0; i < count && ok; ++i) {
            rai_safetensors_tensor_info info;
            rai_safetensors_tensor_info_init(&info);
            if (rai_safetensors_get_info(base, i, &info) != RAI_OK) { ok = false; rc = fail("base"); break; }
            const std::string name = info.name;
            if (ends_with(name, ".weight.quant_state.bitsandbytes__nf4") || ends_with(name, ".weight.quant_state.bitsandbytes__fp4")) {
                std::fprintf(stderr,
                             "rai merge: %s holds bitsandbytes 4-bit weights; merge into the dense master checkpoint "
                             "(rai_adapter_merged_weight) and requantize, or use rai_adapter_merge with "
                             "RAI_ADAPTER_MERGE_LOSSY from the C API\n", pos[0]);
                ok = false;
                rc = 1;
                break;
            }
            if (info.ndim != 2 || !ends_with(name, ".weight") || !is_float16_32(info.dtype)) continue;
            const std::string module = name.substr(0, name.size() - 7);
            if (is_embedding(module)) continue;
            rai_tensor wt, bt;
            if (rai_safetensors_tensor_view(base, i, &wt) != RAI_OK) { ok = false; rc = fail(name.c_str()); break; }
            int64_t bi = -1;
            rai_safetensors_find(base, (module + ".bias").c_str(), &bi);
            const rai_tensor *bias = nullptr;
            if (bi >= 0 && rai_safetensors_tensor_view(base, static_cast<size_t>(bi), &bt) == RAI_OK && bt.ndim == 1 &&
                bt.shape[0] == wt.shape[0] && bt.dtype.code == wt.dtype.code && bt.dtype.bits == wt.dtype.bits)
                bias = &bt;
            if (rai_adapter_model_add_linear(model, module.c_str(), &wt, bias, 0) != RAI_OK) {
                ok = false;
                rc = fail(module.c_str());
                break;
            }
            modules.push_back(module);
        }
        if (!ok) break;
        if (rai_adapter_load_peft(model, pos[1], "default") != RAI_OK) { rc = fail(pos[1]); break; }
        if (rai_adapter_merge(model, nullptr, 0, safe ? RAI_ADAPTER_MERGE_SAFE : 0) != RAI_OK) { rc = fail("merge"); break; }
        if (rai_safetensors_writer_create(&w) != RAI_OK) { rc = fail("writer"); break; }
        size_t nmeta = 0;
        rai_safetensors_metadata_count(base, &nmeta);
        for (size_t k = 0; k < nmeta; ++k) {
            const char *key = nullptr, *value = nullptr;
            if (rai_safetensors_metadata_get(base, k, &key, &value) == RAI_OK) rai_safetensors_writer_set_metadata(w, key, value);
        }
        for (size_t i = 0; i < count && ok; ++i) {
            rai_safetensors_tensor_info info;
            rai_safetensors_tensor_info_init(&info);
            rai_safetensors_get_info(base, i, &info);
            const std::string name = info.name;
            rai_tensor view;
            const bool viewable = rai_safetensors_tensor_view(base, i, &view) == RAI_OK;
            const rai_dtype dt = (out_dtype.bits != 0 && viewable && is_float16_32(view.dtype)) ? out_dtype : view.dtype;
            bool is_weight = false, is_bias = false;
            std::string module;
            for (const std::string &m : modules) {
                if (name == m + ".weight") is_weight = true, module = m;
                if (name == m + ".bias") is_bias = true, module = m;
            }
            if (!viewable) {  // a dtype rai has no rai_dtype for: copy the bytes
                if (rai_safetensors_writer_add_raw(w, info.name, info.dtype_name, info.ndim, info.shape, info.data,
                                                   info.nbytes) != RAI_OK) { ok = false; rc = fail(info.name); }
                continue;
            }
            if (is_weight || is_bias) {
                HostTensor o(shape_of(view), dt);
                rai_status st = RAI_OK;
                if (is_weight) {
                    st = rai_adapter_model_get_weight(model, module.c_str(), &o.t, nullptr);
                } else {
                    rai_tensor wv;  // the weight is read into a scratch of its own shape
                    int64_t wi = -1;
                    rai_safetensors_find(base, (module + ".weight").c_str(), &wi);
                    rai_safetensors_tensor_view(base, static_cast<size_t>(wi), &wv);
                    HostTensor ws(shape_of(wv), wv.dtype);
                    st = rai_adapter_model_get_weight(model, module.c_str(), &ws.t, &o.t);
                }
                if (st != RAI_OK || rai_safetensors_writer_add(w, info.name, &o.t) != RAI_OK) { ok = false; rc = fail(info.name); }
            } else if (dt.code != view.dtype.code || dt.bits != view.dtype.bits) {
                HostTensor o(shape_of(view), dt);
                namespace ra = rai::adapters;
                ra::Fp from = ra::Fp::F32, to = ra::Fp::F32;
                ra::float_kind(view.dtype, &from);
                ra::float_kind(dt, &to);
                size_t n = 1;
                for (int32_t d = 0; d < view.ndim; ++d) n *= static_cast<size_t>(view.shape[d]);
                std::vector<float> tmp(n);
                if (n > 0) {
                    ra::load_floats(from, static_cast<const char *>(view.data) + view.byte_offset, tmp.data(), n);
                    ra::store_floats(to, tmp.data(), o.t.data, n);
                }
                if (rai_safetensors_writer_add(w, info.name, &o.t) != RAI_OK) { ok = false; rc = fail(info.name); }
            } else if (rai_safetensors_writer_add(w, info.name, &view) != RAI_OK) {
                ok = false;
                rc = fail(info.name);
            }
        }
        if (!ok) break;
        if (rai_safetensors_writer_save(w, pos[2]) != RAI_OK) { rc = fail(pos[2]); break; }
        std::printf("merged %s into %zu linear module(s) of %s -> %s\n", pos[1], modules.size(), pos[0], pos[2]);
        rc = 0;
    } while (false);
    rai_safetensors_writer_destroy(w);
    rai_adapter_model_destroy(model);
    rai_context_destroy(ctx);
    rai_safetensors_destroy(base);
    return rc;
}
