// Launch shapes and element conversions shared by the CUDA kernels (one definition each).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace raicuda {

constexpr int kLaunchThreads = 256;

// Blocks for a grid-stride loop over n elements: at least 1, at most 65535 * 16 (the loop covers
// the rest).
inline int blocks_for(int64_t n, int threads = kLaunchThreads) {
    const int64_t b = (n + threads - 1) / threads;
    return static_cast<int>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

// for (i over [0, n) with a grid stride), 64-bit indices.
#define RAICUDA_GRID_LOOP(i, n)                                                              \
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
         i += static_cast<int64_t>(gridDim.x) * blockDim.x)

inline bool aligned16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// f32 <-> f32 / bf16 / f16 element conversions (round to nearest even).
template <class T>
__device__ __forceinline__ float to_f(T v) {
    static_assert(std::is_same<T, float>::value || std::is_same<T, __nv_bfloat16>::value ||
                  std::is_same<T, __half>::value, "to_f: float, bf16 or f16");
    if constexpr (std::is_same<T, float>::value) return v;
    else if constexpr (std::is_same<T, __nv_bfloat16>::value) return __bfloat162float(v);
    else return __half2float(v);
}
template <class T>
__device__ __forceinline__ T from_f(float v) {
    if constexpr (std::is_same<T, float>::value) return v;
    else if constexpr (std::is_same<T, __nv_bfloat16>::value) return __float2bfloat16_rn(v);
    else return __float2half_rn(v);
}

}  // namespace raicuda
