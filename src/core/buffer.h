// rai_buffer: a block of memory on a context's device.
#pragma once
#include <cstddef>

#include "context.h"
#include "rai.h"

struct rai_buffer {
    rai_device device{RAI_DEVICE_CPU, 0};
    void *data = nullptr;
    std::size_t size = 0;
};

namespace rai {

rai_buffer *create_buffer(const rai_context &ctx, std::size_t bytes);
void destroy_buffer(rai_buffer *buffer) noexcept;
void write_buffer(const rai_context &ctx, rai_buffer &buffer, std::size_t offset, const void *src, std::size_t bytes);
void read_buffer(const rai_context &ctx, const rai_buffer &buffer, std::size_t offset, void *dst, std::size_t bytes);

}  // namespace rai
