/* The adapter model's device primitives in the CUDA plugin ("adapter_ops/1"), fetched with
 * rai::cuda::require_capability; cuda_ops.cpp wraps them as an rai::adapters::Ops. Each mirrors
 * the Ops method of the same name (device_ops.h): row-major fp32 device arrays unless a `type`
 * (a raicuda_fp) says otherwise; work is queued on `stream`. Each returns 0 or a rai_status and
 * fills `err`. */
#ifndef RAI_CUDA_ADAPTER_OPS_ABI_H
#define RAI_CUDA_ADAPTER_OPS_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_ADAPTER_OPS_CAPABILITY "adapter_ops/1"

/* raicuda_adapter_ops.scale modes */
#define RAICUDA_SCALE_COLS 0 /* X[i,j] *= v[j] */
#define RAICUDA_SCALE_ROWS 1 /* X[i,j] *= v[i] */
#define RAICUDA_ADD_COLS 2   /* X[i,j] += alpha·v[j] */

typedef struct raicuda_adapter_ops {
    uint32_t struct_size;
    int (*copy)(int32_t ordinal, void *stream, void *dst, const void *src, size_t bytes, raicuda_err *err);
    int (*fill)(int32_t ordinal, void *stream, float *x, int64_t n, float v, raicuda_err *err);
    int (*to_f32)(int32_t ordinal, void *stream, const void *src, int32_t type, int64_t n, float *dst, raicuda_err *err);
    int (*from_f32)(int32_t ordinal, void *stream, const float *src, int64_t n, void *dst, int32_t type,
                    raicuda_err *err);
    int (*gemm)(int32_t ordinal, void *stream, int32_t ta, int32_t tb, int64_t M, int64_t N, int64_t K, float alpha,
                const void *A, int64_t lda, const void *B, int64_t ldb, int32_t type, float beta, float *C,
                int64_t ldc, raicuda_err *err);
    int (*scale)(int32_t ordinal, void *stream, int32_t mode, float *X, int64_t rows, int64_t cols, float alpha,
                 const float *v, raicuda_err *err);
    int (*axpby)(int32_t ordinal, void *stream, int64_t n, float alpha, const float *x, float beta, float *y,
                 raicuda_err *err);
    int (*mul)(int32_t ordinal, void *stream, int64_t n, float alpha, const float *x, const float *y, float *out,
               raicuda_err *err);
    int (*col_dot)(int32_t ordinal, void *stream, int64_t rows, int64_t cols, const float *A, const float *B,
                   float *out, raicuda_err *err);
    int (*row_norm)(int32_t ordinal, void *stream, int64_t rows, int64_t cols, const float *A, float *out,
                    raicuda_err *err);
    int (*dropout_mask)(int32_t ordinal, void *stream, int64_t n, uint64_t key, float p, float *mask,
                        raicuda_err *err);
    int (*kron)(int32_t ordinal, void *stream, int64_t ol, int64_t im, int64_t ok, int64_t inn, float s,
                const float *w1, const float *w2, float *D, raicuda_err *err);
    int (*kron_grad)(int32_t ordinal, void *stream, int64_t ol, int64_t im, int64_t ok, int64_t inn, float s,
                     const float *dD, const float *w1, const float *w2, float *g1, float *g2, raicuda_err *err);
    /* scatter 0: dst[i,:] = src[rows[i],:]; 1: dst[rows[i],:] = src[i,:]. rows: n device int64. */
    int (*move_rows)(int32_t ordinal, void *stream, int32_t scatter, const float *src, const int64_t *rows, int64_t n,
                     int64_t cols, float *dst, raicuda_err *err);
} raicuda_adapter_ops;

#ifdef __cplusplus
}
#endif

#endif
