// The one CPU worker pool of librai. Kernels that split work over cores (BitNet GEMM, item memory)
// call parallel_for; the pool is created on first use with one worker fewer than the hardware
// threads (the caller is the last participant) and lives until process exit.
//   RAI_NUM_THREADS=N limits every job to N participants (1: run inline, no threads).
// One job runs at a time; a parallel_for issued while another runs (from another thread, or
// nested) runs inline on its caller, so results must never depend on how [0, n) was split.
#pragma once
#include <cstdint>
#include <type_traits>

namespace rai::parallel {

// Runs fn(ctx, begin, end) over [0, n) in chunks of at least `grain`. fn must not throw.
void parallel_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

// The same with any callable f(begin, end).
template <class F>
void parallel_for(int64_t n, int64_t grain, F &&f) {
    parallel_for(
        n, grain, [](void *c, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F> *>(c))(b, e); },
        const_cast<void *>(static_cast<const void *>(&f)));
}

// Participants a job may use: RAI_NUM_THREADS when set (1..1024), else the hardware threads.
int num_threads();

}  // namespace rai::parallel
