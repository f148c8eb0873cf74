// librai_cuda.so: the CUDA backend that librai loads with dlopen on first CUDA use.
// This file holds the runtime part of the function table (devices, streams, memory, copies);
// capability kernels live in their own folders under cuda/ and add their entries here.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda_backend_abi.h"
#include "capabilities.h"
#include "error_util.cuh"

namespace raicuda {

namespace {

int device_count(int32_t *count, raicuda_err *err) {
    int n = 0;
    RAICUDA_TRY(cudaGetDeviceCount(&n), err, "cudaGetDeviceCount");
    *count = n;
    return 0;
}

int device_info(int32_t ordinal, rai_device_info *info, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaDeviceProp prop{};
    RAICUDA_TRY(cudaGetDeviceProperties(&prop, ordinal), err, "cudaGetDeviceProperties");
    std::snprintf(info->name, sizeof info->name, "%s", prop.name);
    int v = 0;
    RAICUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, ordinal), err, "cudaDeviceGetAttribute");
    info->compute_capability_major = v;
    RAICUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMinor, ordinal), err, "cudaDeviceGetAttribute");
    info->compute_capability_minor = v;
    RAICUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, ordinal), err, "cudaDeviceGetAttribute");
    info->multiprocessor_count = v;
    RAICUDA_TRY(cudaDeviceGetAttribute(&v, cudaDevAttrL2CacheSize, ordinal), err, "cudaDeviceGetAttribute");
    info->l2_cache_bytes = static_cast<uint64_t>(v);
    size_t free_b = 0, total_b = 0;
    RAICUDA_TRY(cudaMemGetInfo(&free_b, &total_b), err, "cudaMemGetInfo");
    info->free_memory_bytes = free_b;
    info->total_memory_bytes = total_b;
    return 0;
}

int stream_create(int32_t ordinal, void **stream, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = nullptr;
    RAICUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), err, "cudaStreamCreateWithFlags");
    *stream = s;
    return 0;
}

void stream_destroy(int32_t ordinal, void *stream) {
    if (cudaSetDevice(ordinal) == cudaSuccess) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

int stream_synchronize(int32_t ordinal, void *stream, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    RAICUDA_TRY(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), err, "cudaStreamSynchronize");
    return 0;
}

int stream_wait(int32_t ordinal, void *waiter, void *producer, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaEvent_t ev = nullptr;
    RAICUDA_TRY(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), err, "cudaEventCreateWithFlags");
    cudaError_t st = cudaEventRecord(ev, static_cast<cudaStream_t>(producer));
    if (st == cudaSuccess) st = cudaStreamWaitEvent(static_cast<cudaStream_t>(waiter), ev, 0);
    cudaEventDestroy(ev);  // safe: destruction is deferred until the wait is satisfied
    RAICUDA_TRY(st, err, "cudaEventRecord/cudaStreamWaitEvent");
    return 0;
}

int malloc_device(int32_t ordinal, size_t bytes, void **ptr, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const cudaError_t st = cudaMalloc(ptr, bytes);
    if (st == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the sticky-free allocation error
        std::snprintf(err->message, sizeof err->message, "could not allocate %zu bytes on CUDA device %d", bytes,
                      ordinal);
        return RAI_ERROR_OUT_OF_MEMORY;
    }
    RAICUDA_TRY(st, err, "cudaMalloc");
    return 0;
}

void free_device(int32_t ordinal, void *ptr) {
    if (ptr != nullptr && cudaSetDevice(ordinal) == cudaSuccess) cudaFree(ptr);
}

int memcpy_sync(int32_t ordinal, void *dst, const void *src, size_t bytes, int32_t kind, void *stream,
                raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const cudaMemcpyKind k = kind == RAICUDA_HOST_TO_DEVICE   ? cudaMemcpyHostToDevice
                             : kind == RAICUDA_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
    auto s = static_cast<cudaStream_t>(stream);
    RAICUDA_TRY(cudaMemcpyAsync(dst, src, bytes, k, s), err, "cudaMemcpyAsync");
    RAICUDA_TRY(cudaStreamSynchronize(s), err, "cudaStreamSynchronize");
    return 0;
}

template <class T>
__global__ void copy_strided_kernel(raicuda_view dst, raicuda_view src, int64_t n) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        int64_t rem = i, so = 0, d_off = 0;
        for (int d = src.ndim - 1; d >= 0; --d) {
            const int64_t idx = rem % src.shape[d];
            rem /= src.shape[d];
            so += idx * src.strides[d];
            d_off += idx * dst.strides[d];
        }
        static_cast<T *>(dst.data)[d_off] = static_cast<const T *>(src.data)[so];
    }
}

int copy_strided(int32_t ordinal, const raicuda_view *dst, const raicuda_view *src, size_t elem_bytes, void *stream,
                 raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    int64_t n = 1;
    for (int d = 0; d < src->ndim; ++d) n *= src->shape[d];
    if (n == 0) return 0;
    const int threads = 256;
    const int64_t blocks64 = (n + threads - 1) / threads;
    const int blocks = static_cast<int>(blocks64 < 65535 * 8 ? blocks64 : 65535 * 8);
    auto s = static_cast<cudaStream_t>(stream);
    switch (elem_bytes) {
    case 1: copy_strided_kernel<uint8_t><<<blocks, threads, 0, s>>>(*dst, *src, n); break;
    case 2: copy_strided_kernel<uint16_t><<<blocks, threads, 0, s>>>(*dst, *src, n); break;
    case 4: copy_strided_kernel<uint32_t><<<blocks, threads, 0, s>>>(*dst, *src, n); break;
    case 8: copy_strided_kernel<uint64_t><<<blocks, threads, 0, s>>>(*dst, *src, n); break;
    default:
        std::snprintf(err->message, sizeof err->message, "element size %zu is not 1, 2, 4 or 8", elem_bytes);
        return RAI_ERROR_INTERNAL;
    }
    RAICUDA_TRY(cudaGetLastError(), err, "copy_strided_kernel launch");
    return 0;
}

const char *build_info() {
    static std::string info = [] {
        int rt = 0;
        cudaRuntimeGetVersion(&rt);
        const size_t lt = cublasLtGetVersion();
        return "cudart " + std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10) + ", cuBLASLt " +
               std::to_string(lt);
    }();
    return info.c_str();
}

const raicuda_backend kBackend = {
    RAICUDA_BACKEND_ABI, sizeof(raicuda_backend), build_info,  device_count, device_info,  stream_create,
    stream_destroy,      stream_synchronize,      malloc_device, free_device, memcpy_sync, copy_strided,
    find_capability,     stream_wait,
};

}  // namespace

}  // namespace raicuda

extern "C" __attribute__((visibility("default"))) const raicuda_backend *raicuda_backend_entry(void) {
    return &raicuda::kBackend;
}
