// The host entry points of the ternary CUDA kernels (the functions of raicuda_ternary).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda_backend_abi.h"

namespace raicuda::ternary {

int t_zero(int32_t ordinal, void *stream, uint64_t *words, size_t count, raicuda_err *err);
int t_binary(int32_t ordinal, void *stream, int32_t op, const uint64_t *a, const uint64_t *b, uint64_t *out,
             size_t rows, size_t b_rows, size_t wpad, raicuda_err *err);
int t_permute(int32_t ordinal, void *stream, const uint64_t *src, uint64_t *dst, size_t rows, size_t dim, size_t wpad,
              int64_t shift, raicuda_err *err);
int t_random(int32_t ordinal, void *stream, uint64_t *rows_data, size_t rows, size_t dim, size_t wpad,
             int32_t generator, int32_t distribution, uint64_t seed, uint64_t sparse_threshold, raicuda_err *err);
int t_validate_int8(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1, size_t rows,
                    size_t dim, uint64_t *out_first_bad, int32_t *out_value, raicuda_err *err);
int t_pack_int8(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1, uint64_t *dst,
                size_t rows, size_t dim, size_t wpad, raicuda_err *err);
int t_unpack_int8(int32_t ordinal, void *stream, const uint64_t *src, int8_t *dst, int64_t stride0, int64_t stride1,
                  size_t rows, size_t dim, size_t wpad, raicuda_err *err);
int t_bundle(int32_t ordinal, void *stream, const uint64_t *rows_data, size_t n, const int32_t *weights, size_t dim,
             size_t wpad, int32_t tie_break, uint64_t seed, uint64_t *out, raicuda_err *err);
int t_similarity(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
                 size_t dim, size_t wpad, int32_t metric, int32_t out_kind, void *out, int64_t s0, int64_t s1,
                 raicuda_err *err);
int t_topk(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
           size_t dim, size_t wpad, size_t k, int32_t metric, int64_t *index, int64_t is0, int64_t is1, float *score,
           int64_t ss0, int64_t ss1, raicuda_err *err);

// The "ternary/1" table (table.cu).
const void *ternary_capability_v1();

}  // namespace raicuda::ternary
