// The "adapters/1" CUDA table: LoRA / DoRA linear forward and backward, and mixed batches.
//
// Forward, fast path (no DoRA, no dropout, a dense base, adapters in the act dtype): lora_fast.cu.
// Forward, general path (DoRA, dropout, QLoRA's y-already-holds-the-base, f32 adapters on a
// 16-bit base): the adapter input is converted to fp32 once (with the dropout mask applied, the
// same counter-based mask as the CPU path), t = x_d·Aᵀ runs as an fp32 cuBLASLt GEMM, the base
// product x·Wᵀ as a cuBLASLt GEMM in the activation dtype with an fp32 result, and one fused
// epilogue kernel adds the bias, the B·t expansion (tiled through shared memory) and the DoRA
// scaling and writes y in the activation dtype. Backward reuses cuBLASLt for every product with
// fp32 accumulation and fuses the DoRA reductions and the dropout mask into small kernels.
// Mixed batches: one base GEMM for all rows, then one segmented shrink kernel and one
// segmented expand kernel for all adapters (rows grouped by adapter on the host).
// The fast path is in lora_fast.cu; cuBLASLt plans (cached per thread) in lt_gemm.cu.

#include <cstdio>
#include <vector>

#include "adapters_cuda.cuh"
#include "rng.h"

namespace raicuda {

namespace {

using namespace adp;

using rai::adapters::dropout_keep;
using rai::adapters::mix_key;

constexpr uint64_t kStreamInput = 1;  // the CPU path's input-dropout stream (tuners.cpp)

// ---------------------------------------------------------------- kernels

// out[i] = keep(i) ? x[i]/(1-p) : 0 (fp32); p == 0: a plain conversion. Optionally also writes
// the dropped values in the activation dtype (for the DoRA base term on drop(x)).
__global__ void k_input(const void *x, int t, int64_t n, float p, uint64_t key, float *out, void *out_act) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    float v = ld(x, t, i);
    if (p > 0.0f) v = dropout_keep(key, static_cast<uint64_t>(i), p) ? v * (1.0f / (1.0f - p)) : 0.0f;
    out[i] = v;
    if (out_act != nullptr) st(out_act, t, i, v);
}

__global__ void k_to_f32(const void *x, int t, int64_t n, float scale, float *out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) out[i] = scale * ld(x, t, i);
}

// DoRA: n[j] = ‖W[j,:] + s·B[j,:]·A‖ (one block per row, fp64 accumulation like the CPU).
__global__ void k_dora_norm(const void *w, int t, const float *A, const float *B, float s, int64_t N, int64_t K,
                            int64_t r, float *norm) {
    const int64_t j = blockIdx.x;
    double acc = 0;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
        float d = 0.0f;
        for (int64_t q = 0; q < r; ++q) d = fmaf(B[j * r + q], A[q * K + k], d);
        const double v = static_cast<double>(w ? ld(w, t, j * K + k) : 0.0f) + static_cast<double>(s) * d;
        acc += v * v;
    }
    __shared__ double red[256];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) red[threadIdx.x] += red[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) norm[j] = static_cast<float>(sqrt(red[0]));
}

// The fused epilogue: y[i,j] = base + s·Σ_q T[i,q]·B[j,q] (+ DoRA), with the T and B tiles
// staged in shared memory (32 rows × 32 columns × 32 ranks per step).
//   base = Y0 + bias           (has_base == 0)   or the y already there (has_base == 1)
//   DoRA: base + (g-1)·Y0d + g·s·L, g = mag[j]/norm[j], Y0d = drop(x)·Wᵀ or Y0
__global__ void k_epilogue(void *y, int t, const float *Y0, const float *Y0d, const void *bias, const float *T,
                           const float *B, const float *mag, const float *norm, float s, int64_t M, int64_t N,
                           int64_t r, int has_base) {
    __shared__ float ts[kTile][kTile + 1];
    __shared__ float bs[kTile][kTile + 1];
    const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
    const int tx = threadIdx.x, ty = threadIdx.y;  // blockDim (32, 8): each thread 4 rows
    float acc[4] = {0, 0, 0, 0};
    for (int64_t q0 = 0; q0 < r; q0 += kTile) {
        for (int rr = ty; rr < kTile; rr += blockDim.y) {
            const int64_t ti = i0 + rr, bj = j0 + rr, q = q0 + tx;
            ts[rr][tx] = (ti < M && q < r) ? T[ti * r + q] : 0.0f;
            bs[rr][tx] = (bj < N && q < r) ? B[bj * r + q] : 0.0f;
        }
        __syncthreads();
        for (int q = 0; q < kTile; ++q) {
            const float b = bs[tx][q];
            for (int k = 0; k < 4; ++k) acc[k] = fmaf(ts[ty + k * 8][q], b, acc[k]);
        }
        __syncthreads();
    }
    const int64_t j = j0 + tx;
    if (j >= N) return;
    for (int k = 0; k < 4; ++k) {
        const int64_t i = i0 + ty + k * 8;
        if (i >= M) continue;
        const int64_t e = i * N + j;
        float base = has_base ? ld(y, t, e) : Y0[e] + (bias ? ld(bias, t, j) : 0.0f);
        float v;
        if (mag != nullptr) {
            const float g = mag[j] / norm[j];
            v = base + ((g - 1.0f) * (Y0d ? Y0d[e] : Y0[e]) + g * (acc[k] * s));
        } else {
            v = base + s * acc[k];
        }
        st(y, t, e, v);
    }
}

// DoRA backward reductions, one block per output column j:
//   dmag[j] (+)= Σ_i dY·(Yb + s·L)/n;  G = dY·g·s;  dY0 = dY·(g-1)
__global__ void k_dora_back(const float *dY, const float *Yb, const float *L, const float *mag, const float *norm,
                            float s, int64_t M, int64_t N, float *G, float *dY0, float *dmag, int accumulate) {
    const int64_t j = blockIdx.x;
    const float g = mag[j] / norm[j];
    double acc = 0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const int64_t e = i * N + j;
        const float dy = dY[e];
        acc += static_cast<double>(dy) * (Yb[e] + s * L[e]);
        G[e] = dy * g * s;
        dY0[e] = dy * (g - 1.0f);
    }
    __shared__ double red[256];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) red[threadIdx.x] += red[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0 && dmag != nullptr) {
        const float v = static_cast<float>(red[0] / norm[j]);
        dmag[j] = accumulate ? dmag[j] + v : v;
    }
}

// dx = base + mask ⊙ adapter (fp32 parts; `base` NULL: the dx already there, in act dtype).
__global__ void k_dx(void *dx, int t, const float *base, const float *adapter, int64_t n, float p, uint64_t key) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    float m = 1.0f;
    if (p > 0.0f) m = dropout_keep(key, static_cast<uint64_t>(i), p) ? 1.0f / (1.0f - p) : 0.0f;
    const float b = base ? base[i] : ld(dx, t, i);
    st(dx, t, i, b + m * adapter[i]);
}

// Segmented shrink: T[row, q] = Σ_k x[perm[row], k]·A_a[q, k] for the rows of each segment
// (grid.x = segment, grid.y strides over its rows; one warp per (row, q)).
__global__ void k_sgmv_shrink(const void *x, int t, int pt, int64_t K, const int64_t *perm, const int64_t *seg_start,
                              const int32_t *seg_adapter, const void *const *A, const int32_t *ranks, int32_t rmax,
                              float *T) {
    const int seg = blockIdx.x;
    const int32_t a = seg_adapter[seg];
    if (a < 0) return;
    const int64_t r0 = seg_start[seg], r1 = seg_start[seg + 1];
    const int32_t r = ranks[a];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const int64_t work = (r1 - r0) * r;
    for (int64_t w = static_cast<int64_t>(blockIdx.y) * warps + warp; w < work;
         w += static_cast<int64_t>(gridDim.y) * warps) {
        const int64_t row = r0 + w / r, q = w % r;
        const int64_t src = perm[row];
        float acc = 0.0f;
        for (int64_t k = lane; k < K; k += 32) acc = fmaf(ld(x, t, src * K + k), ld(A[a], pt, q * K + k), acc);
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
        if (lane == 0) T[row * rmax + q] = acc;
    }
}

// Segmented expand + epilogue: y[perm[row], j] = Y0 + bias + s_a·Σ_q T[row,q]·B_a[j,q].
__global__ void k_sgmv_expand(void *y, int t, int pt, const float *Y0, const void *bias, int64_t N, const int64_t *perm,
                              const int64_t *seg_start, const int32_t *seg_adapter, const void *const *B,
                              const int32_t *ranks, const float *scaling, int32_t rmax, const float *T) {
    const int seg = blockIdx.x;
    const int32_t a = seg_adapter[seg];
    const int64_t r0 = seg_start[seg], r1 = seg_start[seg + 1];
    const int64_t work = (r1 - r0) * N;
    for (int64_t w = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x; w < work;
         w += static_cast<int64_t>(gridDim.y) * blockDim.x) {
        const int64_t row = r0 + w / N, j = w % N;
        const int64_t dst = perm[row];
        float v = Y0[dst * N + j] + (bias ? ld(bias, t, j) : 0.0f);
        if (a >= 0) {
            float acc = 0.0f;
            for (int32_t q = 0; q < ranks[a]; ++q) acc = fmaf(T[row * rmax + q], ld(B[a], pt, j * ranks[a] + q), acc);
            v += scaling[a] * acc;
        }
        st(y, t, dst * N + j, v);
    }
}

int params_f32(cudaStream_t s, Scratch &sc, const void *p, int pt, int64_t n, const float **out, raicuda_err *err) {
    if (pt == RAICUDA_F32 || p == nullptr) {
        *out = static_cast<const float *>(p);
        return 0;
    }
    float *f = nullptr;
    if (int rc = sc.get(static_cast<size_t>(n), &f, err)) return rc;
    k_to_f32<<<ceil_blocks(n, 256), 256, 0, s>>>(p, pt, n, 1.0f, f);
    *out = f;
    return 0;
}

int lora_forward(int32_t ordinal, void *stream, const raicuda_lora_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    if (M == 0 || N == 0) return 0;
    const bool training = (a->flags & RAI_LORA_TRAINING) != 0;
    const float p = training ? a->dropout : 0.0f;
    const uint64_t key = mix_key(a->dropout_key, kStreamInput);
    const bool dora = a->magnitude != nullptr, has_base = a->w == nullptr;
    if (!dora && !(p > 0.0f) && !has_base && a->param_type == a->act_type && K > 0)
        return lora_forward_fast(ordinal, s, sc, a, err);
    float *Xd = nullptr, *T = nullptr, *Y0 = nullptr, *Y0d = nullptr, *norm = nullptr;
    void *Xd_act = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &Xd, err)) return rc;
    if (dora && p > 0.0f)
        if (int rc = sc.get(static_cast<size_t>(M * K) * type_size(a->act_type) / 4 + 1, reinterpret_cast<float **>(&Xd_act), err))
            return rc;
    k_input<<<ceil_blocks(M * K, 256), 256, 0, s>>>(a->x, a->act_type, M * K, p, key, Xd, Xd_act);
    RAICUDA_TRY(cudaGetLastError(), err, "input kernel");
    const float *A32 = nullptr, *B32 = nullptr, *mag32 = nullptr;
    if (int rc = params_f32(s, sc, a->a, a->param_type, r * K, &A32, err)) return rc;
    if (int rc = params_f32(s, sc, a->b, a->param_type, N * r, &B32, err)) return rc;
    if (int rc = params_f32(s, sc, a->magnitude, a->param_type, N, &mag32, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &T, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, true, M, r, K, 1.0f, Xd, K, A32, K, RAICUDA_F32, 0.0f, T, r, err)) return rc;
    if (!has_base) {
        if (int rc = sc.get(static_cast<size_t>(M * N), &Y0, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, a->x, K, a->w, K, a->act_type, 0.0f, Y0, N, err))
            return rc;
    }
    if (dora) {
        if (has_base) {
            std::snprintf(err->message, sizeof err->message, "DoRA needs the base weight");
            return RAI_ERROR_INTERNAL;
        }
        if (int rc = sc.get(static_cast<size_t>(N), &norm, err)) return rc;
        k_dora_norm<<<static_cast<unsigned>(N), 256, 0, s>>>(a->w, a->act_type, A32, B32, a->scaling, N, K, r, norm);
        if (Xd_act != nullptr) {
            if (int rc = sc.get(static_cast<size_t>(M * N), &Y0d, err)) return rc;
            if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, Xd_act, K, a->w, K, a->act_type, 0.0f, Y0d, N,
                                 err))
                return rc;
        }
    }
    const dim3 grid(ceil_blocks(N, kTile), ceil_blocks(M, kTile)), block(kTile, 8);
    k_epilogue<<<grid, block, 0, s>>>(a->y, a->act_type, Y0, Y0d, a->bias, T, B32, dora ? mag32 : nullptr, norm,
                                      a->scaling, M, N, r, has_base ? 1 : 0);
    RAICUDA_TRY(cudaGetLastError(), err, "epilogue kernel");
    return 0;
}

int lora_backward(int32_t ordinal, void *stream, const raicuda_lora_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    const bool training = (a->flags & RAI_LORA_TRAINING) != 0;
    const bool acc = (a->flags & RAI_LORA_ACCUMULATE) != 0;
    const float p = training ? a->dropout : 0.0f;
    const uint64_t key = mix_key(a->dropout_key, kStreamInput);
    const bool dora = a->magnitude != nullptr, has_base = a->w == nullptr;
    if (dora && has_base) {
        std::snprintf(err->message, sizeof err->message, "DoRA needs the base weight");
        return RAI_ERROR_INTERNAL;
    }
    float *Xd = nullptr, *T = nullptr, *dY = nullptr, *G = nullptr, *dT = nullptr;
    void *Xd_act = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &Xd, err)) return rc;
    if (dora && p > 0.0f)
        if (int rc = sc.get(static_cast<size_t>(M * K) * type_size(a->act_type) / 4 + 1, reinterpret_cast<float **>(&Xd_act), err))
            return rc;
    k_input<<<ceil_blocks(M * K, 256), 256, 0, s>>>(a->x, a->act_type, M * K, p, key, Xd, Xd_act);
    const float *A32 = nullptr, *B32 = nullptr, *mag32 = nullptr;
    if (int rc = params_f32(s, sc, a->a, a->param_type, r * K, &A32, err)) return rc;
    if (int rc = params_f32(s, sc, a->b, a->param_type, N * r, &B32, err)) return rc;
    if (int rc = params_f32(s, sc, a->magnitude, a->param_type, N, &mag32, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &T, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, true, M, r, K, 1.0f, Xd, K, A32, K, RAICUDA_F32, 0.0f, T, r, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * N), &dY, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * N), &G, err)) return rc;
    float *dY0 = nullptr;  // DoRA: gradient of the (g-1)·Y0 term
    if (dora) {
        float *norm = nullptr, *L = nullptr, *Yb = nullptr;
        if (int rc = sc.get(static_cast<size_t>(N), &norm, err)) return rc;
        k_dora_norm<<<static_cast<unsigned>(N), 256, 0, s>>>(a->w, a->act_type, A32, B32, a->scaling, N, K, r, norm);
        if (int rc = sc.get(static_cast<size_t>(M * N), &L, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, r, 1.0f, T, r, B32, r, RAICUDA_F32, 0.0f, L, N, err)) return rc;
        if (int rc = sc.get(static_cast<size_t>(M * N), &Yb, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, Xd_act ? Xd_act : a->x, K, a->w, K, a->act_type, 0.0f,
                             Yb, N, err))
            return rc;
        if (int rc = sc.get(static_cast<size_t>(M * N), &dY0, err)) return rc;
        k_to_f32<<<ceil_blocks(M * N, 256), 256, 0, s>>>(a->dy, a->act_type, M * N, 1.0f, dY);
        k_dora_back<<<static_cast<unsigned>(N), 256, 0, s>>>(dY, Yb, L, mag32, norm, a->scaling, M, N, G, dY0,
                                                              a->dmagnitude, acc ? 1 : 0);
    } else {
        k_to_f32<<<ceil_blocks(M * N, 256), 256, 0, s>>>(a->dy, a->act_type, M * N, a->scaling, G);
    }
    RAICUDA_TRY(cudaGetLastError(), err, "backward kernels");
    // dB (+)= Gᵀ·T, dT = G·B, dA (+)= dTᵀ·x_d
    if (a->db != nullptr)
        if (int rc = gemm_rm(ordinal, s, true, false, N, r, M, 1.0f, G, N, T, r, RAICUDA_F32, acc ? 1.0f : 0.0f, a->db, r,
                             err))
            return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &dT, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, false, M, r, N, 1.0f, G, N, B32, r, RAICUDA_F32, 0.0f, dT, r, err)) return rc;
    if (a->da != nullptr)
        if (int rc = gemm_rm(ordinal, s, true, false, r, K, M, 1.0f, dT, r, Xd, K, RAICUDA_F32, acc ? 1.0f : 0.0f, a->da, K,
                             err))
            return rc;
    if (a->dx == nullptr) return 0;
    float *dXa = nullptr, *dXb = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &dXa, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, false, M, K, r, 1.0f, dT, r, A32, K, RAICUDA_F32, 0.0f, dXa, K, err)) return rc;
    if (!has_base) {
        if (int rc = sc.get(static_cast<size_t>(M * K), &dXb, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, false, M, K, N, 1.0f, a->dy, N, a->w, K, a->act_type, 0.0f, dXb, K, err))
            return rc;
    }
    if (dora) {  // dY0·W into the masked (dropout) or the unmasked part
        const float *W32 = nullptr;
        if (int rc = params_f32(s, sc, a->w, a->act_type, N * K, &W32, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, false, M, K, N, 1.0f, dY0, N, W32, K, RAICUDA_F32, 1.0f,
                             p > 0.0f ? dXa : dXb, K, err))
            return rc;
    }
    k_dx<<<ceil_blocks(M * K, 256), 256, 0, s>>>(a->dx, a->act_type, dXb, dXa, M * K, p, key);
    RAICUDA_TRY(cudaGetLastError(), err, "dx kernel");
    return 0;
}

// Blocks per segment for `work` items of the largest segment at `per_block` a block: enough for
// all of it (capped at the grid limit), and fewer when many segments would launch mostly idle
// blocks (never fewer than enough to fill the GPU for the largest one).
unsigned sgmv_grid_y(int64_t work, int64_t per_block, int32_t n_segments) {
    constexpr int64_t kMaxY = 65535, kFillGpu = 2048, kMaxBlocks = int64_t{1} << 18;
    int64_t y = (work + per_block - 1) / per_block;
    const int64_t cap = n_segments > 0 && kMaxBlocks / n_segments > kFillGpu ? kMaxBlocks / n_segments : kFillGpu;
    y = y < cap ? y : cap;
    y = y < kMaxY ? y : kMaxY;
    return static_cast<unsigned>(y < 1 ? 1 : y);
}

int lora_forward_mixed(int32_t ordinal, void *stream, const raicuda_lora_mixed_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K;
    if (M == 0 || N == 0) return 0;
    float *Y0 = nullptr, *T = nullptr, *scal = nullptr;
    int64_t *perm = nullptr, *seg = nullptr;
    int32_t *seg_ad = nullptr, *ranks = nullptr;
    const void **Ap = nullptr, **Bp = nullptr;
    int32_t rmax = 1;
    for (int32_t i = 0; i < a->n_adapters; ++i) rmax = a->ranks_host[i] > rmax ? a->ranks_host[i] : rmax;
    const int32_t na = a->n_adapters > 0 ? a->n_adapters : 1;
    if (int rc = sc.get(static_cast<size_t>(M * N), &Y0, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * rmax), &T, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M), &perm, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(a->n_segments + 1), &seg, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(a->n_segments), &seg_ad, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &ranks, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &scal, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &Ap, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &Bp, err)) return rc;
    // Pageable host sources: cudaMemcpyAsync stages them before returning.
    RAICUDA_TRY(cudaMemcpyAsync(perm, a->perm_host, M * sizeof(int64_t), cudaMemcpyHostToDevice, s), err, "copy perm");
    RAICUDA_TRY(cudaMemcpyAsync(seg, a->seg_start_host, (a->n_segments + 1) * sizeof(int64_t), cudaMemcpyHostToDevice, s),
                err, "copy segments");
    RAICUDA_TRY(cudaMemcpyAsync(seg_ad, a->seg_adapter_host, a->n_segments * sizeof(int32_t), cudaMemcpyHostToDevice, s),
                err, "copy segment adapters");
    if (a->n_adapters > 0) {
        RAICUDA_TRY(cudaMemcpyAsync(ranks, a->ranks_host, a->n_adapters * sizeof(int32_t), cudaMemcpyHostToDevice, s), err,
                    "copy ranks");
        RAICUDA_TRY(cudaMemcpyAsync(scal, a->scaling_host, a->n_adapters * sizeof(float), cudaMemcpyHostToDevice, s), err,
                    "copy scaling");
        RAICUDA_TRY(cudaMemcpyAsync(Ap, a->a_host, a->n_adapters * sizeof(void *), cudaMemcpyHostToDevice, s), err,
                    "copy A pointers");
        RAICUDA_TRY(cudaMemcpyAsync(Bp, a->b_host, a->n_adapters * sizeof(void *), cudaMemcpyHostToDevice, s), err,
                    "copy B pointers");
    }
    // One base GEMM for every row.
    if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, a->x, K, a->w, K, a->act_type, 0.0f, Y0, N, err)) return rc;
    // grid.y follows the largest segment's work so that one big segment fills the GPU; the kernels
    // stride over their rows, so any grid.y gives the same results.
    int64_t max_rows = 0;
    for (int32_t i = 0; i < a->n_segments; ++i) {
        const int64_t rows = a->seg_start_host[i + 1] - a->seg_start_host[i];
        max_rows = rows > max_rows ? rows : max_rows;
    }
    const dim3 grid_s(static_cast<unsigned>(a->n_segments), sgmv_grid_y(max_rows * rmax, 256 / 32, a->n_segments)),
        grid_e(static_cast<unsigned>(a->n_segments), sgmv_grid_y(max_rows * N, 256, a->n_segments));
    k_sgmv_shrink<<<grid_s, 256, 0, s>>>(a->x, a->act_type, a->param_type, K, perm, seg, seg_ad, Ap, ranks, rmax, T);
    k_sgmv_expand<<<grid_e, 256, 0, s>>>(a->y, a->act_type, a->param_type, Y0, a->bias, N, perm, seg, seg_ad, Bp, ranks,
                                         scal, rmax, T);
    RAICUDA_TRY(cudaGetLastError(), err, "segmented LoRA kernels");
    return 0;
}

const raicuda_adapters kTable = {sizeof(raicuda_adapters), lora_forward, lora_backward, lora_forward_mixed};

}  // namespace

const void *adapters_capability() { return &kTable; }

}  // namespace raicuda
