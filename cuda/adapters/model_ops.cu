// The "adapter_ops/1" table: the adapter model's device primitives (src/adapters/device_ops.h),
// which model_device.cpp composes into every tuner's forward and backward. Elementwise kernels
// use grid-stride loops; reductions sum in fp64 like the CPU reference; GEMMs go to cuBLASLt
// (fp32 compute for fp32 operands, never TF32, so that results follow the CPU's).
#include "adapters_cuda.cuh"
#include "cuda_adapter_ops_abi.h"
#include "rng.h"

namespace raicuda {

namespace {

using namespace adp;

#define RAICUDA_OPS_BEGIN(n)                              \
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice"); \
    cudaStream_t s = static_cast<cudaStream_t>(stream);   \
    if ((n) <= 0) return 0

#define RAICUDA_OPS_END(what)                             \
    RAICUDA_TRY(cudaGetLastError(), err, what);           \
    return 0

// ---------------------------------------------------------------- kernels

__global__ void k_fill(float *x, int64_t n, float v) {
    RAICUDA_GRID_LOOP(i, n) x[i] = v;
}
__global__ void k_to_f32(const void *src, int t, int64_t n, float *dst) {
    RAICUDA_GRID_LOOP(i, n) dst[i] = ld(src, t, i);
}
__global__ void k_from_f32(const float *src, int64_t n, void *dst, int t) {
    RAICUDA_GRID_LOOP(i, n) st(dst, t, i, src[i]);
}
__global__ void k_scale(int mode, float *X, int64_t rows, int64_t cols, float alpha, const float *v) {
    RAICUDA_GRID_LOOP(i, rows * cols) {
        if (mode == RAICUDA_SCALE_COLS) X[i] *= v[i % cols];
        else if (mode == RAICUDA_SCALE_ROWS) X[i] *= v[i / cols];
        else X[i] += alpha * v[i % cols];
    }
}
__global__ void k_axpby(int64_t n, float alpha, const float *x, float beta, float *y) {
    RAICUDA_GRID_LOOP(i, n) y[i] = alpha * x[i] + (beta == 0.0f ? 0.0f : beta * y[i]);
}
__global__ void k_mul(int64_t n, float alpha, const float *x, const float *y, float *out) {
    RAICUDA_GRID_LOOP(i, n) out[i] = alpha * x[i] * y[i];
}
// One thread per column walking down the rows: neighbouring threads read neighbouring columns.
__global__ void k_col_dot(int64_t rows, int64_t cols, const float *A, const float *B, float *out) {
    RAICUDA_GRID_LOOP(j, cols) {
        double acc = 0;
        for (int64_t i = 0; i < rows; ++i)
            acc += static_cast<double>(A[i * cols + j]) * (B ? B[i * cols + j] : 1.0f);
        out[j] = static_cast<float>(acc);
    }
}

// Block-wide fp64 sum (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
__device__ double block_sum(double v) {
    __shared__ double part[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();  // part[] may still be read by a previous call
    if (lane == 0) part[warp] = v;
    __syncthreads();
    double t = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) t += part[w];
    return t;
}

__global__ void k_row_norm(int64_t rows, int64_t cols, const float *A, float *out) {
    for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
        double acc = 0;
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
            const double v = A[i * cols + j];
            acc += v * v;
        }
        acc = block_sum(acc);
        if (threadIdx.x == 0) out[i] = static_cast<float>(sqrt(acc));
    }
}
__global__ void k_dropout_mask(int64_t n, uint64_t key, float p, float *mask) {
    const float keep = 1.0f / (1.0f - p);
    RAICUDA_GRID_LOOP(i, n) mask[i] = rai::adapters::dropout_keep(key, static_cast<uint64_t>(i), p) ? keep : 0.0f;
}
// D[(p·ok + b), (q·inn + c)] = s·w1[p,q]·w2[b,c]
__global__ void k_kron(int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *w1, const float *w2,
                       float *D) {
    const int64_t cols = im * inn;
    RAICUDA_GRID_LOOP(i, ol * ok * cols) {
        const int64_t row = i / cols, col = i % cols;
        D[i] = s * w1[(row / ok) * im + col / inn] * w2[(row % ok) * inn + col % inn];
    }
}
// One factor's gradient, one block per entry: w1_side: g[p,q] = s·Σ_bc dD[(p·ok+b), (q·inn+c)]·w2[b,c]
// (other = w2); otherwise g[b,c] = s·Σ_pq dD[...]·w1[p,q] (other = w1).
__global__ void k_kron_grad(bool w1_side, int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *dD,
                            const float *other, float *g) {
    const int64_t cols = im * inn, n_pq = ol * im, n_bc = ok * inn;
    const int64_t n_out = w1_side ? n_pq : n_bc, n_in = w1_side ? n_bc : n_pq;
    for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
        double acc = 0;
        for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x) {
            const int64_t pq = w1_side ? o : i, bc = w1_side ? i : o;
            acc += static_cast<double>(dD[(pq / im * ok + bc / inn) * cols + pq % im * inn + bc % inn]) * other[i];
        }
        acc = block_sum(acc);
        if (threadIdx.x == 0) g[o] = static_cast<float>(s * acc);
    }
}
__global__ void k_move_rows(int scatter, const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) {
    RAICUDA_GRID_LOOP(i, n * cols) {
        const int64_t r = i / cols, c = i % cols;
        if (scatter) dst[rows[r] * cols + c] = src[i];
        else dst[i] = src[rows[r] * cols + c];
    }
}

// Blocks for the one-block-per-item reductions.
unsigned reduce_blocks(int64_t items) { return static_cast<unsigned>(items < 65535 ? items : 65535); }

// ---------------------------------------------------------------- table

int op_copy(int32_t ordinal, void *stream, void *dst, const void *src, size_t bytes, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(static_cast<int64_t>(bytes));
    RAICUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), err, "adapter ops: copy");
    return 0;
}
int op_fill(int32_t ordinal, void *stream, float *x, int64_t n, float v, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_fill<<<blocks_for(n), kLaunchThreads, 0, s>>>(x, n, v);
    RAICUDA_OPS_END("adapter ops: fill");
}
int op_to_f32(int32_t ordinal, void *stream, const void *src, int32_t type, int64_t n, float *dst, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_to_f32<<<blocks_for(n), kLaunchThreads, 0, s>>>(src, type, n, dst);
    RAICUDA_OPS_END("adapter ops: to_f32");
}
int op_from_f32(int32_t ordinal, void *stream, const float *src, int64_t n, void *dst, int32_t type, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_from_f32<<<blocks_for(n), kLaunchThreads, 0, s>>>(src, n, dst, type);
    RAICUDA_OPS_END("adapter ops: from_f32");
}
int op_gemm(int32_t ordinal, void *stream, int32_t ta, int32_t tb, int64_t M, int64_t N, int64_t K, float alpha,
            const void *A, int64_t lda, const void *B, int64_t ldb, int32_t type, float beta, float *C, int64_t ldc,
            raicuda_err *err) {
    RAICUDA_OPS_BEGIN(M * N);
    if (K == 0) {  // C = beta·C (cuBLASLt wants K > 0); C is dense here (ldc == N)
        if (beta == 0.0f) k_fill<<<blocks_for(M * N), kLaunchThreads, 0, s>>>(C, M * N, 0.0f);
        else k_axpby<<<blocks_for(M * N), kLaunchThreads, 0, s>>>(M * N, beta, C, 0.0f, C);
        RAICUDA_OPS_END("adapter ops: gemm (K = 0)");
    }
    return gemm_rm(ordinal, s, ta != 0, tb != 0, M, N, K, alpha, A, lda, B, ldb, type, beta, C, ldc, err);
}
int op_scale(int32_t ordinal, void *stream, int32_t mode, float *X, int64_t rows, int64_t cols, float alpha,
             const float *v, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(rows * cols);
    k_scale<<<blocks_for(rows * cols), kLaunchThreads, 0, s>>>(mode, X, rows, cols, alpha, v);
    RAICUDA_OPS_END("adapter ops: scale");
}
int op_axpby(int32_t ordinal, void *stream, int64_t n, float alpha, const float *x, float beta, float *y,
             raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_axpby<<<blocks_for(n), kLaunchThreads, 0, s>>>(n, alpha, x, beta, y);
    RAICUDA_OPS_END("adapter ops: axpby");
}
int op_mul(int32_t ordinal, void *stream, int64_t n, float alpha, const float *x, const float *y, float *out,
           raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_mul<<<blocks_for(n), kLaunchThreads, 0, s>>>(n, alpha, x, y, out);
    RAICUDA_OPS_END("adapter ops: mul");
}
int op_col_dot(int32_t ordinal, void *stream, int64_t rows, int64_t cols, const float *A, const float *B, float *out,
               raicuda_err *err) {
    RAICUDA_OPS_BEGIN(cols);
    k_col_dot<<<blocks_for(cols), kLaunchThreads, 0, s>>>(rows, cols, A, B, out);
    RAICUDA_OPS_END("adapter ops: col_dot");
}
int op_row_norm(int32_t ordinal, void *stream, int64_t rows, int64_t cols, const float *A, float *out,
                raicuda_err *err) {
    RAICUDA_OPS_BEGIN(rows);
    k_row_norm<<<reduce_blocks(rows), kLaunchThreads, 0, s>>>(rows, cols, A, out);
    RAICUDA_OPS_END("adapter ops: row_norm");
}
int op_dropout_mask(int32_t ordinal, void *stream, int64_t n, uint64_t key, float p, float *mask, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n);
    k_dropout_mask<<<blocks_for(n), kLaunchThreads, 0, s>>>(n, key, p, mask);
    RAICUDA_OPS_END("adapter ops: dropout_mask");
}
int op_kron(int32_t ordinal, void *stream, int64_t ol, int64_t im, int64_t ok, int64_t inn, float sc, const float *w1,
            const float *w2, float *D, raicuda_err *err) {
    const int64_t n = ol * ok * im * inn;
    RAICUDA_OPS_BEGIN(n);
    k_kron<<<blocks_for(n), kLaunchThreads, 0, s>>>(ol, im, ok, inn, sc, w1, w2, D);
    RAICUDA_OPS_END("adapter ops: kron");
}
int op_kron_grad(int32_t ordinal, void *stream, int64_t ol, int64_t im, int64_t ok, int64_t inn, float sc,
                 const float *dD, const float *w1, const float *w2, float *g1, float *g2, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(ol * im * ok * inn);
    k_kron_grad<<<reduce_blocks(ol * im), kLaunchThreads, 0, s>>>(true, ol, im, ok, inn, sc, dD, w2, g1);
    k_kron_grad<<<reduce_blocks(ok * inn), kLaunchThreads, 0, s>>>(false, ol, im, ok, inn, sc, dD, w1, g2);
    RAICUDA_OPS_END("adapter ops: kron_grad");
}
int op_move_rows(int32_t ordinal, void *stream, int32_t scatter, const float *src, const int64_t *rows, int64_t n,
                 int64_t cols, float *dst, raicuda_err *err) {
    RAICUDA_OPS_BEGIN(n * cols);
    k_move_rows<<<blocks_for(n * cols), kLaunchThreads, 0, s>>>(scatter, src, rows, n, cols, dst);
    RAICUDA_OPS_END("adapter ops: move_rows");
}

const raicuda_adapter_ops kOps = {sizeof(raicuda_adapter_ops),
                                  op_copy,
                                  op_fill,
                                  op_to_f32,
                                  op_from_f32,
                                  op_gemm,
                                  op_scale,
                                  op_axpby,
                                  op_mul,
                                  op_col_dot,
                                  op_row_norm,
                                  op_dropout_mask,
                                  op_kron,
                                  op_kron_grad,
                                  op_move_rows};

}  // namespace

const void *adapter_ops_capability() { return &kOps; }

}  // namespace raicuda
