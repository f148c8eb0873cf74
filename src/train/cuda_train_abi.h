/* The "train/1" function table of the CUDA plugin: optimizer steps and the elementwise kernels
 * of the hybrid trainer's predictors, snapshots and rollbacks. Plain C so librai and the plugin
 * agree on layout whatever compiler builds them; fetched with
 * rai::cuda::require_capability("train/1").
 *
 * All pointers named param/grad/m/v/buf/upd/x/y/out/... are device pointers on CUDA device
 * `ordinal`; `stream` is a cudaStream_t. Every function returns 0 or a rai_status and writes a
 * message into `err` on failure. Every function only queues work on the stream; reductions leave
 * per-block partial sums in device memory that librai copies back once per batch of reductions
 * and adds up on the host in a fixed order. Float arithmetic follows the CPU reference in
 * src/train/ops_cpu.cpp operation for operation (nvcc may contract a*b+c into an FMA, so results
 * agree within a few ulp, not bitwise). */
#ifndef RAI_CUDA_TRAIN_ABI_H
#define RAI_CUDA_TRAIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_TRAIN_CAPABILITY "train/1"
#define RAICUDA_TRAIN_MAX_HISTORY 16
/* Blocks of the fixed reduction grid; a reduction writes 3 doubles per block. */
#define RAICUDA_TRAIN_REDUCE_BLOCKS 256
#define RAICUDA_TRAIN_REDUCE_PARTIALS (3 * RAICUDA_TRAIN_REDUCE_BLOCKS)

/* AdamW (PyTorch semantics): g' = grad_scale*g (g = 0 when grad is NULL);
 * m = beta1*m + (1-beta1)*g'; v = beta2*v + (1-beta2)*g'^2; p1 = p*(1 - lr*weight_decay);
 * p2 = p1 - step_size * m / (sqrt(v)/bc2_sqrt + eps), step_size = lr/(1-beta1^t),
 * bc2_sqrt = sqrt(1-beta2^t). upd (may be NULL) = p2 - p; p = p2 when apply != 0. */
typedef struct raicuda_adamw_args {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    float step_size;
    float bc2_sqrt;
    float grad_scale;
    int32_t apply;
} raicuda_adamw_args;

/* SGD (PyTorch semantics): d = grad_scale*g + weight_decay*p (g = 0 when grad is NULL);
 * with a momentum buffer (buf != NULL): buf = first ? d : momentum*buf + d; d = nesterov ?
 * d + momentum*buf : buf. p2 = p - lr*d; upd (may be NULL) = p2 - p; p = p2 when apply != 0. */
typedef struct raicuda_sgd_args {
    float lr;
    float momentum;
    float weight_decay;
    float grad_scale;
    int32_t nesterov;
    int32_t first;
    int32_t apply;
} raicuda_sgd_args;

typedef enum raicuda_reduce_op {
    RAICUDA_REDUCE_SUMSQ = 0,  /* out[0] = sum a^2 */
    RAICUDA_REDUCE_DOT3 = 1,   /* out[0] = sum a*b, out[1] = sum a^2, out[2] = sum b^2 */
    RAICUDA_REDUCE_MAXABS = 2  /* out[0] = max |a| (NaN if any element is NaN) */
} raicuda_reduce_op;

/* History entries and their weights for the WLS fit: b = sum alpha[i]*hist[i],
 * v = sum beta[i]*hist[i], summed in index order. */
typedef struct raicuda_wls_fit_args {
    int32_t count;
    const float *hist[RAICUDA_TRAIN_MAX_HISTORY];
    float alpha[RAICUDA_TRAIN_MAX_HISTORY];
    float beta[RAICUDA_TRAIN_MAX_HISTORY];
} raicuda_wls_fit_args;

typedef struct raicuda_train_table {
    uint32_t version; /* 1 */
    uint32_t struct_size;

    int (*adamw)(int32_t ordinal, void *stream, size_t n, float *param, const float *grad, float *m, float *v,
                 float *upd, const raicuda_adamw_args *args, raicuda_err *err);
    /* buf NULL: plain SGD without momentum. */
    int (*sgd)(int32_t ordinal, void *stream, size_t n, float *param, const float *grad, float *buf, float *upd,
               const raicuda_sgd_args *args, raicuda_err *err);
    /* Queues a reduction over a fixed grid of *out_blocks = min(ceil(n / 256), 256) blocks; block
     * i writes its partial results (double, fixed summation order) to partials[3 i + 0..2]
     * (RAICUDA_TRAIN_REDUCE_PARTIALS doubles of device memory). b only for DOT3. */
    int (*reduce_partials)(int32_t ordinal, void *stream, int32_t op, size_t n, const float *a, const float *b,
                           double *partials, int32_t *out_blocks, raicuda_err *err);
    /* x += alpha*y */
    int (*axpy)(int32_t ordinal, void *stream, size_t n, float *x, float alpha, const float *y, raicuda_err *err);
    /* out = alpha*x (out may equal x) */
    int (*scale)(int32_t ordinal, void *stream, size_t n, float *out, float alpha, const float *x, raicuda_err *err);
    /* e = beta*e + (1-beta)*x */
    int (*ema)(int32_t ordinal, void *stream, size_t n, float *e, float beta, const float *x, raicuda_err *err);
    int (*wls_fit)(int32_t ordinal, void *stream, size_t n, const raicuda_wls_fit_args *args, float *b, float *v,
                   raicuda_err *err);
    /* out = scale*((b + v*dt) + r*rdecay) */
    int (*wls_predict)(int32_t ordinal, void *stream, size_t n, const float *b, const float *v, const float *r,
                       float dt, float rdecay, float scale, float *out, raicuda_err *err);
    /* r = keep*r + rate*(g - (b + v*dt)) */
    int (*wls_correct)(int32_t ordinal, void *stream, size_t n, float *r, const float *g, const float *b,
                       const float *v, float dt, float keep, float rate, raicuda_err *err);
    /* Low-rank trend of an m x k matrix with rank-r factors P [m, r] and Q [k, r] (row-major):
     * combine: M = beta*(P Q^T) + (1-beta)*u   (M and u are m x k; with beta == 0, M = u)
     * mul_rows: P = M Q          (P [m, r])
     * mul_cols: Q = M^T P        (Q [k, r])
     * expand:   out = scale * P Q^T */
    int (*lowrank_combine)(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *p,
                           const float *q, float beta, const float *u, float *mat, raicuda_err *err);
    int (*lowrank_mul_rows)(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *mat,
                            const float *q, float *p, raicuda_err *err);
    int (*lowrank_mul_cols)(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *mat,
                            const float *p, float *q, raicuda_err *err);
    int (*lowrank_expand)(int32_t ordinal, void *stream, int64_t m, int64_t k, int32_t r, const float *p,
                          const float *q, float scale, float *out, raicuda_err *err);
    /* dst = src, device to device, queued */
    int (*copy)(int32_t ordinal, void *stream, void *dst, const void *src, size_t bytes, raicuda_err *err);
    /* x[i] = value */
    int (*fill)(int32_t ordinal, void *stream, size_t n, float *x, float value, raicuda_err *err);
} raicuda_train_table;

#ifdef __cplusplus
}
#endif

#endif
