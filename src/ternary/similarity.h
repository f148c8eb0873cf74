// Similarities between packed vectors, and the one definition of each metric's value from the
// integer counts, shared by single-vector functions, the item-memory search and (identically)
// the CUDA kernels.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "rai.h"
#include "tvec.h"

namespace rai::ternary {

// Metric ids (rai_vsa_metric values).
enum Metric : int32_t {
    kMetricCosine = 0,
    kMetricDot = 1,
    kMetricHammingDistance = 2,
    kMetricHammingSimilarity = 3,
    kMetricEqualCount = 4,
};

// dot / sqrt(nnz_a * nnz_b) rounded once to f32, 0 if either vector is zero. Computed in double
// (correctly rounded sqrt and division), so CPU and GPU give the same bits.
inline float cosine_from(int64_t dot, uint64_t nnz_a, uint64_t nnz_b) {
    if (nnz_a == 0 || nnz_b == 0) return 0.0f;
    return static_cast<float>(static_cast<double>(dot) /
                              std::sqrt(static_cast<double>(nnz_a) * static_cast<double>(nnz_b)));
}

// 1 - d / n, 1 for n = 0.
inline float hamming_similarity_from(uint64_t distance, std::size_t dim) {
    if (dim == 0) return 1.0f;
    return static_cast<float>(1.0 - static_cast<double>(distance) / static_cast<double>(dim));
}

void check_metric(int32_t metric, const char *name);
const char *metric_name(int32_t metric);

int64_t vsa_dot(const rai_tvec &a, const rai_tvec &b);
float vsa_cosine(const rai_tvec &a, const rai_tvec &b);
uint64_t vsa_hamming(const rai_tvec &a, const rai_tvec &b);

}  // namespace rai::ternary
