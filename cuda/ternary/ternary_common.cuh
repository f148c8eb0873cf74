// Device helpers shared by the ternary kernels: the same definitions as the CPU code in
// src/ternary (rng.h, similarity.h), written for device code.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "cuda_backend_abi.h"
#include "ternary/cuda_ternary_abi.h"
#include "error_util.cuh"
#include "launch.cuh"

namespace raicuda::ternary {

using u64 = unsigned long long;
static_assert(sizeof(u64) == sizeof(uint64_t), "u64 is 64-bit");

constexpr int kThreads = kLaunchThreads;  // blocks_for: core/launch.cuh

__host__ __device__ inline size_t words_for(size_t dim) { return dim / 64 + (dim % 64 != 0 ? 1 : 0); }

__device__ inline u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
__device__ inline u64 counter_u64(u64 seed, u64 i) { return mix64(mix64(seed) + (i + 1) * 0x9E3779B97F4A7C15ULL); }

// Trit from a generator value (rng.h): dense r mod 3; bipolar bit 63; sparse (r >> 11) < thr, sign bit 0.
__device__ inline int trit_from(u64 r, int distribution, u64 thr) {
    if (distribution == 0) {
        const u64 c = r % 3;
        return c == 0 ? -1 : (c == 1 ? 0 : 1);
    }
    if (distribution == 1) return (r >> 63) ? 1 : -1;
    return (r >> 11) < thr ? ((r & 1) ? 1 : -1) : 0;
}

// The metric's value as f32, exactly as src/ternary/similarity.h and item_memory.cpp define it.
__device__ inline float metric_value(int metric, long long raw, u64 nnz_q, u64 nnz_i, size_t dim) {
    switch (metric) {
    case 0:  // cosine
        if (nnz_q == 0 || nnz_i == 0) return 0.0f;
        return static_cast<float>(static_cast<double>(raw) / sqrt(static_cast<double>(nnz_q) * static_cast<double>(nnz_i)));
    case 1:  // dot
    case 2:  // hamming distance
        return static_cast<float>(raw);
    case 3:  // hamming similarity
        if (dim == 0) return 1.0f;
        return static_cast<float>(1.0 - static_cast<double>(raw) / static_cast<double>(dim));
    default:  // equal count
        return static_cast<float>(static_cast<long long>(dim) - raw);
    }
}

__device__ inline bool metric_uses_hamming(int metric) { return metric >= 2; }

#define RAICUDA_TERNARY_LAUNCHED(err, what) RAICUDA_TRY(cudaGetLastError(), err, what)

}  // namespace raicuda::ternary
