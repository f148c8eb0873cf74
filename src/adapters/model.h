// The adapter model: frozen linear base modules (by name) and named adapters over them, with
// PEFT semantics. The state (weights, adapter parameters and gradients) lives in host memory;
// compute runs on the host (the reference, this file's model.cpp) or, on a CUDA context, through
// device primitives (model_device.cpp over device_ops.h) with device mirrors of the state.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../quant/q4_state.h"
#include "config.h"
#include "device_ops.h"
#include "half.h"
#include "rai.h"

namespace rai::adapters {

// An fp32 parameter (value and accumulated gradient), named by its PEFT key suffix.
struct Param {
    std::string suffix;  // "lora_A.weight", "ia3_l", ...
    std::vector<int64_t> shape;
    std::vector<float> value, grad;
    bool trainable = true;
    int64_t numel() const;
    void init_zeros();
};

// A frozen linear base: a dense f32/bf16/f16 weight, or a 4-bit NF4/FP4 weight (QLoRA) whose
// products go through the quantization capability and which is dequantized only on demand
// (DoRA norms, merges).
struct BaseModule {
    std::string name;
    int64_t out = 0, in = 0;
    Fp dtype = Fp::F32;  // dense: the weight's dtype; 4-bit: the bias dtype
    bool fan_in_fan_out = false;  // stored [in, out] (GPT-2 Conv1D layout)
    std::vector<uint8_t> weight;  // current weight in `dtype`, stored layout
    std::vector<uint8_t> bias;    // [out] in `dtype`, or empty
    std::vector<float> w32;       // fp32 [out, in] copy of `weight` (compute cache)
    const float *w_ext = nullptr; // functional API: the caller's fp32 [out, in] weight, used in place
    std::vector<float> b32;       // fp32 bias or empty
    uint64_t last_train_step = 0;  // dropout masks of the latest training forward
    uint64_t generation = 0;       // bumped whenever the weight changes (device mirrors follow it)
    // 4-bit base (w32 and weight stay empty): the state and its packed codes.
    const rai_context *ctx = nullptr;
    std::shared_ptr<rai_q4_state> q4;
    std::vector<uint8_t> codes;
    int32_t q4_double_quant = 0;
    bool quantized() const { return q4 != nullptr; }

    void refresh_cache();
    // Dense: stores new_w32 in the weight's dtype. 4-bit: requantizes with the same type,
    // block size and double quantisation (lossy).
    void commit(const std::vector<float> &new_w32, const std::vector<float> *new_b32);
    // Y0[M,out] = X[M,in]·Wᵀ (no bias), fp32.
    void matmul(const float *X, int64_t M, float *Y0) const;
    // dX[M,in] (+)= dY[M,out]·W, fp32.
    void matmul_t(const float *dY, int64_t M, float *dX, bool accumulate) const;
    // The fp32 weight [out,in]: the cache, or the 4-bit weight dequantized.
    std::vector<float> dense() const;
};

// One adapter's state for one module.
struct ModuleAdapter {
    std::size_t module = 0;  // index into Model::modules
    int32_t r = 0;
    float scaling = 1.0f;
    bool feedforward = false;  // IA3 feed-forward (scales the input)
    bool use_w1 = true, use_w2 = true;  // LoKr full factors
    int64_t lokr_shape[4] = {0, 0, 0, 0};  // out_l, out_k, in_m, in_n
    std::vector<Param> params;
    Param *find(const std::string &suffix);
    const Param *find(const std::string &suffix) const;
    Param &get(const std::string &suffix);
    const Param &get(const std::string &suffix) const;
};

struct AdaloraAllocator;  // adalora.h

struct Adapter {
    std::string name;
    AdapterConfig cfg;
    std::vector<ModuleAdapter> modules;
    std::map<std::size_t, std::size_t> by_module;  // module index -> index in `modules`
    Param vera_A, vera_B;                          // VeRA shared projections (frozen)
    std::map<std::size_t, Param> biases;           // bias modes: trainable copies of base biases
    uint64_t seed = 0;
    std::shared_ptr<AdaloraAllocator> adalora;  // AdaLoRA's budget allocator, from its first step
    const ModuleAdapter *for_module(std::size_t m) const;
    ModuleAdapter *for_module(std::size_t m);
};

struct MergeRecord {
    std::string adapter;
    std::map<std::size_t, std::vector<float>> dora_norm;   // per module, per output row
    std::map<std::size_t, std::vector<float>> old_bias;    // bias modes: the base bias before
    std::map<std::size_t, std::vector<uint8_t>> original_weight, original_bias;  // KEEP_ORIGINAL
    std::map<std::size_t, std::shared_ptr<rai_q4_state>> original_q4;           // KEEP_ORIGINAL, 4-bit
};

struct ActiveEntry {
    Adapter *adapter;
    float weight;
};

// The multiplicative IA3 vectors and the bias of a module under the active adapters.
struct BaseTerms {
    std::vector<float> lin, lout;  // products of the active IA3 vectors (empty when none)
    const std::vector<float> *bias = nullptr;
    Adapter *bias_owner = nullptr;
};
BaseTerms base_terms(const BaseModule &bm, std::size_t mi, const std::vector<ActiveEntry> &act);
// The product of the active IA3 vectors on side `ff` other than `self` (the product rule).
std::vector<float> ia3_others(const std::vector<ActiveEntry> &act, std::size_t mi, const ModuleAdapter *self, bool ff,
                              std::size_t n);
// The dropout stream of adapter `a` on module mi at training step `step`.
uint64_t module_step_key(const Adapter &a, std::size_t mi, uint64_t step);

class Model {
public:
    // A CUDA context gets the CUDA primitives (device_ops.h) for its compute.
    explicit Model(rai_context *ctx);
    // Runs compute through `ops` instead of the host reference. The tests give a CPU-context
    // model host primitives to check the device path's orchestration without a GPU.
    void use_ops(std::unique_ptr<Ops> ops);

    // Base modules.
    void add_linear(const std::string &name, const rai_tensor *weight, const rai_tensor *bias, uint32_t flags);
    void add_linear_q4(const std::string &name, const rai_q4_state &state, const rai_tensor *codes,
                       const rai_tensor *bias);
    void get_weight(const std::string &name, rai_tensor *weight, rai_tensor *bias) const;
    std::size_t module_index(const std::string &name) const;  // throws INVALID_ARGUMENT
    const std::vector<BaseModule> &modules() const { return modules_; }

    // Adapters.
    void add_adapter(const std::string &name, AdapterConfig cfg, uint64_t seed, bool initialise);
    void delete_adapter(const std::string &name);
    Adapter &adapter(const std::string &name);
    const Adapter &adapter(const std::string &name) const;
    bool has_adapter(const std::string &name) const;
    std::vector<std::string> adapter_names() const;
    void set_active(const std::vector<std::string> &names, const std::vector<float> &weights);
    void set_enabled(bool enabled);
    bool enabled() const { return enabled_; }
    // The active adapters with their weights, in activation order.
    const std::vector<std::pair<std::string, float>> &active() const { return active_; }
    void set_training(bool training) { training_ = training; }
    bool training() const { return training_; }
    void add_weighted(const std::string &new_name, const std::vector<std::string> &names,
                      const std::vector<float> &weights, int32_t combination);

    // Named tensors (PEFT keys: "base_model.model.<module>.lora_A.weight", "base_model.vera_A").
    Param &tensor(const std::string &adapter, const std::string &key);
    std::vector<std::pair<std::string, const Param *>> tensors(const std::string &adapter) const;
    void zero_grad(const std::string &adapter);  // "" = every adapter
    float clip_grad_norm(const std::string &adapter, float max_norm);  // returns the norm before

    // Compute. x [..., in], y [..., out] (f32/bf16/f16, contiguous).
    void forward(const std::string &module, const rai_tensor *x, rai_tensor *y);
    void forward_mixed(const std::string &module, const rai_tensor *x, const std::vector<std::string> &names,
                       const int32_t *row_adapter, rai_tensor *y);
    void backward(const std::string &module, const rai_tensor *x, const rai_tensor *dy, rai_tensor *dx);

    // Merging (fp32). flags: RAI_ADAPTER_MERGE_*.
    void merge(const std::vector<std::string> &names, uint32_t flags);
    void unmerge(int32_t count);  // LIFO; count <= 0: all
    // out = the module's weight with the named adapters merged (fp32), from `master` when given
    // (dense [out,in] f32/bf16/f16) else from the module's own weight; nothing changes.
    void merged_weight(const std::string &module, const std::vector<std::string> &names, const rai_tensor *master,
                       rai_tensor *out);
    std::vector<std::string> merged() const;

    // HF PEFT directories.
    void load_peft(const std::string &dir, const std::string &name, uint32_t flags);
    void save_peft(const std::string &name, const std::string &dir, Fp dtype) const;

    std::mutex mutex;
    // Where the state's tensors (weights in, parameters and gradients in and out) live: host
    // memory, whatever device the model computes on.
    const rai_context &state_context() const;

private:
    // The device path (model_device.cpp): x, y, dy, dx are the checked tensors' device data.
    struct DeviceCall;
    void forward_device(std::size_t mi, const void *x, Fp xt, int64_t M, void *y, Fp yt);
    void forward_mixed_device(std::size_t mi, const void *x, Fp xt, int64_t M, const std::vector<Adapter *> &ads,
                              const int32_t *row_adapter, void *y, Fp yt);
    void backward_device(std::size_t mi, const void *x, Fp xt, const void *dy, Fp dyt, int64_t M, void *dx, Fp dxt);
    // The module's weight on the device, in its dtype and stored layout (refreshed by generation).
    const void *device_weight(std::size_t mi);
    void check_adapter_shapes(const Adapter &a) const;
    void build_module_adapter(Adapter &a, std::size_t m, bool initialise);
    std::vector<ActiveEntry> active_for(std::size_t module) const;
    // Applies adapter `a`'s merge to module mi's fp32 weight W and bias b (in place); fills
    // the record's DoRA norm / bias entries when rec is given.
    void apply_merge(const Adapter &a, std::size_t mi, std::vector<float> &W, std::vector<float> &b,
                     MergeRecord *rec) const;

    rai_context *ctx_;
    std::vector<BaseModule> modules_;
    std::map<std::string, std::size_t> module_by_name_;
    std::vector<std::unique_ptr<Adapter>> adapters_;
    std::vector<std::pair<std::string, float>> active_;
    bool enabled_ = true;
    bool training_ = false;
    uint64_t step_ = 0;
    std::vector<MergeRecord> merged_;
    std::unique_ptr<Ops> ops_;  // the device path's primitives, or null (host reference)
    struct DeviceWeight {
        uint64_t generation = 0;
        DevBuf weight;
    };
    std::map<std::size_t, DeviceWeight> device_weights_;
};

// PEFT key helpers.
std::string module_key(const std::string &module, const std::string &suffix);  // base_model.model.<m>.<s>
// Normalises a key read from a file: strips ".default" adapter segments and maps
// "lora_magnitude_vector.weight" to "lora_magnitude_vector".
std::string normalise_key(const std::string &key);

}  // namespace rai::adapters

struct rai_adapter_model {
    explicit rai_adapter_model(rai_context *ctx) : impl(ctx) {}
    rai::adapters::Model impl;
};
