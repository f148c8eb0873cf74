// C ABI: gradient compression (rai_gc_*). Argument checks and locking only; the work is in
// src/compress/.
#include <cstddef>
#include <mutex>

#include "../compress/gc.h"
#include "../core/params.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;

namespace {
// Sizes of the structs as first released (0.1).
// The first release ended at `seed`; `momentum` and `reserved1` were appended.
constexpr size_t kGcParamsV1 = offsetof(rai_gc_params, momentum);
constexpr size_t kGcStatsV1 = sizeof(rai_gc_stats);
constexpr uint32_t kAllreduceFlags = RAI_GC_ALLREDUCE_AVERAGE | RAI_GC_ALLREDUCE_SUM_DECODED;

// The handle's lock, then its context's (the same order everywhere).
struct Locked {
    explicit Locked(const rai_gc &gc) : a(gc.mutex), b(gc.ctx->mutex) {}
    std::lock_guard<std::mutex> a, b;
};
}  // namespace

extern "C" {

rai_status rai_gc_params_init_sized(rai_gc_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kGcParamsV1, "params"); });
}

rai_status rai_gc_create(rai_context *ctx, const rai_gc_params *params, rai_gc **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        const rai_gc_params p = rai::read_params(params, kGcParamsV1, "params");
        *out = rai::gc::create(c, p);
    });
}

void rai_gc_destroy(rai_gc *gc) {
    if (gc == nullptr) return;
    std::lock_guard<std::mutex> lock(gc->ctx->mutex);  // device memory is released on the context's device
    delete gc;
}

rai_status rai_gc_add_tensor(rai_gc *gc, const char *name, const rai_tensor *like, uint32_t *out_id) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        rai::require_not_null(out_id, "out_id");
        Locked lock(g);
        *out_id = rai::gc::add_tensor(g, name, like);
    });
}

rai_status rai_gc_tensor_count(const rai_gc *gc, uint32_t *out_count) {
    return guarded([&] {
        const rai_gc &g = deref(gc, "gc");
        rai::require_not_null(out_count, "out_count");
        std::lock_guard<std::mutex> lock(g.mutex);
        *out_count = static_cast<uint32_t>(g.tensors.size());
    });
}

rai_status rai_gc_max_message_size(const rai_gc *gc, uint32_t id, size_t *out_bytes) {
    return guarded([&] {
        const rai_gc &g = deref(gc, "gc");
        rai::require_not_null(out_bytes, "out_bytes");
        std::lock_guard<std::mutex> lock(g.mutex);
        *out_bytes = rai::gc::max_message_size(g, id);
    });
}

rai_status rai_gc_compress(rai_gc *gc, uint32_t id, const rai_tensor *grad, void *out, size_t capacity,
                           size_t *written) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::compress(g, id, grad, out, capacity, written);
    });
}

rai_status rai_gc_decompress(rai_gc *gc, uint32_t id, const void *message, size_t length, rai_tensor *grad_out) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::decompress(g, id, message, length, grad_out);
    });
}

rai_status rai_gc_apply(rai_gc *gc, uint32_t id, rai_tensor *grad_inout) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::apply(g, id, grad_inout);
    });
}

rai_status rai_gc_message_reduce(rai_gc *gc, uint32_t id, const void *const *messages, const size_t *lengths,
                                 size_t count, void *out, size_t capacity, size_t *written) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::reduce(g, id, messages, lengths, count, out, capacity, written);
    });
}

rai_status rai_gc_powersgd_p(rai_gc *gc, uint32_t id, const rai_tensor *grad, void *out, size_t capacity,
                             size_t *written) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::powersgd_p(g, id, grad, out, capacity, written);
    });
}

rai_status rai_gc_powersgd_q(rai_gc *gc, uint32_t id, const void *p_sum, size_t length, void *out, size_t capacity,
                             size_t *written) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::powersgd_q(g, id, p_sum, length, out, capacity, written);
    });
}

rai_status rai_gc_allreduce_mpi(rai_gc *gc, uint32_t id, rai_tensor *grad_inout, void *mpi_comm, uint32_t flags) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        rai::require_not_null(mpi_comm, "mpi_comm");
        rai::require((flags & ~kAllreduceFlags) == 0, RAI_ERROR_INVALID_ARGUMENT, "flags has unknown bits");
        Locked lock(g);
        rai::gc::allreduce_mpi(g, id, grad_inout, mpi_comm, flags);
    });
}

rai_status rai_gc_allreduce_nccl(rai_gc *gc, uint32_t id, rai_tensor *grad_inout, void *nccl_comm, uint32_t flags) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        rai::require_not_null(nccl_comm, "nccl_comm");
        rai::require((flags & ~kAllreduceFlags) == 0, RAI_ERROR_INVALID_ARGUMENT, "flags has unknown bits");
        Locked lock(g);
        rai::gc::allreduce_nccl(g, id, grad_inout, nccl_comm, flags);
    });
}

int32_t rai_gc_has_mpi(void) { return rai::gc::have_mpi() ? 1 : 0; }

rai_status rai_gc_stats_init_sized(rai_gc_stats *stats, size_t struct_size) {
    return guarded([&] { rai::init_params(stats, struct_size, kGcStatsV1, "stats"); });
}

rai_status rai_gc_get_stats(const rai_gc *gc, uint32_t id, rai_gc_stats *out) {
    return guarded([&] {
        const rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::get_stats(g, id, out);
    });
}

rai_status rai_gc_reset_stats(rai_gc *gc) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        std::lock_guard<std::mutex> lock(g.mutex);
        rai::gc::reset_stats(g);
    });
}

rai_status rai_gc_state_size(const rai_gc *gc, size_t *out_bytes) {
    return guarded([&] {
        const rai_gc &g = deref(gc, "gc");
        rai::require_not_null(out_bytes, "out_bytes");
        std::lock_guard<std::mutex> lock(g.mutex);
        *out_bytes = rai::gc::state_size(g);
    });
}

rai_status rai_gc_state_save(const rai_gc *gc, void *out, size_t capacity, size_t *written) {
    return guarded([&] {
        const rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::state_save(g, out, capacity, written);
    });
}

rai_status rai_gc_state_load(rai_gc *gc, const void *data, size_t length) {
    return guarded([&] {
        rai_gc &g = deref(gc, "gc");
        Locked lock(g);
        rai::gc::state_load(g, data, length);
    });
}

}  // extern "C"
