// rai_gc internals: configuration, per-tensor state, wire format, and the operations behind the
// C ABI in src/abi/compress_abi.cpp. CPU reference code is in gc.cpp (with the fast kernels of
// gc_kernels.h); on a CUDA context the same operations call the "compress/1" kernels.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/context.h"
#include "../core/cuda_plugin.h"
#include "cuda_compress_abi.h"
#include "rai.h"

namespace rai::gc {

// ---- wire format (docs/compress.md)
constexpr uint32_t kMagic = 0x4D434752u;       // bytes "RGCM"
constexpr uint32_t kStateMagic = 0x53434752u;  // bytes "RGCS"
constexpr uint16_t kFormatVersion = 1;
constexpr uint16_t kStateVersion = 2;  // 2: the momentum-correction velocity
constexpr std::size_t kHeaderBytes = 40;
constexpr uint32_t kQsgdBucket = 512;

enum Encoding : uint8_t {
    kRawF32 = 1,
    kRawBf16 = 2,
    kTopk = 3,
    kSign = 4,
    kTernary = 5,
    kQsgd = 6,
    kPsgdPQ = 7,
    kPsgdP = 8,
    kPsgdQ = 9,
    kVsa = 10,
};
const char *encoding_name(uint8_t e);
const char *method_name(int32_t m);

struct Header {
    uint16_t version = kFormatVersion;
    uint8_t method = 0;
    uint8_t encoding = 0;
    uint32_t id = 0;
    uint32_t tag = 0;
    uint64_t numel = 0;
    uint64_t step = 0;
    uint32_t peers = 1;
    uint32_t payload_bytes = 0;
};
void write_header(uint8_t *dst, const Header &h);

struct Config {
    int32_t method = RAI_GC_NONE;
    float ratio = 0.01f;
    uint32_t rank = 2;
    uint32_t power_iters = 1;
    uint32_t qsgd_levels = 7;
    uint32_t qsgd_width = 4;  // bits per QSGD code: 2, 4, 8 or 16
    uint32_t vsa_dimension = 8192;
    float vsa_ratio = 0.1f;
    bool error_feedback = false;
    uint32_t warmup_steps = 0;
    uint32_t flags = 0;
    uint64_t seed = 0;
    float momentum = 0.0f;  // momentum correction (DGC); 0 = off
};
Config make_config(const rai_gc_params &p);
uint32_t config_tag(const Config &c);
bool method_is_biased(int32_t method);

// Host or device f32 storage.
class FloatBuf {
public:
    FloatBuf() = default;
    void resize_host(std::size_t n) { host_.assign(n, 0.0f); size_ = n; }
    // Takes `v` as its host storage (no copy).
    void adopt_host(std::vector<float> &&v) { dev_ = {}; host_ = std::move(v); size_ = host_.size(); }
    // Device storage from the handle's pool (its previous block goes back to the pool).
    void resize_device(cuda::DevicePool &pool, int32_t ordinal, std::size_t n);
    std::size_t size() const { return size_; }
    bool on_device() const { return static_cast<bool>(dev_); }
    float *host() { return host_.data(); }
    const float *host() const { return host_.data(); }
    float *device() const { return static_cast<float *>(dev_.get()); }
    std::vector<float> &host_vector() { return host_; }
    void reset() { host_.clear(); host_.shrink_to_fit(); dev_ = {}; size_ = 0; }

private:
    std::vector<float> host_;
    cuda::DevicePool::Block dev_;
    std::size_t size_ = 0;
};

struct Stats {
    uint64_t steps = 0, params = 0, bits_in = 0, bits_out = 0, quality_samples = 0;
    bool has_quality = false;
    double dot = 0, aa = 0, bb = 0, diff2 = 0;  // of the last measured step
};

struct TensorState {
    std::string name;
    uint32_t id = 0;
    rai_dtype dtype{};
    std::vector<int64_t> shape;
    uint64_t numel = 0;
    uint64_t step = 0;
    FloatBuf residual;  // empty without error feedback
    FloatBuf velocity;  // momentum correction's u; empty when momentum is 0
    // PowerSGD: matrix view rows x cols; rank 0 = the tensor is sent raw.
    uint32_t rows = 0, cols = 0, rank = 0;
    std::vector<float> q;  // cols x rank, the warm start (host: small)
    // VSA_COMPAT: projection dimension.
    uint32_t vsa_dim = 0;
    // An open two-round PowerSGD exchange.
    int round = 0;  // 0 none, 1 after powersgd_p, 2 after powersgd_q
    uint64_t round_step = 0;
    FloatBuf round_m;            // M = grad + residual, held between the rounds
    FloatBuf round_u;            // the new velocity, committed with the Q round
    std::vector<float> round_p;  // orthogonalised P (rows x rank), after round 2
    Stats stats;
};

}  // namespace rai::gc

struct rai_gc {
    rai_context *ctx = nullptr;
    rai::gc::Config cfg;
    uint32_t tag = 0;
    // Device buffers reused across calls (every call ends synchronised). Declared before
    // `tensors` so that it outlives the residuals it lends.
    mutable rai::cuda::DevicePool pool;
    std::vector<rai::gc::TensorState> tensors;
    const raicuda_compress_api *cuda = nullptr;  // set on a CUDA context
    mutable std::mutex mutex;
    // Host scratch reused across calls (the handle is serialised): M, the local reconstruction,
    // the new velocity, top-k keys, and the message being built.
    mutable std::vector<float> scratch_m, scratch_dec;
    mutable std::vector<float> scratch_u;  // momentum correction: the new velocity, swapped with the state's
    mutable std::vector<uint32_t> scratch_keys, scratch_sel;
    mutable std::vector<uint8_t> scratch_msg;
};

namespace rai::gc {

// Device memory for the duration of a call (at least 4 bytes), from the handle's pool.
struct DeviceScratch {
    DeviceScratch(const rai_gc &gc, std::size_t bytes)
        : mem(gc.pool.take(gc.ctx->device.device_id, std::max<std::size_t>(bytes, 4))) {}
    template <class T>
    T *as() const { return static_cast<T *>(mem.get()); }
    cuda::DevicePool::Block mem;
};

rai_gc *create(rai_context &ctx, const rai_gc_params &params);
uint32_t add_tensor(rai_gc &gc, const char *name, const rai_tensor *like);
TensorState &tensor(rai_gc &gc, uint32_t id);
const TensorState &tensor(const rai_gc &gc, uint32_t id);
std::size_t max_message_size(const rai_gc &gc, uint32_t id);

// The operations of the C ABI: size query (out == nullptr && capacity == 0) and BUFFER_TOO_SMALL
// handled inside; all-or-nothing on failure.
void compress(rai_gc &gc, uint32_t id, const rai_tensor *grad, void *out, std::size_t capacity, std::size_t *written);
void decompress(rai_gc &gc, uint32_t id, const void *msg, std::size_t len, rai_tensor *grad_out);
void apply(rai_gc &gc, uint32_t id, rai_tensor *grad_inout);
void reduce(const rai_gc &gc, uint32_t id, const void *const *msgs, const std::size_t *lens, std::size_t count,
            void *out, std::size_t capacity, std::size_t *written);
void powersgd_p(rai_gc &gc, uint32_t id, const rai_tensor *grad, void *out, std::size_t capacity,
                std::size_t *written);
void powersgd_q(rai_gc &gc, uint32_t id, const void *p_sum, std::size_t len, void *out, std::size_t capacity,
                std::size_t *written);
void get_stats(const rai_gc &gc, uint32_t id, rai_gc_stats *out);
void reset_stats(rai_gc &gc);
std::size_t state_size(const rai_gc &gc);
void state_save(const rai_gc &gc, void *out, std::size_t capacity, std::size_t *written);
void state_load(rai_gc &gc, const void *data, std::size_t len);

// Lower-level pieces the collectives (gc_mpi.cpp) use. The caller holds gc.mutex.
std::vector<uint8_t> compress_to_vector(rai_gc &gc, uint32_t id, const rai_tensor *grad);
std::vector<uint8_t> reduce_to_vector(const rai_gc &gc, uint32_t id, const std::vector<const uint8_t *> &msgs,
                                      const std::vector<std::size_t> &lens);
// The all-gathered messages of one step into grad: decompress(reduce) or, with sum_decoded
// (RAI_GC_ALLREDUCE_SUM_DECODED), the sum of each message's decode, in message order.
void combine_gathered(rai_gc &gc, uint32_t id, const std::vector<const uint8_t *> &msgs,
                      const std::vector<std::size_t> &lens, bool sum_decoded, rai_tensor *grad);
std::vector<uint8_t> powersgd_p_vector(rai_gc &gc, uint32_t id, const rai_tensor *grad);
std::vector<uint8_t> powersgd_q_vector(rai_gc &gc, uint32_t id, const uint8_t *p_sum, std::size_t len);
// Byte offset of the f32 factor inside a PowerSGD P or Q message, and its element count.
std::size_t factor_offset();
// The compressor's input on the device: m = grad + residual, or with momentum correction
// u_new = momentum * velocity + grad and m = u_new + residual (u_new: a device buffer of numel
// floats, untouched without momentum). Changes no state.
void device_input(const rai_gc &gc, const TensorState &ts, const void *grad, float *m, float *u_new);
// Commits the new velocity after a step (no-op without momentum). `sent_mask` (device or host as
// the handle, may be null): the local reconstruction of a TOPK message, zero where nothing was
// sent; the velocity is zeroed where it is non-zero (momentum-factor masking).
void commit_velocity(const rai_gc &gc, TensorState &ts, FloatBuf &u_new, const float *sent_mask);
// Validates a tensor argument for `ts` (registered shape, f32/bf16, contiguous, on the context).
void check_grad(const rai_gc &gc, const TensorState &ts, const char *name, const rai_tensor *t);
// grad_out <- scale * grad_out, element-wise (used for averaging).
void scale_tensor(rai_gc &gc, const rai_tensor *t, float scale);

// Orthonormalises the columns of P (rows x r, row-major) deterministically (gc.cpp).
void orthogonalize(float *P, uint32_t rows, uint32_t r);

// NCCL through the CUDA plugin (gc_nccl.cpp).
void allreduce_nccl(rai_gc &gc, uint32_t id, rai_tensor *grad_inout, void *comm, uint32_t flags);

// MPI (gc_mpi.cpp when built with MPI, else gc_mpi_none.cpp).
bool have_mpi();
void allreduce_mpi(rai_gc &gc, uint32_t id, rai_tensor *grad_inout, void *comm, uint32_t flags);

}  // namespace rai::gc
