// C ABI: optimizers and the hybrid trainer (thin wrappers; the work is in src/train/).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../core/params.h"
#include "../train/hybrid.h"
#include "../train/optimizer.h"
#include "../train/out_struct.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;
using rai::abi::locked;

namespace {
// First released layouts (0.1): every field of the structs as declared in rai.h.
constexpr size_t kOptimizerParamsV1 = sizeof(rai_optimizer_params);
constexpr size_t kHybridParamsV1 = sizeof(rai_hybrid_params);
constexpr size_t kStepInfoV1 = sizeof(rai_hybrid_step_info);
constexpr size_t kStepResultV1 = sizeof(rai_hybrid_step_result);
constexpr size_t kStatsV1 = sizeof(rai_hybrid_stats);

void check_lr(float lr) {
    rai::require(std::isfinite(lr) && lr > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
                 "lr is " + std::to_string(lr) + ", expected a finite value > 0");
}

void check_not_attached(const rai_optimizer &o, const char *what) {
    rai::require(o.attached == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                 std::string("opt: is attached to a rai_hybrid, which steps it; ") + what + " is not allowed");
}
}  // namespace

extern "C" {

/* ---- optimizers */

rai_status rai_optimizer_params_init_sized(rai_optimizer_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kOptimizerParamsV1, "params"); });
}

rai_status rai_optimizer_create(rai_context *ctx, const rai_optimizer_params *params, rai_optimizer **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        const rai_optimizer_params p = rai::read_params(params, kOptimizerParamsV1, "params");
        const rai::train::OptConfig cfg = rai::train::resolve_optimizer_params(p);
        *out = new rai_optimizer(c, cfg);
    });
}

void rai_optimizer_destroy(rai_optimizer *opt) { delete opt; }

rai_status rai_optimizer_add_param(rai_optimizer *opt, const char *name, const rai_tensor *param,
                                   const rai_tensor *grad, uint32_t *out_id) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        const uint32_t id = o.add_param(name, param, grad);
        if (out_id != nullptr) *out_id = id;
    });
}

rai_status rai_optimizer_step(rai_optimizer *opt, float *out_grad_norm) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        check_not_attached(o, "rai_optimizer_step");
        const double norm = o.step();
        if (out_grad_norm != nullptr) *out_grad_norm = static_cast<float>(norm);
    });
}

rai_status rai_optimizer_grad_norm(rai_optimizer *opt, float *out_norm) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        rai::require_not_null(out_norm, "out_norm");
        *out_norm = static_cast<float>(o.grad_norm());
    });
}

rai_status rai_optimizer_clip_grad_norm(rai_optimizer *opt, float max_norm, float *out_norm) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        rai::require(std::isfinite(max_norm) && max_norm > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
                     "max_norm is " + std::to_string(max_norm) + ", expected a finite value > 0");
        const double norm = o.grad_norm();
        const float factor = rai::train::clip_factor(norm, max_norm);
        if (factor < 1.0f)
            for (const rai::train::Slot &s : o.slots) o.ops->scale(s.n, s.grad, factor, s.grad);
        if (out_norm != nullptr) *out_norm = static_cast<float>(norm);
    });
}

rai_status rai_optimizer_set_lr(rai_optimizer *opt, float lr) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        check_lr(lr);
        o.lr = lr;
    });
}

rai_status rai_optimizer_get_lr(const rai_optimizer *opt, float *out_lr) {
    return locked(opt, "opt", [&](const rai_optimizer &o) {
        rai::require_not_null(out_lr, "out_lr");
        *out_lr = o.lr;
    });
}

rai_status rai_optimizer_step_count(const rai_optimizer *opt, uint64_t *out_steps) {
    return locked(opt, "opt", [&](const rai_optimizer &o) {
        rai::require_not_null(out_steps, "out_steps");
        *out_steps = o.t;
    });
}

rai_status rai_optimizer_state_size(const rai_optimizer *opt, size_t *out_size) {
    return locked(opt, "opt", [&](const rai_optimizer &o) {
        rai::require_not_null(out_size, "out_size");
        rai::train::Writer w(true);
        o.serialize(w);
        w.finish();
        *out_size = w.size();
    });
}

rai_status rai_optimizer_state_save(const rai_optimizer *opt, void *buffer, size_t capacity, size_t *written) {
    return locked(opt, "opt", [&](const rai_optimizer &o) {
        rai::train::save_blob([&](rai::train::Writer &w) { o.serialize(w); }, buffer, capacity, written);
    });
}

rai_status rai_optimizer_state_load(rai_optimizer *opt, const void *buffer, size_t size) {
    return locked(opt, "opt", [&](rai_optimizer &o) {
        rai::require(buffer != nullptr || size == 0, RAI_ERROR_INVALID_ARGUMENT, "buffer must not be NULL");
        rai::train::Reader r(buffer, size, "state");
        r.verify_checksum();
        const rai_optimizer::Parsed p = o.parse(r);
        o.commit(p);
    });
}

/* ---- hybrid */

rai_status rai_hybrid_params_init_sized(rai_hybrid_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kHybridParamsV1, "params"); });
}

rai_status rai_hybrid_step_info_init_sized(rai_hybrid_step_info *info, size_t struct_size) {
    return guarded([&] { rai::init_params(info, struct_size, kStepInfoV1, "info"); });
}

rai_status rai_hybrid_step_result_init_sized(rai_hybrid_step_result *result, size_t struct_size) {
    return guarded([&] { rai::init_params(result, struct_size, kStepResultV1, "result"); });
}

rai_status rai_hybrid_stats_init_sized(rai_hybrid_stats *stats, size_t struct_size) {
    return guarded([&] { rai::init_params(stats, struct_size, kStatsV1, "stats"); });
}

const char *rai_hybrid_phase_name(int32_t phase) {
    static const char *const names[] = {"warmup", "full", "predict", "correct"};
    return phase >= 0 && phase < 4 ? names[phase] : nullptr;
}

rai_status rai_hybrid_create(rai_context *ctx, const rai_hybrid_params *params, rai_hybrid **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        const rai_hybrid_params p = rai::read_params(params, kHybridParamsV1, "params");
        const rai::train::HybridConfig cfg = rai::train::resolve_hybrid_params(p);
        *out = new rai_hybrid(c, cfg);
    });
}

void rai_hybrid_destroy(rai_hybrid *h) { delete h; }

rai_status rai_hybrid_add_param(rai_hybrid *h, const char *name, const rai_tensor *param, const rai_tensor *grad,
                                uint32_t *out_id) {
    return locked(h, "h", [&](rai_hybrid &x) {
        const uint32_t id = x.add_param(name, param, grad);
        if (out_id != nullptr) *out_id = id;
    });
}

rai_status rai_hybrid_set_optimizer(rai_hybrid *h, rai_optimizer *opt) {
    return locked(h, "h", [&](rai_hybrid &x) { x.set_optimizer(opt); });
}

rai_status rai_hybrid_begin_step(rai_hybrid *h, rai_hybrid_step_info *out) {
    return locked(h, "h", [&](rai_hybrid &x) { x.begin_step(out); });
}

rai_status rai_hybrid_record_gradients(rai_hybrid *h, float loss) {
    return locked(h, "h", [&](rai_hybrid &x) { x.record_gradients(loss); });
}

rai_status rai_hybrid_apply_predicted(rai_hybrid *h) {
    return locked(h, "h", [&](rai_hybrid &x) { x.apply_predicted(); });
}

rai_status rai_hybrid_get_predicted(rai_hybrid *h, const rai_tensor *const *out, size_t n) {
    return locked(h, "h", [&](rai_hybrid &x) { x.get_predicted(out, n); });
}

rai_status rai_hybrid_report_loss(rai_hybrid *h, float loss) {
    return locked(h, "h", [&](rai_hybrid &x) { x.report_loss(loss); });
}

rai_status rai_hybrid_end_step(rai_hybrid *h, rai_hybrid_step_result *out) {
    return locked(h, "h", [&](rai_hybrid &x) { x.end_step(out); });
}

rai_status rai_hybrid_abort_step(rai_hybrid *h) {
    return locked(h, "h", [&](rai_hybrid &x) { x.abort_step(); });
}

rai_status rai_hybrid_get_stats(const rai_hybrid *h, rai_hybrid_stats *out) {
    return locked(h, "h", [&](const rai_hybrid &x) {
        rai::train::check_out(out, kStatsV1, "out");
        rai_hybrid_stats s{};
        x.stats(s);
        rai::train::write_out(out, s, kStatsV1, "out");
    });
}

rai_status rai_hybrid_metrics_json(const rai_hybrid *h, uint32_t flags, char **out_json) {
    if (out_json != nullptr) *out_json = nullptr;
    return guarded([&] {
        const rai_hybrid &x = deref(h, "h");
        rai::require_not_null(out_json, "out_json");
        std::string j;
        {
            std::lock_guard<std::mutex> lock(x.mutex);
            j = x.metrics_json(flags);
        }
        char *p = static_cast<char *>(std::malloc(j.size() + 1));
        rai::require(p != nullptr, RAI_ERROR_OUT_OF_MEMORY, "could not allocate the JSON text");
        std::memcpy(p, j.c_str(), j.size() + 1);
        *out_json = p;
    });
}

rai_status rai_hybrid_state_size(const rai_hybrid *h, uint32_t flags, size_t *out_size) {
    return locked(h, "h", [&](const rai_hybrid &x) {
        rai::require_not_null(out_size, "out_size");
        *out_size = x.state_size(flags);
    });
}

rai_status rai_hybrid_state_save(const rai_hybrid *h, uint32_t flags, void *buffer, size_t capacity,
                                 size_t *written) {
    return locked(h, "h", [&](const rai_hybrid &x) { x.state_save(flags, buffer, capacity, written); });
}

rai_status rai_hybrid_state_load(rai_hybrid *h, const void *buffer, size_t size) {
    return locked(h, "h", [&](rai_hybrid &x) { x.state_load(buffer, size); });
}

rai_status rai_hybrid_run_steps(rai_hybrid *h, const rai_hybrid_callbacks *callbacks, void *user, uint64_t n,
                                uint64_t *out_done) {
    return guarded([&] {
        rai_hybrid &x = deref(h, "h");
        x.run_steps(callbacks, user, n, out_done);  // locks per protocol call, never during callbacks
    });
}

}  // extern "C"
