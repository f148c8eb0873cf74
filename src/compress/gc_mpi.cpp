// The compressed all-reduce over MPI. rai.h takes the communicator as a pointer to the caller's
// MPI_Comm, so the public header never includes mpi.h, and librai never links libmpi: the MPI
// calls go through the plugin librai_mpi.so (mpi_backend_abi.h), loaded on first use.
//   PowerSGD: P_i = M_i Q -> allreduce(P) -> orthogonalise -> Q_i = M_i^T P ->
//             allreduce(Q) -> P Q^T (Q kept as the next warm start)
//   raw steps (warm-up, NONE, small PowerSGD tensors): one allreduce of the f32 values
//   TOPK and the others: all-gather of the messages, then rai_gc_message_reduce semantics
//   (sparse union-sum for TOPK, majority vote for SIGN, dense sum of decodes otherwise).
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/log.h"
#include "../core/plugin_loader.h"
#include "gc.h"
#include "gc_common.h"
#include "mpi_backend_abi.h"

namespace rai::gc {

namespace {

struct MpiPlugin {
    const raimpi_backend *table = nullptr;
    std::string status;
};

const MpiPlugin &mpi_plugin() {
    static const MpiPlugin p = [] {
        MpiPlugin out;
        const plugin::Loaded found =
            plugin::load("RAI_MPI_PLUGIN", "librai_mpi.so", RAIMPI_ENTRY_SYMBOL, [](void *entry) -> std::string {
                const raimpi_backend *t = reinterpret_cast<raimpi_backend_entry_fn>(entry)();
                if (t == nullptr || t->abi_version != RAIMPI_BACKEND_ABI || t->struct_size < sizeof(raimpi_backend))
                    return "not a compatible rai MPI plugin";
                return {};
            });
        if (found.entry == nullptr) {
            out.status = "not loaded: " + found.reasons;
        } else {
            out.table = reinterpret_cast<raimpi_backend_entry_fn>(found.entry)();
            out.status = "loaded " + found.path + " (" + out.table->library_version() + ")";
        }
        log::debug("rai: MPI plugin " + out.status);
        return out;
    }();
    return p;
}

const raimpi_backend &require_mpi() {
    const MpiPlugin &p = mpi_plugin();
    if (p.table == nullptr)
        throw Error(RAI_ERROR_UNSUPPORTED, "rai_gc_allreduce_mpi: MPI is not available: MPI plugin " + p.status +
                                               " (rai builds librai_mpi.so when libopenmpi-dev is installed)");
    return *p.table;
}

// Calls a plugin function, throwing rai::Error with its message on failure.
template <class F>
void mpi_call(F &&call) {
    raimpi_err err{};
    const int st = call(&err);
    if (st == 0) return;
    const rai_status status =
        (st > 0 && st <= RAI_ERROR_OUT_OF_RANGE) ? static_cast<rai_status>(st) : RAI_ERROR_BACKEND;
    throw Error(status, err.message[0] ? err.message : "MPI plugin error");
}

bool is_raw(const std::vector<uint8_t> &msg) { return msg[7] == kRawF32 || msg[7] == kRawBf16; }

void set_peers(std::vector<uint8_t> &msg, int peers) {
    const uint32_t p = static_cast<uint32_t>(peers);
    std::memcpy(msg.data() + 32, &p, 4);
}

int mpi_count(std::size_t n, const char *what) {
    require(n <= static_cast<std::size_t>(INT_MAX), RAI_ERROR_OUT_OF_RANGE,
            std::string(what) + ": " + std::to_string(n) + " values exceed one MPI call");
    return static_cast<int>(n);
}

// Sums a raw message over the ranks and rewrites it as a raw f32 message.
void allreduce_raw(const raimpi_backend &mpi, std::vector<uint8_t> &msg, std::size_t numel, const void *comm,
                   int size) {
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
    const int n = mpi_count(numel, "grad_inout");
    mpi_call([&](raimpi_err *e) { return mpi.allreduce_sum_f32(comm, v.data(), n, e); });
    std::vector<uint8_t> out(kHeaderBytes + 4 * numel);
    std::memcpy(out.data(), msg.data(), kHeaderBytes);
    out[7] = kRawF32;
    const uint32_t pb = static_cast<uint32_t>(4 * numel);
    std::memcpy(out.data() + 36, &pb, 4);
    std::memcpy(out.data() + kHeaderBytes, v.data(), 4 * numel);
    msg.swap(out);
    set_peers(msg, size);
}

// Sums the PowerSGD factor carried by a P or Q message over the ranks, in place.
void allreduce_factor(const raimpi_backend &mpi, std::vector<uint8_t> &msg, std::size_t count, const void *comm,
                      int size) {
    const int n = mpi_count(count, "PowerSGD factor");
    float *factor = reinterpret_cast<float *>(msg.data() + factor_offset());
    mpi_call([&](raimpi_err *e) { return mpi.allreduce_sum_f32(comm, factor, n, e); });
    set_peers(msg, size);
}

}  // namespace

bool have_mpi() { return mpi_plugin().table != nullptr; }

void allreduce_mpi(rai_gc &gc, uint32_t id, rai_tensor *grad, void *comm_ptr, uint32_t flags) {
    const raimpi_backend &mpi = require_mpi();
    const void *comm = comm_ptr;
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_inout", grad);
    require(dtype::equal(grad->dtype, ts.dtype), RAI_ERROR_DTYPE_MISMATCH,
            "grad_inout: dtype " + dtype::describe(grad->dtype) + ", tensor " + std::to_string(id) +
                " was registered as " + dtype::describe(ts.dtype));
    int size = 1;
    mpi_call([&](raimpi_err *e) { return mpi.comm_size(comm, &size, e); });

    std::vector<uint8_t> result;
    if (gc.cfg.method == RAI_GC_POWERSGD) {
        std::vector<uint8_t> pm = powersgd_p_vector(gc, id, grad);
        if (is_raw(pm)) {
            allreduce_raw(mpi, pm, ts.numel, comm, size);
            result.swap(pm);
        } else {
            allreduce_factor(mpi, pm, std::size_t{ts.rows} * ts.rank, comm, size);
            std::vector<uint8_t> qm = powersgd_q_vector(gc, id, pm.data(), pm.size());
            allreduce_factor(mpi, qm, std::size_t{ts.cols} * ts.rank, comm, size);
            result.swap(qm);
        }
    } else {
        std::vector<uint8_t> msg = compress_to_vector(gc, id, grad);
        if (is_raw(msg)) {
            allreduce_raw(mpi, msg, ts.numel, comm, size);
            result.swap(msg);
        } else {
            const int len = mpi_count(msg.size(), "compressed message");
            std::vector<int> lens(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
            mpi_call([&](raimpi_err *e) { return mpi.allgather_int(comm, len, lens.data(), e); });
            long long total = 0;
            for (int r = 0; r < size; ++r) {
                displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
                total += lens[static_cast<std::size_t>(r)];
                require(total <= INT_MAX, RAI_ERROR_OUT_OF_RANGE, "gathered messages exceed 2 GiB");
            }
            std::vector<uint8_t> all(static_cast<std::size_t>(total));
            mpi_call([&](raimpi_err *e) {
                return mpi.allgatherv_bytes(comm, msg.data(), len, all.data(), lens.data(), displs.data(), e);
            });
            std::vector<const uint8_t *> ptrs;
            std::vector<std::size_t> sizes;
            for (int r = 0; r < size; ++r) {
                ptrs.push_back(all.data() + displs[static_cast<std::size_t>(r)]);
                sizes.push_back(static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]));
            }
            combine_gathered(gc, id, ptrs, sizes, (flags & RAI_GC_ALLREDUCE_SUM_DECODED) != 0, grad);
        }
    }
    if (!result.empty()) decompress(gc, id, result.data(), result.size(), grad);
    if (flags & RAI_GC_ALLREDUCE_AVERAGE) scale_tensor(gc, grad, 1.0f / static_cast<float>(size));
}

}  // namespace rai::gc
