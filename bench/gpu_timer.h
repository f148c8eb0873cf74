// GPU timing shared by the benchmarks' CUDA sections: the context's stream (which cuBLAS shares),
// CUDA-event timing of batches of launches on it (median of 5 batches, one warm-up launch) and
// device memory for the anchors. Only with the CUDA toolkit (RAI_BENCH_CUDA).
#pragma once
#ifdef RAI_BENCH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "rai_bench.h"
#include "rai.h"

namespace bench {

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
