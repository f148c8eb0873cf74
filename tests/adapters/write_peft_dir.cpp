// Writes PEFT directories with rai for check_peft_loads.py: the golden adapters re-saved by
// rai, and fresh rai-created adapters with their inputs/outputs recorded (io.safetensors), so
// that peft must load every directory without missing or unexpected keys and reproduce rai.
//   write_peft_dir GOLDEN_DIR OUT_DIR
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../src/adapters/tensor_file.h"
#include "rai.h"

namespace ra = rai::adapters;

namespace {

bool ok(rai_status st, const char *what) {
    if (st == RAI_OK) return true;
    std::fprintf(stderr, "write_peft_dir: %s: %s: %s\n", what, rai_status_string(st), rai_last_error_message());
    return false;
}

rai_adapter_model *base_model(rai_context *ctx, const ra::TensorFile &base, std::vector<std::string> *modules) {
    rai_adapter_model *m = nullptr;
    if (!ok(rai_adapter_model_create(ctx, &m), "create")) return nullptr;
    for (const ra::FileTensor &t : base.tensors) {
        if (t.shape.size() != 2 || t.name == "model.embed_tokens.weight") continue;
        rai_tensor w{};
        w.data = const_cast<uint8_t *>(t.bytes.data());
        w.device = {RAI_DEVICE_CPU, 0};
        w.ndim = 2;
        w.dtype = {RAI_DTYPE_FLOAT, 32, 1};
        w.shape = t.shape.data();
        const std::string name = t.name.substr(0, t.name.size() - 7);
        if (!ok(rai_adapter_model_add_linear(m, name.c_str(), &w, nullptr, 0), "add_linear")) return nullptr;
        modules->push_back(name);
    }
    return m;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: write_peft_dir GOLDEN_DIR OUT_DIR\n");
        return 2;
    }
    const std::string golden = argv[1], out = argv[2];
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    cp.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    if (!ok(rai_context_create(&cp, &ctx), "context")) return 1;
    try {
        const ra::TensorFile base = ra::read_tensor_file(golden + "/base/model.safetensors");
        // 1. Golden adapters, loaded and saved again by rai.
        for (const char *tuner : {"lora", "dora", "ia3", "vera", "loha", "lokr", "adalora"}) {
            std::vector<std::string> mods;
            rai_adapter_model *m = base_model(ctx, base, &mods);
            if (m == nullptr) return 1;
            const std::string dir = out + "/" + tuner;
            if (!ok(rai_adapter_load_peft(m, (golden + "/" + tuner).c_str(), "default"), tuner)) return 1;
            if (!ok(rai_adapter_save_peft(m, "default", dir.c_str(), nullptr), tuner)) return 1;
            rai_adapter_model_destroy(m);
        }
        // 2. Fresh adapters created by rai, with outputs recorded.
        struct Fresh {
            const char *name;
            int32_t type;
            uint32_t flags;
            const char *targets;
            int32_t r;
        };
        const Fresh fresh[] = {
            {"rai_lora", RAI_PEFT_LORA, RAI_ADAPTER_RSLORA, "\"all-linear\"", 4},
            {"rai_dora", RAI_PEFT_LORA, RAI_ADAPTER_DORA, "[\"q_proj\", \"up_proj\"]", 2},
            {"rai_ia3", RAI_PEFT_IA3, 0, "[\"k_proj\", \"down_proj\"]", 0},
            {"rai_vera", RAI_PEFT_VERA, 0, "[\"q_proj\", \"o_proj\"]", 8},
            {"rai_loha", RAI_PEFT_LOHA, 0, "[\"v_proj\"]", 2},
            {"rai_lokr", RAI_PEFT_LOKR, 0, "[\"gate_proj\"]", 2},
            {"rai_adalora", RAI_PEFT_ADALORA, 0, "[\"k_proj\", \"up_proj\"]", 3},
        };
        for (const Fresh &f : fresh) {
            std::vector<std::string> mods;
            rai_adapter_model *m = base_model(ctx, base, &mods);
            if (m == nullptr) return 1;
            rai_adapter_params p;
            rai_adapter_params_init(&p);
            p.peft_type = f.type;
            p.r = f.r;
            p.alpha = 6;
            p.flags = f.flags;
            p.init = RAI_ADAPTER_INIT_RANDOM;
            p.target_modules = f.targets;
            p.feedforward_modules = "[\"down_proj\"]";
            p.seed = 1234;
            // AdaLoRA: k_proj keeps 2 of init_r 3 singular values (peft shrinks it on load).
            if (f.type == RAI_PEFT_ADALORA) p.rank_pattern = "{\"model.layers.0.self_attn.k_proj.lora_E\": [true, false, true]}";
            if (!ok(rai_adapter_add(m, "default", &p), f.name)) return 1;
            if (f.type == RAI_PEFT_VERA) {  // lambda_b starts at 0 even with random init: make it count
                for (const char *mod : {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.o_proj"}) {
                    std::vector<float> lb(64, 0.5f);
                    const int64_t s[] = {64};
                    rai_tensor t{};
                    t.data = lb.data();
                    t.device = {RAI_DEVICE_CPU, 0};
                    t.ndim = 1;
                    t.dtype = {RAI_DTYPE_FLOAT, 32, 1};
                    t.shape = s;
                    const std::string key = std::string("base_model.model.") + mod + ".vera_lambda_b";
                    if (!ok(rai_adapter_set_tensor(m, "default", key.c_str(), &t), "vera lambda_b")) return 1;
                }
            }
            const std::string dir = out + "/" + f.name;
            if (!ok(rai_adapter_save_peft(m, "default", dir.c_str(), nullptr), f.name)) return 1;
            ra::TensorFile io;
            std::mt19937 g(5);
            std::normal_distribution<float> d;
            for (const std::string &mod : mods) {
                const ra::FileTensor *w = base.find(mod + ".weight");
                const int64_t out_f = w->shape[0], in_f = w->shape[1];
                std::vector<float> x(static_cast<size_t>(3 * in_f)), y(static_cast<size_t>(3 * out_f));
                for (float &v : x) v = d(g);
                const int64_t xs[] = {3, in_f}, ys[] = {3, out_f};
                rai_tensor xt{}, yt{};
                xt.data = x.data(), xt.device = {RAI_DEVICE_CPU, 0}, xt.ndim = 2, xt.dtype = {RAI_DTYPE_FLOAT, 32, 1}, xt.shape = xs;
                yt = xt;
                yt.data = y.data(), yt.shape = ys;
                if (!ok(rai_adapter_forward(m, mod.c_str(), &xt, &yt), "forward")) return 1;
                for (int k = 0; k < 2; ++k) {
                    ra::FileTensor t;
                    t.name = mod + (k ? ".y" : ".x");
                    t.dtype = "F32";
                    t.shape = {3, k ? out_f : in_f};
                    const std::vector<float> &v = k ? y : x;
                    t.bytes.resize(v.size() * 4);
                    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
                    io.tensors.push_back(std::move(t));
                }
            }
            ra::write_tensor_file(dir + "/io.safetensors", io);
            rai_adapter_model_destroy(m);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "write_peft_dir: %s\n", e.what());
        return 1;
    }
    rai_context_destroy(ctx);
    std::printf("wrote PEFT directories under %s\n", out.c_str());
    return 0;
}
