#include "item_memory.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "dtype.h"
#include "error.h"
#include "kernels.h"
#include "matrix_cuda.h"
#include "ternary/cuda_ternary_abi.h"
#include "similarity.h"
#include "tensor_check.h"
#include "thread_pool.h"

namespace rai::ternary {

namespace {

// Items per tile: about 256 KiB of packed rows, so a tile stays in L2 while every query of a
// block passes over it.
std::size_t tile_items(const rai_vsa_matrix &items) {
    const std::size_t row_bytes = items.stride() * sizeof(u64);
    const std::size_t t = row_bytes == 0 ? items.rows : (256u << 10) / row_bytes;
    return t == 0 ? 1 : t;
}

constexpr std::size_t kQueryBlock = 16;

bool uses_hamming(int32_t metric) {
    return metric == kMetricHammingDistance || metric == kMetricHammingSimilarity || metric == kMetricEqualCount;
}

// raw[(i - q0) * ld + (j - j0)] = dot or hamming of query i and item j, for queries [q0, q1) and
// items [j0, j1), in tiles that stay in L2 while every query of the block passes over them.
void raw_block(const rai_vsa_matrix &queries, const rai_vsa_matrix &items, std::size_t q0, std::size_t q1,
               std::size_t j0, std::size_t j1, bool hamming, int64_t *raw, std::size_t ld) {
    const Kernels &k = kernels();
    const std::size_t tile = tile_items(items);
    for (std::size_t t0 = j0; t0 < j1; t0 += tile) {
        const std::size_t nj = std::min(tile, j1 - t0);
        for (std::size_t i = q0; i < q1; ++i) {
            int64_t *dst = raw + (i - q0) * ld + (t0 - j0);
            if (hamming) k.hamming_many(queries.row(i), items.row(t0), nj, items.stride(), items.wpad, dst);
            else k.dot_many(queries.row(i), items.row(t0), nj, items.stride(), items.wpad, dst);
        }
    }
}

// Work is split over the worker pool by query blocks when there are enough of them, else by item
// tiles inside each block (few queries against many items). Both give identical results: every
// (query, item) value is computed the same way whatever the split.
std::size_t query_blocks(std::size_t q) { return (q + kQueryBlock - 1) / kQueryBlock; }
bool split_by_queries(std::size_t q) {
    return query_blocks(q) >= 2 * static_cast<std::size_t>(parallel::num_threads());
}

std::vector<uint64_t> row_nnz(const rai_vsa_matrix &m) {
    const Kernels &k = kernels();
    std::vector<uint64_t> nnz(m.rows);
    for (std::size_t r = 0; r < m.rows; ++r) nnz[r] = k.popcount(m.row(r), m.stride());
    return nnz;
}

struct MetricEval {
    int32_t metric;
    std::size_t dim;
    const uint64_t *qnnz;
    const uint64_t *innz;
    // The metric's value as f32.
    float value(int64_t raw, std::size_t i, std::size_t j) const {
        switch (metric) {
        case kMetricCosine: return cosine_from(raw, qnnz[i], innz[j]);
        case kMetricDot: return static_cast<float>(raw);
        case kMetricHammingDistance: return static_cast<float>(raw);
        case kMetricHammingSimilarity: return hamming_similarity_from(static_cast<uint64_t>(raw), dim);
        default: return static_cast<float>(static_cast<int64_t>(dim) - raw);
        }
    }
    int64_t int_value(int64_t raw) const { return metric == kMetricEqualCount ? static_cast<int64_t>(dim) - raw : raw; }
    // Larger is better. Exact for the integer metrics, the f32 value for cosine.
    double key(int64_t raw, std::size_t i, std::size_t j) const {
        switch (metric) {
        case kMetricCosine: return cosine_from(raw, qnnz[i], innz[j]);
        case kMetricDot: return static_cast<double>(raw);
        default: return -static_cast<double>(raw);  // all hamming-based metrics: fewer differences is better
        }
    }
};

void check_pair(const rai_vsa_matrix &queries, const rai_vsa_matrix &items, int32_t metric) {
    check_metric(metric, "metric");
    RAI_CHECK(items.dim == queries.dim, RAI_ERROR_SHAPE_MISMATCH,
            "items: dimension " + std::to_string(items.dim) + " differs from queries' dimension " +
                std::to_string(queries.dim));
}

struct Strides2 {
    int64_t s0, s1;
};
Strides2 strides_of(const TensorCheck &t) {
    const rai_tensor &x = t.tensor();
    if (x.strides) return {x.strides[0], x.strides[1]};
    return {x.shape[1], 1};
}

}  // namespace

void similarity_matrix(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items,
                       int32_t metric, rai_tensor *out) {
    check_pair(queries, items, metric);
    const std::size_t q = queries.rows, m = items.rows;
    TensorCheck o("out", out);
    o.on(ctx).dtype_in({dtype::f32, dtype::i32}).ndim(2).shape({static_cast<int64_t>(q), static_cast<int64_t>(m)});
    const bool as_int = dtype::equal(o.tensor().dtype, dtype::i32);
    if (as_int) {
        RAI_CHECK(metric == kMetricDot || metric == kMetricHammingDistance || metric == kMetricEqualCount,
                RAI_ERROR_DTYPE_MISMATCH,
                std::string("out: i32 output holds the integer metrics only (dot, hamming distance, equal count); "
                            "metric ") + metric_name(metric) + " needs f32");
        RAI_CHECK(queries.dim <= static_cast<std::size_t>(std::numeric_limits<int32_t>::max()), RAI_ERROR_OUT_OF_RANGE,
                "out: dimension " + std::to_string(queries.dim) + " is too large for i32 results; use f32");
    }
    const Strides2 st = strides_of(o);
    if (queries.on_cuda()) {
        gpu::similarity(ctx, queries, items, metric, as_int ? RAICUDA_TERNARY_OUT_I32 : RAICUDA_TERNARY_OUT_F32, o.data(),
                        st.s0, st.s1);
        return;
    }
    std::vector<uint64_t> qnnz, innz;
    if (metric == kMetricCosine) {
        qnnz = row_nnz(queries);
        innz = row_nnz(items);
    }
    const MetricEval ev{metric, queries.dim, qnnz.data(), innz.data()};
    const bool hamming = uses_hamming(metric);
    // Work item w: query block w / tiles, item tile w % tiles; each converts its own raw values.
    const std::size_t tile = tile_items(items), tiles = (m + tile - 1) / tile;
    const auto work = [&](int64_t begin, int64_t end) {
        std::vector<int64_t> raw(kQueryBlock * tile);
        for (int64_t w = begin; w < end; ++w) {
            const std::size_t q0 = static_cast<std::size_t>(w) / tiles * kQueryBlock, q1 = std::min(q, q0 + kQueryBlock);
            const std::size_t j0 = static_cast<std::size_t>(w) % tiles * tile, j1 = std::min(m, j0 + tile);
            raw_block(queries, items, q0, q1, j0, j1, hamming, raw.data(), tile);
            for (std::size_t i = q0; i < q1; ++i) {
                const int64_t *r = raw.data() + (i - q0) * tile;
                if (as_int) {
                    int32_t *dst = static_cast<int32_t *>(o.data()) + static_cast<int64_t>(i) * st.s0;
                    for (std::size_t j = j0; j < j1; ++j)
                        dst[static_cast<int64_t>(j) * st.s1] = static_cast<int32_t>(ev.int_value(r[j - j0]));
                } else {
                    float *dst = static_cast<float *>(o.data()) + static_cast<int64_t>(i) * st.s0;
                    for (std::size_t j = j0; j < j1; ++j) dst[static_cast<int64_t>(j) * st.s1] = ev.value(r[j - j0], i, j);
                }
            }
        }
    };
    parallel::parallel_for(static_cast<int64_t>(query_blocks(q) * tiles), 1, work);
}

void topk(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, std::size_t k,
          int32_t metric, rai_tensor *out_index, rai_tensor *out_score) {
    check_pair(queries, items, metric);
    const std::size_t q = queries.rows, m = items.rows;
    RAI_CHECK(k >= 1 && k <= m, RAI_ERROR_INVALID_ARGUMENT,
            "k is " + std::to_string(k) + ", it must be in [1, " + std::to_string(m) + "] (the number of items)");
    TensorCheck idx("out_index", out_index);
    idx.on(ctx).dtype(dtype::i64).ndim(2).shape({static_cast<int64_t>(q), static_cast<int64_t>(k)});
    const Strides2 si = strides_of(idx);
    Strides2 ss{0, 0};
    float *score_base = nullptr;
    if (out_score != nullptr) {
        TensorCheck sc("out_score", out_score);
        sc.on(ctx).dtype(dtype::f32).ndim(2).shape({static_cast<int64_t>(q), static_cast<int64_t>(k)});
        ss = strides_of(sc);
        score_base = static_cast<float *>(sc.data());
    }
    int64_t *index_base = static_cast<int64_t *>(idx.data());
    if (queries.on_cuda()) {
        gpu::topk(ctx, queries, items, k, metric, index_base, si.s0, si.s1, score_base, ss.s0, ss.s1);
        return;
    }
    std::vector<uint64_t> qnnz, innz;
    if (metric == kMetricCosine) {
        qnnz = row_nnz(queries);
        innz = row_nnz(items);
    }
    const MetricEval ev{metric, queries.dim, qnnz.data(), innz.data()};
    const bool hamming = uses_hamming(metric);
    // The k best of query i from its m raw values r (ties to the lower item index).
    const auto select = [&](std::size_t i, const int64_t *r, std::vector<double> &keys, std::vector<std::size_t> &order) {
        for (std::size_t j = 0; j < m; ++j) {
            keys[j] = ev.key(r[j], i, j);
            order[j] = j;
        }
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [&](std::size_t a, std::size_t b) { return keys[a] > keys[b] || (keys[a] == keys[b] && a < b); });
        for (std::size_t t = 0; t < k; ++t) {
            const std::size_t j = order[t];
            index_base[static_cast<int64_t>(i) * si.s0 + static_cast<int64_t>(t) * si.s1] = static_cast<int64_t>(j);
            if (score_base) score_base[static_cast<int64_t>(i) * ss.s0 + static_cast<int64_t>(t) * ss.s1] = ev.value(r[j], i, j);
        }
    };
    if (split_by_queries(q)) {
        parallel::parallel_for(static_cast<int64_t>(query_blocks(q)), 1, [&](int64_t begin, int64_t end) {
            std::vector<int64_t> raw(kQueryBlock * m);
            std::vector<double> keys(m);
            std::vector<std::size_t> order(m);
            for (int64_t b = begin; b < end; ++b) {
                const std::size_t q0 = static_cast<std::size_t>(b) * kQueryBlock, q1 = std::min(q, q0 + kQueryBlock);
                raw_block(queries, items, q0, q1, 0, m, hamming, raw.data(), m);
                for (std::size_t i = q0; i < q1; ++i) select(i, raw.data() + (i - q0) * m, keys, order);
            }
        });
        return;
    }
    // Few queries: split the items of each block over the pool, then its queries.
    const std::size_t tile = tile_items(items), tiles = (m + tile - 1) / tile;
    std::vector<int64_t> raw(std::min(q, kQueryBlock) * m);
    for (std::size_t q0 = 0; q0 < q; q0 += kQueryBlock) {
        const std::size_t q1 = std::min(q, q0 + kQueryBlock);
        parallel::parallel_for(static_cast<int64_t>(tiles), 1, [&](int64_t begin, int64_t end) {
            const std::size_t j0 = static_cast<std::size_t>(begin) * tile;
            const std::size_t j1 = std::min(m, static_cast<std::size_t>(end) * tile);
            raw_block(queries, items, q0, q1, j0, j1, hamming, raw.data() + j0, m);
        });
        parallel::parallel_for(static_cast<int64_t>(q1 - q0), 1, [&](int64_t begin, int64_t end) {
            std::vector<double> keys(m);
            std::vector<std::size_t> order(m);
            for (int64_t t = begin; t < end; ++t) {
                const std::size_t i = q0 + static_cast<std::size_t>(t);
                select(i, raw.data() + (i - q0) * m, keys, order);
            }
        });
    }
}

}  // namespace rai::ternary
