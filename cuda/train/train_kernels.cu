// The "train/1" table: optimizer steps and the hybrid trainer's elementwise kernels. Per-element
// arithmetic comes from src/train/kernel_math.h, shared with the CPU reference.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>

#include "error_util.cuh"
#include "launch.cuh"
#include "train/cuda_train_abi.h"
#include "train/kernel_math.h"

namespace raicuda {

namespace {

namespace tm = rai::train::math;

constexpr int kThreads = 256;
constexpr int kReduceBlocks = RAICUDA_TRAIN_REDUCE_BLOCKS;  // fixed grid: results do not depend on the device

// blocks_for and RAICUDA_GRID_LOOP: core/launch.cuh

#define RAICUDA_LAUNCHED(err, what)                         \
    do {                                                    \
        RAICUDA_TRY(cudaGetLastError(), err, what " launch"); \
        return 0;                                           \
    } while (0)

__global__ void adamw_kernel(int64_t n, float *param, const float *grad, float *m, float *v, float *upd,
                             raicuda_adamw_args a) {
    RAICUDA_GRID_LOOP(i, n) {
        const float p0 = param[i];
        const float p2 = tm::adamw(p0, grad ? grad[i] : 0.0f, m[i], v[i], a);
        if (upd) upd[i] = p2 - p0;
        if (a.apply) param[i] = p2;
    }
}

__global__ void sgd_kernel(int64_t n, float *param, const float *grad, float *buf, float *upd, raicuda_sgd_args a) {
    RAICUDA_GRID_LOOP(i, n) {
        const float p0 = param[i];
        const float p2 = tm::sgd(p0, grad ? grad[i] : 0.0f, buf ? buf + i : nullptr, a);
        if (upd) upd[i] = p2 - p0;
        if (a.apply) param[i] = p2;
    }
}

// One block per partial: each thread accumulates in double over a grid-stride range, then a
// fixed shared-memory tree. partial[3*block + c].
__global__ void reduce_kernel(int op, int64_t n, const float *a, const float *b, double *partial) {
    __shared__ double s0[kThreads], s1[kThreads], s2[kThreads];
    double x0 = 0, x1 = 0, x2 = 0;
    RAICUDA_GRID_LOOP(i, n) {
        const double x = a[i];
        if (op == RAICUDA_REDUCE_SUMSQ) {
            x0 += x * x;
        } else if (op == RAICUDA_REDUCE_DOT3) {
            const double y = b[i];
            x0 += x * y;
            x1 += x * x;
            x2 += y * y;
        } else {
            const double ax = fabs(x);
            if (isnan(ax) || isnan(x0)) x0 = NAN;
            else if (ax > x0) x0 = ax;
        }
    }
    const int t = threadIdx.x;
    s0[t] = x0;
    s1[t] = x1;
    s2[t] = x2;
    __syncthreads();
    for (int w = kThreads / 2; w > 0; w >>= 1) {
        if (t < w) {
            if (op == RAICUDA_REDUCE_MAXABS) {
                const double u = s0[t], v = s0[t + w];
                s0[t] = (isnan(u) || isnan(v)) ? NAN : (v > u ? v : u);
            } else {
                s0[t] += s0[t + w];
                s1[t] += s1[t + w];
                s2[t] += s2[t + w];
            }
        }
        __syncthreads();
    }
    if (t == 0) {
        partial[3 * blockIdx.x + 0] = s0[0];
        partial[3 * blockIdx.x + 1] = s1[0];
        partial[3 * blockIdx.x + 2] = s2[0];
    }
}

__global__ void axpy_kernel(int64_t n, float *x, float alpha, const float *y) {
    RAICUDA_GRID_LOOP(i, n) x[i] = x[i] + alpha * y[i];
}

__global__ void scale_kernel(int64_t n, float *out, float alpha, const float *x) {
    RAICUDA_GRID_LOOP(i, n) out[i] = alpha * x[i];
}

__global__ void ema_kernel(int64_t n, float *e, float beta, const float *x) {
    const float rest = 1.0f - beta;
    RAICUDA_GRID_LOOP(i, n) e[i] = beta * e[i] + rest * x[i];
}

__global__ void wls_fit_kernel(int64_t n, raicuda_wls_fit_args a, float *b, float *v) {
    RAICUDA_GRID_LOOP(i, n) {
        float sb = 0.0f, sv = 0.0f;
        for (int j = 0; j < a.count; ++j) {
            const float h = a.hist[j][i];
            sb = sb + a.alpha[j] * h;
            sv = sv + a.beta[j] * h;
        }
        b[i] = sb;
        v[i] = sv;
    }
}

__global__ void wls_predict_kernel(int64_t n, const float *b, const float *v, const float *r, float dt, float rdecay,
                                   float scale, float *out) {
    RAICUDA_GRID_LOOP(i, n) out[i] = tm::wls_predict(b[i], v[i], r[i], dt, rdecay, scale);
}

__global__ void wls_correct_kernel(int64_t n, float *r, const float *g, const float *b, const float *v, float dt,
                                   float keep, float rate) {
    RAICUDA_GRID_LOOP(i, n) r[i] = tm::wls_correct(r[i], g[i], b[i], v[i], dt, keep, rate);
}

__global__ void lowrank_combine_kernel(int64_t m, int64_t k, int r, const float *p, const float *q, float beta,
                                       const float *u, float *mat) {
    const float rest = 1.0f - beta;
    RAICUDA_GRID_LOOP(e, m * k) {
        const int64_t i = e / k, j = e % k;
        const float x = u[e];
        if (beta == 0.0f) {
            mat[e] = x;
            continue;
        }
        float t = 0.0f;
        for (int l = 0; l < r; ++l) t = t + p[i * r + l] * q[j * r + l];
        mat[e] = beta * t + rest * x;
    }
}

__global__ void lowrank_mul_rows_kernel(int64_t m, int64_t k, int r, const float *mat, const float *q, float *p) {
    RAICUDA_GRID_LOOP(e, m * r) {
        const int64_t i = e / r;
        const int l = static_cast<int>(e % r);
        double s = 0.0;
        for (int64_t j = 0; j < k; ++j) s += static_cast<double>(mat[i * k + j]) * q[j * r + l];
        p[e] = static_cast<float>(s);
    }
}

__global__ void lowrank_mul_cols_kernel(int64_t m, int64_t k, int r, const float *mat, const float *p, float *q) {
    RAICUDA_GRID_LOOP(e, k * r) {
        const int64_t j = e / r;
        const int l = static_cast<int>(e % r);
        double s = 0.0;
        for (int64_t i = 0; i < m; ++i) s += static_cast<double>(mat[i * k + j]) * p[i * r + l];
        q[e] = static_cast<float>(s);
    }
}

__global__ void lowrank_expand_kernel(int64_t m, int64_t k, int r, const float *p, const float *q, float scale,
                                      float *out) {
    RAICUDA_GRID_LOOP(e, m * k) {
        const int64_t i = e / k, j = e % k;
        float t = 0.0f;
        for (int l = 0; l < r; ++l) t = t + p[i * r + l] * q[j * r + l];
        out[e] = scale * t;
    }
}

__global__ void fill_kernel(int64_t n, float *x, float value) {
    RAICUDA_GRID_LOOP(i, n) x[i] = value;
}

cudaStream_t as_stream(void *s) { return static_cast<cudaStream_t>(s); }

int adamw(int32_t ordinal, void *stream, size_t n, float *param, const float *grad, float *m, float *v, float *upd,
          const raicuda_adamw_args *args, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    adamw_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, param, grad, m, v, upd, *args);
    RAICUDA_LAUNCHED(err, "adamw_kernel");
}

int sgd(int32_t ordinal, void *stream, size_t n, float *param, const float *grad, float *buf, float *upd,
        const raicuda_sgd_args *args, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    sgd_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, param, grad, buf, upd, *args);
    RAICUDA_LAUNCHED(err, "sgd_kernel");
}

int reduce_partials(int32_t ordinal, void *stream, int32_t op, size_t n, const float *a, const float *b,
                    double *partials, int32_t *out_blocks, raicuda_err *err) {
    *out_blocks = 0;
    if (op < RAICUDA_REDUCE_SUMSQ || op > RAICUDA_REDUCE_MAXABS) {
        std::snprintf(err->message, sizeof err->message, "reduce_partials: unknown op %d", op);
        return RAI_ERROR_INTERNAL;
    }
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    const int64_t want = (nn + kThreads - 1) / kThreads;
    const int blocks = static_cast<int>(want < kReduceBlocks ? want : kReduceBlocks);
    reduce_kernel<<<blocks, kThreads, 0, as_stream(stream)>>>(op, nn, a, b, partials);
    RAICUDA_TRY(cudaGetLastError(), err, "reduce_kernel launch");
    *out_blocks = blocks;
    return 0;
}

int axpy(int32_t ordinal, void *stream, size_t n, float *x, float alpha, const float *y, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    axpy_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, x, alpha, y);
    RAICUDA_LAUNCHED(err, "axpy_kernel");
}

int scale(int32_t ordinal, void *stream, size_t n, float *out, float alpha, const float *x, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    scale_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, out, alpha, x);
    RAICUDA_LAUNCHED(err, "scale_kernel");
}

int ema(int32_t ordinal, void *stream, size_t n, float *e, float beta, const float *x, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    ema_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, e, beta, x);
    RAICUDA_LAUNCHED(err, "ema_kernel");
}

int wls_fit(int32_t ordinal, void *stream, size_t n, const raicuda_wls_fit_args *args, float *b, float *v,
            raicuda_err *err) {
    if (n == 0) return 0;
    if (args->count < 1 || args->count > RAICUDA_TRAIN_MAX_HISTORY) {
        std::snprintf(err->message, sizeof err->message, "wls_fit: %d history entries", args->count);
        return RAI_ERROR_INTERNAL;
    }
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    wls_fit_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, *args, b, v);
    RAICUDA_LAUNCHED(err, "wls_fit_kernel");
}

int wls_predict(int32_t ordinal, void *stream, size_t n, const float *b, const float *v, const float *r, float dt,
                float rdecay, float scale_, float *out, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    wls_predict_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, b, v, r, dt, rdecay, scale_, out);
    RAICUDA_LAUNCHED(err, "wls_predict_kernel");
}

int wls_correct(int32_t ordinal, void *stream, size_t n, float *r, const float *g, const float *b, const float *v,
                float dt, float keep, float rate, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    wls_correct_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, r, g, b, v, dt, keep, rate);
    RAICUDA_LAUNCHED(err, "wls_correct_kernel");
}

int lowrank_combine(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *p, const float *q,
                    float beta, const float *u, float *mat, raicuda_err *err) {
    if (m * k == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    lowrank_combine_kernel<<<blocks_for(m * k), kThreads, 0, as_stream(stream)>>>(m, k, r, p, q, beta, u, mat);
    RAICUDA_LAUNCHED(err, "lowrank_combine_kernel");
}

int lowrank_mul_rows(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *mat, const float *q,
                     float *p, raicuda_err *err) {
    if (m * r == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    lowrank_mul_rows_kernel<<<blocks_for(m * r), kThreads, 0, as_stream(stream)>>>(m, k, r, mat, q, p);
    RAICUDA_LAUNCHED(err, "lowrank_mul_rows_kernel");
}

int lowrank_mul_cols(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *mat, const float *p,
                     float *q, raicuda_err *err) {
    if (k * r == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    lowrank_mul_cols_kernel<<<blocks_for(k * r), kThreads, 0, as_stream(stream)>>>(m, k, r, mat, p, q);
    RAICUDA_LAUNCHED(err, "lowrank_mul_cols_kernel");
}

int lowrank_expand(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *p, const float *q,
                   float scale_, float *out, raicuda_err *err) {
    if (m * k == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    lowrank_expand_kernel<<<blocks_for(m * k), kThreads, 0, as_stream(stream)>>>(m, k, r, p, q, scale_, out);
    RAICUDA_LAUNCHED(err, "lowrank_expand_kernel");
}

int copy(int32_t ordinal, void *stream, void *dst, const void *src, size_t bytes, raicuda_err *err) {
    if (bytes == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    RAICUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, as_stream(stream)), err, "cudaMemcpyAsync");
    return 0;
}

int fill(int32_t ordinal, void *stream, size_t n, float *x, float value, raicuda_err *err) {
    if (n == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const int64_t nn = static_cast<int64_t>(n);
    fill_kernel<<<blocks_for(nn), kThreads, 0, as_stream(stream)>>>(nn, x, value);
    RAICUDA_LAUNCHED(err, "fill_kernel");
}

const raicuda_train_table kTrainTable = {
    1,
    sizeof(raicuda_train_table),
    adamw,
    sgd,
    reduce_partials,
    axpy,
    scale,
    ema,
    wls_fit,
    wls_predict,
    wls_correct,
    lowrank_combine,
    lowrank_mul_rows,
    lowrank_mul_cols,
    lowrank_expand,
    copy,
    fill,
};

}  // namespace

const void *train_capability() { return &kTrainTable; }

}  // namespace raicuda
