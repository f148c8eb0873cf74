// The "compress/1" table: gradient-compression kernels (EF add, reductions, top-k selection,
// sign / ternary / QSGD packing and unpacking) and an f32 GEMM through cuBLASLt for PowerSGD.
// Per-element arithmetic and the counter RNG come from src/compress/gc_common.h, shared with the
// CPU reference, so packed codes are bit-identical to the CPU's.
#include <cublasLt.h>
#include <cub/device/device_radix_sort.cuh>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <vector>

#include "compress/cuda_compress_abi.h"
#include "compress/gc_common.h"
#include "error_util.cuh"
#include "launch.cuh"
#include "scratch.cuh"

#if __has_include(<nccl.h>)
#include <nccl.h>
#define RAICUDA_HAVE_NCCL_H 1
#endif

namespace raicuda {

namespace {

namespace gc = rai::gc;

constexpr int kThreads = 256;
constexpr int kReduceBlocks = 256;  // fixed grid: reduction results do not depend on the device

// blocks_for and RAICUDA_GRID_LOOP: core/launch.cuh

#define GC_LAUNCHED(err, what)                                \
    do {                                                      \
        RAICUDA_TRY(cudaGetLastError(), err, what " launch"); \
        return 0;                                             \
    } while (0)

cudaStream_t S(void *s) { return static_cast<cudaStream_t>(s); }

__device__ __forceinline__ float load_grad(const void *g, int32_t dt, int64_t i) {
    return dt == RAICUDA_GC_BF16 ? gc::bf16_to_f32(static_cast<const uint16_t *>(g)[i]) : static_cast<const float *>(g)[i];
}

// ---------------------------------------------------------------- elementwise
__global__ void ef_add_kernel(const void *g, int32_t dt, const float *r, float *m, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) { m[i] = load_grad(g, dt, i) + (r ? r[i] : 0.0f); }
}
__global__ void momentum_add_kernel(const void *g, int32_t dt, const float *u, float mu, const float *r, float *u_out,
                                    float *m, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) {
        const float v = gc::momentum_step(mu, u[i], load_grad(g, dt, i));
        u_out[i] = v;
        m[i] = v + (r ? r[i] : 0.0f);
    }
}
__global__ void zero_where_kernel(const float *mask, float *x, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) {
        if (mask[i] != 0.0f) x[i] = 0.0f;
    }
}
__global__ void sub_kernel(const float *a, const float *b, float *o, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) { o[i] = a[i] - b[i]; }
}
__global__ void store_kernel(const float *x, void *out, int32_t dt, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) {
        if (dt == RAICUDA_GC_BF16) static_cast<uint16_t *>(out)[i] = gc::f32_to_bf16(x[i]);
        else static_cast<float *>(out)[i] = x[i];
    }
}

int ef_add(int32_t dev, void *stream, const void *grad, int32_t dt, const float *res, float *m, size_t n,
           raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    ef_add_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(grad, dt, res, m, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "ef_add");
}
int momentum_add(int32_t dev, void *stream, const void *grad, int32_t dt, const float *u, float mu, const float *res,
                 float *u_out, float *m, size_t n, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    momentum_add_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(grad, dt, u, mu, res, u_out, m,
                                                                   static_cast<int64_t>(n));
    GC_LAUNCHED(err, "momentum_add");
}
int zero_where(int32_t dev, void *stream, const float *mask, float *x, size_t n, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    zero_where_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(mask, x, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "zero_where");
}
int sub(int32_t dev, void *stream, const float *a, const float *b, float *out, size_t n, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    sub_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(a, b, out, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "sub");
}
int store(int32_t dev, void *stream, const float *x, void *out, int32_t dt, size_t n, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    store_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(x, out, dt, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "store");
}

// ---------------------------------------------------------------- reductions
// Each block writes K partials; the host adds them in block order (deterministic).
template <int K>
__device__ void block_reduce_store(double (&v)[K], const bool (&is_max)[K], double *out) {
    __shared__ double sh[K][kThreads];
    for (int k = 0; k < K; ++k) sh[k][threadIdx.x] = v[k];
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            for (int k = 0; k < K; ++k)
                sh[k][threadIdx.x] = is_max[k] ? fmax(sh[k][threadIdx.x], sh[k][threadIdx.x + s])
                                               : sh[k][threadIdx.x] + sh[k][threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        for (int k = 0; k < K; ++k) out[blockIdx.x * K + k] = sh[k][0];
}

__global__ void stats_kernel(const float *x, int64_t n, float thr, double *partials) {
    double v[5] = {0, 0, 0, 0, 0};
    const bool is_max[5] = {false, false, true, false, false};
    RAICUDA_GRID_LOOP(i, n) {
        const float a = fabsf(x[i]);
        v[0] += a;
        v[1] += static_cast<double>(x[i]) * x[i];
        v[2] = fmax(v[2], static_cast<double>(a));  // fmax drops NaN, like the CPU's std::max
        if (a > thr) v[3] += 1.0, v[4] += a;
    }
    block_reduce_store<5>(v, is_max, partials);
}

__global__ void dot3_kernel(const float *a, const float *b, int64_t n, double *partials) {
    double v[3] = {0, 0, 0};
    const bool is_max[3] = {false, false, false};
    RAICUDA_GRID_LOOP(i, n) {
        const double x = a[i], y = b[i];
        v[0] += x * y;
        v[1] += x * x;
        v[2] += y * y;
    }
    block_reduce_store<3>(v, is_max, partials);
}

template <int K, class Launch>
int reduce_to_host(int32_t dev, void *stream, const bool (&is_max)[K], double *out, raicuda_err *err, Launch &&launch,
                   const char *what) {
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    Scratch sc(S(stream));
    double *d = nullptr;
    if (int rc = sc.get(static_cast<size_t>(K) * kReduceBlocks, &d, err)) return rc;
    launch(d);
    cudaError_t st = cudaGetLastError();
    std::vector<double> h(static_cast<size_t>(K) * kReduceBlocks);
    if (st == cudaSuccess)
        st = cudaMemcpyAsync(h.data(), d, sizeof(double) * h.size(), cudaMemcpyDeviceToHost, S(stream));
    if (st == cudaSuccess) st = cudaStreamSynchronize(S(stream));
    RAICUDA_TRY(st, err, what);
    for (int k = 0; k < K; ++k) out[k] = 0;
    for (int b = 0; b < kReduceBlocks; ++b)
        for (int k = 0; k < K; ++k)
            out[k] = is_max[k] ? std::fmax(out[k], h[static_cast<size_t>(b) * K + k]) : out[k] + h[static_cast<size_t>(b) * K + k];
    return 0;
}

int stats(int32_t dev, void *stream, const float *x, size_t n, float thr, double out[5], raicuda_err *err) {
    const bool is_max[5] = {false, false, true, false, false};
    return reduce_to_host<5>(
        dev, stream, is_max, out, err,
        [&](double *d) { stats_kernel<<<kReduceBlocks, kThreads, 0, S(stream)>>>(x, static_cast<int64_t>(n), thr, d); },
        "stats");
}

int dot3(int32_t dev, void *stream, const float *a, const float *b, size_t n, double out[3], raicuda_err *err) {
    const bool is_max[3] = {false, false, false};
    return reduce_to_host<3>(
        dev, stream, is_max, out, err,
        [&](double *d) { dot3_kernel<<<kReduceBlocks, kThreads, 0, S(stream)>>>(a, b, static_cast<int64_t>(n), d); },
        "dot3");
}

// ---------------------------------------------------------------- top-k
__global__ void topk_keys_kernel(const float *x, uint32_t *keys, uint32_t *idx, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) {
        keys[i] = gc::magnitude_key(x[i]);
        idx[i] = static_cast<uint32_t>(i);
    }
}
__global__ void gather_kernel(const float *x, const uint32_t *idx, float *val, int64_t k) {
    RAICUDA_GRID_LOOP(j, k) { val[j] = x[idx[j]]; }
}
__global__ void scatter_kernel(const uint32_t *idx, const float *val, float *out, int64_t k) {
    RAICUDA_GRID_LOOP(j, k) { out[idx[j]] = val[j]; }
}

// Selection by a stable descending radix sort of (magnitude key, index): equal magnitudes keep
// ascending index order, the CPU's tie rule. The k winners are then sorted by index.
int topk(int32_t dev, void *stream, const float *x, size_t n, size_t k, uint32_t *idx_out, float *val_out,
         raicuda_err *err) {
    if (k == 0 || n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    const int nn = static_cast<int>(n), kk = static_cast<int>(k);
    uint32_t *keys = nullptr, *keys_sorted = nullptr, *idx = nullptr, *idx_sorted = nullptr;
    char *tmp = nullptr;
    size_t tmp_bytes = 0, tmp2 = 0;
    cudaError_t st = cub::DeviceRadixSort::SortPairsDescending(nullptr, tmp_bytes, keys, keys_sorted, idx, idx_sorted,
                                                               nn, 0, 32, S(stream));
    if (st == cudaSuccess)
        st = cub::DeviceRadixSort::SortKeys(nullptr, tmp2, idx_sorted, idx_out, kk, 0, 32, S(stream));
    if (tmp2 > tmp_bytes) tmp_bytes = tmp2;
    RAICUDA_TRY(st, err, "top-k selection (size query)");
    Scratch sc(S(stream));
    if (int rc = sc.get(n, &keys, err)) return rc;
    if (int rc = sc.get(n, &keys_sorted, err)) return rc;
    if (int rc = sc.get(n, &idx, err)) return rc;
    if (int rc = sc.get(n, &idx_sorted, err)) return rc;
    if (int rc = sc.get(tmp_bytes, &tmp, err)) return rc;
    topk_keys_kernel<<<blocks_for(nn), kThreads, 0, S(stream)>>>(x, keys, idx, nn);
    st = cudaGetLastError();
    if (st == cudaSuccess)
        st = cub::DeviceRadixSort::SortPairsDescending(tmp, tmp_bytes, keys, keys_sorted, idx, idx_sorted, nn, 0, 32,
                                                       S(stream));
    if (st == cudaSuccess)  // the first k indices, ascending
        st = cub::DeviceRadixSort::SortKeys(tmp, tmp_bytes, idx_sorted, idx_out, kk, 0, 32, S(stream));
    if (st == cudaSuccess) {
        gather_kernel<<<blocks_for(kk), kThreads, 0, S(stream)>>>(x, idx_out, val_out, kk);
        st = cudaGetLastError();
    }
    RAICUDA_TRY(st, err, "top-k selection");
    return 0;
}

int unpack_topk(int32_t dev, void *stream, const uint32_t *idx, const float *val, size_t k, float *out, size_t n,
                raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    if (n) RAICUDA_TRY(cudaMemsetAsync(out, 0, 4 * n, S(stream)), err, "cudaMemsetAsync");
    if (k == 0) return 0;
    scatter_kernel<<<blocks_for(k), kThreads, 0, S(stream)>>>(idx, val, out, static_cast<int64_t>(k));
    GC_LAUNCHED(err, "unpack_topk");
}

// ---------------------------------------------------------------- sign and ternary
__global__ void pack_sign_kernel(const float *x, int64_t n, uint8_t *bits) {
    const int64_t nb = (n + 7) / 8;
    RAICUDA_GRID_LOOP(b, nb) {
        uint32_t v = 0;
        for (int j = 0; j < 8 && b * 8 + j < n; ++j) v |= static_cast<uint32_t>(x[b * 8 + j] < 0.0f) << j;
        bits[b] = static_cast<uint8_t>(v);
    }
}
__global__ void unpack_sign_kernel(const uint8_t *bits, float s, float *out, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) { out[i] = ((bits[i / 8] >> (i % 8)) & 1) ? -s : s; }
}
__global__ void pack_ternary_kernel(const float *x, int64_t n, float thr, int32_t stoch, float scale, uint64_t key,
                                    uint8_t *codes) {
    const int64_t nb = (n + 3) / 4;
    RAICUDA_GRID_LOOP(b, nb) {
        uint32_t v = 0;
        for (int j = 0; j < 4 && b * 4 + j < n; ++j) {
            const int64_t i = b * 4 + j;
            const float a = fabsf(x[i]);
            bool keep;
            if (stoch) {
                const float p = a / scale;
                keep = scale > 0.0f && gc::rng_uniform(key, static_cast<uint64_t>(i)) < p;
            } else {
                keep = a > thr;
            }
            if (keep) v |= static_cast<uint32_t>(x[i] < 0 ? gc::kTritMinus : gc::kTritPlus) << (2 * j);
        }
        codes[b] = static_cast<uint8_t>(v);
    }
}
__global__ void unpack_ternary_kernel(const uint8_t *codes, float s, float *out, int64_t n) {
    RAICUDA_GRID_LOOP(i, n) { out[i] = s * gc::trit_value((codes[i / 4] >> (2 * (i % 4))) & 3); }
}

int pack_sign(int32_t dev, void *stream, const float *x, size_t n, uint8_t *bits, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    pack_sign_kernel<<<blocks_for((n + 7) / 8), kThreads, 0, S(stream)>>>(x, static_cast<int64_t>(n), bits);
    GC_LAUNCHED(err, "pack_sign");
}
int unpack_sign(int32_t dev, void *stream, const uint8_t *bits, float scale, float *out, size_t n, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    unpack_sign_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(bits, scale, out, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "unpack_sign");
}
int pack_ternary(int32_t dev, void *stream, const float *x, size_t n, float thr, int32_t stoch, float scale,
                 uint64_t key, uint8_t *codes, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    pack_ternary_kernel<<<blocks_for((n + 3) / 4), kThreads, 0, S(stream)>>>(x, static_cast<int64_t>(n), thr, stoch,
                                                                               scale, key, codes);
    GC_LAUNCHED(err, "pack_ternary");
}
int unpack_ternary(int32_t dev, void *stream, const uint8_t *codes, float scale, float *out, size_t n,
                   raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    unpack_ternary_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(codes, scale, out, static_cast<int64_t>(n));
    GC_LAUNCHED(err, "unpack_ternary");
}

// ---------------------------------------------------------------- QSGD
// One block per bucket: max |x| (NaN ignored), like the CPU.
__global__ void qsgd_scale_kernel(const float *x, int64_t n, uint32_t bucket, float *scales) {
    __shared__ float sh[kThreads];
    const int64_t lo = static_cast<int64_t>(blockIdx.x) * bucket;
    const int64_t hi = min(n, lo + static_cast<int64_t>(bucket));
    float m = 0.0f;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) m = fmaxf(m, fabsf(x[i]));
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) scales[blockIdx.x] = sh[0];
}
// One thread per output byte (widths 2, 4, 8) or per element (16).
__global__ void qsgd_code_kernel(const float *x, int64_t n, uint32_t bucket, const float *scales, uint32_t levels,
                                 uint32_t width, uint64_t key, uint8_t *codes) {
    if (width == 16) {
        RAICUDA_GRID_LOOP(i, n) {
            const uint32_t c = gc::qsgd_code(x[i], scales[i / bucket], levels, 16, gc::rng_uniform(key, i));
            reinterpret_cast<uint16_t *>(codes)[i] = static_cast<uint16_t>(c);
        }
        return;
    }
    const int per = 8 / static_cast<int>(width);
    const int64_t nb = (n * width + 7) / 8;
    RAICUDA_GRID_LOOP(b, nb) {
        uint32_t v = 0;
        for (int j = 0; j < per && b * per + j < n; ++j) {
            const int64_t i = b * per + j;
            v |= gc::qsgd_code(x[i], scales[i / bucket], levels, width, gc::rng_uniform(key, i)) << (j * width);
        }
        codes[b] = static_cast<uint8_t>(v);
    }
}
__global__ void qsgd_value_kernel(const uint8_t *codes, const float *scales, int64_t n, uint32_t bucket,
                                  uint32_t levels, uint32_t width, float *out) {
    RAICUDA_GRID_LOOP(i, n) {
        uint32_t c;
        if (width == 16) {
            c = codes[2 * i] | (static_cast<uint32_t>(codes[2 * i + 1]) << 8);
        } else {
            const int64_t bit = i * width;
            c = (codes[bit / 8] >> (bit % 8)) & ((1u << width) - 1);
        }
        out[i] = gc::qsgd_value(c, scales[i / bucket], levels, width);
    }
}

int qsgd_pack(int32_t dev, void *stream, const float *x, size_t n, uint32_t bucket, uint32_t levels, uint32_t width,
              uint64_t key, float *scales, uint8_t *codes, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    const int64_t nb = (static_cast<int64_t>(n) + bucket - 1) / bucket;
    qsgd_scale_kernel<<<static_cast<unsigned>(nb), kThreads, 0, S(stream)>>>(x, static_cast<int64_t>(n), bucket, scales);
    RAICUDA_TRY(cudaGetLastError(), err, "qsgd scale launch");
    const int64_t work = width == 16 ? static_cast<int64_t>(n) : (static_cast<int64_t>(n) * width + 7) / 8;
    qsgd_code_kernel<<<blocks_for(work), kThreads, 0, S(stream)>>>(x, static_cast<int64_t>(n), bucket, scales, levels,
                                                                   width, key, codes);
    GC_LAUNCHED(err, "qsgd_pack");
}
int qsgd_unpack(int32_t dev, void *stream, const uint8_t *codes, const float *scales, size_t n, uint32_t bucket,
                uint32_t levels, uint32_t width, float *out, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    qsgd_value_kernel<<<blocks_for(n), kThreads, 0, S(stream)>>>(codes, scales, static_cast<int64_t>(n), bucket, levels,
                                                                 width, out);
    GC_LAUNCHED(err, "qsgd_unpack");
}

// ---------------------------------------------------------------- GEMM (cuBLASLt, f32)
#define LT_TRY(expr, what)                                                                                      \
    do {                                                                                                        \
        const cublasStatus_t lt_st_ = (expr);                                                                   \
        if (lt_st_ != CUBLAS_STATUS_SUCCESS) {                                                                  \
            std::snprintf(err->message, sizeof err->message, "%s failed: cuBLASLt status %d", what, int(lt_st_)); \
            status = RAI_ERROR_BACKEND;                                                                         \
            goto done;                                                                                          \
        }                                                                                                       \
    } while (0)

cublasLtHandle_t lt_handle(int32_t dev) {
    static std::mutex mu;
    static std::vector<cublasLtHandle_t> handles;
    std::lock_guard<std::mutex> lock(mu);
    if (handles.size() <= static_cast<size_t>(dev)) handles.resize(static_cast<size_t>(dev) + 1, nullptr);
    if (handles[static_cast<size_t>(dev)] == nullptr) {
        cublasLtHandle_t h = nullptr;
        if (cublasLtCreate(&h) != CUBLAS_STATUS_SUCCESS) return nullptr;
        handles[static_cast<size_t>(dev)] = h;  // kept for the life of the process, like the plugin
    }
    return handles[static_cast<size_t>(dev)];
}

// Row-major C (m x n) = op(A) op(B) is column-major C^T (n x m) = op(B)^T op(A)^T: the row-major
// buffers are the column-major transposes, so B goes first.
int gemm(int32_t dev, void *stream, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k, const float *a,
         const float *b, float *c, raicuda_err *err) {
    if (m == 0 || n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    if (k == 0) {
        RAICUDA_TRY(cudaMemsetAsync(c, 0, sizeof(float) * static_cast<size_t>(m * n), S(stream)), err, "cudaMemsetAsync");
        return 0;
    }
    int status = 0;
    cublasLtHandle_t h = lt_handle(dev);
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t lx = nullptr, ly = nullptr, lc = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    const float alpha = 1.0f, beta = 0.0f;
    const cublasOperation_t opx = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opy = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    size_t workspace = 0;
    if (h == nullptr) {
        std::snprintf(err->message, sizeof err->message, "cublasLtCreate failed");
        return RAI_ERROR_BACKEND;
    }
    LT_TRY(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    LT_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opx, sizeof opx), "set TRANSA");
    LT_TRY(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opy, sizeof opy), "set TRANSB");
    // X = B buffer: column-major n x k (no transpose) or k x n (transposed)
    LT_TRY(trans_b ? cublasLtMatrixLayoutCreate(&lx, CUDA_R_32F, k, n, k) : cublasLtMatrixLayoutCreate(&lx, CUDA_R_32F, n, k, n),
           "layout B");
    // Y = A buffer: column-major k x m (no transpose) or m x k (transposed)
    LT_TRY(trans_a ? cublasLtMatrixLayoutCreate(&ly, CUDA_R_32F, m, k, m) : cublasLtMatrixLayoutCreate(&ly, CUDA_R_32F, k, m, k),
           "layout A");
    LT_TRY(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, n, m, n), "layout C");
    LT_TRY(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                sizeof workspace),
           "set workspace");
    LT_TRY(cublasLtMatmulAlgoGetHeuristic(h, desc, lx, ly, lc, lc, pref, 1, &heur, &found), "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0) {
        std::snprintf(err->message, sizeof err->message, "cuBLASLt found no f32 algorithm for %lld x %lld x %lld",
                      static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k));
        status = RAI_ERROR_BACKEND;
        goto done;
    }
    LT_TRY(cublasLtMatmul(h, desc, &alpha, b, lx, a, ly, &beta, c, lc, c, lc, &heur.algo, nullptr, 0, S(stream)),
           "cublasLtMatmul");
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (ly) cublasLtMatrixLayoutDestroy(ly);
    if (lx) cublasLtMatrixLayoutDestroy(lx);
    if (desc) cublasLtMatmulDescDestroy(desc);
    return status;
}

// ---------------------------------------------------------------- NCCL (dlopen)
#ifdef RAICUDA_HAVE_NCCL_H
struct Nccl {
    void *lib = nullptr;
    const char *(*error_string)(ncclResult_t) = nullptr;
    ncclResult_t (*comm_count)(const ncclComm_t, int *) = nullptr;
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                               cudaStream_t) = nullptr;
    ncclResult_t (*all_gather)(const void *, void *, size_t, ncclDataType_t, ncclComm_t, cudaStream_t) = nullptr;
    char why[256] = {0};
};

const Nccl &nccl() {
    static const Nccl n = [] {
        Nccl x;
        // The NCCL the caller already loaded (its communicator belongs to that copy, e.g.
        // PyTorch's), else libnccl.so.2 from the library path.
        x.lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_NOLOAD);
        if (x.lib == nullptr) x.lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
        if (x.lib == nullptr) x.lib = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
        if (x.lib == nullptr) {
            const char *e = dlerror();
            std::snprintf(x.why, sizeof x.why, "NCCL could not be loaded: %s", e ? e : "libnccl.so.2 not found");
            return x;
        }
        x.error_string = reinterpret_cast<decltype(x.error_string)>(dlsym(x.lib, "ncclGetErrorString"));
        x.comm_count = reinterpret_cast<decltype(x.comm_count)>(dlsym(x.lib, "ncclCommCount"));
        x.all_reduce = reinterpret_cast<decltype(x.all_reduce)>(dlsym(x.lib, "ncclAllReduce"));
        x.all_gather = reinterpret_cast<decltype(x.all_gather)>(dlsym(x.lib, "ncclAllGather"));
        if (!x.error_string || !x.comm_count || !x.all_reduce || !x.all_gather) {
            std::snprintf(x.why, sizeof x.why, "libnccl lacks the functions rai needs");
            x.all_reduce = nullptr;
        }
        return x;
    }();
    return n;
}

#define NCCL_READY(err)                                                  \
    const Nccl &nc = nccl();                                             \
    if (nc.all_reduce == nullptr) {                                      \
        std::snprintf((err)->message, sizeof((err)->message), "%s", nc.why); \
        return RAI_ERROR_UNSUPPORTED;                                    \
    }
#define NCCL_TRY(expr, err, what)                                                                          \
    do {                                                                                                   \
        const ncclResult_t nccl_st_ = (expr);                                                              \
        if (nccl_st_ != ncclSuccess) {                                                                     \
            std::snprintf((err)->message, sizeof((err)->message), "%s failed: %s", what, nc.error_string(nccl_st_)); \
            return RAI_ERROR_BACKEND;                                                                      \
        }                                                                                                  \
    } while (0)

int nccl_comm_size(void *comm, int32_t *size, raicuda_err *err) {
    NCCL_READY(err);
    int n = 0;
    NCCL_TRY(nc.comm_count(static_cast<ncclComm_t>(comm), &n), err, "ncclCommCount");
    *size = n;
    return 0;
}
int nccl_allreduce_f32(int32_t dev, void *stream, void *comm, float *buf, size_t count, raicuda_err *err) {
    NCCL_READY(err);
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    NCCL_TRY(nc.all_reduce(buf, buf, count, ncclFloat32, ncclSum, static_cast<ncclComm_t>(comm), S(stream)), err,
             "ncclAllReduce");
    return 0;
}
int nccl_allgather(int32_t dev, void *stream, void *comm, const void *send, void *recv, size_t bytes,
                   raicuda_err *err) {
    NCCL_READY(err);
    RAICUDA_TRY(cudaSetDevice(dev), err, "cudaSetDevice");
    NCCL_TRY(nc.all_gather(send, recv, bytes, ncclUint8, static_cast<ncclComm_t>(comm), S(stream)), err,
             "ncclAllGather");
    return 0;
}
#else
int nccl_missing(raicuda_err *err) {
    std::snprintf(err->message, sizeof err->message, "this CUDA plugin was built without nccl.h");
    return RAI_ERROR_UNSUPPORTED;
}
int nccl_comm_size(void *, int32_t *, raicuda_err *err) { return nccl_missing(err); }
int nccl_allreduce_f32(int32_t, void *, void *, float *, size_t, raicuda_err *err) { return nccl_missing(err); }
int nccl_allgather(int32_t, void *, void *, const void *, void *, size_t, raicuda_err *err) { return nccl_missing(err); }
#endif

const raicuda_compress_api kTable = {
    1,
    sizeof(raicuda_compress_api),
    ef_add,
    sub,
    store,
    stats,
    dot3,
    topk,
    unpack_topk,
    pack_sign,
    unpack_sign,
    pack_ternary,
    unpack_ternary,
    qsgd_pack,
    qsgd_unpack,
    gemm,
    nccl_comm_size,
    nccl_allreduce_f32,
    nccl_allgather,
    momentum_add,
    zero_where,
};

}  // namespace

const void *compress_capability() { return &kTable; }

}  // namespace raicuda
