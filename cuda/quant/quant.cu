// The CUDA kernels of the 4-bit formats ("quant/1", table in src/quant/cuda_quant_abi.h).
//
// Quantise, double quantisation and dequantise are bit-identical to the CPU reference
// (src/quant/q4_ref.cpp): every multiply and add is an explicit round-to-nearest intrinsic, so
// nvcc's FMA contraction cannot change a result. The 4-bit linear layer uses a fused GEMV for
// M <= 4 (codes and nested absmax decoded in the kernel, fp32 accumulation) and otherwise
// dequantises into a stream-ordered workspace in the activation dtype and calls cuBLASLt.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdio>
#include <cstring>

#include "cuda_backend_abi.h"
#include "cuda_quant_abi.h"
#include "error_util.cuh"
#include "launch.cuh"
#include "scratch.cuh"
#include "lt_gemm.cuh"
#include "q4_codes.h"

namespace raicuda {

namespace {

constexpr int kNF4 = 2;
constexpr int kFP4 = 1;

// The per-element rules are the CPU reference's own (q4_codes.h, host and device).
template <int TYPE>
__device__ __forceinline__ unsigned code4(float x) {
    return TYPE == kFP4 ? rai::q4::quantize_fp4(x) : rai::q4::quantize_nf4(x);
}

__device__ __forceinline__ float codebook_value(int32_t type, int code) {
    return type == kFP4 ? rai::q4::fp4_value(code) : rai::q4::nf4_value(code);
}

// Element loads and stores (to_f, from_f) and aligned16: core/launch.cuh

// The per-block scale of block b (nested: code8[a8] * absmax2 + offset, two roundings).
__device__ __forceinline__ float block_scale(const raicuda_q4_weight &w, int64_t b) {
    if (!w.nested) return w.absmax[b];
    return __fadd_rn(__fmul_rn(w.code8[w.absmax8[b]], w.absmax2[b / w.nested_blocksize]), w.offset);
}

int grid_for(int64_t work, int per_block) {
    const int64_t g = (work + per_block - 1) / per_block;
    return static_cast<int>(g < 1 ? 1 : (g > 0x7fffffff ? 0x7fffffff : g));
}

// ---------------------------------------------------------------- quantise

// Each thread quantises 8 consecutive elements into one 32-bit word of codes. A quant block of
// BS elements is handled by G = BS / 8 adjacent threads; blockDim = max(256, G).
template <class T, int TYPE>
__global__ void quantize_kernel(const T *__restrict__ src, int64_t n, int bs, uint8_t *__restrict__ codes,
                                float *__restrict__ absmax) {
    extern __shared__ float warp_max[];
    const int G = bs / 8;
    const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t i0 = t * 8;
    float v[8];
    float m = -FLT_MAX;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const int64_t i = i0 + j;
        v[j] = i < n ? to_f<T>(src[i]) : 0.0f;  // the zero padding of the last partial block
        m = fmaxf(m, fabsf(v[j]));              // fmaxf ignores NaN, as bnb's reduction
    }
    // Max over the G threads of the quant block.
    const int lane = threadIdx.x & 31;
    if (G <= 32) {
        for (int off = G / 2; off >= 1; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    } else {
        for (int off = 16; off >= 1; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        const int warp = threadIdx.x >> 5;
        if (lane == 0) warp_max[warp] = m;
        __syncthreads();
        const int wpg = G / 32;  // warps per group
        const int first = (warp / wpg) * wpg;
        m = warp_max[first];
        for (int k = 1; k < wpg; ++k) m = fmaxf(m, warp_max[first + k]);
    }
    if (i0 >= n) return;
    const int64_t blk = i0 / bs;
    if (i0 % bs == 0) absmax[blk] = m;
    const float inv = __fdiv_rn(1.0f, m);
    uint32_t word = 0;
#pragma unroll
    for (int j = 0; j < 8; j += 2) {
        const unsigned hi = code4<TYPE>(__fmul_rn(v[j], inv));
        const unsigned lo = code4<TYPE>(__fmul_rn(v[j + 1], inv));
        word |= (hi << 4 | lo) << (8 * (j / 2));
    }
    const int64_t byte0 = i0 / 2, nbytes = (n + 1) / 2;
    if (byte0 + 4 <= nbytes && (reinterpret_cast<uintptr_t>(codes + byte0) & 3) == 0) {
        *reinterpret_cast<uint32_t *>(codes + byte0) = word;
    } else {
        for (int k = 0; k < 4 && byte0 + k < nbytes; ++k) codes[byte0 + k] = static_cast<uint8_t>(word >> (8 * k));
    }
}

template <class T, int TYPE>
int launch_quantize(const void *src, int64_t n, int bs, uint8_t *codes, float *absmax, cudaStream_t s) {
    const int G = bs / 8;
    const int threads = G > 256 ? G : 256;
    const int64_t nthreads = (n + 7) / 8;
    const size_t smem = G > 32 ? (threads / 32) * sizeof(float) : 0;
    quantize_kernel<T, TYPE><<<grid_for(nthreads, threads), threads, smem, s>>>(static_cast<const T *>(src), n, bs,
                                                                               codes, absmax);
    return 0;
}

int quantize(int32_t ordinal, void *stream, const void *src, int32_t elem, int64_t n, int32_t blocksize, int32_t type,
             uint8_t *codes, float *absmax, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    if (n <= 0) return 0;
    auto s = static_cast<cudaStream_t>(stream);
    const bool fp4 = type == kFP4;
    switch (elem) {
    case RAICUDA_ELEM_F32:
        fp4 ? launch_quantize<float, kFP4>(src, n, blocksize, codes, absmax, s)
            : launch_quantize<float, kNF4>(src, n, blocksize, codes, absmax, s);
        break;
    case RAICUDA_ELEM_F16:
        fp4 ? launch_quantize<__half, kFP4>(src, n, blocksize, codes, absmax, s)
            : launch_quantize<__half, kNF4>(src, n, blocksize, codes, absmax, s);
        break;
    default:
        fp4 ? launch_quantize<__nv_bfloat16, kFP4>(src, n, blocksize, codes, absmax, s)
            : launch_quantize<__nv_bfloat16, kNF4>(src, n, blocksize, codes, absmax, s);
        break;
    }
    RAICUDA_TRY(cudaGetLastError(), err, "quantize_kernel launch");
    return 0;
}

// ---------------------------------------------------------------- double quantisation

// The offset in the canonical order of q4_kernels.h: 256 partial sums in double, a pairwise
// tree, one division, one rounding to fp32.
__global__ void mean_kernel(const float *__restrict__ absmax, int64_t nb, float *__restrict__ offset) {
    __shared__ double partial[256];
    const int j = threadIdx.x;
    double acc = 0.0;
    for (int64_t i = j; i < nb; i += 256) acc = __dadd_rn(acc, static_cast<double>(absmax[i]));
    partial[j] = acc;
    __syncthreads();
    for (int stride = 128; stride >= 1; stride >>= 1) {
        if (j < stride) partial[j] = __dadd_rn(partial[j], partial[j + stride]);
        __syncthreads();
    }
    if (j == 0) *offset = __double2float_rn(__ddiv_rn(partial[0], static_cast<double>(nb)));
}

// One CUDA block of 256 threads per nested block of 256 absmax values.
__global__ void quantize_8bit_kernel(const float *__restrict__ absmax, int64_t nb, const float *__restrict__ offset,
                                     const float *__restrict__ code8, uint8_t *__restrict__ absmax8,
                                     float *__restrict__ absmax2) {
    __shared__ float code[256];
    __shared__ float warp_max[8];
    const int t = threadIdx.x;
    code[t] = code8[t];
    const int64_t i = static_cast<int64_t>(blockIdx.x) * 256 + t;
    const float v = i < nb ? __fsub_rn(absmax[i], *offset) : 0.0f;
    float m = fmaxf(-FLT_MAX, fabsf(v));
    for (int off = 16; off >= 1; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if ((t & 31) == 0) warp_max[t >> 5] = m;
    __syncthreads();
    m = warp_max[0];
    for (int k = 1; k < 8; ++k) m = fmaxf(m, warp_max[k]);
    if (t == 0) absmax2[blockIdx.x] = m;
    const float inv = __fdiv_rn(1.0f, m);
    if (i < nb) absmax8[i] = rai::q4::quantize_8bit(code, __fmul_rn(v, inv));
}

int double_quant(int32_t ordinal, void *stream, const float *absmax, int64_t nb, int32_t nested_blocksize,
                 const float *code8, uint8_t *absmax8, float *absmax2, float *offset_host, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    if (nested_blocksize != 256) {
        std::snprintf(err->message, sizeof err->message, "nested blocksize %d is not 256", nested_blocksize);
        return RAI_ERROR_UNSUPPORTED;
    }
    auto s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    float *offset = nullptr;
    if (int rc = sc.get(1, &offset, err)) return rc;
    mean_kernel<<<1, 256, 0, s>>>(absmax, nb, offset);
    quantize_8bit_kernel<<<grid_for(nb, 256), 256, 0, s>>>(absmax, nb, offset, code8, absmax8, absmax2);
    const cudaError_t launch = cudaGetLastError();
    const cudaError_t copy = cudaMemcpyAsync(offset_host, offset, sizeof(float), cudaMemcpyDeviceToHost, s);
    RAICUDA_TRY(launch, err, "double quantisation kernels launch");
    RAICUDA_TRY(copy, err, "cudaMemcpyAsync (offset)");
    RAICUDA_TRY(cudaStreamSynchronize(s), err, "cudaStreamSynchronize");
    return 0;
}

// ---------------------------------------------------------------- dequantise

__global__ void decode_absmax_kernel(raicuda_q4_weight w, int64_t nb, float *__restrict__ out) {
    const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (b < nb) out[b] = block_scale(w, b);
}

int decode_absmax(int32_t ordinal, void *stream, const raicuda_q4_weight *w, float *out, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nb = (w->n + w->blocksize - 1) / w->blocksize;
    decode_absmax_kernel<<<grid_for(nb, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(*w, nb, out);
    RAICUDA_TRY(cudaGetLastError(), err, "decode_absmax_kernel launch");
    return 0;
}

// Each thread decodes 4 code bytes (8 elements, all in one quant block) and stores the 8 values
// as one 16-byte store (two for f32) when they are in bounds and aligned: 2-byte stores strided
// by 16 bytes left the kernel at a fifth of the copy bandwidth.
template <class T>
__global__ void dequantize_kernel(raicuda_q4_weight w, T *__restrict__ dst) {
    __shared__ float lut[16];
    if (threadIdx.x < 16) lut[threadIdx.x] = codebook_value(w.type, static_cast<int>(threadIdx.x));
    __syncthreads();
    const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t i0 = t * 8;
    if (i0 >= w.n) return;
    const int64_t byte0 = i0 / 2, nbytes = (w.n + 1) / 2;
    uint32_t word = 0;
    if (byte0 + 4 <= nbytes && (reinterpret_cast<uintptr_t>(w.codes + byte0) & 3) == 0) {
        word = __ldg(reinterpret_cast<const uint32_t *>(w.codes + byte0));
    } else {
        for (int k = 0; k < 4 && byte0 + k < nbytes; ++k) word |= static_cast<uint32_t>(w.codes[byte0 + k]) << (8 * k);
    }
    const float scale = block_scale(w, i0 / w.blocksize);
    alignas(16) T v[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const unsigned q = (word >> (8 * (j / 2) + ((j & 1) ? 0 : 4))) & 0xfu;
        v[j] = from_f<T>(__fmul_rn(lut[q], scale));
    }
    T *out = dst + i0;
    if (i0 + 8 <= w.n && (reinterpret_cast<uintptr_t>(out) & 15) == 0) {
        const uint4 *pv = reinterpret_cast<const uint4 *>(v);
#pragma unroll
        for (int h = 0; h < static_cast<int>(sizeof(T) * 8 / 16); ++h) reinterpret_cast<uint4 *>(out)[h] = pv[h];
        return;
    }
#pragma unroll
    for (int j = 0; j < 8; ++j)
        if (i0 + j < w.n) out[j] = v[j];
}

template <class T>
void launch_dequantize(const raicuda_q4_weight &w, void *dst, cudaStream_t s) {
    const int64_t nthreads = (w.n + 7) / 8;
    dequantize_kernel<T><<<grid_for(nthreads, 256), 256, 0, s>>>(w, static_cast<T *>(dst));
}

void dequantize_any(const raicuda_q4_weight &w, void *dst, int32_t elem, cudaStream_t s) {
    switch (elem) {
    case RAICUDA_ELEM_F32: launch_dequantize<float>(w, dst, s); break;
    case RAICUDA_ELEM_F16: launch_dequantize<__half>(w, dst, s); break;
    default: launch_dequantize<__nv_bfloat16>(w, dst, s); break;
    }
}

int dequantize(int32_t ordinal, void *stream, const raicuda_q4_weight *w, void *dst, int32_t elem, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    dequantize_any(*w, dst, elem, static_cast<cudaStream_t>(stream));
    RAICUDA_TRY(cudaGetLastError(), err, "dequantize_kernel launch");
    return 0;
}

// ---------------------------------------------------------------- fused GEMV (M <= 4)

// One warp per output row; each lane takes 32 codes (16 bytes) per step, one scale per 32 codes
// (K % 32 == 0, so a 32-code chunk never crosses a quant block). fp32 accumulation.
template <class T, int M>
__global__ void __launch_bounds__(128) gemv_kernel(raicuda_q4_weight w, int64_t N, int64_t K,
                                                   const T *__restrict__ x, const T *__restrict__ bias,
                                                   T *__restrict__ y) {
    __shared__ float lut[16];
    if (threadIdx.x < 16) lut[threadIdx.x] = codebook_value(w.type, static_cast<int>(threadIdx.x));
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * 4 + (threadIdx.x >> 5);
    if (row >= N) return;
    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.0f;
    const int64_t row_start = row * K;
    for (int64_t k0 = static_cast<int64_t>(lane) * 32; k0 < K; k0 += 32 * 32) {
        const uint4 packed = *reinterpret_cast<const uint4 *>(w.codes + (row_start + k0) / 2);
        const float scale = block_scale(w, (row_start + k0) / w.blocksize);
        const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
        float wv[32];
#pragma unroll
        for (int b = 0; b < 16; ++b) {
            const uint32_t byte = (words[b / 4] >> (8 * (b % 4))) & 0xffu;
            wv[2 * b] = lut[byte >> 4];
            wv[2 * b + 1] = lut[byte & 0xfu];
        }
#pragma unroll
        for (int m = 0; m < M; ++m) {
            const T *xr = x + m * K + k0;
            float part = 0.0f;
            if constexpr (sizeof(T) == 4) {
#pragma unroll
                for (int v = 0; v < 8; ++v) {
                    const float4 xv = reinterpret_cast<const float4 *>(xr)[v];
                    part += wv[4 * v] * xv.x + wv[4 * v + 1] * xv.y + wv[4 * v + 2] * xv.z + wv[4 * v + 3] * xv.w;
                }
            } else {
#pragma unroll
                for (int v = 0; v < 4; ++v) {
                    const uint4 raw = reinterpret_cast<const uint4 *>(xr)[v];
                    const T *h = reinterpret_cast<const T *>(&raw);
#pragma unroll
                    for (int e = 0; e < 8; ++e) part += wv[8 * v + e] * to_f<T>(h[e]);
                }
            }
            acc[m] += part * scale;
        }
    }
#pragma unroll
    for (int m = 0; m < M; ++m)
        for (int off = 16; off >= 1; off >>= 1) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], off);
    if (lane == 0) {
        const float b = bias ? to_f<T>(bias[row]) : 0.0f;
#pragma unroll
        for (int m = 0; m < M; ++m) y[m * N + row] = from_f<T>(acc[m] + b);
    }
}

template <class T>
void launch_gemv(const raicuda_q4_weight &w, int64_t N, int64_t K, const void *x, int64_t M, const void *bias, void *y,
                 cudaStream_t s) {
    const int grid = grid_for(N, 4);
    const T *xp = static_cast<const T *>(x);
    const T *bp = static_cast<const T *>(bias);
    T *yp = static_cast<T *>(y);
    switch (M) {
    case 1: gemv_kernel<T, 1><<<grid, 128, 0, s>>>(w, N, K, xp, bp, yp); break;
    case 2: gemv_kernel<T, 2><<<grid, 128, 0, s>>>(w, N, K, xp, bp, yp); break;
    case 3: gemv_kernel<T, 3><<<grid, 128, 0, s>>>(w, N, K, xp, bp, yp); break;
    default: gemv_kernel<T, 4><<<grid, 128, 0, s>>>(w, N, K, xp, bp, yp); break;
    }
}


// ---------------------------------------------------------------- dequantise + cuBLASLt

cudaDataType_t cuda_type(int32_t elem) {
    return elem == RAICUDA_ELEM_F32 ? CUDA_R_32F : (elem == RAICUDA_ELEM_F16 ? CUDA_R_16F : CUDA_R_16BF);
}

// Row-major C[M,N] = A[M,K]·op(B) (+ bias[N]) in `elem`, fp32 compute, through the plugin's cached
// cuBLASLt plans (lt_gemm.cuh). op(B) = Bᵀ for B stored [N,K] (tb), else B stored [K,N].
int gemm_rm(int32_t ordinal, cudaStream_t s, int32_t elem, bool tb, int64_t M, int64_t N, int64_t K, const void *A,
            const void *B, void *C, const void *bias, raicuda_err *err) {
    lt::Gemm g;
    g.tb = tb, g.M = M, g.N = N, g.K = K, g.lda = K, g.ldb = tb ? K : N, g.ldc = N;
    g.ab_type = g.c_type = cuda_type(elem);
    g.bias = bias;
    return lt::lt_gemm(ordinal, s, g, 1.0f, A, B, 0.0f, C, err);
}

size_t elem_bytes(int32_t elem) { return elem == RAICUDA_ELEM_F32 ? 4 : 2; }

int linear_forward(int32_t ordinal, void *stream, const raicuda_q4_weight *w, int64_t N, int64_t K, const void *x,
                   int64_t M, const void *bias, void *y, int32_t elem, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    if (M <= 0) return 0;
    if (M <= 4 && K % 32 == 0 && aligned16(w->codes) && aligned16(x)) {
        switch (elem) {
        case RAICUDA_ELEM_F32: launch_gemv<float>(*w, N, K, x, M, bias, y, s); break;
        case RAICUDA_ELEM_F16: launch_gemv<__half>(*w, N, K, x, M, bias, y, s); break;
        default: launch_gemv<__nv_bfloat16>(*w, N, K, x, M, bias, y, s); break;
        }
        RAICUDA_TRY(cudaGetLastError(), err, "gemv_kernel launch");
        return 0;
    }
    // Dequantise W [N, K] into a workspace in the activation dtype, then y = x·Wᵀ (+ bias).
    Scratch sc(s);
    char *wd = nullptr;
    if (int rc = sc.get(static_cast<size_t>(N * K) * elem_bytes(elem), &wd, err)) return rc;
    dequantize_any(*w, wd, elem, s);
    const cudaError_t launch = cudaGetLastError();
    int st = 0;
    if (launch == cudaSuccess) st = gemm_rm(ordinal, s, elem, true, M, N, K, x, wd, y, bias, err);  // y = x·Wᵀ
    RAICUDA_TRY(launch, err, "dequantize_kernel launch");
    return st;
}

int linear_backward_input(int32_t ordinal, void *stream, const raicuda_q4_weight *w, int64_t N, int64_t K,
                          const void *dy, int64_t M, void *dx, int32_t elem, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    if (M <= 0) return 0;
    // dx [M, K] = dy [M, N]·W [N, K], W dequantised into a workspace.
    Scratch sc(s);
    char *wd = nullptr;
    if (int rc = sc.get(static_cast<size_t>(N * K) * elem_bytes(elem), &wd, err)) return rc;
    dequantize_any(*w, wd, elem, s);
    const cudaError_t launch = cudaGetLastError();
    int st = 0;
    if (launch == cudaSuccess) st = gemm_rm(ordinal, s, elem, false, M, K, N, dy, wd, dx, nullptr, err);  // dx = dy·W
    RAICUDA_TRY(launch, err, "dequantize_kernel launch");
    return st;
}

int device_synchronize(int32_t ordinal, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    RAICUDA_TRY(cudaDeviceSynchronize(), err, "cudaDeviceSynchronize");
    return 0;
}

const raicuda_quant_table kTable = {
    sizeof(raicuda_quant_table), quantize,           double_quant,
    decode_absmax,               dequantize,         linear_forward,
    linear_backward_input,       device_synchronize,
};

}  // namespace

const void *quant_capability() { return &kTable; }

}  // namespace raicuda
