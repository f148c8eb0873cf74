// HF PEFT adapter directories: adapter_config.json + adapter_model.safetensors.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include "../core/error.h"
#include "model.h"
#include "tensor_file.h"

namespace rai::adapters {

namespace {

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(RAI_ERROR_IO, "cannot open " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text_atomic(const std::string &path, const std::string &text) {
    const std::string tmp = path + ".rai-tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(RAI_ERROR_IO, "cannot create " + tmp + ": " + std::strerror(errno));
        out << text;
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw Error(RAI_ERROR_IO, "cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(RAI_ERROR_IO, "cannot rename " + tmp + " to " + path);
    }
}

std::vector<float> to_f32(const FileTensor &t, const std::string &what) {
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    if (t.dtype == "F32") load_floats(Fp::F32, t.bytes.data(), v.data(), v.size());
    else if (t.dtype == "BF16") load_floats(Fp::BF16, t.bytes.data(), v.data(), v.size());
    else if (t.dtype == "F16") load_floats(Fp::F16, t.bytes.data(), v.data(), v.size());
    else throw Error(RAI_ERROR_DTYPE_MISMATCH, what + ": tensor \"" + t.name + "\" has dtype " + t.dtype + "; expected F32, BF16 or F16");
    return v;
}

std::string shape_text(const std::vector<int64_t> &s) {
    std::string o = "[";
    for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + "]";
}

// Shapes equal, also accepting PEFT's [n] vs [n, 1]/[1, n] spellings of vectors.
bool same_shape(const std::vector<int64_t> &want, const std::vector<int64_t> &got) { return want == got; }

// The kept singular values of an AdaLoRA tensor saved at full init_r: rows of lora_A / lora_E
// (axis 0), columns of lora_B (axis 1). Equivalent to PEFT masking the pruned entries of E.
FileTensor keep_ranks(const FileTensor &t, const std::vector<uint8_t> &keep, int axis) {
    FileTensor o = t;
    const std::size_t es = file_dtype_size(t.dtype);
    const int64_t rows = t.shape[0], cols = t.shape.size() > 1 ? t.shape[1] : 1;
    int64_t kept = 0;
    for (uint8_t k : keep) kept += k != 0;
    o.shape[static_cast<std::size_t>(axis)] = kept;
    o.bytes.clear();
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            if (keep[static_cast<std::size_t>(axis == 0 ? i : j)] != 0) {
                const uint8_t *src = t.bytes.data() + static_cast<std::size_t>(i * cols + j) * es;
                o.bytes.insert(o.bytes.end(), src, src + es);
            }
    return o;
}

// A copy of v with the members of every object sorted by key (Python's sort_keys=True).
jsonu::Value sorted_keys(const jsonu::Value &v) {
    jsonu::Value o = v;
    if (v.kind == jsonu::Kind::Array) {
        for (jsonu::Value &e : o.items) e = sorted_keys(e);
    } else if (v.kind == jsonu::Kind::Object) {
        std::vector<std::pair<std::string, jsonu::Value>> members(v.members.begin(), v.members.end());
        std::sort(members.begin(), members.end(), [](const auto &x, const auto &y) { return x.first < y.first; });
        o = jsonu::object();
        for (auto &m : members) jsonu::set(o, m.first, sorted_keys(m.second));
    }
    return o;
}

}  // namespace

void Model::load_peft(const std::string &dir, const std::string &name, uint32_t) {
    const std::string cfg_path = dir + "/adapter_config.json";
    const std::string st_path = dir + "/adapter_model.safetensors";
    const jsonu::Value cfg_json = jsonu::parse(read_text(cfg_path), cfg_path);
    AdapterConfig cfg = AdapterConfig::from_json(cfg_json, cfg_path);
    struct stat sb {};
    if (::stat(st_path.c_str(), &sb) != 0) {
        if (::stat((dir + "/adapter_model.bin").c_str(), &sb) == 0)
            throw Error(RAI_ERROR_UNSUPPORTED, dir + ": only adapter_model.bin (a pickle) is present; rai reads adapter_model.safetensors");
        throw Error(RAI_ERROR_IO, "cannot open " + st_path + ": " + std::strerror(errno));
    }
    const TensorFile file = read_tensor_file(st_path);

    // Build into a scratch model entry (zeros), fill, and only then publish: on error nothing changes.
    require(!has_adapter(name), RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + name + "\" already exists");
    if (cfg.type == PeftType::Vera && file.find("base_model.vera_A") == nullptr)
        throw Error(RAI_ERROR_UNSUPPORTED, st_path + ": VeRA without saved projections (save_projection=false): "
                                                     "base_model.vera_A/vera_B come from torch's PRNG, which rai does not reproduce");
    const bool was_empty_active = active_.empty();
    add_adapter(name, cfg, 0, /*initialise=*/false);
    try {
        Adapter &a = adapter(name);
        std::set<std::string> used;
        std::map<std::string, const FileTensor *> by_key;
        for (const FileTensor &t : file.tensors) {
            std::string k = normalise_key(t.name);
            if (k.compare(0, 17, "base_model.model.") != 0 && k.compare(0, 11, "base_model.") != 0)
                k = "base_model.model." + k;  // keys saved without PEFT's prefix
            const auto ins = by_key.emplace(k, &t);
            if (!ins.second)
                throw Error(RAI_ERROR_FORMAT, st_path + ": tensors \"" + t.name + "\" and \"" + ins.first->second->name +
                                                  "\" name the same parameter");
        }
        // AdaLoRA tensors saved at full init_r with a rank_pattern (PEFT itself saves them pruned):
        // keep only the singular values the pattern keeps.
        std::deque<FileTensor> pruned;
        if (a.cfg.type == PeftType::Adalora)
            for (const RankMask &m : a.cfg.rank_masks) {
                const auto e = by_key.find(module_key(m.module, "lora_E"));
                if (e == by_key.end() || e->second->shape.empty() || e->second->shape[0] != a.cfg.r || m.kept() == a.cfg.r)
                    continue;  // already pruned (or missing: reported below)
                for (const char *sfx : {"lora_A", "lora_E", "lora_B"}) {
                    const auto it = by_key.find(module_key(m.module, sfx));
                    if (it == by_key.end()) continue;
                    const int axis = std::strcmp(sfx, "lora_B") == 0 ? 1 : 0;
                    const FileTensor &t = *it->second;
                    if (static_cast<int64_t>(t.shape.size()) <= axis || t.shape[static_cast<std::size_t>(axis)] != a.cfg.r ||
                        t.shape.size() > 2 || file_dtype_size(t.dtype) == 0)
                        continue;  // the shape check below names it
                    pruned.push_back(keep_ranks(t, m.keep, axis));
                    it->second = &pruned.back();
                }
            }
        auto fill = [&](Param &p, const std::string &key, const std::string &module) {
            auto it = by_key.find(key);
            if (it == by_key.end()) {
                if (module.empty()) throw Error(RAI_ERROR_FORMAT, st_path + ": missing tensor \"" + key + "\"");
                throw Error(RAI_ERROR_FORMAT, st_path + ": targeted module \"" + module + "\" has no tensor \"" + key +
                                                  "\" (the adapter would silently be random or zero)");
            }
            const FileTensor &t = *it->second;
            std::vector<int64_t> got = t.shape;
            // IA3 vectors and DoRA magnitudes: accept [n] for [n,1]/[1,n] and vice versa.
            const bool vector_like = p.shape.size() <= 2 && p.numel() == t.numel() &&
                                     (p.shape.size() == 1 || p.shape[0] == 1 || p.shape[1] == 1) &&
                                     (got.size() == 1 || (got.size() == 2 && (got[0] == 1 || got[1] == 1)));
            if (!same_shape(p.shape, got) && !vector_like)
                throw Error(RAI_ERROR_SHAPE_MISMATCH, st_path + ": tensor \"" + t.name + "\" has shape " + shape_text(got) +
                                                          ", the base module needs " + shape_text(p.shape));
            p.value = to_f32(t, st_path);
            used.insert(key);
        };
        if (a.cfg.type == PeftType::Vera) {
            const FileTensor *va = by_key.at("base_model.vera_A");
            const FileTensor *vb = by_key.count("base_model.vera_B") ? by_key.at("base_model.vera_B") : nullptr;
            require(vb != nullptr, RAI_ERROR_FORMAT, st_path + ": missing tensor \"base_model.vera_B\"");
            require(va->shape.size() == 2 && va->shape[0] == a.cfg.r && va->shape[1] >= a.vera_A.shape[1] &&
                        vb->shape.size() == 2 && vb->shape[1] == a.cfg.r && vb->shape[0] >= a.vera_B.shape[0],
                    RAI_ERROR_SHAPE_MISMATCH,
                    st_path + ": vera_A " + shape_text(va->shape) + " / vera_B " + shape_text(vb->shape) +
                        " do not cover the targeted modules (need [" + std::to_string(a.cfg.r) + ", >= " +
                        std::to_string(a.vera_A.shape[1]) + "] and [>= " + std::to_string(a.vera_B.shape[0]) + ", " +
                        std::to_string(a.cfg.r) + "])");
            a.vera_A.shape = va->shape;
            a.vera_B.shape = vb->shape;
            a.vera_A.value = to_f32(*va, st_path);
            a.vera_B.value = to_f32(*vb, st_path);
            a.vera_A.grad.assign(a.vera_A.value.size(), 0.0f);
            a.vera_B.grad.assign(a.vera_B.value.size(), 0.0f);
            used.insert("base_model.vera_A");
            used.insert("base_model.vera_B");
        }
        for (ModuleAdapter &ma : a.modules) {
            const std::string &mn = modules_[ma.module].name;
            for (Param &p : ma.params) fill(p, module_key(mn, p.suffix), mn);
        }
        for (auto &kv : a.biases) {
            const std::string key = module_key(modules_[kv.first].name, "bias");
            if (by_key.count(key)) fill(kv.second, key, modules_[kv.first].name);
        }
        for (const auto &kv : by_key)
            if (used.count(kv.first) == 0)
                throw Error(RAI_ERROR_FORMAT, st_path + ": unexpected tensor \"" + kv.second->name +
                                                  "\": it belongs to no module this adapter targets in the base");
    } catch (...) {
        adapters_.pop_back();
        if (was_empty_active) active_.clear();
        throw;
    }
}

void Model::save_peft(const std::string &name, const std::string &dir, Fp dtype) const {
    const Adapter &a = adapter(name);
    struct stat sb {};
    if (::stat(dir.c_str(), &sb) != 0) {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
            throw Error(RAI_ERROR_IO, "cannot create directory " + dir + ": " + std::strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        throw Error(RAI_ERROR_IO, dir + " exists and is not a directory");
    }
    TensorFile f;
    f.metadata.emplace_back("format", "pt");
    // AdaLoRA trained with the budget allocator keeps init_r rows and masks E; PEFT saves the
    // tensors pruned to the rank pattern (resize_state_dict_by_rank_pattern): do the same.
    std::map<const Param *, std::pair<const RankMask *, int>> prune;
    if (a.cfg.type == PeftType::Adalora)
        for (const ModuleAdapter &ma : a.modules) {
            const RankMask *rm = a.cfg.rank_mask_for(modules_[ma.module].name);
            if (rm == nullptr || ma.r != a.cfg.r || rm->kept() == ma.r) continue;
            prune[&ma.get("lora_A")] = {rm, 0};
            prune[&ma.get("lora_E")] = {rm, 0};
            prune[&ma.get("lora_B")] = {rm, 1};
        }
    for (const auto &kv : tensors(name)) {
        const Param &p = *kv.second;
        FileTensor t;
        t.name = kv.first;
        t.shape = p.shape;
        t.dtype = dtype == Fp::F32 ? "F32" : dtype == Fp::BF16 ? "BF16" : "F16";
        t.bytes.resize(p.value.size() * fp_size(dtype));
        if (!p.value.empty()) store_floats(dtype, p.value.data(), t.bytes.data(), p.value.size());
        const auto pr = prune.find(&p);
        f.tensors.push_back(pr == prune.end() ? std::move(t) : keep_ranks(t, pr->second.first->keep, pr->second.second));
    }
    // PEFT writes json.dumps(sort_keys=True, indent=2): keys sorted at every level.
    const jsonu::Value sorted = sorted_keys(a.cfg.to_json());
    write_tensor_file(dir + "/adapter_model.safetensors", f);
    write_text_atomic(dir + "/adapter_config.json", jsonu::dump(sorted, 2) + "\n");
}

}  // namespace rai::adapters
