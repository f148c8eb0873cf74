#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include "../core/context.h"
#include "../core/error.h"
#include "../core/log.h"
#include "../core/tensor_check.h"
#include "gemm_cpu.h"
#include "rng.h"
#include "tuners.h"

namespace rai::adapters {

// ---------------------------------------------------------------- small helpers

int64_t Param::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}
void Param::init_zeros() {
    value.assign(static_cast<std::size_t>(numel()), 0.0f);
    grad.assign(static_cast<std::size_t>(numel()), 0.0f);
}

Param *ModuleAdapter::find(const std::string &suffix) {
    for (Param &p : params)
        if (p.suffix == suffix) return &p;
    return nullptr;
}
const Param *ModuleAdapter::find(const std::string &suffix) const {
    for (const Param &p : params)
        if (p.suffix == suffix) return &p;
    return nullptr;
}
Param &ModuleAdapter::get(const std::string &suffix) {
    Param *p = find(suffix);
    if (p == nullptr) throw Error(RAI_ERROR_INTERNAL, "adapter parameter " + suffix + " missing");
    return *p;
}
const Param &ModuleAdapter::get(const std::string &suffix) const {
    const Param *p = find(suffix);
    if (p == nullptr) throw Error(RAI_ERROR_INTERNAL, "adapter parameter " + suffix + " missing");
    return *p;
}

const ModuleAdapter *Adapter::for_module(std::size_t m) const {
    auto it = by_module.find(m);
    return it == by_module.end() ? nullptr : &modules[it->second];
}
ModuleAdapter *Adapter::for_module(std::size_t m) {
    auto it = by_module.find(m);
    return it == by_module.end() ? nullptr : &modules[it->second];
}

std::string module_key(const std::string &module, const std::string &suffix) {
    return "base_model.model." + module + "." + suffix;
}

std::string normalise_key(const std::string &key) {
    std::string k = key;
    for (std::size_t pos; (pos = k.find(".default.")) != std::string::npos;) k.erase(pos, 8);
    if (k.size() > 8 && k.compare(k.size() - 8, 8, ".default") == 0) k.erase(k.size() - 8);
    const std::string mag = "lora_magnitude_vector.weight";
    if (k.size() >= mag.size() && k.compare(k.size() - mag.size(), mag.size(), mag) == 0) k.erase(k.size() - 7);
    return k;
}

namespace {

uint64_t name_hash(const std::string &s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

Fp tensor_fp(const TensorCheck &c, const char *name) {
    Fp k = Fp::F32;
    if (!float_kind(c.tensor().dtype, &k))
        throw Error(RAI_ERROR_DTYPE_MISMATCH, std::string(name) + ": expected dtype f32, bf16 or f16, got " +
                                                  dtype::describe(c.tensor().dtype));
    return k;
}

// Reads a host tensor of f32/bf16/f16 into fp32.
std::vector<float> read_floats(const TensorCheck &c, const char *name) {
    const Fp k = tensor_fp(c, name);
    std::vector<float> v(static_cast<std::size_t>(c.numel()));
    if (!v.empty()) load_floats(k, c.data(), v.data(), v.size());
    return v;
}

void write_floats(const TensorCheck &c, const char *name, const float *src) {
    const Fp k = tensor_fp(c, name);
    if (c.numel() > 0) store_floats(k, src, c.data(), static_cast<std::size_t>(c.numel()));
}

// Rows of a [..., features] activation tensor; throws naming the argument.
int64_t rows_of(const TensorCheck &c, int64_t features, const char *name, const char *feature_name) {
    const rai_tensor &t = c.tensor();
    require(t.ndim >= 1, RAI_ERROR_SHAPE_MISMATCH, std::string(name) + ": needs at least one dimension");
    require(t.shape[t.ndim - 1] == features, RAI_ERROR_SHAPE_MISMATCH,
            std::string(name) + ": last dimension is " + std::to_string(t.shape[t.ndim - 1]) + ", the module's " +
                feature_name + " is " + std::to_string(features) + " (shape " + c.shape_string() + ")");
    return features == 0 ? 0 : c.numel() / features;
}

void check_same_rows(const TensorCheck &a, const TensorCheck &b, const char *an, const char *bn) {
    const rai_tensor &x = a.tensor(), &y = b.tensor();
    bool ok = x.ndim == y.ndim;
    for (int32_t i = 0; ok && i + 1 < x.ndim; ++i) ok = x.shape[i] == y.shape[i];
    require(ok, RAI_ERROR_SHAPE_MISMATCH,
            std::string(bn) + ": leading dimensions " + b.shape_string() + " do not match " + an + " " + a.shape_string());
}

}  // namespace

// ---------------------------------------------------------------- base modules

void BaseModule::refresh_cache() {
    ++generation;
    b32.clear();
    if (!bias.empty()) {
        b32.resize(static_cast<std::size_t>(out));
        load_floats(dtype, bias.data(), b32.data(), b32.size());
    }
    if (quantized()) {
        w32.clear();
        return;
    }
    std::vector<float> stored(static_cast<std::size_t>(out * in));
    load_floats(dtype, weight.data(), stored.data(), stored.size());
    if (fan_in_fan_out) {
        w32.resize(stored.size());
        for (int64_t i = 0; i < out; ++i)
            for (int64_t j = 0; j < in; ++j) w32[i * in + j] = stored[j * out + i];
    } else {
        w32 = std::move(stored);
    }
}

namespace {
rai_tensor host_f32(const float *p, const int64_t *shape, int32_t ndim) {
    rai_tensor t{};
    t.data = const_cast<float *>(p);
    t.device = {RAI_DEVICE_CPU, 0};
    t.ndim = ndim;
    t.dtype = dtype::f32;
    t.shape = shape;
    return t;
}
}  // namespace

void BaseModule::matmul(const float *X, int64_t M, float *Y0) const {
    if (!quantized()) {
        cpu::gemm_nt(M, out, in, 1.0f, X, in, w_ext ? w_ext : w32.data(), in, 0.0f, Y0, out);
        return;
    }
    if (M == 0) return;
    const int64_t xs[] = {M, in}, ys[] = {M, out}, cs[] = {static_cast<int64_t>(codes.size())};
    rai_tensor x = host_f32(X, xs, 2), y = host_f32(Y0, ys, 2);
    rai_tensor c{};
    c.data = const_cast<uint8_t *>(codes.data());
    c.device = {RAI_DEVICE_CPU, 0};
    c.ndim = 1;
    c.dtype = dtype::u8;
    c.shape = cs;
    q4::linear_forward(*ctx, *q4, &c, &x, nullptr, &y);
}

void BaseModule::matmul_t(const float *dY, int64_t M, float *dX, bool accumulate) const {
    if (!quantized()) {
        cpu::gemm_nn(M, in, out, 1.0f, dY, out, w_ext ? w_ext : w32.data(), in, accumulate ? 1.0f : 0.0f, dX, in);
        return;
    }
    if (M == 0) return;
    std::vector<float> tmp(static_cast<std::size_t>(M * in));
    const int64_t ds[] = {M, out}, xs[] = {M, in}, cs[] = {static_cast<int64_t>(codes.size())};
    rai_tensor dy = host_f32(dY, ds, 2), dx = host_f32(tmp.data(), xs, 2);
    rai_tensor c{};
    c.data = const_cast<uint8_t *>(codes.data());
    c.device = {RAI_DEVICE_CPU, 0};
    c.ndim = 1;
    c.dtype = dtype::u8;
    c.shape = cs;
    q4::linear_backward_input(*ctx, *q4, &c, &dy, &dx);
    for (std::size_t i = 0; i < tmp.size(); ++i) dX[i] = accumulate ? dX[i] + tmp[i] : tmp[i];
}

std::vector<float> BaseModule::dense() const {
    if (w_ext != nullptr) return std::vector<float>(w_ext, w_ext + out * in);
    if (!quantized()) return w32;
    std::vector<float> w(static_cast<std::size_t>(out * in));
    const int64_t ws[] = {out, in}, cs[] = {static_cast<int64_t>(codes.size())};
    rai_tensor d = host_f32(w.data(), ws, 2);
    rai_tensor c{};
    c.data = const_cast<uint8_t *>(codes.data());
    c.device = {RAI_DEVICE_CPU, 0};
    c.ndim = 1;
    c.dtype = dtype::u8;
    c.shape = cs;
    q4::dequantize(*ctx, *q4, &c, &d);
    return w;
}

void BaseModule::commit(const std::vector<float> &new_w32, const std::vector<float> *new_b32) {
    if (quantized()) {  // requantize with the same parameters (lossy)
        rai_q4_params p{};
        p.struct_size = sizeof p;
        p.type = q4->type;
        p.blocksize = q4->blocksize;
        p.double_quant = q4_double_quant;
        const int64_t ws[] = {out, in};
        rai_tensor src = host_f32(new_w32.data(), ws, 2);
        std::vector<uint8_t> new_codes(codes.size());
        const int64_t cs[] = {static_cast<int64_t>(new_codes.size())};
        rai_tensor c{};
        c.data = new_codes.data();
        c.device = {RAI_DEVICE_CPU, 0};
        c.ndim = 1;
        c.dtype = dtype::u8;
        c.shape = cs;
        std::shared_ptr<rai_q4_state> st(q4::quantize(*ctx, p, &src, &c));
        st->dtype = q4->dtype;
        q4 = std::move(st);
        codes = std::move(new_codes);
        if (new_b32 != nullptr && !bias.empty()) store_floats(dtype, new_b32->data(), bias.data(), new_b32->size());
        refresh_cache();
        return;
    }
    if (fan_in_fan_out) {
        std::vector<float> t(new_w32.size());
        for (int64_t i = 0; i < out; ++i)
            for (int64_t j = 0; j < in; ++j) t[j * out + i] = new_w32[i * in + j];
        store_floats(dtype, t.data(), weight.data(), t.size());
    } else {
        store_floats(dtype, new_w32.data(), weight.data(), new_w32.size());
    }
    if (new_b32 != nullptr && !bias.empty()) store_floats(dtype, new_b32->data(), bias.data(), new_b32->size());
    refresh_cache();  // the cache holds exactly what the stored dtype represents
}

Model::Model(rai_context *ctx) : ctx_(ctx) {
    if (is_cuda(*ctx)) ops_ = make_cuda_ops(*ctx);
}

void Model::use_ops(std::unique_ptr<Ops> ops) {
    device_weights_.clear();  // they belong to the old primitives
    ops_ = std::move(ops);
}

const rai_context &Model::state_context() const {
    static const rai_context host;  // a CPU context: host memory
    return is_cuda(*ctx_) ? host : *ctx_;
}

void Model::add_linear(const std::string &name, const rai_tensor *weight, const rai_tensor *bias, uint32_t flags) {
    require(!name.empty(), RAI_ERROR_INVALID_ARGUMENT, "name must not be empty");
    require(module_by_name_.count(name) == 0, RAI_ERROR_INVALID_ARGUMENT, "module \"" + name + "\" is already registered");
    require((flags & ~RAI_LINEAR_FAN_IN_FAN_OUT) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "flags has unknown bits " + std::to_string(flags & ~RAI_LINEAR_FAN_IN_FAN_OUT));
    TensorCheck w("weight", weight);
    w.on(state_context()).ndim(2).contiguous();
    BaseModule m;
    m.name = name;
    m.dtype = tensor_fp(w, "weight");
    m.fan_in_fan_out = (flags & RAI_LINEAR_FAN_IN_FAN_OUT) != 0;
    m.out = m.fan_in_fan_out ? w.dim(1) : w.dim(0);
    m.in = m.fan_in_fan_out ? w.dim(0) : w.dim(1);
    require(m.out > 0 && m.in > 0, RAI_ERROR_SHAPE_MISMATCH, "weight: shape " + w.shape_string() + " has an empty dimension");
    const std::size_t bytes = static_cast<std::size_t>(w.numel()) * fp_size(m.dtype);
    m.weight.resize(bytes);
    std::memcpy(m.weight.data(), w.data(), bytes);
    if (bias != nullptr) {
        TensorCheck b("bias", bias);
        b.on(state_context()).dtype(weight->dtype).shape({m.out}).contiguous();
        m.bias.resize(static_cast<std::size_t>(m.out) * fp_size(m.dtype));
        std::memcpy(m.bias.data(), b.data(), m.bias.size());
    }
    m.refresh_cache();
    module_by_name_[name] = modules_.size();
    modules_.push_back(std::move(m));
}

void Model::add_linear_q4(const std::string &name, const rai_q4_state &state, const rai_tensor *codes,
                          const rai_tensor *bias) {
    require(!name.empty(), RAI_ERROR_INVALID_ARGUMENT, "name must not be empty");
    require(module_by_name_.count(name) == 0, RAI_ERROR_INVALID_ARGUMENT, "module \"" + name + "\" is already registered");
    require(!ops_, RAI_ERROR_UNSUPPORTED,
            "4-bit modules in an adapter model run on CPU contexts; on CUDA use rai_lora_linear_* with a 4-bit base");
    q4::check_state_device(*ctx_, state, "state");
    require(state.shape.size() == 2 && state.shape[0] > 0 && state.shape[1] > 0, RAI_ERROR_SHAPE_MISMATCH,
            "state: a linear layer's 4-bit weight is 2-D [out, in], got " + std::to_string(state.shape.size()) +
                " dimension(s)");
    const uint8_t *c = q4::check_codes(*ctx_, codes, state.numel, "codes");
    BaseModule m;
    m.name = name;
    m.out = state.shape[0];
    m.in = state.shape[1];
    m.ctx = ctx_;
    m.q4 = std::shared_ptr<rai_q4_state>(q4::copy_state(*ctx_, state));
    m.q4_double_quant = state.nested ? 1 : 0;
    m.codes.assign(c, c + (state.numel + 1) / 2);
    Fp bias_kind = Fp::F32;
    float_kind(state.dtype, &bias_kind);
    m.dtype = bias_kind;
    if (bias != nullptr) {
        TensorCheck b("bias", bias);
        b.on(*ctx_).shape({m.out}).contiguous();
        m.dtype = tensor_fp(b, "bias");
        m.bias.resize(static_cast<std::size_t>(m.out) * fp_size(m.dtype));
        std::memcpy(m.bias.data(), b.data(), m.bias.size());
    }
    m.refresh_cache();
    module_by_name_[name] = modules_.size();
    modules_.push_back(std::move(m));
}

std::size_t Model::module_index(const std::string &name) const {
    auto it = module_by_name_.find(name);
    if (it == module_by_name_.end()) throw Error(RAI_ERROR_INVALID_ARGUMENT, "module \"" + name + "\" is not registered");
    return it->second;
}

void Model::get_weight(const std::string &name, rai_tensor *weight, rai_tensor *bias) const {
    const BaseModule &m = modules_[module_index(name)];
    TensorCheck w("weight", weight);
    w.on(state_context()).contiguous();
    if (m.fan_in_fan_out) w.shape({m.in, m.out});
    else w.shape({m.out, m.in});
    Fp k = tensor_fp(w, "weight");
    if (m.quantized()) {
        require(!m.fan_in_fan_out, RAI_ERROR_INTERNAL, "4-bit bases are never fan_in_fan_out");
        const std::vector<float> d = m.dense();
        store_floats(k, d.data(), w.data(), d.size());
    } else if (k == m.dtype) {
        std::memcpy(w.data(), m.weight.data(), m.weight.size());
    } else {
        std::vector<float> f(static_cast<std::size_t>(m.out * m.in));
        load_floats(m.dtype, m.weight.data(), f.data(), f.size());
        store_floats(k, f.data(), w.data(), f.size());
    }
    if (bias != nullptr) {
        require(!m.bias.empty(), RAI_ERROR_INVALID_ARGUMENT, "bias: module \"" + name + "\" has no bias");
        TensorCheck b("bias", bias);
        b.on(state_context()).shape({m.out}).contiguous();
        write_floats(b, "bias", m.b32.data());
    }
}

// ---------------------------------------------------------------- adapters

Adapter &Model::adapter(const std::string &name) {
    for (auto &a : adapters_)
        if (a->name == name) return *a;
    throw Error(RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + name + "\" does not exist");
}
const Adapter &Model::adapter(const std::string &name) const {
    for (const auto &a : adapters_)
        if (a->name == name) return *a;
    throw Error(RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + name + "\" does not exist");
}
bool Model::has_adapter(const std::string &name) const {
    for (const auto &a : adapters_)
        if (a->name == name) return true;
    return false;
}
std::vector<std::string> Model::adapter_names() const {
    std::vector<std::string> n;
    for (const auto &a : adapters_) n.push_back(a->name);
    return n;
}

namespace {

// PEFT's LoKr factorization of a dimension (m <= n, m*n = dimension).
std::pair<int64_t, int64_t> factorization(int64_t dimension, int64_t factor) {
    if (factor > 0 && dimension % factor == 0) return {factor, dimension / factor};
    if (factor == -1) factor = dimension;
    int64_t m = 1, n = dimension;
    const int64_t length = m + n;
    while (m < n) {
        int64_t new_m = m + 1;
        while (dimension % new_m != 0) ++new_m;
        const int64_t new_n = dimension / new_m;
        if (new_m + new_n > length || new_m > factor) break;
        m = new_m;
        n = new_n;
    }
    if (m > n) std::swap(m, n);
    return {m, n};
}

Param make_param(const std::string &suffix, std::vector<int64_t> shape) {
    Param p;
    p.suffix = suffix;
    p.shape = std::move(shape);
    p.init_zeros();
    return p;
}

}  // namespace

void Model::build_module_adapter(Adapter &a, std::size_t mi, bool initialise) {
    const BaseModule &bm = modules_[mi];
    const AdapterConfig &c = a.cfg;
    ModuleAdapter ma;
    ma.module = mi;
    ma.r = c.type == PeftType::Ia3 ? 0 : c.rank_for(bm.name);
    ma.scaling = static_cast<float>(c.type == PeftType::Lora || c.type == PeftType::Loha || c.type == PeftType::Lokr ||
                                            c.type == PeftType::Adalora
                                        ? c.scaling_for(bm.name)
                                        : 1.0);
    ma.feedforward = c.is_feedforward(bm.name);
    // AdaLoRA's allocator may prune every singular value of a module: rank 0 (empty tensors).
    require(c.type == PeftType::Ia3 || ma.r > 0 || (c.type == PeftType::Adalora && ma.r == 0), RAI_ERROR_INVALID_ARGUMENT,
            "rank for module \"" + bm.name + "\" must be > 0");
    const uint64_t key = mix_key(a.seed, name_hash(a.name + "/" + bm.name));
    const bool random_init = initialise && c.init != LoraInit::None;
    switch (c.type) {
        case PeftType::Lora: {
            ma.params.push_back(make_param("lora_A.weight", {ma.r, bm.in}));
            ma.params.push_back(make_param("lora_B.weight", {bm.out, ma.r}));
            if (c.lora_bias) ma.params.push_back(make_param("lora_B.bias", {bm.out}));
            if (random_init) {
                Param &A = ma.params[0], &B = ma.params[1];
                if (c.init == LoraInit::Gaussian) gaussian(A.value, 1.0f / static_cast<float>(ma.r), mix_key(key, 1));
                else kaiming_uniform(A.value, bm.in, mix_key(key, 1));
                if (c.init == LoraInit::Random) kaiming_uniform(B.value, ma.r, mix_key(key, 2));
            }
            if (c.use_dora) {
                Param mag = make_param("lora_magnitude_vector", {bm.out});
                if (initialise) mag.value = dora_weight_norm(ma, bm, bm.dense());  // ‖W + s·B·A‖_row
                ma.params.push_back(std::move(mag));
            }
            break;
        }
        case PeftType::Ia3: {
            Param l = ma.feedforward ? make_param("ia3_l", {1, bm.in}) : make_param("ia3_l", {bm.out, 1});
            if (initialise) {
                if (c.init_ia3_ones) std::fill(l.value.begin(), l.value.end(), 1.0f);
                else kaiming_uniform(l.value, 1, mix_key(key, 1));
            }
            ma.params.push_back(std::move(l));
            break;
        }
        case PeftType::Vera: {
            Param lb = make_param("vera_lambda_b", {bm.out});
            Param ld = make_param("vera_lambda_d", {ma.r});
            if (initialise) std::fill(ld.value.begin(), ld.value.end(), static_cast<float>(c.vera_d_initial));
            if (initialise && c.init == LoraInit::Random) kaiming_uniform(lb.value, 1, mix_key(key, 1));
            ma.params.push_back(std::move(lb));
            ma.params.push_back(std::move(ld));
            break;
        }
        case PeftType::Loha: {
            ma.params.push_back(make_param("hada_w1_a", {bm.out, ma.r}));
            ma.params.push_back(make_param("hada_w1_b", {ma.r, bm.in}));
            ma.params.push_back(make_param("hada_w2_a", {bm.out, ma.r}));
            ma.params.push_back(make_param("hada_w2_b", {ma.r, bm.in}));
            if (random_init) {
                kaiming_uniform(ma.params[0].value, ma.r, mix_key(key, 1));
                kaiming_uniform(ma.params[1].value, bm.in, mix_key(key, 2));
                kaiming_uniform(ma.params[2].value, ma.r, mix_key(key, 3));
                if (c.init == LoraInit::Random) kaiming_uniform(ma.params[3].value, bm.in, mix_key(key, 4));
            }
            break;
        }
        case PeftType::Adalora: {
            // lora_A [r, in] (right singular vectors), lora_E [r, 1] (singular values), lora_B
            // [out, r]; r = the singular values rank_pattern keeps. PEFT init: E = 0, A and B
            // ~ N(0, 0.02); init_lora_weights=false leaves torch.randn (N(0, 1)) in all three.
            ma.params.push_back(make_param("lora_A", {ma.r, bm.in}));
            ma.params.push_back(make_param("lora_B", {bm.out, ma.r}));
            ma.params.push_back(make_param("lora_E", {ma.r, 1}));
            if (random_init) {
                const float sd = c.init == LoraInit::Random ? 1.0f : 0.02f;
                gaussian(ma.params[0].value, sd, mix_key(key, 1));
                gaussian(ma.params[1].value, sd, mix_key(key, 2));
                if (c.init == LoraInit::Random) gaussian(ma.params[2].value, sd, mix_key(key, 3));
            }
            break;
        }
        case PeftType::Lokr: {
            const auto [in_m, in_n] = factorization(bm.in, c.decompose_factor);
            const auto [out_l, out_k] = factorization(bm.out, c.decompose_factor);
            ma.lokr_shape[0] = out_l;
            ma.lokr_shape[1] = out_k;
            ma.lokr_shape[2] = in_m;
            ma.lokr_shape[3] = in_n;
            const double r = ma.r;
            ma.use_w1 = !(c.decompose_both && r < std::max(out_l, in_m) / 2.0);
            ma.use_w2 = !(r < std::max(out_k, in_n) / 2.0);
            if (ma.use_w1) {
                ma.params.push_back(make_param("lokr_w1", {out_l, in_m}));
            } else {
                ma.params.push_back(make_param("lokr_w1_a", {out_l, ma.r}));
                ma.params.push_back(make_param("lokr_w1_b", {ma.r, in_m}));
            }
            if (ma.use_w2) {
                ma.params.push_back(make_param("lokr_w2", {out_k, in_n}));
            } else {
                ma.params.push_back(make_param("lokr_w2_a", {out_k, ma.r}));
                ma.params.push_back(make_param("lokr_w2_b", {ma.r, in_n}));
            }
            if (random_init) {
                uint64_t s = 1;
                for (Param &p : ma.params) {
                    // PEFT zero-inits w1 (or w1_a) so the adapter starts as the identity.
                    const bool zero = c.init != LoraInit::Random && (p.suffix == "lokr_w1" || p.suffix == "lokr_w1_a");
                    if (!zero) kaiming_uniform(p.value, p.shape[1], mix_key(key, s));
                    ++s;
                }
            }
            break;
        }
    }
    a.by_module[mi] = a.modules.size();
    a.modules.push_back(std::move(ma));
}

void Model::add_adapter(const std::string &name, AdapterConfig cfg, uint64_t seed, bool initialise) {
    require(!name.empty(), RAI_ERROR_INVALID_ARGUMENT, "name must not be empty");
    require(name.find('/') == std::string::npos && name.find('.') == std::string::npos, RAI_ERROR_INVALID_ARGUMENT,
            "adapter name \"" + name + "\" must not contain '/' or '.'");
    require(!has_adapter(name), RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + name + "\" already exists");
    cfg.validate();
    auto a = std::make_unique<Adapter>();
    a->name = name;
    a->cfg = std::move(cfg);
    a->seed = seed;
    const AdapterConfig &c = a->cfg;
    // Which modules it adapts; a list entry that matches no module is an error, as is no match.
    std::vector<bool> entry_used(c.targets.names.size(), false);
    std::vector<std::size_t> targeted;
    for (std::size_t mi = 0; mi < modules_.size(); ++mi) {
        const int e = c.targets.matching_entry(modules_[mi].name);
        if (e >= 0) entry_used[static_cast<std::size_t>(e)] = true;
        if (c.targets_module(modules_[mi].name)) targeted.push_back(mi);
    }
    for (std::size_t e = 0; e < entry_used.size(); ++e)
        require(entry_used[e], RAI_ERROR_INVALID_ARGUMENT,
                "target_modules entry \"" + c.targets.names[e] + "\" matches no module of the base (" +
                    std::to_string(modules_.size()) + " registered)");
    require(!targeted.empty(), RAI_ERROR_INVALID_ARGUMENT,
            "target_modules " + jsonu::dump(c.targets.to_json()) + " matches no module of the base");
    for (const RankMask &m : c.rank_masks) {  // PEFT fails to resize a module it cannot find
        bool found = false;
        for (std::size_t mi : targeted) found = found || modules_[mi].name == m.module;
        require(found, RAI_ERROR_INVALID_ARGUMENT,
                "rank_pattern entry \"" + m.module + ".lora_E\" names no module this adapter targets");
    }
    for (std::size_t mi : targeted)
        if (modules_[mi].fan_in_fan_out != c.fan_in_fan_out)
            log::warn("rai: adapter \"" + name + "\": fan_in_fan_out follows module \"" + modules_[mi].name +
                      "\"'s layout (" + (modules_[mi].fan_in_fan_out ? "true" : "false") + ")");
    if (c.type == PeftType::Vera) {
        int64_t max_in = 0, max_out = 0;
        for (std::size_t mi : targeted) {
            max_in = std::max(max_in, modules_[mi].in);
            max_out = std::max(max_out, modules_[mi].out);
        }
        a->vera_A = make_param("vera_A", {c.r, max_in});
        a->vera_B = make_param("vera_B", {max_out, c.r});
        a->vera_A.trainable = a->vera_B.trainable = false;
        if (initialise) {
            const uint64_t key = mix_key(seed ^ static_cast<uint64_t>(c.projection_prng_key), name_hash(name + "/vera"));
            kaiming_uniform(a->vera_A.value, max_in, mix_key(key, 1));
            kaiming_uniform(a->vera_B.value, c.r, mix_key(key, 2));
        }
    }
    for (std::size_t mi : targeted) build_module_adapter(*a, mi, initialise);
    if (c.type == PeftType::Lora && c.bias != BiasMode::None)
        for (std::size_t mi = 0; mi < modules_.size(); ++mi) {
            if (modules_[mi].bias.empty()) continue;
            if (c.bias == BiasMode::LoraOnly && a->by_module.count(mi) == 0) continue;
            Param b = make_param("bias", {modules_[mi].out});
            b.value = modules_[mi].b32;
            a->biases[mi] = std::move(b);
        }
    const bool first = active_.empty();
    adapters_.push_back(std::move(a));
    if (first) active_.emplace_back(name, 1.0f);
}

void Model::delete_adapter(const std::string &name) {
    adapter(name);
    for (const MergeRecord &r : merged_)
        require(r.adapter != name, RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + name + "\" is merged; unmerge it first");
    active_.erase(std::remove_if(active_.begin(), active_.end(), [&](const auto &e) { return e.first == name; }),
                  active_.end());
    adapters_.erase(std::remove_if(adapters_.begin(), adapters_.end(), [&](const auto &a) { return a->name == name; }),
                    adapters_.end());
}

void Model::set_active(const std::vector<std::string> &names, const std::vector<float> &weights) {
    std::vector<std::pair<std::string, float>> next;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const Adapter &a = adapter(names[i]);
        const float w = weights.empty() ? 1.0f : weights[i];
        require(std::isfinite(w), RAI_ERROR_INVALID_ARGUMENT, "weights[" + std::to_string(i) + "] is not finite");
        require(a.cfg.type != PeftType::Ia3 || w == 1.0f, RAI_ERROR_INVALID_ARGUMENT,
                "weights[" + std::to_string(i) + "]: IA3 adapter \"" + a.name + "\" is multiplicative and takes weight 1");
        for (const auto &e : next)
            require(e.first != names[i], RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + names[i] + "\" is named twice");
        next.emplace_back(names[i], w);
    }
    active_ = std::move(next);
}

void Model::set_enabled(bool enabled) {
    if (!enabled) unmerge(0);  // PEFT: disabling adapters unmerges first
    enabled_ = enabled;
}

std::vector<ActiveEntry> Model::active_for(std::size_t module) const {
    std::vector<ActiveEntry> out;
    if (!enabled_) return out;
    for (const auto &e : active_) {
        bool is_merged = false;
        for (const MergeRecord &r : merged_) is_merged = is_merged || r.adapter == e.first;
        if (is_merged) continue;
        Adapter &a = const_cast<Model *>(this)->adapter(e.first);
        if (a.for_module(module) != nullptr || a.biases.count(module) != 0) out.push_back({&a, e.second});
    }
    return out;
}

std::vector<std::string> Model::merged() const {
    std::vector<std::string> n;
    for (const MergeRecord &r : merged_) n.push_back(r.adapter);
    return n;
}

// ---------------------------------------------------------------- tensors by key

Param &Model::tensor(const std::string &adapter_name, const std::string &key_in) {
    Adapter &a = adapter(adapter_name);
    const std::string key = normalise_key(key_in);
    if (a.cfg.type == PeftType::Vera) {
        if (key == "base_model.vera_A") return a.vera_A;
        if (key == "base_model.vera_B") return a.vera_B;
    }
    const std::string prefix = "base_model.model.";
    if (key.compare(0, prefix.size(), prefix) == 0) {
        const std::string rest = key.substr(prefix.size());
        for (const auto &kv : a.by_module) {
            const std::string &mn = modules_[kv.first].name;
            if (rest.size() > mn.size() + 1 && rest.compare(0, mn.size(), mn) == 0 && rest[mn.size()] == '.')
                if (Param *p = a.modules[kv.second].find(rest.substr(mn.size() + 1))) return *p;
        }
        for (auto &kv : a.biases)
            if (rest == modules_[kv.first].name + ".bias") return kv.second;
    }
    throw Error(RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + adapter_name + "\" has no tensor \"" + key_in + "\"");
}

std::vector<std::pair<std::string, const Param *>> Model::tensors(const std::string &adapter_name) const {
    const Adapter &a = adapter(adapter_name);
    std::vector<std::pair<std::string, const Param *>> out;
    for (const ModuleAdapter &ma : a.modules)
        for (const Param &p : ma.params) out.emplace_back(module_key(modules_[ma.module].name, p.suffix), &p);
    for (const auto &kv : a.biases) out.emplace_back(module_key(modules_[kv.first].name, "bias"), &kv.second);
    if (a.cfg.type == PeftType::Vera) {
        out.emplace_back("base_model.vera_A", &a.vera_A);
        out.emplace_back("base_model.vera_B", &a.vera_B);
    }
    std::sort(out.begin(), out.end(), [](const auto &x, const auto &y) { return x.first < y.first; });
    return out;
}

void Model::zero_grad(const std::string &adapter_name) {
    for (auto &a : adapters_) {
        if (!adapter_name.empty() && a->name != adapter_name) continue;
        for (ModuleAdapter &ma : a->modules)
            for (Param &p : ma.params) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
        for (auto &kv : a->biases) std::fill(kv.second.grad.begin(), kv.second.grad.end(), 0.0f);
    }
    if (!adapter_name.empty()) adapter(adapter_name);
}

float Model::clip_grad_norm(const std::string &adapter_name, float max_norm) {
    require(std::isfinite(max_norm) && max_norm > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "max_norm must be a finite value > 0, got " + std::to_string(max_norm));
    if (!adapter_name.empty()) adapter(adapter_name);
    std::vector<Param *> params;
    for (auto &a : adapters_) {
        if (!adapter_name.empty() && a->name != adapter_name) continue;
        for (ModuleAdapter &ma : a->modules)
            for (Param &p : ma.params)
                if (p.trainable) params.push_back(&p);
        for (auto &kv : a->biases) params.push_back(&kv.second);
    }
    double sq = 0;
    for (const Param *p : params)
        for (float g : p->grad) sq += static_cast<double>(g) * g;
    const float norm = static_cast<float>(std::sqrt(sq));
    if (norm > max_norm) {
        const float scale = max_norm / (norm + 1e-6f);  // torch.nn.utils.clip_grad_norm_'s epsilon
        for (Param *p : params)
            for (float &g : p->grad) g *= scale;
    }
    return norm;
}

// ---------------------------------------------------------------- compute

BaseTerms base_terms(const BaseModule &bm, std::size_t mi, const std::vector<ActiveEntry> &act) {
    BaseTerms t;
    if (!bm.b32.empty()) t.bias = &bm.b32;
    for (const ActiveEntry &e : act) {
        if (auto it = e.adapter->biases.find(mi); it != e.adapter->biases.end()) {
            t.bias = &it->second.value;
            t.bias_owner = e.adapter;
        }
        if (e.adapter->cfg.type != PeftType::Ia3) continue;
        const ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr) continue;
        const Param &l = ma->get("ia3_l");
        std::vector<float> &v = ma->feedforward ? t.lin : t.lout;
        if (v.empty()) v.assign(l.value.size(), 1.0f);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] *= l.value[i];
    }
    return t;
}

uint64_t module_step_key(const Adapter &a, std::size_t mi, uint64_t step) {
    return mix_key(mix_key(a.seed, name_hash(a.name)), mix_key(mi, step));
}

std::vector<float> ia3_others(const std::vector<ActiveEntry> &act, std::size_t mi, const ModuleAdapter *self, bool ff,
                              std::size_t n) {
    std::vector<float> p(n, 1.0f);
    for (const ActiveEntry &o : act) {
        if (o.adapter->cfg.type != PeftType::Ia3) continue;
        const ModuleAdapter *om = o.adapter->for_module(mi);
        if (om == nullptr || om == self || om->feedforward != ff) continue;
        const Param &ol = om->get("ia3_l");
        for (std::size_t i = 0; i < n; ++i) p[i] *= ol.value[i];
    }
    return p;
}

namespace {

void scale_input(std::vector<float> &X, int64_t M, int64_t in, const std::vector<float> &lin) {
    if (lin.empty()) return;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < in; ++k) X[i * in + k] *= lin[k];
}

// Y0 = Xs·Wᵀ, Y = (Y0 + bias) ⊙ lout
void base_forward(const BaseModule &bm, const BaseTerms &t, int64_t M, const float *Xs, std::vector<float> &Y0,
                  std::vector<float> &Y) {
    Y0.assign(static_cast<std::size_t>(M * bm.out), 0.0f);
    bm.matmul(Xs, M, Y0.data());
    Y = Y0;
    if (t.bias != nullptr)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < bm.out; ++j) Y[i * bm.out + j] += (*t.bias)[j];
    if (!t.lout.empty())
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < bm.out; ++j) Y[i * bm.out + j] *= t.lout[j];
}

}  // namespace

void Model::forward(const std::string &module, const rai_tensor *x, rai_tensor *y) {
    const std::size_t mi = module_index(module);
    BaseModule &bm = modules_[mi];
    TensorCheck xc("x", x), yc("y", y);
    xc.on(*ctx_).contiguous();
    yc.on(*ctx_).contiguous();
    const int64_t M = rows_of(xc, bm.in, "x", "in_features");
    require(rows_of(yc, bm.out, "y", "out_features") == M, RAI_ERROR_SHAPE_MISMATCH, "y: rows do not match x");
    check_same_rows(xc, yc, "x", "y");
    if (ops_) return forward_device(mi, xc.data(), tensor_fp(xc, "x"), M, yc.data(), tensor_fp(yc, "y"));
    std::vector<float> X = read_floats(xc, "x");
    tensor_fp(yc, "y");
    const std::vector<ActiveEntry> act = active_for(mi);
    if (training_) bm.last_train_step = ++step_;
    const BaseTerms t = base_terms(bm, mi, act);
    std::vector<float> Xs = X;
    scale_input(Xs, M, bm.in, t.lin);
    std::vector<float> Y0, Y;
    base_forward(bm, t, M, Xs.data(), Y0, Y);
    for (const ActiveEntry &e : act) {
        const ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || e.adapter->cfg.type == PeftType::Ia3) continue;
        add_contribution(*e.adapter, *ma, e.weight, bm, RowBlock{M, X.data(), Y0.data(), Y.data()}, training_,
                         module_step_key(*e.adapter, mi, bm.last_train_step));
    }
    write_floats(yc, "y", Y.data());
}

void Model::forward_mixed(const std::string &module, const rai_tensor *x, const std::vector<std::string> &names,
                          const int32_t *row_adapter, rai_tensor *y) {
    require(!training_, RAI_ERROR_INVALID_ARGUMENT,
            "mixed batches run in eval mode only (as PEFT: adapter_names cannot be passed in training mode)");
    const std::size_t mi = module_index(module);
    const BaseModule &bm = modules_[mi];
    TensorCheck xc("x", x), yc("y", y);
    xc.on(*ctx_).contiguous();
    yc.on(*ctx_).contiguous();
    const int64_t M = rows_of(xc, bm.in, "x", "in_features");
    require(rows_of(yc, bm.out, "y", "out_features") == M, RAI_ERROR_SHAPE_MISMATCH, "y: rows do not match x");
    check_same_rows(xc, yc, "x", "y");
    require(M == 0 || row_adapter != nullptr, RAI_ERROR_INVALID_ARGUMENT, "row_adapter must not be NULL");
    tensor_fp(yc, "y");
    std::vector<Adapter *> ads;
    for (const std::string &n : names) {
        Adapter &a = adapter(n);
        for (const MergeRecord &r : merged_)
            require(r.adapter != n, RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + n + "\" is merged; unmerge before mixed batches");
        ads.push_back(&a);
    }
    for (int64_t i = 0; i < M; ++i)
        if (row_adapter[i] < -1 || row_adapter[i] >= static_cast<int32_t>(names.size()))
            throw Error(RAI_ERROR_OUT_OF_RANGE, "row_adapter[" + std::to_string(i) + "] = " + std::to_string(row_adapter[i]) +
                                                    " is not in [-1, " + std::to_string(names.size()) + ")");
    if (ops_) {
        tensor_fp(yc, "y");
        return forward_mixed_device(mi, xc.data(), tensor_fp(xc, "x"), M, ads, row_adapter, yc.data(), tensor_fp(yc, "y"));
    }
    const std::vector<float> X = read_floats(xc, "x");
    // Segments: rows grouped by adapter (stable), one group per adapter.
    std::vector<int64_t> order(static_cast<std::size_t>(M));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return row_adapter[p] < row_adapter[q]; });
    std::vector<float> Yall(static_cast<std::size_t>(M * bm.out));
    const int64_t in = bm.in, out = bm.out;
    for (int64_t s0 = 0; s0 < M;) {
        const int32_t ai = row_adapter[order[s0]];
        int64_t s1 = s0;
        while (s1 < M && row_adapter[order[s1]] == ai) ++s1;
        const int64_t n = s1 - s0;
        std::vector<float> Xg(static_cast<std::size_t>(n * in));
        for (int64_t i = 0; i < n; ++i)
            std::memcpy(&Xg[i * in], &X[order[s0 + i] * in], static_cast<std::size_t>(in) * sizeof(float));
        std::vector<ActiveEntry> act;
        if (ai >= 0 && enabled_ && (ads[ai]->for_module(mi) != nullptr || ads[ai]->biases.count(mi) != 0))
            act.push_back({ads[ai], 1.0f});
        const BaseTerms t = base_terms(bm, mi, act);
        std::vector<float> Xs = Xg;
        scale_input(Xs, n, in, t.lin);
        std::vector<float> Y0, Y;
        base_forward(bm, t, n, Xs.data(), Y0, Y);
        for (const ActiveEntry &e : act) {
            const ModuleAdapter *ma = e.adapter->for_module(mi);
            if (ma == nullptr || e.adapter->cfg.type == PeftType::Ia3) continue;
            add_contribution(*e.adapter, *ma, e.weight, bm, RowBlock{n, Xg.data(), Y0.data(), Y.data()}, false, 0);
        }
        for (int64_t i = 0; i < n; ++i)
            std::memcpy(&Yall[order[s0 + i] * out], &Y[i * out], static_cast<std::size_t>(out) * sizeof(float));
        s0 = s1;
    }
    write_floats(yc, "y", Yall.data());
}

void Model::backward(const std::string &module, const rai_tensor *x, const rai_tensor *dy, rai_tensor *dx) {
    const std::size_t mi = module_index(module);
    BaseModule &bm = modules_[mi];
    TensorCheck xc("x", x), dyc("dy", dy);
    xc.on(*ctx_).contiguous();
    dyc.on(*ctx_).contiguous();
    const int64_t M = rows_of(xc, bm.in, "x", "in_features");
    require(rows_of(dyc, bm.out, "dy", "out_features") == M, RAI_ERROR_SHAPE_MISMATCH, "dy: rows do not match x");
    check_same_rows(xc, dyc, "x", "dy");
    std::unique_ptr<TensorCheck> dxc;
    if (dx != nullptr) {
        dxc = std::make_unique<TensorCheck>("dx", dx);
        dxc->on(*ctx_).contiguous();
        require(rows_of(*dxc, bm.in, "dx", "in_features") == M, RAI_ERROR_SHAPE_MISMATCH, "dx: rows do not match x");
        check_same_rows(xc, *dxc, "x", "dx");
        tensor_fp(*dxc, "dx");
    }
    if (ops_)
        return backward_device(mi, xc.data(), tensor_fp(xc, "x"), dyc.data(), tensor_fp(dyc, "dy"), M,
                               dxc ? dxc->data() : nullptr, dxc ? tensor_fp(*dxc, "dx") : Fp::F32);
    const std::vector<float> X = read_floats(xc, "x");
    const std::vector<float> dY = read_floats(dyc, "dy");
    const std::vector<ActiveEntry> act = active_for(mi);
    const BaseTerms t = base_terms(bm, mi, act);
    const int64_t in = bm.in, out = bm.out;
    std::vector<float> Xs = X;
    scale_input(Xs, M, in, t.lin);
    std::vector<float> Y0, Yb;
    bool need_y0 = !t.lout.empty();
    for (const ActiveEntry &e : act) need_y0 = need_y0 || (e.adapter->cfg.use_dora && e.adapter->for_module(mi));
    if (need_y0) {
        BaseTerms no_scale = t;
        no_scale.lout.clear();
        base_forward(bm, no_scale, M, Xs.data(), Y0, Yb);  // Yb = Y0 + bias
    }
    // Gradient through the base (and the IA3 vectors around it).
    std::vector<float> dYb = dY;
    if (!t.lout.empty())
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < out; ++j) dYb[i * out + j] *= t.lout[j];
    for (const ActiveEntry &e : act) {
        if (e.adapter->cfg.type != PeftType::Ia3) continue;
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || ma->feedforward) continue;
        Param &l = ma->get("ia3_l");
        const std::vector<float> others = ia3_others(act, mi, ma, false, static_cast<std::size_t>(out));
        for (int64_t j = 0; j < out; ++j) {
            double g = 0;
            for (int64_t i = 0; i < M; ++i) g += static_cast<double>(dY[i * out + j]) * Yb[i * out + j];
            l.grad[j] += static_cast<float>(g) * others[j];
        }
    }
    if (t.bias_owner != nullptr) {
        Param &b = t.bias_owner->biases.at(mi);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < out; ++j) b.grad[j] += dYb[i * out + j];
    }
    std::vector<float> dXs(static_cast<std::size_t>(M * in), 0.0f);
    bool need_dxs = dx != nullptr || !t.lin.empty();
    if (need_dxs) bm.matmul_t(dYb.data(), M, dXs.data(), false);
    for (const ActiveEntry &e : act) {
        if (e.adapter->cfg.type != PeftType::Ia3) continue;
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || !ma->feedforward) continue;
        Param &l = ma->get("ia3_l");
        const std::vector<float> others = ia3_others(act, mi, ma, true, static_cast<std::size_t>(in));
        for (int64_t k = 0; k < in; ++k) {
            double g = 0;
            for (int64_t i = 0; i < M; ++i) g += static_cast<double>(dXs[i * in + k]) * X[i * in + k];
            l.grad[k] += static_cast<float>(g) * others[k];
        }
    }
    std::vector<float> dX;
    if (dx != nullptr) {
        dX = dXs;
        if (!t.lin.empty())
            for (int64_t i = 0; i < M; ++i)
                for (int64_t k = 0; k < in; ++k) dX[i * in + k] *= t.lin[k];
    }
    for (const ActiveEntry &e : act) {
        ModuleAdapter *ma = e.adapter->for_module(mi);
        if (ma == nullptr || e.adapter->cfg.type == PeftType::Ia3) continue;
        backward_contribution(*e.adapter, *ma, e.weight, bm, M, X.data(), Y0.empty() ? nullptr : Y0.data(), dY.data(),
                              dx != nullptr ? dX.data() : nullptr, training_,
                              module_step_key(*e.adapter, mi, bm.last_train_step));
    }
    if (dx != nullptr) write_floats(*dxc, "dx", dX.data());
}

// ---------------------------------------------------------------- merge / unmerge

void Model::apply_merge(const Adapter &a, std::size_t mi, std::vector<float> &W, std::vector<float> &b,
                        MergeRecord *rec) const {
    const ModuleAdapter *ma = a.for_module(mi);
    const auto bit = a.biases.find(mi);
    const BaseModule &bm = modules_[mi];
    if (bit != a.biases.end()) {
        if (rec != nullptr) rec->old_bias[mi] = b;
        b = bit->second.value;
    }
    if (ma == nullptr) return;
    const int64_t out = bm.out, in = bm.in;
    if (a.cfg.type == PeftType::Ia3) {
        const Param &l = ma->get("ia3_l");
        for (int64_t i = 0; i < out; ++i)
            for (int64_t j = 0; j < in; ++j) W[i * in + j] *= ma->feedforward ? l.value[j] : l.value[i];
        if (!ma->feedforward && !b.empty())
            for (int64_t i = 0; i < out; ++i) b[i] *= l.value[i];
        return;
    }
    const std::vector<float> d = delta_weight(a, *ma, bm);
    if (const Param *mag = ma->find("lora_magnitude_vector")) {
        // W' = (m / ‖W + Δ‖) (W + Δ); the norm is kept for unmerge.
        std::vector<float> norm(static_cast<std::size_t>(out));
        for (int64_t i = 0; i < out; ++i) {
            double s = 0;
            for (int64_t j = 0; j < in; ++j) {
                const double v = static_cast<double>(W[i * in + j]) + d[i * in + j];
                s += v * v;
            }
            norm[i] = static_cast<float>(std::sqrt(s));
            const float scale = mag->value[i] / norm[i];
            for (int64_t j = 0; j < in; ++j) W[i * in + j] = scale * (W[i * in + j] + d[i * in + j]);
        }
        if (rec != nullptr) rec->dora_norm[mi] = std::move(norm);
    } else {
        for (std::size_t i = 0; i < d.size(); ++i) W[i] += d[i];
    }
    if (const Param *bb = ma->find("lora_B.bias"); bb != nullptr && !b.empty())
        for (int64_t i = 0; i < out; ++i) b[i] += ma->scaling * bb->value[i];
}

void Model::merge(const std::vector<std::string> &names_in, uint32_t flags) {
    require((flags & ~(RAI_ADAPTER_MERGE_SAFE | RAI_ADAPTER_MERGE_LOSSY | RAI_ADAPTER_MERGE_KEEP_ORIGINAL)) == 0,
            RAI_ERROR_INVALID_ARGUMENT, "flags has unknown bits");
    const bool keep = (flags & RAI_ADAPTER_MERGE_KEEP_ORIGINAL) != 0;
    std::vector<std::string> names = names_in;
    if (names.empty())
        for (const auto &e : active_) names.push_back(e.first);
    require(!names.empty(), RAI_ERROR_INVALID_ARGUMENT, "no adapter to merge (none named, none active)");
    for (const std::string &n : names) {
        const Adapter &a = adapter(n);
        for (const MergeRecord &r : merged_)
            require(r.adapter != n, RAI_ERROR_INVALID_ARGUMENT, "adapter \"" + n + "\" is already merged");
        if ((flags & RAI_ADAPTER_MERGE_LOSSY) == 0)
            for (const ModuleAdapter &ma : a.modules)
                require(!modules_[ma.module].quantized(), RAI_ERROR_INVALID_ARGUMENT,
                        "adapter \"" + n + "\": module \"" + modules_[ma.module].name +
                            "\" has a 4-bit base; merging dequantizes, adds and requantizes, which loses precision: "
                            "pass RAI_ADAPTER_MERGE_LOSSY, or merge into the dense master (rai_adapter_merged_weight)");
    }
    const bool safe = (flags & RAI_ADAPTER_MERGE_SAFE) != 0;
    // Out of place: new weights for every touched module first, committed only when all are good.
    std::map<std::size_t, std::vector<float>> new_w, new_b;
    std::vector<MergeRecord> records;
    for (const std::string &n : names) {
        const Adapter &a = adapter(n);
        MergeRecord rec;
        rec.adapter = n;
        for (std::size_t mi = 0; mi < modules_.size(); ++mi) {
            if (a.for_module(mi) == nullptr && a.biases.count(mi) == 0) continue;
            if (new_w.count(mi) == 0) new_w[mi] = modules_[mi].dense();
            if (new_b.count(mi) == 0) new_b[mi] = modules_[mi].b32;
            apply_merge(a, mi, new_w[mi], new_b[mi], &rec);
        }
        records.push_back(std::move(rec));
    }
    if (safe) {
        for (const auto &kv : new_w) {
            bool finite = true;
            for (float v : kv.second) finite = finite && std::isfinite(v);
            for (float v : new_b[kv.first]) finite = finite && std::isfinite(v);
            if (!finite)
                throw Error(RAI_ERROR_OUT_OF_RANGE, "safe merge: the merged weight or bias of module \"" +
                                                        modules_[kv.first].name +
                                                        "\" has a non-finite value; nothing was merged");
        }
    }
    if (keep)  // the weights before this call, restored when its first adapter is unmerged
        for (const auto &kv : new_w) {
            const BaseModule &bm = modules_[kv.first];
            records.front().original_weight[kv.first] = bm.quantized() ? bm.codes : bm.weight;
            records.front().original_bias[kv.first] = bm.bias;
            if (bm.quantized()) records.front().original_q4[kv.first] = bm.q4;
        }
    for (const auto &kv : new_w) modules_[kv.first].commit(kv.second, &new_b[kv.first]);
    for (MergeRecord &r : records) merged_.push_back(std::move(r));
}

void Model::unmerge(int32_t count) {
    int32_t n = count <= 0 ? static_cast<int32_t>(merged_.size()) : count;
    require(n <= static_cast<int32_t>(merged_.size()), RAI_ERROR_INVALID_ARGUMENT,
            "count " + std::to_string(count) + " exceeds the " + std::to_string(merged_.size()) + " merged adapter(s)");
    for (; n > 0; --n) {
        const MergeRecord &rec = merged_.back();
        const Adapter &a = adapter(rec.adapter);
        for (std::size_t mi = 0; mi < modules_.size(); ++mi) {
            const ModuleAdapter *ma = a.for_module(mi);
            const bool has_bias = rec.old_bias.count(mi) != 0;
            BaseModule &bm = modules_[mi];
            if (auto it = rec.original_weight.find(mi); it != rec.original_weight.end()) {
                // bit-exact restore (RAI_ADAPTER_MERGE_KEEP_ORIGINAL)
                if (bm.quantized()) {
                    bm.codes = it->second;
                    bm.q4 = rec.original_q4.at(mi);
                } else {
                    bm.weight = it->second;
                }
                bm.bias = rec.original_bias.at(mi);
                bm.refresh_cache();
                continue;
            }
            if (ma == nullptr && !has_bias) continue;
            std::vector<float> W = bm.dense(), b = bm.b32;
            const int64_t out = bm.out, in = bm.in;
            if (ma != nullptr) {
                if (a.cfg.type == PeftType::Ia3) {
                    const Param &l = ma->get("ia3_l");
                    for (int64_t i = 0; i < out; ++i)
                        for (int64_t j = 0; j < in; ++j)
                            W[i * in + j] /= (ma->feedforward ? l.value[j] : l.value[i]) + 1e-8f;
                    if (!ma->feedforward && !b.empty())
                        for (int64_t i = 0; i < out; ++i) b[i] /= l.value[i] + 1e-8f;
                } else {
                    const std::vector<float> d = delta_weight(a, *ma, bm);
                    if (const Param *mag = ma->find("lora_magnitude_vector")) {
                        const std::vector<float> &norm = rec.dora_norm.at(mi);
                        for (int64_t i = 0; i < out; ++i) {
                            const float scale = mag->value[i] / norm[i];
                            for (int64_t j = 0; j < in; ++j) W[i * in + j] = W[i * in + j] / scale - d[i * in + j];
                        }
                    } else {
                        for (std::size_t i = 0; i < d.size(); ++i) W[i] -= d[i];
                    }
                    if (const Param *bb = ma->find("lora_B.bias"); bb != nullptr && !b.empty())
                        for (int64_t i = 0; i < out; ++i) b[i] -= ma->scaling * bb->value[i];
                }
            }
            if (has_bias) b = rec.old_bias.at(mi);
            bm.commit(W, &b);
        }
        merged_.pop_back();
    }
}

void Model::merged_weight(const std::string &module, const std::vector<std::string> &names_in, const rai_tensor *master,
                          rai_tensor *out_t) {
    const std::size_t mi = module_index(module);
    const BaseModule &bm = modules_[mi];
    std::vector<std::string> names = names_in;
    if (names.empty())
        for (const auto &e : active_) names.push_back(e.first);
    std::vector<float> W;
    if (master != nullptr) {
        TensorCheck mc("master", master);
        mc.on(state_context()).shape({bm.out, bm.in}).contiguous();
        W = read_floats(mc, "master");
    } else {
        W = bm.dense();
    }
    TensorCheck oc("out", out_t);
    oc.on(state_context()).shape({bm.out, bm.in}).contiguous();
    tensor_fp(oc, "out");
    std::vector<float> b = bm.b32;
    for (const std::string &n : names) {
        const Adapter &a = adapter(n);
        for (const MergeRecord &r : merged_)
            require(r.adapter != n || master != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                    "adapter \"" + n + "\" is already merged into the module's weight");
        apply_merge(a, mi, W, b, nullptr);
    }
    for (float v : W)
        if (!std::isfinite(v))
            throw Error(RAI_ERROR_OUT_OF_RANGE, "the merged weight of module \"" + module + "\" has a non-finite value");
    write_floats(oc, "out", W.data());
}

// ---------------------------------------------------------------- weighted combination

void Model::add_weighted(const std::string &new_name, const std::vector<std::string> &names,
                         const std::vector<float> &weights, int32_t combination) {
    require(!names.empty(), RAI_ERROR_INVALID_ARGUMENT, "names must name at least one adapter");
    require(combination == RAI_ADAPTER_COMBINE_CAT || combination == RAI_ADAPTER_COMBINE_LINEAR,
            RAI_ERROR_INVALID_ARGUMENT, "combination must be RAI_ADAPTER_COMBINE_CAT or _LINEAR");
    std::vector<const Adapter *> src;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const Adapter &a = adapter(names[i]);
        require(a.cfg.type == PeftType::Lora && !a.cfg.use_dora && !a.cfg.lora_bias, RAI_ERROR_UNSUPPORTED,
                "adapter \"" + names[i] + "\": weighted combination takes plain LoRA adapters (no DoRA, no lora_bias)");
        require(std::isfinite(weights[i]), RAI_ERROR_INVALID_ARGUMENT, "weights[" + std::to_string(i) + "] is not finite");
        src.push_back(&a);
    }
    // Union of the adapted modules; rank per module = sum (cat) or the common rank (linear).
    std::map<std::size_t, int32_t> rank;
    for (const Adapter *a : src)
        for (const ModuleAdapter &ma : a->modules) {
            if (combination == RAI_ADAPTER_COMBINE_CAT) {
                rank[ma.module] += ma.r;
            } else {
                auto it = rank.find(ma.module);
                require(it == rank.end() || it->second == ma.r, RAI_ERROR_SHAPE_MISMATCH,
                        "linear combination needs equal ranks; module \"" + modules_[ma.module].name + "\" has " +
                            std::to_string(it == rank.end() ? 0 : it->second) + " and " + std::to_string(ma.r));
                rank[ma.module] = ma.r;
            }
        }
    AdapterConfig c;
    c.type = PeftType::Lora;
    c.targets.kind = ModuleSpec::Kind::List;
    for (const auto &kv : rank) c.targets.names.push_back(modules_[kv.first].name);
    int32_t rmax = 0;
    for (const auto &kv : rank) rmax = std::max(rmax, kv.second);
    c.r = rmax;
    c.alpha = rmax;  // scaling 1 for the default rank; per-module patterns below keep it 1 everywhere
    for (const auto &kv : rank)
        if (kv.second != rmax) {
            c.rank_pattern.emplace_back(modules_[kv.first].name, kv.second);
            c.alpha_pattern.emplace_back(modules_[kv.first].name, kv.second);
        }
    c.init = LoraInit::None;
    add_adapter(new_name, c, 0, false);
    Adapter &dst = adapter(new_name);
    for (ModuleAdapter &ma : dst.modules) {
        const int64_t in = modules_[ma.module].in, out = modules_[ma.module].out;
        Param &A = ma.get("lora_A.weight"), &B = ma.get("lora_B.weight");
        int64_t off = 0;
        for (std::size_t i = 0; i < src.size(); ++i) {
            const ModuleAdapter *sm = src[i]->for_module(ma.module);
            if (sm == nullptr) continue;
            const Param &sA = sm->get("lora_A.weight"), &sB = sm->get("lora_B.weight");
            if (combination == RAI_ADAPTER_COMBINE_CAT) {
                const float f = weights[i] * sm->scaling;
                for (int64_t k = 0; k < sm->r; ++k)
                    for (int64_t j = 0; j < in; ++j) A.value[(off + k) * in + j] = sA.value[k * in + j];
                for (int64_t o = 0; o < out; ++o)
                    for (int64_t k = 0; k < sm->r; ++k) B.value[o * ma.r + off + k] = f * sB.value[o * sm->r + k];
                off += sm->r;
            } else {
                const float f = std::sqrt(std::fabs(weights[i] * sm->scaling));
                const float sign = weights[i] * sm->scaling < 0 ? -1.0f : 1.0f;
                for (std::size_t k = 0; k < A.value.size(); ++k) A.value[k] += f * sA.value[k];
                for (std::size_t k = 0; k < B.value.size(); ++k) B.value[k] += sign * f * sB.value[k];
            }
        }
    }
}

}  // namespace rai::adapters
