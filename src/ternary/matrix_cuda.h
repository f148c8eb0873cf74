// The CUDA side of rai_vsa_matrix and the item memory: device memory through the plugin, kernels
// through its "ternary/1" table (src/ternary/cuda_ternary_abi.h). Called by matrix.cpp and
// item_memory.cpp after their argument checks, for matrices on CUDA contexts.
#pragma once
#include <cstddef>
#include <cstdint>

#include "matrix.h"
#include "rng.h"
#include "vsa.h"

namespace rai::ternary::gpu {

void create(const rai_context &ctx, rai_vsa_matrix &m);
void destroy(rai_vsa_matrix &m) noexcept;
void set_row(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row, const rai_tvec &v);
void get_row(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row, rai_tvec &out);
// Validates on the device first (nothing written on a bad value), then packs.
void write_int8(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row_offset, const int8_t *src, std::size_t n,
                int64_t s0, int64_t s1);
void read_int8(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row_offset, int8_t *dst, std::size_t n,
               int64_t s0, int64_t s1);
void random(const rai_context &ctx, rai_vsa_matrix &m, const RandomSpec &spec);
void binary(const rai_context &ctx, const rai_vsa_matrix &a, const rai_vsa_matrix &b, int op, rai_vsa_matrix &out);
void permute(const rai_context &ctx, const rai_vsa_matrix &m, int64_t shift, rai_vsa_matrix &out);
void bundle(const rai_context &ctx, const rai_vsa_matrix &m, const int32_t *weights, const BundleOptions &opt,
            rai_vsa_matrix &out);
// out_kind: RAICUDA_TERNARY_OUT_F32 / _I32; strides in elements.
void similarity(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, int32_t metric,
                int32_t out_kind, void *out, int64_t s0, int64_t s1);
void topk(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, std::size_t k,
          int32_t metric, int64_t *index, int64_t is0, int64_t is1, float *score, int64_t ss0, int64_t ss1);

}  // namespace rai::ternary::gpu
