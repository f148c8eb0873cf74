// Stream-ordered scratch memory for the plugin's kernels. Every allocation comes from one memory
// pool per device that rai creates for itself and that keeps freed memory cached, so a call that
// needs temporary buffers pays neither cudaMalloc nor cudaFree (which synchronises the whole
// device) once the pool has grown to its working size. rai's own pool, not the device's default
// one, so the process-wide settings a caller (or PyTorch) relies on are left alone.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "error_util.cuh"

namespace raicuda {

// The pool of the current device (created on first use; lives until the process ends).
cudaError_t scratch_pool(cudaMemPool_t *out);

// Scratch buffers of one call on one stream, given back to the pool in stream order when the
// scope ends (so kernels still queued on the stream may keep using them).
class Scratch {
public:
    explicit Scratch(cudaStream_t s) : s_(s) {}
    ~Scratch() {
        for (void *p : ptrs_) cudaFreeAsync(p, s_);
    }
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;

    // `bytes` (at least 1) of device memory, 256-byte aligned.
    cudaError_t alloc(std::size_t bytes, void **out) {
        cudaMemPool_t pool;
        cudaError_t st = scratch_pool(&pool);
        if (st != cudaSuccess) return st;
        void *p = nullptr;
        st = cudaMallocFromPoolAsync(&p, bytes ? bytes : 1, pool, s_);
        if (st != cudaSuccess) return st;
        ptrs_.push_back(p);
        *out = p;
        return cudaSuccess;
    }
    // `count` elements of T plus 16 bytes of slack (vector loads may read past the end).
    template <class T>
    int get(std::size_t count, T **out, raicuda_err *err) {
        void *p = nullptr;
        RAICUDA_TRY(alloc(count * sizeof(T) + 16, &p), err, "scratch allocation (cudaMallocFromPoolAsync)");
        *out = static_cast<T *>(p);
        return 0;
    }

private:
    cudaStream_t s_;
    std::vector<void *> ptrs_;
};

}  // namespace raicuda
