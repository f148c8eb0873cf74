// The compressed all-reduce over MPI (built only when meson finds MPI). rai.h takes the
// communicator as a pointer to the caller's MPI_Comm, so the public header never includes mpi.h.
//   PowerSGD: P_i = M_i Q -> MPI_Allreduce(P) -> orthogonalise -> Q_i = M_i^T P ->
//             MPI_Allreduce(Q) -> P Q^T (Q kept as the next warm start)
//   raw steps (warm-up, NONE, small PowerSGD tensors): one MPI_Allreduce of the f32 values
//   TOPK and the others: all-gather of the messages, then rai_gc_message_reduce semantics
//   (sparse union-sum for TOPK, majority vote for SIGN, dense sum of decodes otherwise).
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dtype.h"
#include "../core/error.h"
#include "gc.h"
#include "gc_common.h"

namespace rai::gc {

bool have_mpi() { return true; }

namespace {

void mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {0};
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(RAI_ERROR_BACKEND, std::string(what) + " failed: " + text);
}

bool is_raw(const std::vector<uint8_t> &msg) { return msg[7] == kRawF32 || msg[7] == kRawBf16; }

void set_peers(std::vector<uint8_t> &msg, int peers) {
    const uint32_t p = static_cast<uint32_t>(peers);
    std::memcpy(msg.data() + 32, &p, 4);
}

// Sums a raw message over the ranks with MPI_Allreduce and rewrites it as a raw f32 message.
void allreduce_raw(std::vector<uint8_t> &msg, std::size_t numel, MPI_Comm comm, int size) {
    std::vector<float> v(numel);
    const uint8_t *pl = msg.data() + kHeaderBytes;
    if (msg[7] == kRawF32) {
        std::memcpy(v.data(), pl, 4 * numel);
    } else {
        for (std::size_t i = 0; i < numel; ++i) {
            uint16_t h;
            std::memcpy(&h, pl + 2 * i, 2);
            v[i] = bf16_to_f32(h);
        }
    }
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(numel), MPI_FLOAT, MPI_SUM, comm), "MPI_Allreduce");
    std::vector<uint8_t> out(kHeaderBytes + 4 * numel);
    std::memcpy(out.data(), msg.data(), kHeaderBytes);
    out[7] = kRawF32;
    const uint32_t pb = static_cast<uint32_t>(4 * numel);
    std::memcpy(out.data() + 36, &pb, 4);
    std::memcpy(out.data() + kHeaderBytes, v.data(), 4 * numel);
    msg.swap(out);
    set_peers(msg, size);
}

}  // namespace

void allreduce_mpi(rai_gc &gc, uint32_t id, rai_tensor *grad, void *comm_ptr, uint32_t flags) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    require(initialized && !finalized, RAI_ERROR_INVALID_ARGUMENT, "mpi_comm: MPI is not initialised (or finalised)");
    MPI_Comm comm = *static_cast<MPI_Comm *>(comm_ptr);
    require(comm != MPI_COMM_NULL, RAI_ERROR_INVALID_ARGUMENT, "mpi_comm: MPI_COMM_NULL");
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_inout", grad);
    require(dtype::equal(grad->dtype, ts.dtype), RAI_ERROR_DTYPE_MISMATCH,
            "grad_inout: dtype " + dtype::describe(grad->dtype) + ", tensor " + std::to_string(id) +
                " was registered as " + dtype::describe(ts.dtype));
    int size = 1;
    mpi_check(MPI_Comm_size(comm, &size), "MPI_Comm_size");

    std::vector<uint8_t> result;
    if (gc.cfg.method == RAI_GC_POWERSGD) {
        std::vector<uint8_t> pm = powersgd_p_vector(gc, id, grad);
        if (is_raw(pm)) {
            allreduce_raw(pm, ts.numel, comm, size);
            result.swap(pm);
        } else {
            const int np = static_cast<int>(std::size_t{ts.rows} * ts.rank);
            mpi_check(MPI_Allreduce(MPI_IN_PLACE, pm.data() + factor_offset(), np, MPI_FLOAT, MPI_SUM, comm),
                      "MPI_Allreduce (PowerSGD P)");
            set_peers(pm, size);
            std::vector<uint8_t> qm = powersgd_q_vector(gc, id, pm.data(), pm.size());
            const int nq = static_cast<int>(std::size_t{ts.cols} * ts.rank);
            mpi_check(MPI_Allreduce(MPI_IN_PLACE, qm.data() + factor_offset(), nq, MPI_FLOAT, MPI_SUM, comm),
                      "MPI_Allreduce (PowerSGD Q)");
            set_peers(qm, size);
            result.swap(qm);
        }
    } else {
        std::vector<uint8_t> msg = compress_to_vector(gc, id, grad);
        if (is_raw(msg)) {
            allreduce_raw(msg, ts.numel, comm, size);
            result.swap(msg);
        } else {
            require(msg.size() <= static_cast<std::size_t>(INT_MAX), RAI_ERROR_OUT_OF_RANGE, "message too large for MPI");
            const int len = static_cast<int>(msg.size());
            std::vector<int> lens(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
            mpi_check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm), "MPI_Allgather");
            long long total = 0;
            for (int r = 0; r < size; ++r) {
                displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
                total += lens[static_cast<std::size_t>(r)];
                require(total <= INT_MAX, RAI_ERROR_OUT_OF_RANGE, "gathered messages exceed 2 GiB");
            }
            std::vector<uint8_t> all(static_cast<std::size_t>(total));
            mpi_check(MPI_Allgatherv(msg.data(), len, MPI_BYTE, all.data(), lens.data(), displs.data(), MPI_BYTE, comm),
                      "MPI_Allgatherv");
            std::vector<const uint8_t *> ptrs;
            std::vector<std::size_t> sizes;
            for (int r = 0; r < size; ++r) {
                ptrs.push_back(all.data() + displs[static_cast<std::size_t>(r)]);
                sizes.push_back(static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]));
            }
            result = reduce_to_vector(gc, id, ptrs, sizes);
        }
    }
    decompress(gc, id, result.data(), result.size(), grad);
    if (flags & RAI_GC_ALLREDUCE_AVERAGE) scale_tensor(gc, grad, 1.0f / static_cast<float>(size));
}

}  // namespace rai::gc
