// BitNet b1.58 on CUDA: activation quantization (plain and after RMSNorm), STE, and ternary GEMM
// over the prepared layout (bitnet.cpp I2_S interleave per row, see src/quant/bitnet/kernels.h).
//
// Bit-identity with the CPU reference (tests/quant/bitnet/test_bitnet_gpu.cpp):
//  - activation codes and scales: the same IEEE operations in the same order (__fdiv_rn,
//    __fmul_rn; roundf / rintf), the RMS sum of squares in double in the CPU's fixed order;
//  - integer dots: exact int32 sums (dp4a) whatever the order;
//  - W2A8: exact int32 sums per scale group, then the float epilogue in group order with
//    explicit _rn operations (no contraction), as the CPU does;
//  - float activations: float sums in another order, within tolerance.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <type_traits>

#include "cuda_backend_abi.h"
#include "error_util.cuh"
#include "scratch.cuh"
#include "quant/bitnet/cuda_bitnet_abi.h"
#include "core/half.h"

namespace raicuda::bitnet {

namespace {

constexpr int kScaleTensor = 0, kScaleRow = 1, kScaleGroup = 2;
constexpr int kRoundHalfEven = 1;
constexpr int kActOfficial = 1;

int fail(raicuda_err *err, int status, const char *msg) {
    std::snprintf(err->message, sizeof err->message, "%s", msg);
    return status;
}

__device__ __forceinline__ float load_act(const void *x, int32_t type, int64_t i) {
    if (type == RAICUDA_BITNET_BF16) return rai::half::bf16_to_f32(static_cast<const uint16_t *>(x)[i]);
    return static_cast<const float *>(x)[i];
}

__device__ __forceinline__ float round_mode(float v, int32_t mode) {
    return mode == kRoundHalfEven ? rintf(v) : roundf(v);
}

__device__ __forceinline__ float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ---------------------------------------------------------------- activation quantization

struct ActParams {
    raicuda_bitnet_act_args a;
    const float *tensor_absmax;  // per-tensor mode: the global absmax (device), else null
    float *row_absmax;           // pass 1 of per-tensor mode: where each row's absmax goes
};

// Block-wide reductions for 256 threads.
__device__ float block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int w = threadIdx.x / 32, l = threadIdx.x % 32;
    __syncthreads();
    if (l == 0) sh[w] = v;
    __syncthreads();
    float r = sh[0];
    for (int i = 1; i < 8; ++i) r = fmaxf(r, sh[i]);
    return r;
}

// The RMS factor of one row in the CPU's order: partial[j] sums x[i]^2 for i = j, j + 256, ...
// in double, then a tree (stride 128 .. 1), then 1 / sqrt(mean + eps) in double, rounded to f32.
__device__ float row_rms_inverse(const void *x, int32_t type, int64_t base, int64_t cols, float eps, double *sh) {
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < cols; i += 256) {
        const double v = static_cast<double>(load_act(x, type, base + i));
        s = __dadd_rn(s, __dmul_rn(v, v));
    }
    __syncthreads();
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int stride = 128; stride >= 1; stride >>= 1) {
        if (threadIdx.x < stride) sh[threadIdx.x] = __dadd_rn(sh[threadIdx.x], sh[threadIdx.x + stride]);
        __syncthreads();
    }
    const double mean = __ddiv_rn(sh[0], static_cast<double>(cols));
    return static_cast<float>(__ddiv_rn(1.0, __dsqrt_rn(__dadd_rn(mean, static_cast<double>(eps)))));
}

__device__ __forceinline__ float act_value(const ActParams &p, int64_t base, int64_t i, float inv) {
    float v = load_act(p.a.x, p.a.x_type, base + i);
    if (p.a.rmsnorm) {
        v = __fmul_rn(v, inv);
        if (p.a.gamma != nullptr) v = __fmul_rn(v, p.a.gamma[i]);
    }
    return v;
}

// One block of 256 threads per row. Pass 1 of the per-tensor mode only stores absmax.
__global__ void __launch_bounds__(256) act_quant_kernel(ActParams p) {
    __shared__ double shd[256];
    __shared__ float shf[8];
    const raicuda_bitnet_act_args &a = p.a;
    for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
        const int64_t base = r * a.cols;
        const float inv = a.rmsnorm ? row_rms_inverse(a.x, a.x_type, base, a.cols, a.norm_eps, shd) : 1.0f;
        float absmax;
        if (p.tensor_absmax != nullptr) {
            absmax = *p.tensor_absmax;
        } else {
            float m = 0.0f;
            for (int64_t i = threadIdx.x; i < a.cols; i += 256) m = fmaxf(m, fabsf(act_value(p, base, i, inv)));
            absmax = block_max(m, shf);
            if (p.row_absmax != nullptr) {
                if (threadIdx.x == 0) p.row_absmax[r] = absmax;
                continue;
            }
        }
        const float qmax = static_cast<float>(a.qmax);
        float s;
        if (a.scale_mode == kActOfficial) s = __fdiv_rn(qmax, absmax > a.eps ? absmax : a.eps);
        else s = absmax == 0.0f ? 1.0f : __fdiv_rn(absmax, qmax);
        const float lo = a.scale_mode == kActOfficial ? -qmax - 1.0f : -qmax;
        for (int64_t i = threadIdx.x; i < a.cols; i += 256) {
            const float v = act_value(p, base, i, inv);
            const float t = a.scale_mode == kActOfficial ? __fmul_rn(v, s) : __fdiv_rn(v, s);
            a.q[base + i] = static_cast<int8_t>(static_cast<int>(clampf(round_mode(t, a.round_mode), lo, qmax)));
        }
        if (threadIdx.x == 0 && (p.tensor_absmax == nullptr || r == 0)) a.scales[p.tensor_absmax ? 0 : r] = s;
    }
}

__global__ void __launch_bounds__(256) max_reduce_kernel(const float *v, int64_t n, float *out) {
    __shared__ float shf[8];
    float m = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += 256) m = fmaxf(m, v[i]);
    m = block_max(m, shf);
    if (threadIdx.x == 0) *out = m;
}

int launch_act_quant(cudaStream_t s, const raicuda_bitnet_act_args &a, raicuda_err *err) {
    if (a.rows == 0) {
        if (a.per_tensor) {  // no tokens: the scale of absmax 0
            const float qmax = static_cast<float>(a.qmax);
            const float v = a.scale_mode == kActOfficial ? qmax / a.eps : 1.0f;
            RAICUDA_TRY(cudaMemcpyAsync(a.scales, &v, sizeof v, cudaMemcpyHostToDevice, s), err, "cudaMemcpyAsync");
            RAICUDA_TRY(cudaStreamSynchronize(s), err, "cudaStreamSynchronize");
        }
        return 0;
    }
    const int grid = static_cast<int>(a.rows < 65536 * 8 ? a.rows : 65536 * 8);
    ActParams p{a, nullptr, nullptr};
    if (!a.per_tensor) {
        act_quant_kernel<<<grid, 256, 0, s>>>(p);
        RAICUDA_TRY(cudaGetLastError(), err, "act_quant_kernel launch");
        return 0;
    }
    raicuda::Scratch sc(s);
    float *tmp = nullptr;
    if (int rc = sc.get(static_cast<size_t>(a.rows) + 1, &tmp, err)) return rc;
    p.row_absmax = tmp;
    act_quant_kernel<<<grid, 256, 0, s>>>(p);
    max_reduce_kernel<<<1, 256, 0, s>>>(tmp, a.rows, tmp + a.rows);
    p.row_absmax = nullptr;
    p.tensor_absmax = tmp + a.rows;
    act_quant_kernel<<<grid, 256, 0, s>>>(p);
    RAICUDA_TRY(cudaGetLastError(), err, "act_quant_kernel launch");
    return 0;
}

__global__ void act_dequant_kernel(const int8_t *q, const float *scales, int64_t rows, int64_t cols,
                                   int32_t per_tensor, int32_t mode, float *out) {
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float sc = scales[per_tensor ? 0 : i / cols];
        const float v = static_cast<float>(q[i]);
        out[i] = mode == kActOfficial ? __fdiv_rn(v, sc) : __fmul_rn(v, sc);
    }
}

int grid_for(int64_t n, int threads) {
    const int64_t b = (n + threads - 1) / threads;
    return static_cast<int>(b < 65536 * 16 ? (b > 0 ? b : 1) : 65536 * 16);
}

__global__ void ste_kernel(const float *x, int64_t n, float scale, float lo, float hi, int32_t mode, float *y) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x)
        y[i] = __fmul_rn(clampf(round_mode(__fdiv_rn(x[i], scale), mode), lo, hi), scale);
}

// ---------------------------------------------------------------- ternary GEMM

struct Gemm {
    raicuda_bitnet_gemm_args g;
    int64_t m0;  // first activation row of this launch
};

__device__ __forceinline__ int64_t scale_index(const raicuda_bitnet_gemm_args &g, int64_t o, int64_t grp) {
    return g.scale_kind == kScaleTensor ? 0 : (g.scale_kind == kScaleRow ? o : o * g.groups + grp);
}

// The documented W2A8 epilogue on an already float-summed accumulator.
__device__ __forceinline__ float w2a8_finish(const raicuda_bitnet_gemm_args &g, float acc, int64_t b, int64_t o) {
    const float s = g.xs[g.xs_count == 1 ? 0 : b];
    float y = g.xs_divide ? __fdiv_rn(acc, s) : __fmul_rn(acc, s);
    if (g.bias != nullptr) y = __fadd_rn(y, g.bias[o]);
    return y;
}

__device__ __forceinline__ int trit_at(const uint8_t *row, int64_t c) {
    const uint8_t byte = row[(c / 128) * 32 + (c % 32)];
    return static_cast<int>((byte >> (6 - 2 * ((c % 128) / 32))) & 3u) - 1;
}

// Any group size, any activation type: one thread per output, the CPU reference's exact order.
__global__ void gemm_generic_kernel(Gemm G) {
    const raicuda_bitnet_gemm_args &g = G.g;
    const int64_t total = g.m * g.n;
    const int64_t groups = g.scale_kind == kScaleGroup ? g.groups : 1;
    const int64_t gsz = g.scale_kind == kScaleGroup ? g.group : g.k;
    for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t b = idx / g.n, o = idx % g.n;
        const uint8_t *w = g.w + o * (g.kp / 4);
        if (g.x_type == RAICUDA_BITNET_I8) {
            const int8_t *x = static_cast<const int8_t *>(g.x) + b * g.k;
            if (g.y_type == RAICUDA_BITNET_I32) {
                int32_t s = 0;
                for (int64_t c = 0; c < g.k; ++c) s += trit_at(w, c) * x[c];
                static_cast<int32_t *>(g.y)[b * g.n + o] = s;
                continue;
            }
            float acc = 0.0f;
            for (int64_t grp = 0; grp < groups; ++grp) {
                int32_t s = 0;
                for (int64_t c = grp * gsz; c < (grp + 1) * gsz; ++c) s += trit_at(w, c) * x[c];
                acc = __fadd_rn(acc, __fmul_rn(__int2float_rn(s), g.ws[scale_index(g, o, grp)]));
            }
            static_cast<float *>(g.y)[b * g.n + o] = w2a8_finish(g, acc, b, o);
        } else {
            float acc = 0.0f;
            for (int64_t grp = 0; grp < groups; ++grp) {
                float s = 0.0f;
                for (int64_t c = grp * gsz; c < (grp + 1) * gsz; ++c) {
                    const int t = trit_at(w, c);
                    const float xv = load_act(g.x, g.x_type, b * g.k + c);
                    if (t > 0) s = __fadd_rn(s, xv);
                    else if (t < 0) s = __fsub_rn(s, xv);
                }
                acc = __fadd_rn(acc, __fmul_rn(s, g.ws[scale_index(g, o, grp)]));
            }
            if (g.bias != nullptr) acc = __fadd_rn(acc, g.bias[o]);
            static_cast<float *>(g.y)[b * g.n + o] = acc;
        }
    }
}

// ---- GEMV for m <= 8: one warp per output row; lane l reads 16-byte chunks u = l, l + 32, ...
// of the row. Chunk u is half h = u % 2 of block u / 2: its byte p (0..15) holds the trits of
// elements 128 (u / 2) + 16 h + p + 32 s at bits 7-2s : 6-2s, s = 0..3.

constexpr int kGemvWarps = 8;

// Four int8 activations at element e (e % 4 == 0), zero past k.
template <bool kAligned>
__device__ __forceinline__ int load_x4(const int8_t *x, int64_t e, int64_t k) {
    if (kAligned && e + 3 < k) return *reinterpret_cast<const int *>(x + e);
    int v = 0;
    for (int i = 0; i < 4; ++i)
        if (e + i < k) v |= (static_cast<int>(static_cast<uint8_t>(x[e + i]))) << (8 * i);
    return v;
}

template <int MT, bool kGroups, bool kAligned>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_i8_kernel(Gemm G) {
    const raicuda_bitnet_gemm_args &g = G.g;
    extern __shared__ unsigned char smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t ng = kGroups ? g.groups : 0;
    int *gsum = reinterpret_cast<int *>(smem) + warp * MT * ng;
    float *gprod = reinterpret_cast<float *>(smem) + kGemvWarps * MT * ng + warp * MT * ng;
    const int64_t row_bytes = g.kp / 4, nchunks = g.kp / 64;
    const int8_t *xb[MT];
    for (int j = 0; j < MT; ++j) xb[j] = static_cast<const int8_t *>(g.x) + (G.m0 + j) * g.k;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * kGemvWarps + warp; o < g.n;
         o += static_cast<int64_t>(gridDim.x) * kGemvWarps) {
        if constexpr (kGroups) {
            for (int64_t i = lane; i < MT * ng; i += 32) gsum[i] = 0;
            __syncwarp();
        }
        int acc[MT];
        for (int j = 0; j < MT; ++j) acc[j] = 0;
        const uint4 *wrow = reinterpret_cast<const uint4 *>(g.w + o * row_bytes);
        for (int64_t u = lane; u < nchunks; u += 32) {
            const uint4 v = __ldg(wrow + u);
            const uint32_t words[4] = {v.x, v.y, v.z, v.w};
            const int64_t base = (u / 2) * 128 + (u % 2) * 16;
#pragma unroll
            for (int s = 0; s < 4; ++s) {
                const int64_t sub = base + 32 * s;
                if (sub >= g.k) continue;
                int part[MT];
                for (int j = 0; j < MT; ++j) part[j] = 0;
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const uint32_t codes = (words[q] >> (6 - 2 * s)) & 0x03030303u;
                    const int t = static_cast<int>(__vsub4(codes, 0x01010101u));
#pragma unroll
                    for (int j = 0; j < MT; ++j) part[j] = __dp4a(t, load_x4<kAligned>(xb[j], sub + 4 * q, g.k), part[j]);
                }
                if constexpr (kGroups) {
                    const int64_t grp = sub / g.group;
                    for (int j = 0; j < MT; ++j) atomicAdd(&gsum[j * ng + grp], part[j]);
                } else {
                    for (int j = 0; j < MT; ++j) acc[j] += part[j];
                }
            }
        }
        if constexpr (!kGroups) {
            for (int j = 0; j < MT; ++j)
                for (int off = 16; off > 0; off >>= 1) acc[j] += __shfl_xor_sync(0xffffffffu, acc[j], off);
            if (lane < MT) {
                int isum = acc[0];
                for (int j = 1; j < MT; ++j)
                    if (lane == j) isum = acc[j];
                const int64_t b = G.m0 + lane;
                if (g.y_type == RAICUDA_BITNET_I32) {
                    static_cast<int32_t *>(g.y)[b * g.n + o] = isum;
                } else {
                    const float acc_f = __fadd_rn(0.0f, __fmul_rn(__int2float_rn(isum), g.ws[scale_index(g, o, 0)]));
                    static_cast<float *>(g.y)[b * g.n + o] = w2a8_finish(g, acc_f, b, o);
                }
            }
        } else {
            __syncwarp();
            for (int64_t i = lane; i < MT * ng; i += 32)
                gprod[i] = __fmul_rn(__int2float_rn(gsum[i]), g.ws[scale_index(g, o, i % ng)]);
            __syncwarp();
            if (lane < MT) {
                float acc_f = 0.0f;
                for (int64_t grp = 0; grp < ng; ++grp) acc_f = __fadd_rn(acc_f, gprod[lane * ng + grp]);
                const int64_t b = G.m0 + lane;
                static_cast<float *>(g.y)[b * g.n + o] = w2a8_finish(g, acc_f, b, o);
            }
            __syncwarp();
        }
    }
}

template <int MT, bool kGroups, bool kVec>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_f_kernel(Gemm G) {
    const raicuda_bitnet_gemm_args &g = G.g;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t row_bytes = g.kp / 4, nchunks = g.kp / 64;
    for (int64_t o = static_cast<int64_t>(blockIdx.x) * kGemvWarps + warp; o < g.n;
         o += static_cast<int64_t>(gridDim.x) * kGemvWarps) {
        float acc[MT];
        for (int j = 0; j < MT; ++j) acc[j] = 0.0f;
        const uint4 *wrow = reinterpret_cast<const uint4 *>(g.w + o * row_bytes);
        for (int64_t u = lane; u < nchunks; u += 32) {
            const uint4 v = __ldg(wrow + u);
            const uint32_t words[4] = {v.x, v.y, v.z, v.w};
            const int64_t base = (u / 2) * 128 + (u % 2) * 16;
#pragma unroll
            for (int s = 0; s < 4; ++s) {
                const int64_t sub = base + 32 * s;
                if (sub >= g.k) continue;
                float part[MT];
                for (int j = 0; j < MT; ++j) part[j] = 0.0f;
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const int64_t e = sub + 4 * q;
                    float t[4];
#pragma unroll
                    for (int i = 0; i < 4; ++i)
                        t[i] = static_cast<float>(static_cast<int>((words[q] >> (8 * i + 6 - 2 * s)) & 3u) - 1);
#pragma unroll
                    for (int j = 0; j < MT; ++j) {
                        const int64_t xrow = (G.m0 + j) * g.k;
                        if (kVec && e + 3 < g.k) {
                            const float4 xv = *reinterpret_cast<const float4 *>(static_cast<const float *>(g.x) + xrow + e);
                            part[j] = fmaf(t[0], xv.x, part[j]);
                            part[j] = fmaf(t[1], xv.y, part[j]);
                            part[j] = fmaf(t[2], xv.z, part[j]);
                            part[j] = fmaf(t[3], xv.w, part[j]);
                        } else {
                            for (int i = 0; i < 4; ++i)
                                if (e + i < g.k) part[j] = fmaf(t[i], load_act(g.x, g.x_type, xrow + e + i), part[j]);
                        }
                    }
                }
                if constexpr (kGroups) {
                    const float sc = g.ws[scale_index(g, o, sub / g.group)];
                    for (int j = 0; j < MT; ++j) acc[j] = fmaf(part[j], sc, acc[j]);
                } else {
                    for (int j = 0; j < MT; ++j) acc[j] += part[j];
                }
            }
        }
        for (int j = 0; j < MT; ++j)
            for (int off = 16; off > 0; off >>= 1) acc[j] += __shfl_xor_sync(0xffffffffu, acc[j], off);
        if (lane < MT) {
            float y = acc[0];
            for (int j = 1; j < MT; ++j)
                if (lane == j) y = acc[j];
            if constexpr (!kGroups) y = __fmul_rn(y, g.ws[scale_index(g, o, 0)]);
            if (g.bias != nullptr) y = __fadd_rn(y, g.bias[o]);
            static_cast<float *>(g.y)[(G.m0 + lane) * g.n + o] = y;
        }
    }
}

// ---- Tiled GEMM for larger m: 64 output rows x 64 activation rows per block of 256 threads,
// each thread a 4 x 4 tile; trits decoded into shared memory. int8: 128 columns per step and
// dp4a; float: 64 columns per step and fmaf. Sums run over k in order and are flushed into the
// float accumulator at every scale-group boundary, in group order (the CPU's epilogue order).
constexpr int kTileN = 64, kTileM = 64;

template <bool kI8>
__global__ void __launch_bounds__(256) gemm_tiled_kernel(Gemm G) {
    using T = typename std::conditional<kI8, int8_t, float>::type;
    constexpr int BK = kI8 ? 128 : 64;
    constexpr int LD = kI8 ? BK + 4 : BK + 1;
    __shared__ __align__(16) T Ws[kTileN][LD];
    __shared__ __align__(16) T Xs[kTileM][LD];
    const raicuda_bitnet_gemm_args &g = G.g;
    const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
    const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTileN;
    const int64_t m0 = G.m0 + static_cast<int64_t>(blockIdx.y) * kTileM;
    const int64_t m_end = G.m0 + g.m;
    const bool groups = g.scale_kind == kScaleGroup && g.y_type != RAICUDA_BITNET_I32;
    using Acc = typename std::conditional<kI8, int, float>::type;
    Acc acc[4][4];
    float accf[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            acc[i][j] = 0;
            accf[i][j] = 0.0f;
        }
    const int64_t row_bytes = g.kp / 4;
    for (int64_t k0 = 0; k0 < g.kp; k0 += BK) {
        // weights: row r = tid / 4, bytes [8 * (tid % 4), + 8) of block k0 / 128
        {
            const int r = tid / 4, part = tid % 4;
            const int64_t o = n0 + r;
            uint2 bytes = make_uint2(0x55555555u, 0x55555555u);  // code 1 = trit 0
            if (o < g.n) bytes = *reinterpret_cast<const uint2 *>(g.w + o * row_bytes + (k0 / 128) * 32 + part * 8);
            const int s_first = kI8 ? 0 : static_cast<int>((k0 % 128) / 64) * 2;
            const int s_count = kI8 ? 4 : 2;
            for (int bi = 0; bi < 8; ++bi) {
                const uint32_t byte = ((bi < 4 ? bytes.x : bytes.y) >> (8 * (bi % 4))) & 0xffu;
                const int p = part * 8 + bi;
                for (int si = 0; si < s_count; ++si) {
                    const int s = s_first + si;
                    const int t = static_cast<int>((byte >> (6 - 2 * s)) & 3u) - 1;
                    Ws[r][32 * si + p] = static_cast<T>(t);
                }
            }
        }
        // activations: row tid / 4, columns [seg * BK / 4, + BK / 4)
        {
            const int r = tid / 4, seg = tid % 4;
            const int64_t b = m0 + r;
            for (int c = 0; c < BK / 4; ++c) {
                const int col = seg * (BK / 4) + c;
                const int64_t e = k0 + col;
                T v = 0;
                if (b < m_end && e < g.k) {
                    if constexpr (kI8) v = static_cast<const int8_t *>(g.x)[b * g.k + e];
                    else v = load_act(g.x, g.x_type, b * g.k + e);
                }
                Xs[r][col] = v;
            }
        }
        __syncthreads();
        if constexpr (kI8) {
#pragma unroll 4
            for (int kk = 0; kk < BK; kk += 4) {
                int a[4], xv[4];
                for (int i = 0; i < 4; ++i) a[i] = *reinterpret_cast<const int *>(&Ws[ty * 4 + i][kk]);
                for (int j = 0; j < 4; ++j) xv[j] = *reinterpret_cast<const int *>(&Xs[tx * 4 + j][kk]);
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) acc[i][j] = __dp4a(a[i], xv[j], acc[i][j]);
                const int64_t done = k0 + kk + 4;
                if (groups && done <= g.k && done % g.group == 0) {
                    const int64_t grp = done / g.group - 1;
                    for (int i = 0; i < 4; ++i) {
                        const int64_t o = n0 + ty * 4 + i;
                        const float sc = o < g.n ? g.ws[scale_index(g, o, grp)] : 0.0f;
                        for (int j = 0; j < 4; ++j) {
                            accf[i][j] = __fadd_rn(accf[i][j], __fmul_rn(__int2float_rn(acc[i][j]), sc));
                            acc[i][j] = 0;
                        }
                    }
                }
            }
        } else {
            for (int kk = 0; kk < BK; ++kk) {
                float a[4], xv[4];
                for (int i = 0; i < 4; ++i) a[i] = static_cast<float>(Ws[ty * 4 + i][kk]);
                for (int j = 0; j < 4; ++j) xv[j] = static_cast<float>(Xs[tx * 4 + j][kk]);
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], xv[j], acc[i][j]);
                const int64_t done = k0 + kk + 1;
                if (groups && done <= g.k && done % g.group == 0) {
                    const int64_t grp = done / g.group - 1;
                    for (int i = 0; i < 4; ++i) {
                        const int64_t o = n0 + ty * 4 + i;
                        const float sc = o < g.n ? g.ws[scale_index(g, o, grp)] : 0.0f;
                        for (int j = 0; j < 4; ++j) {
                            accf[i][j] = __fadd_rn(accf[i][j], __fmul_rn(acc[i][j], sc));
                            acc[i][j] = 0;
                        }
                    }
                }
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i) {
        const int64_t o = n0 + ty * 4 + i;
        if (o >= g.n) continue;
        for (int j = 0; j < 4; ++j) {
            const int64_t b = m0 + tx * 4 + j;
            if (b >= m_end) continue;
            if (g.y_type == RAICUDA_BITNET_I32) {
                static_cast<int32_t *>(g.y)[b * g.n + o] = static_cast<int32_t>(acc[i][j]);
                continue;
            }
            float a = accf[i][j];
            if (!groups) {
                float total;
                if constexpr (kI8) total = __int2float_rn(acc[i][j]);
                else total = acc[i][j];
                a = __fadd_rn(0.0f, __fmul_rn(total, g.ws[scale_index(g, o, 0)]));
            }
            float y;
            if constexpr (kI8) {
                y = w2a8_finish(g, a, b, o);
            } else {
                y = a;
                if (g.bias != nullptr) y = __fadd_rn(y, g.bias[o]);
            }
            static_cast<float *>(g.y)[b * g.n + o] = y;
        }
    }
}

template <int MT>
int launch_gemv(cudaStream_t s, const Gemm &G, bool groups, bool i8, bool aligned, raicuda_err *err) {
    const int64_t blocks64 = (G.g.n + kGemvWarps - 1) / kGemvWarps;
    const int grid = static_cast<int>(blocks64 < 65536 * 16 ? blocks64 : 65536 * 16);
    const dim3 block(kGemvWarps * 32);
    if (i8) {
        const size_t shm = groups ? static_cast<size_t>(2 * kGemvWarps * MT * G.g.groups) * 4 : 0;
        if (groups) {
            if (aligned) {
                RAICUDA_TRY(cudaFuncSetAttribute(gemv_i8_kernel<MT, true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(shm)), err, "cudaFuncSetAttribute");
                gemv_i8_kernel<MT, true, true><<<grid, block, shm, s>>>(G);
            } else {
                RAICUDA_TRY(cudaFuncSetAttribute(gemv_i8_kernel<MT, true, false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(shm)), err, "cudaFuncSetAttribute");
                gemv_i8_kernel<MT, true, false><<<grid, block, shm, s>>>(G);
            }
        } else if (aligned) {
            gemv_i8_kernel<MT, false, true><<<grid, block, 0, s>>>(G);
        } else {
            gemv_i8_kernel<MT, false, false><<<grid, block, 0, s>>>(G);
        }
    } else {
        if (groups) {
            if (aligned) gemv_f_kernel<MT, true, true><<<grid, block, 0, s>>>(G);
            else gemv_f_kernel<MT, true, false><<<grid, block, 0, s>>>(G);
        } else {
            if (aligned) gemv_f_kernel<MT, false, true><<<grid, block, 0, s>>>(G);
            else gemv_f_kernel<MT, false, false><<<grid, block, 0, s>>>(G);
        }
    }
    RAICUDA_TRY(cudaGetLastError(), err, "ternary gemv launch");
    return 0;
}

int gemv_dispatch(cudaStream_t s, Gemm G, int mt, bool groups, bool i8, bool aligned, raicuda_err *err) {
    G.g.m = mt;
    switch (mt) {
    case 1: return launch_gemv<1>(s, G, groups, i8, aligned, err);
    case 2: return launch_gemv<2>(s, G, groups, i8, aligned, err);
    case 3: return launch_gemv<3>(s, G, groups, i8, aligned, err);
    case 4: return launch_gemv<4>(s, G, groups, i8, aligned, err);
    case 5: return launch_gemv<5>(s, G, groups, i8, aligned, err);
    case 6: return launch_gemv<6>(s, G, groups, i8, aligned, err);
    case 7: return launch_gemv<7>(s, G, groups, i8, aligned, err);
    default: return launch_gemv<8>(s, G, groups, i8, aligned, err);
    }
}

int run_gemm(cudaStream_t s, const raicuda_bitnet_gemm_args &g, raicuda_err *err) {
    if (g.m == 0 || g.n == 0) return 0;
    if (g.kp % 128 != 0 || g.kp < g.k)
        return fail(err, RAI_ERROR_INTERNAL, "ternary gemm: the prepared row length is not padded to 128");
    const bool i8 = g.x_type == RAICUDA_BITNET_I8;
    const bool raw = g.y_type == RAICUDA_BITNET_I32;
    if (raw && !i8) return fail(err, RAI_ERROR_INTERNAL, "ternary gemm: an i32 output needs int8 activations");
    const bool single = raw || g.scale_kind != kScaleGroup;
    const int64_t groups = single ? 1 : g.groups;
    const uintptr_t xaddr = reinterpret_cast<uintptr_t>(g.x);
    // gemv: one 16-element run of a chunk must sit in one group; the int8 group sums live in
    // shared memory (2 * 8 warps * m * groups * 4 bytes, within the device's opt-in limit).
    int dev = 0, optin = 0;
    RAICUDA_TRY(cudaGetDevice(&dev), err, "cudaGetDevice");
    RAICUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), err,
                "cudaDeviceGetAttribute");
    const int64_t gemv_smem = 2 * int64_t{kGemvWarps} * (g.m < 8 ? g.m : 8) * groups * 4;
    const bool gemv_groups_ok = single || (g.group % 16 == 0 && (!i8 || gemv_smem <= optin));
    const bool tiled_ok = single || !i8 || g.group % 4 == 0;
    Gemm G{g, 0};
    if (g.m <= 8 && gemv_groups_ok) {
        const bool aligned = i8 ? (xaddr % 4 == 0 && g.k % 4 == 0)
                                : (g.x_type == RAICUDA_BITNET_F32 && xaddr % 16 == 0 && g.k % 4 == 0);
        G.m0 = 0;
        return gemv_dispatch(s, G, static_cast<int>(g.m), !single, i8, aligned, err);
    }
    if (tiled_ok) {
        const int64_t max_rows = int64_t{65535} * kTileM;
        for (int64_t m0 = 0; m0 < g.m; m0 += max_rows) {
            Gemm part{g, m0};
            part.g.m = g.m - m0 < max_rows ? g.m - m0 : max_rows;
            const dim3 grid(static_cast<unsigned>((g.n + kTileN - 1) / kTileN),
                            static_cast<unsigned>((part.g.m + kTileM - 1) / kTileM));
            if (i8) gemm_tiled_kernel<true><<<grid, 256, 0, s>>>(part);
            else gemm_tiled_kernel<false><<<grid, 256, 0, s>>>(part);
            RAICUDA_TRY(cudaGetLastError(), err, "ternary tiled gemm launch");
        }
        return 0;
    }
    gemm_generic_kernel<<<grid_for(g.m * g.n, 128), 128, 0, s>>>(G);
    RAICUDA_TRY(cudaGetLastError(), err, "ternary generic gemm launch");
    return 0;
}

// ---------------------------------------------------------------- table functions

int act_quant(int32_t ordinal, void *stream, const raicuda_bitnet_act_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    return launch_act_quant(static_cast<cudaStream_t>(stream), *a, err);
}

int act_dequant(int32_t ordinal, void *stream, const int8_t *q, const float *scales, int64_t rows, int64_t cols,
                int32_t per_tensor, int32_t mode, float *out, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    if (rows * cols == 0) return 0;
    act_dequant_kernel<<<grid_for(rows * cols, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        q, scales, rows, cols, per_tensor, mode, out);
    RAICUDA_TRY(cudaGetLastError(), err, "act_dequant_kernel launch");
    return 0;
}

int ste_forward(int32_t ordinal, void *stream, const float *x, int64_t n, float scale, float lo, float hi,
                int32_t round_mode, float *y, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    if (n == 0) return 0;
    ste_kernel<<<grid_for(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, n, scale, lo, hi, round_mode, y);
    RAICUDA_TRY(cudaGetLastError(), err, "ste_kernel launch");
    return 0;
}

int gemm(int32_t ordinal, void *stream, const raicuda_bitnet_gemm_args *g, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    return run_gemm(static_cast<cudaStream_t>(stream), *g, err);
}

int bitlinear(int32_t ordinal, void *stream, int32_t mode, const raicuda_bitnet_act_args *act,
              const raicuda_bitnet_gemm_args *g, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    if (mode != 1 && mode != 2) return fail(err, RAI_ERROR_INTERNAL, "bitlinear: mode is not FAKEQ or W2A8");
    const auto s = static_cast<cudaStream_t>(stream);
    const int64_t m = act->rows, k = act->cols;
    if (m == 0) return 0;
    const int64_t nscales = act->per_tensor ? 1 : m;
    // scratch: int8 codes, the scales, and for FAKEQ the dequantized activations
    const size_t q_bytes = (static_cast<size_t>(m * k) + 255) / 256 * 256;
    const size_t s_bytes = (static_cast<size_t>(nscales) * 4 + 255) / 256 * 256;
    const size_t d_bytes = mode == 1 ? static_cast<size_t>(m * k) * 4 : 0;
    raicuda::Scratch sc(s);
    char *scratch = nullptr;
    if (int rc = sc.get(q_bytes + s_bytes + d_bytes, &scratch, err)) return rc;
    raicuda_bitnet_act_args a = *act;
    a.q = reinterpret_cast<int8_t *>(scratch);
    a.scales = reinterpret_cast<float *>(scratch + q_bytes);
    a.rmsnorm = 0;
    int st = launch_act_quant(s, a, err);
    raicuda_bitnet_gemm_args gg = *g;
    gg.m = m;
    if (st == 0 && mode == 2) {
        gg.x = a.q;
        gg.x_type = RAICUDA_BITNET_I8;
        gg.xs = a.scales;
        gg.xs_count = nscales;
        gg.y_type = RAICUDA_BITNET_F32;
        st = run_gemm(s, gg, err);
    } else if (st == 0) {
        float *xd = reinterpret_cast<float *>(scratch + q_bytes + s_bytes);
        act_dequant_kernel<<<grid_for(m * k, 256), 256, 0, s>>>(a.q, a.scales, m, k, a.per_tensor, a.scale_mode, xd);
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) {
            std::snprintf(err->message, sizeof err->message, "act_dequant_kernel launch failed: %s", cudaGetErrorString(e));
            st = RAI_ERROR_BACKEND;
        } else {
            gg.x = xd;
            gg.x_type = RAICUDA_BITNET_F32;
            gg.xs = nullptr;
            gg.xs_count = 0;
            gg.y_type = RAICUDA_BITNET_F32;
            st = run_gemm(s, gg, err);
        }
    }
    return st;
}

const raicuda_bitnet_v1 kTable = {
    sizeof(raicuda_bitnet_v1), act_quant, act_dequant, ste_forward, gemm, bitlinear,
};

}  // namespace

}  // namespace raicuda::bitnet

extern "C" const void *raicuda_bitnet_table(void) { return &raicuda::bitnet::kTable; }
