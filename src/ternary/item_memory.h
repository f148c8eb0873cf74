// Batched item memory: the similarity of every query row to every item row, and top-k search.
#pragma once
#include <cstddef>
#include <cstdint>

#include "matrix.h"
#include "rai.h"

namespace rai::ternary {

// out: [q, m] f32 (any metric) or i32 (dot, hamming distance, equal count) on ctx's device.
void similarity_matrix(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items,
                       int32_t metric, rai_tensor *out);
// out_index: i64 [q, k]; out_score: f32 [q, k] or NULL. Best first; equal scores in increasing
// item index. Best = largest, except for the hamming distance (smallest).
void topk(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, std::size_t k,
          int32_t metric, rai_tensor *out_index, rai_tensor *out_score);

}  // namespace rai::ternary
