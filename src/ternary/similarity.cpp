#include "similarity.h"

#include <string>

#include "error.h"
#include "kernels.h"
#include "error.h"

namespace rai::ternary {

void check_metric(int32_t metric, const char *name) {
    RAI_CHECK(metric >= kMetricCosine && metric <= kMetricEqualCount, RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + " " + std::to_string(metric) + " is not a rai_vsa_metric");
}

const char *metric_name(int32_t metric) {
    switch (metric) {
    case kMetricCosine: return "cosine";
    case kMetricDot: return "dot";
    case kMetricHammingDistance: return "hamming distance";
    case kMetricHammingSimilarity: return "hamming similarity";
    case kMetricEqualCount: return "equal count";
    default: return "unknown";
    }
}

int64_t vsa_dot(const rai_tvec &a, const rai_tvec &b) { return kernels().dot(a.row(), b.row(), a.wpad); }

float vsa_cosine(const rai_tvec &a, const rai_tvec &b) {
    const Kernels &k = kernels();
    return cosine_from(k.dot(a.row(), b.row(), a.wpad), k.popcount(a.row(), 2 * a.wpad),
                       k.popcount(b.row(), 2 * b.wpad));
}

uint64_t vsa_hamming(const rai_tvec &a, const rai_tvec &b) { return kernels().hamming(a.row(), b.row(), a.wpad); }

}  // namespace rai::ternary
