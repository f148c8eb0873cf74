// Splitting the CPU compressors over the worker pool (src/core/thread_pool.h) without making any
// output depend on the thread count. Work is cut into fixed blocks of kBlock elements: the block
// boundaries depend only on n, every block's result is computed by one thread in index order, and
// per-block partial sums are combined afterwards in block order on the caller. So RAI_NUM_THREADS=1
// and any other setting produce the same bits (a tensor of at most kBlock elements is one block:
// exactly the single-threaded code of before).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../core/thread_pool.h"
#include "gc.h"

namespace rai::gc::par {

// 64 Ki elements (256 KiB of f32): large enough that waking a worker is worth it, and a multiple
// of every packing unit (8 sign bits, 4 trits per byte, the 512-element QSGD bucket) so that
// blocks write disjoint bytes.
constexpr std::size_t kBlock = std::size_t{1} << 16;
static_assert(kBlock % 8 == 0 && kBlock % 4 == 0 && kBlock % kQsgdBucket == 0, "blocks must align to packing units");

inline std::size_t block_count(std::size_t n) { return (n + kBlock - 1) / kBlock; }

// f(block, lo, hi) for every block [lo, hi) of [0, n), blocks spread over the pool.
template <class F>
void for_blocks(std::size_t n, F &&f) {
    const std::size_t nb = block_count(n);
    parallel::parallel_for(static_cast<int64_t>(nb), 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            const std::size_t lo = static_cast<std::size_t>(b) * kBlock;
            f(static_cast<std::size_t>(b), lo, std::min(n, lo + kBlock));
        }
    });
}

// f(i0, i1) over rows [0, rows) in chunks of rows whose work (rows x cost_per_row) is about a
// block; for loops whose every output element is computed by one thread in a fixed order.
template <class F>
void for_rows(std::size_t rows, std::size_t cost_per_row, F &&f) {
    const std::size_t grain = std::max<std::size_t>(1, kBlock / std::max<std::size_t>(1, cost_per_row));
    parallel::parallel_for(static_cast<int64_t>(rows), static_cast<int64_t>(grain), [&](int64_t i0, int64_t i1) {
        f(static_cast<std::size_t>(i0), static_cast<std::size_t>(i1));
    });
}

}  // namespace rai::gc::par
