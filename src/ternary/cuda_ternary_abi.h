/* The "ternary/1" capability table of the CUDA plugin: packed-trit kernels for rai_vsa_matrix on
 * CUDA devices. librai fetches it with rai::cuda::require_capability("ternary/1"); the plugin
 * defines it in cuda/ternary/. Plain C so both sides agree on the layout.
 *
 * Every device buffer of packed rows uses the host layout (src/ternary/words.h): per row a plus
 * plane then a minus plane of `wpad` u64 words (wpad a multiple of 8), trit i at bit i % 64 of
 * word i / 64, padding bits zero. All work is queued on `stream`; functions return 0 or a
 * rai_status and fill `err`. Functions that produce host values (validate_int8) synchronise. */
#ifndef RAI_CUDA_TERNARY_ABI_H
#define RAI_CUDA_TERNARY_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_TERNARY_NAME "ternary/1"

/* Output kinds of `similarity`. */
#define RAICUDA_TERNARY_OUT_F32 0
#define RAICUDA_TERNARY_OUT_I32 1

typedef struct raicuda_ternary {
    uint32_t struct_size;
    /* words[0..count) = 0 */
    int (*zero)(int32_t ordinal, void *stream, uint64_t *words, size_t count, raicuda_err *err);
    /* out row r = op(a row r, b row (b_rows == 1 ? 0 : r)) for r < rows; op: 0 bind (a - b mod 3),
     * 1 unbind (a + b mod 3), 2 mul, 3 add_clamped. out may be a or b. */
    int (*binary)(int32_t ordinal, void *stream, int32_t op, const uint64_t *a, const uint64_t *b, uint64_t *out,
                  size_t rows, size_t b_rows, size_t wpad, raicuda_err *err);
    /* dst row r = src row r rolled by shift (element i to (i + shift) mod dim); dst != src. */
    int (*permute)(int32_t ordinal, void *stream, const uint64_t *src, uint64_t *dst, size_t rows, size_t dim,
                   size_t wpad, int64_t shift, raicuda_err *err);
    /* Row r = rai_vsa_random(seed + r): generator 0 TRITVSA_XS64 (one thread per row), 1 COUNTER
     * or 2 TRITTER_CHACHA8 (dense only); distribution 0 dense, 1 bipolar, 2 sparse with
     * `sparse_threshold` = round(density 2^53). Other combinations: RAI_ERROR_UNSUPPORTED. */
    int (*random)(int32_t ordinal, void *stream, uint64_t *rows_data, size_t rows, size_t dim, size_t wpad,
                  int32_t generator, int32_t distribution, uint64_t seed, uint64_t sparse_threshold, raicuda_err *err);
    /* First element (row-major linear index r * dim + j) of an int8 [rows, dim] view (strides in
     * elements) whose value is not -1, 0 or 1, or rows * dim when all are valid; also its value.
     * Synchronises. */
    int (*validate_int8)(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1,
                         size_t rows, size_t dim, uint64_t *out_first_bad, int32_t *out_value, raicuda_err *err);
    /* Packs valid int8 rows into packed rows (dst: rows * 2 * wpad words). */
    int (*pack_int8)(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1,
                     uint64_t *dst, size_t rows, size_t dim, size_t wpad, raicuda_err *err);
    int (*unpack_int8)(int32_t ordinal, void *stream, const uint64_t *src, int8_t *dst, int64_t stride0,
                       int64_t stride1, size_t rows, size_t dim, size_t wpad, raicuda_err *err);
    /* out (one row) = bundle of n >= 1 rows: sign of sum weights[k] * row k (weights: device
     * int32[n] or NULL = ones); tie_break 0: ties -> 0; 1: ties among non-zero voters -> +1 iff
     * bit 63 of counter_u64(seed, index). out is not one of the rows. */
    int (*bundle)(int32_t ordinal, void *stream, const uint64_t *rows_data, size_t n, const int32_t *weights,
                  size_t dim, size_t wpad, int32_t tie_break, uint64_t seed, uint64_t *out, raicuda_err *err);
    /* out[i * s0 + j * s1] = metric(query i, item j) (metric ids as rai_vsa_metric), f32 or i32. */
    int (*similarity)(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items,
                      size_t m, size_t dim, size_t wpad, int32_t metric, int32_t out_kind, void *out, int64_t s0,
                      int64_t s1, raicuda_err *err);
    /* The k best items per query (order and ties as rai_vsa_topk): index[i * is0 + t * is1] (int64)
     * and, if score is not NULL, score[i * ss0 + t * ss1] (f32). */
    int (*topk)(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
                size_t dim, size_t wpad, size_t k, int32_t metric, int64_t *index, int64_t is0, int64_t is1,
                float *score, int64_t ss0, int64_t ss1, raicuda_err *err);
} raicuda_ternary;

#ifdef __cplusplus
}
#endif

#endif
