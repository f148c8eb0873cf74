// Foundation benchmark: rai_tensor_copy on the CPU against the plain C++ it replaces.
//   contiguous: rai_tensor_copy vs std::memcpy (64 MiB, f32)
//   transpose:  rai_tensor_copy into a column-major view vs a hand-written double loop (4096^2 f32)
// Prints one line per case with both times and the ratio (anchor time / rai time; >1 = rai faster).
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench_util.h"
#include "rai.h"

int main() {
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CPU;
    rai_context *ctx = nullptr;
    if (rai_context_create(&p, &ctx) != RAI_OK) {
        std::fprintf(stderr, "context: %s\n", rai_last_error_message());
        return 1;
    }
    std::printf("rai %s, CPU kernels %s\n", rai_version_string(), rai_cpu_dispatch_level());
    std::printf("%-34s %12s %12s %8s\n", "case", "rai", "anchor", "ratio");

    {
        const int64_t n = int64_t{16} << 20;  // 64 MiB of f32
        std::vector<float> a(static_cast<size_t>(n), 1.5f), b(static_cast<size_t>(n));
        const int64_t shape[1] = {n};
        rai_tensor s{a.data(), {RAI_DEVICE_CPU, 0}, 1, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
        rai_tensor d = s;
        d.data = b.data();
        const double t_rai = bench::median_seconds([&] { rai_tensor_copy(ctx, &s, &d); });
        const double t_ref = bench::median_seconds([&] { std::memcpy(b.data(), a.data(), a.size() * 4); });
        const double gb = 2.0 * n * 4 / 1e9;
        std::printf("%-34s %9.2f GB/s %9.2f GB/s %8.2f  (memcpy)\n", "contiguous copy 64 MiB f32", gb / t_rai, gb / t_ref,
                    t_ref / t_rai);
    }
    {
        const int64_t r = 4096, c = 4096;
        std::vector<float> a(static_cast<size_t>(r * c)), b(a.size());
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
        const int64_t shape[2] = {r, c}, tstrides[2] = {1, r};
        rai_tensor s{a.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
        rai_tensor d = s;
        d.data = b.data();
        d.strides = tstrides;
        const double t_rai = bench::median_seconds([&] { rai_tensor_copy(ctx, &s, &d); }, 7);
        const double t_ref = bench::median_seconds(
            [&] {
                for (int64_t i = 0; i < r; ++i)
                    for (int64_t j = 0; j < c; ++j) b[static_cast<size_t>(j * r + i)] = a[static_cast<size_t>(i * c + j)];
                bench::keep(b);
            },
            7);
        const double gb = 2.0 * r * c * 4 / 1e9;
        std::printf("%-34s %9.2f GB/s %9.2f GB/s %8.2f  (naive loop)\n", "transpose 4096x4096 f32", gb / t_rai,
                    gb / t_ref, t_ref / t_rai);
    }
    rai_context_destroy(ctx);
    return 0;
}
