// rai_hybrid_run_steps: the optional callback driver over the step protocol.
#include <mutex>

#include "../core/error.h"
#include "../core/params.h"
#include "hybrid.h"

using namespace rai::train;
using rai::Error;

namespace {

// Smallest released rai_hybrid_callbacks: every member of the first release.
constexpr std::size_t kCallbacksV1 = sizeof(rai_hybrid_callbacks);

[[noreturn]] void cancelled(const char *which, uint64_t step, int32_t rc) {
    throw Error(RAI_ERROR_CANCELLED, std::string("callbacks->") + which + " returned " + std::to_string(rc) +
                                         " at step " + std::to_string(step) + "; the step was closed");
}

}  // namespace

void rai_hybrid::run_steps(const rai_hybrid_callbacks *cb, void *user, uint64_t n, uint64_t *done) {
    if (done != nullptr) *done = 0;
    rai::require_struct_size(cb, kCallbacksV1, "callbacks", nullptr);
    rai::require(cb->backward != nullptr, RAI_ERROR_INVALID_ARGUMENT, "callbacks->backward must not be NULL");
    rai::require(cb->forward != nullptr, RAI_ERROR_INVALID_ARGUMENT, "callbacks->forward must not be NULL");
    bool own_optimizer;
    std::vector<rai_tensor> grads;
    {
        std::lock_guard<std::mutex> lock(mutex);
        check_alive();
        own_optimizer = opt_ != nullptr;
        rai::require(own_optimizer || cb->apply_update != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                     "callbacks->apply_update must not be NULL when no optimizer is attached");
        if (cur_.open) throw Error(RAI_ERROR_INVALID_ARGUMENT, "protocol: run_steps inside an open step");
        for (const Slot &s : slots_) {
            rai_tensor t{};
            t.data = s.grad;
            t.device = ctx.device;
            t.ndim = static_cast<int32_t>(s.shape.size());
            t.dtype = rai_dtype{RAI_DTYPE_FLOAT, 32, 1};
            t.shape = s.shape.data();
            grads.push_back(t);
        }
    }
    std::vector<const rai_tensor *> gp;
    for (const rai_tensor &t : grads) gp.push_back(&t);

    // Runs a protocol call that may refuse a non-finite loss; that refusal is the guard's
    // business (end_step rolls back), so the driver carries on.
    auto tolerant = [&](auto &&call) -> bool {
        std::lock_guard<std::mutex> lock(mutex);
        try {
            call();
            return true;
        } catch (const Error &) {
            if (cur_.open && cur_.nonfinite) return false;
            throw;
        }
    };
    auto locked = [&](auto &&call) {
        std::lock_guard<std::mutex> lock(mutex);
        call();
    };

    for (uint64_t k = 0; k < n; ++k) {
        rai_hybrid_step_info info{};
        info.struct_size = sizeof info;
        locked([&] { begin_step(&info); });
        const uint64_t step = info.step;
        if (info.needs_backward) {
            float loss = 0.0f;
            const int32_t rc = cb->backward(user, step, &loss);
            if (rc != 0) {
                locked([&] { abort_step(); });
                cancelled("backward", step, rc);
            }
            const bool ok = tolerant([&] { record_gradients(loss); });
            if (ok && !own_optimizer) {
                const int32_t rc2 = cb->apply_update(user, step, gp.data(), gp.size());
                if (rc2 != 0) {
                    locked([&] { end_step(nullptr); });
                    cancelled("apply_update", step, rc2);
                }
            }
        } else {
            bool made = false;
            locked([&] {
                apply_predicted();
                made = cur_.prediction_made;
            });
            if (made && !own_optimizer) {
                const int32_t rc = cb->apply_update(user, step, gp.data(), gp.size());
                if (rc != 0) {
                    locked([&] { end_step(nullptr); });
                    cancelled("apply_update", step, rc);
                }
            }
            if (info.needs_forward) {
                float loss = 0.0f;
                const int32_t rc = cb->forward(user, step, &loss);
                if (rc != 0) {
                    locked([&] { end_step(nullptr); });
                    cancelled("forward", step, rc);
                }
                tolerant([&] { report_loss(loss); });
            }
        }
        rai_hybrid_step_result res{};
        res.struct_size = sizeof res;
        locked([&] { end_step(&res); });
        if (done != nullptr) *done = k + 1;
        if (cb->on_step != nullptr) {
            const int32_t rc = cb->on_step(user, &res);
            if (rc != 0) cancelled("on_step", step, rc);
        }
    }
}
