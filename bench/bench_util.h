// Small timing helpers shared by the benchmark programs: medians of repeated runs.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bench {

// Runs fn() `reps` times after one warm-up and returns the median wall time in seconds.
template <class F>
double median_seconds(F &&fn, int reps = 15) {
    fn();
    std::vector<double> t;
    t.reserve(static_cast<size_t>(reps));
    for (int i = 0; i < reps; ++i) {
        const auto a = std::chrono::steady_clock::now();
        fn();
        const auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double>(b - a).count());
    }
    std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
    return t[static_cast<size_t>(reps / 2)];
}

// Keeps the optimiser from deleting work whose result is otherwise unused.
template <class T>
inline void keep(const T &value) {
    asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace bench
