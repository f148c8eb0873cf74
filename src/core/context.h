// The rai_context object: a device, a stream, and a mutex that serialises calls on it.
#pragma once
#include <mutex>

#include "rai.h"

struct rai_context {
    rai_device device{RAI_DEVICE_CPU, 0};
    void *stream = nullptr;       // cudaStream_t on CUDA
    bool owns_stream = false;
    mutable std::mutex mutex;
};

namespace rai {

rai_context *create_context(const rai_context_params &params);
void destroy_context(rai_context *ctx) noexcept;
void set_stream(rai_context &ctx, void *stream);
void synchronize(const rai_context &ctx);
void wait_stream(const rai_context &ctx, void *producer);

inline bool is_cuda(const rai_context &ctx) { return ctx.device.device_type == RAI_DEVICE_CUDA; }

}  // namespace rai
