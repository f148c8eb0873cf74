// rai helpers for the benchmark programs: tensors over raw pointers (host or device), and the
// CUDA context every GPU section starts from. Plain rai API: no CUDA headers, so it builds
// without the toolkit too.
#pragma once
#include <cstdio>
#include <cstdlib>

#include "rai.h"

namespace bench {

inline void must(rai_status st, const char *what) {
    if (st != RAI_OK) {
        std::fprintf(stderr, "%s failed: %s\n", what, rai_last_error_message());
        std::exit(1);
    }
}

// A strict CUDA context on device 0 (after printing the device), or nullptr with a line saying
// why when there is no usable CUDA device.
inline rai_context *cuda_context_or_skip() {
    int32_t devices = 0;
    if (rai_cuda_device_count(&devices) != RAI_OK || devices == 0) {
        std::printf("\nGPU: no CUDA device (%s): skipped\n", rai_cuda_plugin_status());
        return nullptr;
    }
    rai_device_info info;
    rai_device_info_init(&info);
    must(rai_cuda_device_info(0, &info), "rai_cuda_device_info");
    std::printf("\nGPU: %s (%d SMs, %.0f MB L2)\n", info.name, info.multiprocessor_count, info.l2_cache_bytes / 1e6);
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CUDA;
    cp.flags = RAI_CONTEXT_STRICT | RAI_CONTEXT_IGNORE_ENV;
    rai_context *g = nullptr;
    must(rai_context_create(&cp, &g), "rai_context_create(CUDA)");
    return g;
}

// A contiguous tensor over `p` (the shape array must outlive it).
inline rai_tensor tensor(void *p, rai_dtype dt, const int64_t *shape, int32_t nd, rai_device device = {RAI_DEVICE_CPU, 0}) {
    rai_tensor t{};
    t.data = p;
    t.device = device;
    t.ndim = nd;
    t.dtype = dt;
    t.shape = shape;
    return t;
}

// The same over device memory of CUDA device 0.
inline rai_tensor dev_tensor(void *p, rai_dtype dt, const int64_t *shape, int32_t nd) {
    return tensor(p, dt, shape, nd, {RAI_DEVICE_CUDA, 0});
}

}  // namespace bench
