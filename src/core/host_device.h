// RAI_HD marks a function that the CPU code and the CUDA kernels share, so both backends run the
// one definition: __host__ __device__ (always inlined) under nvcc, a plain inline function for the
// host compiler, which never sees CUDA keywords.
#pragma once

#if defined(__CUDACC__)
#define RAI_HD __host__ __device__ __forceinline__
#else
#define RAI_HD inline
#endif
