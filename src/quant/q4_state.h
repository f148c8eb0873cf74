// The rai_q4_state object (statistics of a 4-bit weight on one device) and the operations the
// C ABI exposes. src/io uses the same functions for bitsandbytes checkpoints.
#pragma once
#include <memory>
#include <vector>

#include "context.h"
#include "cuda_plugin.h"
#include "q4_format.h"
#include "rai.h"

struct raicuda_q4_weight;

struct rai_q4_state {
    int32_t type = rai::q4::kNF4;
    int32_t blocksize = rai::q4::kDefaultBlocksize;
    rai_dtype dtype{RAI_DTYPE_FLOAT, 32, 1};
    std::vector<int64_t> shape;
    int64_t numel = 0;
    int64_t nblocks = 0;
    bool nested = false;
    int32_t nested_blocksize = 0;
    int64_t nested_nblocks = 0;
    float offset = 0.0f;
    rai_device device{RAI_DEVICE_CPU, 0};

    // One allocation holds the arrays, each at a 256-byte aligned offset:
    //   plain:  absmax f32[nblocks]
    //   nested: absmax8 u8[nblocks], absmax2 f32[nested_nblocks], code8 f32[256]
    std::vector<unsigned char> host;                     // CPU states
    std::unique_ptr<rai::cuda::DeviceMemory> dev;        // CUDA states
    std::size_t off_absmax = 0, off_absmax8 = 0, off_absmax2 = 0, off_code8 = 0, bytes = 0;

    unsigned char *base() const { return dev ? static_cast<unsigned char *>(dev->get()) : const_cast<unsigned char *>(host.data()); }
    float *absmax() const { return reinterpret_cast<float *>(base() + off_absmax); }
    uint8_t *absmax8() const { return base() + off_absmax8; }
    float *absmax2() const { return reinterpret_cast<float *>(base() + off_absmax2); }
    float *code8() const { return reinterpret_cast<float *>(base() + off_code8); }
    bool on_cuda() const { return device.device_type == RAI_DEVICE_CUDA; }
};

namespace rai::q4 {

// Metadata of a state before its arrays exist.
struct StateMeta {
    int32_t type = kNF4;
    int32_t blocksize = kDefaultBlocksize;
    rai_dtype dtype{RAI_DTYPE_FLOAT, 32, 1};
    std::vector<int64_t> shape;
    bool nested = false;
    int32_t nested_blocksize = kNestedBlocksize;
    float offset = 0.0f;
};

// Validates meta (type, block sizes, shape, dtype) and allocates a state on ctx's device with
// uninitialised arrays. `what` prefixes messages ("params", a tensor name, ...).
std::unique_ptr<rai_q4_state> allocate_state(const rai_context &ctx, const StateMeta &meta, const std::string &what,
                                             rai_status status);

// Host copies of a state's arrays (device states are copied back synchronously).
struct HostArrays {
    std::vector<float> absmax;   // plain
    std::vector<uint8_t> absmax8;  // nested
    std::vector<float> absmax2;  // nested
    std::vector<float> code8;    // nested
};
HostArrays to_host(const rai_context &ctx, const rai_q4_state &s);
// Copies host arrays (sized for s) into s's storage. Synchronous.
void from_host(const rai_context &ctx, rai_q4_state &s, const HostArrays &a);
// The per-block scales of a host state (decoded when nested).
std::vector<float> decoded_absmax_host(const rai_q4_state &s);
// bitsandbytes' quant_map (FP4 code 8 is +0 there).
void bnb_quant_map(int32_t type, float out[16]);
// Device view of a CUDA state's weight for the plugin.
void fill_cuda_weight(const rai_q4_state &s, const void *codes, raicuda_q4_weight *w);

// Validates a codes tensor for a state of n elements on ctx; returns its data pointer.
const uint8_t *check_codes(const rai_context &ctx, const rai_tensor *codes, int64_t n, const char *name);
// Requires the state to live on the context's device.
void check_state_device(const rai_context &ctx, const rai_q4_state &s, const char *name);
// The state's data type name in bitsandbytes' JSON ("float32", "bfloat16", ...), or nullptr.
const char *torch_dtype_name(const rai_dtype &d);

// The operations behind the C ABI (ctx locked by the caller).
rai_q4_state *quantize(const rai_context &ctx, const rai_q4_params &p, const rai_tensor *src, rai_tensor *codes);
void dequantize(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes, rai_tensor *dst);
rai_q4_state *create_state(const rai_context &ctx, const rai_q4_state_params &p, const rai_tensor *absmax,
                           const rai_tensor *nested_absmax, const rai_tensor *nested_quant_map);
rai_q4_state *copy_state(const rai_context &ctx, const rai_q4_state &s);
void state_info(const rai_q4_state &s, rai_q4_state_info *info);
void read_field(const rai_context &ctx, const rai_q4_state &s, int32_t field, rai_tensor *dst);
void linear_forward(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes, const rai_tensor *x,
                    const rai_tensor *bias, rai_tensor *y);
void linear_backward_input(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes,
                           const rai_tensor *dy, rai_tensor *dx);

}  // namespace rai::q4
