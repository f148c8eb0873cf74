/* The "compress/1" function table of the CUDA plugin: the GPU kernels of gradient compression.
 * librai fetches it with rai::cuda::require_capability("compress/1"). Plain C so both sides agree
 * on the layout. Every pointer argument is device memory unless its name ends in _host; every
 * function queues on `stream` (a cudaStream_t) and returns 0 or a rai_status with `err` filled.
 * Functions that return host values (names with _host arguments) synchronise the stream.
 * All matrices are row-major and contiguous. */
#ifndef RAI_CUDA_COMPRESS_ABI_H
#define RAI_CUDA_COMPRESS_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_COMPRESS_NAME "compress/1"

/* dtype codes of gradient buffers */
#define RAICUDA_GC_F32 0
#define RAICUDA_GC_BF16 1

typedef struct raicuda_compress_api {
    uint32_t version; /* 1 */
    uint32_t struct_size;

    /* m[i] = f32(grad[i]) + (residual ? residual[i] : 0) */
    int (*ef_add)(int32_t dev, void *stream, const void *grad, int32_t grad_dtype, const float *residual,
                  float *m, size_t n, raicuda_err *err);
    /* out[i] = a[i] - b[i] */
    int (*sub)(int32_t dev, void *stream, const float *a, const float *b, float *out, size_t n, raicuda_err *err);
    /* out[i] = dtype(x[i]) */
    int (*store)(int32_t dev, void *stream, const float *x, void *out, int32_t out_dtype, size_t n,
                 raicuda_err *err);
    /* stats_host = {sum |x|, sum x^2, max |x|, count(|x| > thr), sum |x| over |x| > thr}; sums in
     * double, max ignores NaN. Synchronises. */
    int (*stats)(int32_t dev, void *stream, const float *x, size_t n, float thr, double stats_host[5],
                 raicuda_err *err);
    /* dot_host = {sum a*b, sum a^2, sum b^2} in double. Synchronises. */
    int (*dot3)(int32_t dev, void *stream, const float *a, const float *b, size_t n, double dot_host[3],
                raicuda_err *err);

    /* Top-k by magnitude (ties: smaller index first), indices written in ascending order with
     * their values. 1 <= k <= n < 2^32. */
    int (*topk)(int32_t dev, void *stream, const float *x, size_t n, size_t k, uint32_t *idx, float *val,
                raicuda_err *err);
    /* out = 0, then out[idx[j]] += val[j] */
    int (*unpack_topk)(int32_t dev, void *stream, const uint32_t *idx, const float *val, size_t k, float *out,
                       size_t n, raicuda_err *err);

    /* bit i of bits = (x[i] < 0); bytes ceil(n/8) */
    int (*pack_sign)(int32_t dev, void *stream, const float *x, size_t n, uint8_t *bits, raicuda_err *err);
    int (*unpack_sign)(int32_t dev, void *stream, const uint8_t *bits, float scale, float *out, size_t n,
                       raicuda_err *err);

    /* 2-bit trits, 4 per byte: deterministic (|x| > thr), or stochastic (P(+-1) = |x|/scale with
     * the counter RNG keyed `key`, counter i) when stochastic != 0. */
    int (*pack_ternary)(int32_t dev, void *stream, const float *x, size_t n, float thr, int32_t stochastic,
                        float scale, uint64_t key, uint8_t *codes, raicuda_err *err);
    int (*unpack_ternary)(int32_t dev, void *stream, const uint8_t *codes, float scale, float *out, size_t n,
                          raicuda_err *err);

    /* QSGD: scales[b] = max |x| over bucket b; codes of `width` bits (2, 4, 8 or 16). */
    int (*qsgd_pack)(int32_t dev, void *stream, const float *x, size_t n, uint32_t bucket, uint32_t levels,
                     uint32_t width, uint64_t key, float *scales, uint8_t *codes, raicuda_err *err);
    int (*qsgd_unpack)(int32_t dev, void *stream, const uint8_t *codes, const float *scales, size_t n,
                       uint32_t bucket, uint32_t levels, uint32_t width, float *out, raicuda_err *err);

    /* C (m x n) = op(A) op(B), op = transpose when trans_* != 0, f32 via cuBLASLt (TF32 off). */
    int (*gemm)(int32_t dev, void *stream, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k,
                const float *a, const float *b, float *c, raicuda_err *err);

    /* NCCL collectives on the caller's communicator `comm` (an ncclComm_t). The plugin loads
     * libnccl.so.2 with dlopen on first use and never links it; RAI_ERROR_UNSUPPORTED when it
     * was built without nccl.h or the library cannot be loaded. Queued on `stream`. */
    int (*nccl_comm_size)(void *comm, int32_t *size, raicuda_err *err);
    /* buf[i] = sum over ranks of buf[i], in place */
    int (*nccl_allreduce_f32)(int32_t dev, void *stream, void *comm, float *buf, size_t count, raicuda_err *err);
    /* recv (size x bytes) = every rank's `bytes` bytes of send, in rank order */
    int (*nccl_allgather)(int32_t dev, void *stream, void *comm, const void *send, void *recv, size_t bytes,
                          raicuda_err *err);

    /* Momentum correction: u_out[i] = mu * u[i] + f32(grad[i]); m[i] = u_out[i] + (residual ?
     * residual[i] : 0). u and u_out may be the same buffer. */
    int (*momentum_add)(int32_t dev, void *stream, const void *grad, int32_t grad_dtype, const float *u, float mu,
                        const float *residual, float *u_out, float *m, size_t n, raicuda_err *err);
    /* x[i] = 0 where mask[i] != 0 (momentum-factor masking) */
    int (*zero_where)(int32_t dev, void *stream, const float *mask, float *x, size_t n, raicuda_err *err);
} raicuda_compress_api;

#ifdef __cplusplus
}
#endif

#endif
