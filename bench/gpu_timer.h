// GPU timing shared by the benchmarks' CUDA sections: a CUDA context whose stream cuBLAS shares,
// and CUDA-event timing of batches of launches on that stream (median of 5 batches, one warm-up
// launch). Only with the CUDA toolkit (RAI_BENCH_CUDA).
#pragma once
#ifdef RAI_BENCH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "rai.h"

namespace bench {

inline void must(rai_status st, const char *what) {
    if (st != RAI_OK) {
        std::fprintf(stderr, "%s failed: %s\n", what, rai_last_error_message());
        std::exit(1);
    }
}

// A strict CUDA context on device 0, or nullptr (with a line saying why) when there is none.
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

inline cudaStream_t stream_of(rai_context *g) {
    void *s = nullptr;
    must(rai_context_stream(g, &s), "rai_context_stream");
    return static_cast<cudaStream_t>(s);
}

// Median over 5 batches of the per-launch time (seconds) of launch(i), i = 0..iters-1, measured
// with CUDA events on `s` (launches must queue their work on `s`).
template <class F>
double event_time(cudaStream_t s, F &&launch, int iters) {
    launch(0);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
        cudaEventRecord(a, s);
        for (int i = 0; i < iters; ++i) launch(i);
        cudaEventRecord(b, s);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        t.push_back(1e-3 * ms / iters);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    if (cudaGetLastError() != cudaSuccess) {
        std::fprintf(stderr, "CUDA error during timing\n");
        std::exit(1);
    }
    std::sort(t.begin(), t.end());
    return t[2];
}

// Device memory for the anchors (freed by the destructor).
struct DeviceBuffer {
    void *p = nullptr;
    explicit DeviceBuffer(size_t bytes) {
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
            std::fprintf(stderr, "cudaMalloc(%zu) failed\n", bytes);
            std::exit(1);
        }
        cudaMemset(p, 0, bytes);
    }
    ~DeviceBuffer() { cudaFree(p); }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;
};

}  // namespace bench
#endif
