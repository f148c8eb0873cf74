#include "buffer.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cuda_plugin.h"
#include "error.h"

namespace rai {

namespace {
constexpr std::size_t kAlignment = 256;

void check_same_device(const rai_context &ctx, const rai_buffer &b) {
    require(ctx.device.device_type == b.device.device_type && ctx.device.device_id == b.device.device_id,
            RAI_ERROR_DEVICE_MISMATCH, "buffer lives on another device than ctx");
}

void check_range(const rai_buffer &b, std::size_t offset, std::size_t bytes) {
    require(offset <= b.size && bytes <= b.size - offset, RAI_ERROR_OUT_OF_RANGE,
            "range [" + std::to_string(offset) + ", +" + std::to_string(bytes) + ") is outside the buffer of " +
                std::to_string(b.size) + " bytes");
}
}  // namespace

rai_buffer *create_buffer(const rai_context &ctx, std::size_t bytes) {
    require(bytes > 0, RAI_ERROR_INVALID_ARGUMENT, "bytes must be > 0");
    require(bytes <= SIZE_MAX - kAlignment, RAI_ERROR_OUT_OF_MEMORY, "bytes is too large");
    auto buf = std::make_unique<rai_buffer>();
    buf->device = ctx.device;
    buf->size = bytes;
    if (is_cuda(ctx)) {
        const raicuda_backend &be = cuda::require_plugin();
        cuda::check([&](raicuda_err *e) { return be.malloc_device(ctx.device.device_id, bytes, &buf->data, e); });
    } else {
        const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
        buf->data = std::aligned_alloc(kAlignment, rounded);
        require(buf->data != nullptr, RAI_ERROR_OUT_OF_MEMORY,
                "could not allocate " + std::to_string(bytes) + " bytes of host memory");
    }
    return buf.release();
}

void destroy_buffer(rai_buffer *buffer) noexcept {
    if (buffer == nullptr) return;
    if (buffer->device.device_type == RAI_DEVICE_CUDA) {
        if (const raicuda_backend *be = cuda::plugin()) be->free_device(buffer->device.device_id, buffer->data);
    } else {
        std::free(buffer->data);
    }
    delete buffer;
}

void write_buffer(const rai_context &ctx, rai_buffer &b, std::size_t offset, const void *src, std::size_t bytes) {
    check_same_device(ctx, b);
    check_range(b, offset, bytes);
    if (bytes == 0) return;
    require_not_null(src, "src");
    char *dst = static_cast<char *>(b.data) + offset;
    if (!is_cuda(ctx)) {
        std::memcpy(dst, src, bytes);
        return;
    }
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(ctx.device.device_id, dst, src, bytes, RAICUDA_HOST_TO_DEVICE, ctx.stream, e);
    });
}

void read_buffer(const rai_context &ctx, const rai_buffer &b, std::size_t offset, void *dst, std::size_t bytes) {
    check_same_device(ctx, b);
    check_range(b, offset, bytes);
    if (bytes == 0) return;
    require_not_null(dst, "dst");
    const char *src = static_cast<const char *>(b.data) + offset;
    if (!is_cuda(ctx)) {
        std::memcpy(dst, src, bytes);
        return;
    }
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(ctx.device.device_id, dst, src, bytes, RAICUDA_DEVICE_TO_HOST, ctx.stream, e);
    });
}

}  // namespace rai
