// rai adapter inspect DIR [--json]
//
// Validates a HF PEFT adapter directory the way rai loads it and prints what it holds: the
// config (peft_type, rank, alpha, targets), the adapted modules and their tensors. No base
// model is needed: each module's shape is inferred from its tensors, then the directory is
// loaded with rai_adapter_load_peft, which checks peft_type, the config, every targeted module's
// tensors, unexpected keys and shapes. Subfolders holding adapter_config.json (PEFT's layout
// for several adapters) are inspected too.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "host_tensor.h"
#include "rai.h"

namespace {

struct Shape {
    int64_t out = 0, in = 0;
};

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string strip_default(std::string k) {
    for (size_t p; (p = k.find(".default.")) != std::string::npos;) k.erase(p, 8);
    if (ends_with(k, ".default")) k.erase(k.size() - 8);
    if (ends_with(k, "lora_magnitude_vector.weight")) k.erase(k.size() - 7);
    return k;
}

// Infers each module's [out, in] from its tensors.
bool infer_modules(rai_safetensors *f, std::map<std::string, Shape> *mods, std::string *why) {
    static const char *suffixes[] = {"lora_A.weight", "lora_B.weight", "lora_B.bias", "lora_magnitude_vector", "ia3_l",
                                     "vera_lambda_b", "vera_lambda_d", "hada_w1_a", "hada_w1_b", "hada_w2_a",
                                     "hada_w2_b", "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a",
                                     "lokr_w2_b", "lora_A", "lora_B", "lora_E", "bias"};  // lora_A/B/E: AdaLoRA
    size_t n = 0;
    rai_safetensors_count(f, &n);
    int64_t vera_in = 0;
    std::map<std::string, std::map<std::string, std::vector<int64_t>>> parts;
    for (size_t i = 0; i < n; ++i) {
        rai_safetensors_tensor_info info;
        rai_safetensors_tensor_info_init(&info);
        if (rai_safetensors_get_info(f, i, &info) != RAI_OK) {
            *why = rai_last_error_message();
            return false;
        }
        std::string k = strip_default(info.name);
        const std::vector<int64_t> shape(info.shape, info.shape + info.ndim);
        if (k == "base_model.vera_A" && shape.size() == 2) {
            vera_in = shape[1];
            continue;
        }
        if (k == "base_model.vera_B") continue;
        if (k.compare(0, 17, "base_model.model.") == 0) k = k.substr(17);
        bool matched = false;
        for (const char *sfx : suffixes) {
            const std::string s = std::string(".") + sfx;
            if (ends_with(k, s)) {
                parts[k.substr(0, k.size() - s.size())][sfx] = shape;
                matched = true;
                break;
            }
        }
        if (!matched) {
            *why = std::string("tensor \"") + info.name + "\" is not a PEFT adapter parameter rai knows";
            return false;
        }
    }
    for (const auto &m : parts) {
        const auto &p = m.second;
        auto get = [&](const char *s) -> const std::vector<int64_t> * {
            auto it = p.find(s);
            return it == p.end() ? nullptr : &it->second;
        };
        Shape sh;
        if (auto a = get("lora_A.weight"), b = get("lora_B.weight"); a && b && a->size() == 2 && b->size() == 2) {
            sh = {(*b)[0], (*a)[1]};
        } else if (auto aa = get("lora_A"), ab = get("lora_B"); aa && ab && aa->size() == 2 && ab->size() == 2) {
            sh = {(*ab)[0], (*aa)[1]};  // AdaLoRA (ParameterDict keys, no ".weight")
        } else if (auto l = get("ia3_l"); l && l->size() == 2) {
            sh = (*l)[1] == 1 ? Shape{(*l)[0], 1} : Shape{1, (*l)[1]};
        } else if (auto lb = get("vera_lambda_b"); lb && lb->size() == 1) {
            sh = {(*lb)[0], vera_in};
        } else if (auto h1 = get("hada_w1_a"), h2 = get("hada_w1_b"); h1 && h2) {
            sh = {(*h1)[0], (*h2)[1]};
        } else {
            std::vector<int64_t> w1, w2;
            if (auto f1 = get("lokr_w1")) w1 = *f1;
            else if (auto fa = get("lokr_w1_a"), fb = get("lokr_w1_b"); fa && fb) w1 = {(*fa)[0], (*fb)[1]};
            if (auto f2 = get("lokr_w2")) w2 = *f2;
            else if (auto fa = get("lokr_w2_a"), fb = get("lokr_w2_b"); fa && fb) w2 = {(*fa)[0], (*fb)[1]};
            if (w1.size() == 2 && w2.size() == 2) {
                sh = {w1[0] * w2[0], w1[1] * w2[1]};
            } else if (auto bias = get("bias"); bias && bias->size() == 1) {
                sh = {(*bias)[0], 1};
            } else {
                *why = "module \"" + m.first + "\": its tensors do not determine its shape";
                return false;
            }
        }
        (*mods)[m.first] = sh;
    }
    return true;
}

int inspect(const std::string &dir, bool json) {
    const std::string st = dir + "/adapter_model.safetensors";
    rai_safetensors *f = nullptr;
    if (rai_safetensors_open(st.c_str(), &f) != RAI_OK) {
        std::fprintf(stderr, "rai adapter inspect: %s: %s\n", dir.c_str(), rai_last_error_message());
        return 1;
    }
    std::map<std::string, Shape> mods;
    std::string why;
    const bool inferred = infer_modules(f, &mods, &why);
    rai_safetensors_destroy(f);
    if (!inferred) {
        std::fprintf(stderr, "rai adapter inspect: %s: %s\n", dir.c_str(), why.c_str());
        return 1;
    }
    rai_context *ctx = nullptr;
    rai_adapter_model *model = nullptr;
    int rc = 1;
    if (create_cpu_context(&ctx) == RAI_OK && rai_adapter_model_create(ctx, &model) == RAI_OK) {
        bool ok = true;
        for (const auto &m : mods) {
            std::vector<float> w(static_cast<size_t>(m.second.out * m.second.in), 0.0f), b(static_cast<size_t>(m.second.out), 0.0f);
            const int64_t ws[] = {m.second.out, m.second.in}, bs[] = {m.second.out};
            rai_tensor wt{}, bt{};
            wt.data = w.data(), wt.device = {RAI_DEVICE_CPU, 0}, wt.ndim = 2, wt.dtype = {RAI_DTYPE_FLOAT, 32, 1}, wt.shape = ws;
            bt = wt;
            bt.data = b.data(), bt.ndim = 1, bt.shape = bs;
            if (rai_adapter_model_add_linear(model, m.first.c_str(), &wt, &bt, 0) != RAI_OK) ok = false;
        }
        if (ok && rai_adapter_load_peft(model, dir.c_str(), "default") == RAI_OK) {
            char *cfg = nullptr, *tensors = nullptr;
            rai_adapter_config_json(model, "default", &cfg);
            rai_adapter_tensors_json(model, "default", &tensors);
            if (json) {
                std::printf("{\"dir\": \"%s\", \"modules\": %zu, \"config\": %s, \"tensors\": %s}\n", dir.c_str(),
                            mods.size(), cfg ? cfg : "null", tensors ? tensors : "[]");
            } else {
                std::printf("%s: valid PEFT adapter, %zu adapted module(s)\n", dir.c_str(), mods.size());
                std::printf("config (as rai reads it; unknown fields kept):\n%s\n", cfg ? cfg : "");
                std::printf("tensors:\n%s\n", tensors ? tensors : "");
            }
            rai_free(cfg);
            rai_free(tensors);
            rc = 0;
        } else {
            std::fprintf(stderr, "rai adapter inspect: %s: %s: %s\n", dir.c_str(),
                         rai_status_string(static_cast<rai_status>(ok ? RAI_ERROR_FORMAT : RAI_ERROR_INVALID_ARGUMENT)),
                         rai_last_error_message());
        }
    } else {
        std::fprintf(stderr, "rai adapter inspect: %s\n", rai_last_error_message());
    }
    rai_adapter_model_destroy(model);
    rai_context_destroy(ctx);
    return rc;
}

}  // namespace

int cmd_adapter(int argc, char **argv) {
    if (argc < 3 || std::strcmp(argv[1], "inspect") != 0) {
        std::fprintf(stderr, "usage: rai adapter inspect DIR [--json]\n");
        return 2;
    }
    bool json = false;
    std::string dir;
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) json = true;
        else if (dir.empty()) dir = argv[i];
        else {
            std::fprintf(stderr, "rai adapter inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    struct stat sb {};
    if (::stat((dir + "/adapter_config.json").c_str(), &sb) == 0) return inspect(dir, json);
    // PEFT's layout for several adapters: one subfolder per adapter.
    int rc = 0, found = 0;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            const std::string sub = dir + "/" + e->d_name;
            if (::stat((sub + "/adapter_config.json").c_str(), &sb) == 0) {
                ++found;
                rc |= inspect(sub, json);
            }
        }
        closedir(d);
    }
    if (found == 0) {
        std::fprintf(stderr, "rai adapter inspect: %s has no adapter_config.json (nor subfolders with one)\n", dir.c_str());
        return 1;
    }
    return rc;
}
