// rai_optimizer: SGD, SGD with momentum and AdamW over borrowed (parameter, gradient) pairs, on
// the CPU or CUDA through Ops. Usable on its own (rai_optimizer_step) or driven by a rai_hybrid,
// which steps it tensor by tensor, asks for the update it applied (update-space prediction),
// coasts it with a zero gradient, and snapshots/restores its state.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "ops.h"
#include "serial.h"
#include "slots.h"

namespace rai::train {

struct OptConfig {
    int32_t kind = RAI_OPTIMIZER_SGD;
    float lr = 1e-3f;
    float momentum = 0.9f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;
    float max_grad_norm = 0.0f;
    int32_t nesterov = 0;
};

// Defaults for zero fields, then range checks (INVALID_ARGUMENT naming the field).
OptConfig resolve_optimizer_params(const rai_optimizer_params &p);

// Clip factor of PyTorch's clip_grad_norm_: min(1, max/(norm + 1e-6)); 1 when max <= 0.
float clip_factor(double norm, float max_norm);

// Scalar state restored together with the moment buffers.
struct OptScalars {
    uint64_t t = 0;
    float lr = 0;
};

}  // namespace rai::train

struct rai_optimizer {
    rai_optimizer(rai_context &c, const rai::train::OptConfig &cfg);
    // Destroying an attached optimizer (a misuse: it is borrowed by the hybrid) disables the
    // hybrid's step calls with an error instead of leaving it a dangling pointer.
    ~rai_optimizer();

    rai_context &ctx;
    std::unique_ptr<rai::train::Ops> ops;
    rai::train::OptConfig cfg;
    float lr;
    uint64_t t = 0;  // steps taken
    std::vector<rai::train::Slot> slots;
    // Per slot: MOMENTUM {buf}; ADAMW {m, v}; SGD {}.
    std::vector<std::vector<rai::train::DevVec>> state;
    rai_hybrid *attached = nullptr;  // the rai_hybrid driving it
    mutable std::mutex mutex;

    uint32_t add_param(const char *name, const rai_tensor *param, const rai_tensor *grad);
    std::size_t buffers_per_slot() const;

    // Global L2 norm of the registered gradients.
    double grad_norm();
    // Standalone step (returns the pre-clip norm); refuses a non-finite norm.
    double step();

    // Piecewise stepping for the hybrid: begin_update() advances t; then update_tensor() for each
    // slot. grad == nullptr means a zero gradient (coasting). upd (may be nullptr) receives the
    // update p_new - p_old; apply == false leaves the parameter as it was.
    void begin_update();
    void update_tensor(std::size_t i, const float *grad, float grad_scale, float *upd, bool apply);

    rai::train::OptScalars scalars() const { return {t, lr}; }
    void set_scalars(const rai::train::OptScalars &s) {
        t = s.t;
        lr = s.lr;
    }

    void serialize(rai::train::Writer &w) const;
    // Parses a blob into host arrays without changing anything; commit() applies it.
    struct Parsed {
        rai::train::OptScalars scalars;
        std::vector<std::vector<std::vector<float>>> state;
    };
    Parsed parse(rai::train::Reader &r) const;
    void commit(const Parsed &p);
};
