// C ABI: contexts, tensors, buffers.
#include <mutex>

#include "../core/buffer.h"
#include "../core/context.h"
#include "../core/dtype.h"
#include "../core/params.h"
#include "../core/tensor_check.h"
#include "../core/tensor_copy.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;

namespace {
// rai_context_params as first released (0.1): every field up to and including `stream`.
constexpr size_t kContextParamsV1 = sizeof(rai_context_params);
}  // namespace

extern "C" {

rai_status rai_context_params_init_sized(rai_context_params *params, size_t struct_size) {
    return guarded([&] { rai::init_params(params, struct_size, kContextParamsV1, "params"); });
}

rai_status rai_context_create(const rai_context_params *params, rai_context **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        const rai_context_params p = rai::read_params(params, kContextParamsV1, "params");
        *out = rai::create_context(p);
    });
}

void rai_context_destroy(rai_context *ctx) { rai::destroy_context(ctx); }

rai_status rai_context_device(const rai_context *ctx, rai_device *out) {
    return guarded([&] {
        const rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        *out = c.device;
    });
}

rai_status rai_context_stream(const rai_context *ctx, void **out_stream) {
    return guarded([&] {
        const rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out_stream, "out_stream");
        std::lock_guard<std::mutex> lock(c.mutex);
        *out_stream = c.stream;
    });
}

rai_status rai_context_set_stream(rai_context *ctx, void *stream) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::set_stream(c, stream);
    });
}

rai_status rai_context_synchronize(rai_context *ctx) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::synchronize(c);
    });
}

rai_status rai_context_wait_stream(rai_context *ctx, void *stream) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::wait_stream(c, stream);
    });
}

rai_status rai_dtype_size(const rai_dtype *dtype, size_t *out_bytes) {
    return guarded([&] {
        rai::require_not_null(dtype, "dtype");
        rai::require_not_null(out_bytes, "out_bytes");
        const size_t n = rai::dtype::size(*dtype);
        rai::require(n != 0, RAI_ERROR_DTYPE_MISMATCH, "dtype: " + rai::dtype::describe(*dtype));
        *out_bytes = n;
    });
}

const char *rai_dtype_name(const rai_dtype *dtype) { return dtype ? rai::dtype::name(*dtype) : nullptr; }

rai_status rai_tensor_validate(const rai_tensor *tensor) {
    return guarded([&] { rai::TensorCheck check("tensor", tensor); });
}

rai_status rai_tensor_copy(rai_context *ctx, const rai_tensor *src, rai_tensor *dst) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::tensor_copy(c, src, dst);
    });
}

rai_status rai_buffer_create(rai_context *ctx, size_t bytes, rai_buffer **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai::require_not_null(out, "out");
        std::lock_guard<std::mutex> lock(c.mutex);
        *out = rai::create_buffer(c, bytes);
    });
}

void rai_buffer_destroy(rai_buffer *buffer) { rai::destroy_buffer(buffer); }
void *rai_buffer_data(const rai_buffer *buffer) { return buffer ? buffer->data : nullptr; }
size_t rai_buffer_size(const rai_buffer *buffer) { return buffer ? buffer->size : 0; }

rai_status rai_buffer_device(const rai_buffer *buffer, rai_device *out) {
    return guarded([&] {
        const rai_buffer &b = deref(buffer, "buffer");
        rai::require_not_null(out, "out");
        *out = b.device;
    });
}

rai_status rai_buffer_write(rai_context *ctx, rai_buffer *buffer, size_t offset, const void *src, size_t bytes) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai_buffer &b = deref(buffer, "buffer");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::write_buffer(c, b, offset, src, bytes);
    });
}

rai_status rai_buffer_read(rai_context *ctx, const rai_buffer *buffer, size_t offset, void *dst, size_t bytes) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_buffer &b = deref(buffer, "buffer");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::read_buffer(c, b, offset, dst, bytes);
    });
}

}  // extern "C"
