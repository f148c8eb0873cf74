// The compressed all-reduce over NCCL for GPU gradients (a rai_gc on a CUDA context). NCCL comes
// from the CUDA plugin, which loads it with dlopen; librai itself knows nothing of NCCL.
//   PowerSGD: P = M Q on the device -> ncclAllReduce(P) -> orthogonalise (host, rows x r) ->
//             Q_i = M^T P -> EF residual M - P Q_i^T -> ncclAllReduce(Q) -> P Q^T into the
//             gradient; Q kept as the next warm start.
//   raw steps: one ncclAllReduce of the f32 values on the device.
//   the others: the compact message is all-gathered with ncclAllGather (equal sizes on every
//   rank, checked first) and reduced as rai_gc_message_reduce does.
#include <cstring>
#include <string>
#include <vector>

#include "../core/cuda_plugin.h"
#include "../core/dtype.h"
#include "../core/error.h"
#include "gc.h"

namespace rai::gc {

namespace {

void copy(const rai_gc &gc, void *dst, const void *src, std::size_t bytes, int32_t kind) {
    if (bytes == 0) return;
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(gc.ctx->device.device_id, dst, src, bytes, kind, gc.ctx->stream, e);
    });
}

#define NC(call) cuda::check([&](raicuda_err *e_) { return gc.cuda->call; })
#define DEV gc.ctx->device.device_id, gc.ctx->stream

}  // namespace

void allreduce_nccl(rai_gc &gc, uint32_t id, rai_tensor *grad, void *comm, uint32_t flags) {
    require(gc.cuda != nullptr, RAI_ERROR_UNSUPPORTED,
            "rai_gc_allreduce_nccl needs a rai_gc on a CUDA context (use rai_gc_allreduce_mpi for host gradients)");
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_inout", grad);
    require(dtype::equal(grad->dtype, ts.dtype), RAI_ERROR_DTYPE_MISMATCH,
            "grad_inout: dtype " + dtype::describe(grad->dtype) + ", tensor " + std::to_string(id) +
                " was registered as " + dtype::describe(ts.dtype));
    int32_t size = 0;
    NC(nccl_comm_size(comm, &size, e_));
    require(size >= 1, RAI_ERROR_BACKEND, "ncclCommCount returned no ranks");
    const int32_t gdt = dtype::equal(ts.dtype, dtype::bf16) ? RAICUDA_GC_BF16 : RAICUDA_GC_F32;
    const std::size_t n = ts.numel;
    void *gptr = static_cast<char *>(grad->data) + grad->byte_offset;
    const bool raw = gc.cfg.method == RAI_GC_NONE || ts.step < gc.cfg.warmup_steps ||
                     (gc.cfg.method == RAI_GC_POWERSGD && ts.rank == 0);
    // The new momentum-correction velocity, committed with the step, for the two paths below
    // that build their own input (the all-gather path goes through compress_to_vector).
    FloatBuf u_new;
    if (ts.velocity.size() && (raw || gc.cfg.method == RAI_GC_POWERSGD))
        u_new.resize_device(gc.pool, gc.ctx->device.device_id, n);
    float *const un = u_new.size() ? u_new.device() : nullptr;

    if (gc.cfg.method == RAI_GC_POWERSGD && !raw) {
        const uint32_t rows = ts.rows, cols = ts.cols, r = ts.rank;
        const std::size_t np = std::size_t{rows} * r, nq = std::size_t{cols} * r;
        DeviceScratch m(gc, 4 * n), dP(gc, 4 * np), dQ(gc, 4 * nq), dec(gc, 4 * n);
        device_input(gc, ts, gptr, m.as<float>(), un);
        copy(gc, dQ.as<void>(), ts.q.data(), 4 * nq, RAICUDA_HOST_TO_DEVICE);
        NC(gemm(DEV, 0, 0, rows, r, cols, m.as<float>(), dQ.as<float>(), dP.as<float>(), e_));
        NC(nccl_allreduce_f32(DEV, comm, dP.as<float>(), np, e_));
        std::vector<float> P(np), Q(nq);
        copy(gc, P.data(), dP.as<void>(), 4 * np, RAICUDA_DEVICE_TO_HOST);
        orthogonalize(P.data(), rows, r);  // identical on every rank: same summed P
        copy(gc, dP.as<void>(), P.data(), 4 * np, RAICUDA_HOST_TO_DEVICE);
        NC(gemm(DEV, 1, 0, cols, r, rows, m.as<float>(), dP.as<float>(), dQ.as<float>(), e_));
        NC(gemm(DEV, 0, 1, rows, cols, r, dP.as<float>(), dQ.as<float>(), dec.as<float>(), e_));
        NC(nccl_allreduce_f32(DEV, comm, dQ.as<float>(), nq, e_));
        copy(gc, Q.data(), dQ.as<void>(), 4 * nq, RAICUDA_DEVICE_TO_HOST);  // synchronises the stream
        // Everything that can fail in the exchange is done: commit EF, output, warm start.
        if (ts.residual.size()) NC(sub(DEV, m.as<float>(), dec.as<float>(), ts.residual.device(), n, e_));
        commit_velocity(gc, ts, u_new, nullptr);
        NC(gemm(DEV, 0, 1, rows, cols, r, dP.as<float>(), dQ.as<float>(), m.as<float>(), e_));
        const float scale = (flags & RAI_GC_ALLREDUCE_AVERAGE) ? 1.0f / static_cast<float>(size) : 1.0f;
        if (scale != 1.0f) {
            std::vector<float> h(n);
            copy(gc, h.data(), m.as<void>(), 4 * n, RAICUDA_DEVICE_TO_HOST);
            for (float &v : h) v *= scale;
            copy(gc, m.as<void>(), h.data(), 4 * n, RAICUDA_HOST_TO_DEVICE);
        }
        NC(store(DEV, m.as<float>(), gptr, gdt, n, e_));
        cuda::check([&](raicuda_err *e) { return cuda::require_plugin().stream_synchronize(DEV, e); });
        ts.q = std::move(Q);
        ts.round = 0;
        ++ts.stats.steps;
        ts.stats.params += n;
        ts.stats.bits_in += n * ts.dtype.bits;
        ts.stats.bits_out += 8 * static_cast<uint64_t>(kHeaderBytes + 12 + 4 * (np + nq));
        ts.step++;
        return;
    }

    if (raw) {  // EF add, then one all-reduce of the f32 values
        DeviceScratch m(gc, 4 * n);
        device_input(gc, ts, gptr, m.as<float>(), un);
        NC(nccl_allreduce_f32(DEV, comm, m.as<float>(), n, e_));
        if (flags & RAI_GC_ALLREDUCE_AVERAGE) {
            std::vector<float> h(n);
            copy(gc, h.data(), m.as<void>(), 4 * n, RAICUDA_DEVICE_TO_HOST);
            for (float &v : h) v /= static_cast<float>(size);
            copy(gc, m.as<void>(), h.data(), 4 * n, RAICUDA_HOST_TO_DEVICE);
        }
        NC(store(DEV, m.as<float>(), gptr, gdt, n, e_));
        cuda::check([&](raicuda_err *e) { return cuda::require_plugin().stream_synchronize(DEV, e); });
        if (ts.residual.size())  // sent exactly: the residual is consumed
            NC(unpack_topk(DEV, nullptr, nullptr, 0, ts.residual.device(), n, e_));
        commit_velocity(gc, ts, u_new, nullptr);
        ++ts.stats.steps;
        ts.stats.params += n;
        ts.stats.bits_in += n * ts.dtype.bits;
        ts.stats.bits_out += 8 * static_cast<uint64_t>(kHeaderBytes + 4 * n);
        ts.step++;
        ts.round = 0;
        return;
    }

    // All-gather of the compact messages. Sizes are a function of (method, parameters, tensor,
    // step), but a misconfigured peer would differ: gather the sizes first so every rank fails
    // alike instead of hanging.
    std::vector<uint8_t> msg = compress_to_vector(gc, id, grad);
    const uint64_t len = msg.size();
    DeviceScratch dlen(gc, 8), dlens(gc, 8 * static_cast<std::size_t>(size));
    copy(gc, dlen.as<void>(), &len, 8, RAICUDA_HOST_TO_DEVICE);
    NC(nccl_allgather(DEV, comm, dlen.as<void>(), dlens.as<void>(), 8, e_));
    std::vector<uint64_t> lens(static_cast<std::size_t>(size));
    copy(gc, lens.data(), dlens.as<void>(), 8 * lens.size(), RAICUDA_DEVICE_TO_HOST);
    for (int32_t k = 0; k < size; ++k)
        require(lens[static_cast<std::size_t>(k)] == len, RAI_ERROR_INVALID_ARGUMENT,
                "rank " + std::to_string(k) + " sent a " + std::to_string(lens[static_cast<std::size_t>(k)]) +
                    "-byte message, this rank " + std::to_string(len) +
                    " (the ranks' compressors or steps differ)");
    DeviceScratch dmsg(gc, len), dall(gc, len * static_cast<std::size_t>(size));
    copy(gc, dmsg.as<void>(), msg.data(), len, RAICUDA_HOST_TO_DEVICE);
    NC(nccl_allgather(DEV, comm, dmsg.as<void>(), dall.as<void>(), len, e_));
    std::vector<uint8_t> all(len * static_cast<std::size_t>(size));
    copy(gc, all.data(), dall.as<void>(), all.size(), RAICUDA_DEVICE_TO_HOST);
    std::vector<const uint8_t *> ptrs;
    std::vector<std::size_t> sizes;
    for (int32_t k = 0; k < size; ++k) {
        ptrs.push_back(all.data() + len * static_cast<std::size_t>(k));
        sizes.push_back(len);
    }
    combine_gathered(gc, id, ptrs, sizes, (flags & RAI_GC_ALLREDUCE_SUM_DECODED) != 0, grad);
    if (flags & RAI_GC_ALLREDUCE_AVERAGE) scale_tensor(gc, grad, 1.0f / static_cast<float>(size));
}

}  // namespace rai::gc
