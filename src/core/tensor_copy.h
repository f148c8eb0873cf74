#pragma once
#include "context.h"
#include "rai.h"

namespace rai {
// dst = src for tensors of equal dtype and shape, any strides, host and/or the context's device.
void tensor_copy(const rai_context &ctx, const rai_tensor *src, const rai_tensor *dst);
}
