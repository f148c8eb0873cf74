// The worker pool behind rai::parallel (see thread_pool.h).
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace rai::parallel {

namespace {

class Pool {
public:
    explicit Pool(int workers) {
        for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i); });
    }

    int workers() const { return static_cast<int>(threads_.size()); }

    // Runs the job on `helpers` workers plus the calling thread. One job at a time.
    void run(int helpers, int64_t n, int64_t chunk, void (*fn)(void *, int64_t, int64_t), void *ctx) {
        {
            std::lock_guard<std::mutex> lock(m_);
            fn_ = fn;
            ctx_ = ctx;
            n_ = n;
            chunk_ = chunk;
            nchunks_ = (n + chunk - 1) / chunk;
            next_.store(0);
            helpers_ = helpers;
            pending_ = helpers;
            ++generation_;
        }
        cv_.notify_all();
        work();
        std::unique_lock<std::mutex> lock(m_);
        done_.wait(lock, [this] { return pending_ == 0; });
    }

    std::mutex busy;

private:
    void work() {
        for (int64_t c = next_.fetch_add(1); c < nchunks_; c = next_.fetch_add(1)) {
            const int64_t b = c * chunk_;
            fn_(ctx_, b, b + chunk_ < n_ ? b + chunk_ : n_);
        }
    }

    void loop(int index) {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(m_);
                cv_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (index >= helpers_) continue;
            }
            work();
            std::lock_guard<std::mutex> lock(m_);
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::vector<std::thread> threads_;
    std::mutex m_;
    std::condition_variable cv_, done_;
    uint64_t generation_ = 0;
    int helpers_ = 0, pending_ = 0;
    void (*fn_)(void *, int64_t, int64_t) = nullptr;
    void *ctx_ = nullptr;
    int64_t n_ = 0, chunk_ = 1, nchunks_ = 0;
    std::atomic<int64_t> next_{0};
};

Pool &pool() {
    // Never destroyed: its threads sleep until process exit.
    static Pool *p = [] {
        const unsigned hw = std::thread::hardware_concurrency();
        return new Pool(hw > 1 ? static_cast<int>(hw) - 1 : 0);
    }();
    return *p;
}

}  // namespace

int num_threads() {
    if (const char *env = std::getenv("RAI_NUM_THREADS"); env != nullptr && *env != '\0') {
        const long v = std::strtol(env, nullptr, 10);
        if (v >= 1) return static_cast<int>(v > 1024 ? 1024 : v);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

void parallel_for(int64_t n, int64_t grain, void (*fn)(void *, int64_t, int64_t), void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int threads = num_threads();
    const int64_t max_chunks = (n + grain - 1) / grain;
    if (threads <= 1 || max_chunks <= 1) {
        fn(ctx, 0, n);
        return;
    }
    Pool &p = pool();
    std::unique_lock<std::mutex> busy(p.busy, std::try_to_lock);
    const int helpers = std::min<int64_t>({static_cast<int64_t>(threads - 1), p.workers(), max_chunks - 1});
    if (!busy.owns_lock() || helpers <= 0) {  // another job runs: do this one inline
        fn(ctx, 0, n);
        return;
    }
    // A few chunks per participant for balance, never below the grain.
    int64_t chunk = (n + 4 * (helpers + 1) - 1) / (4 * (helpers + 1));
    if (chunk < grain) chunk = grain;
    p.run(helpers, n, chunk, fn, ctx);
}

}  // namespace rai::parallel
