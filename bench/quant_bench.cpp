// Benchmark of the NF4 format. CPU (one thread): quantise and dequantise throughput against a
// memcpy of the same bytes, each CPU backend, and the M=1 GEMV of a 4-bit weight against an fp32
// GEMV over the dequantised weights (same dot micro-kernel), in the same run. Medians of repeats.
// With a CUDA device it adds the GPU section (dequantise/quantise vs device copy, M=1 GEMV).
//
//   build/bench/quant_bench [--quick | --gpu]   (--gpu: the GPU sections alone; RAI_BNB_LIBRARY=
//   .../libbitsandbytes_cuda130.so adds bitsandbytes' CUDA kernels as the anchor)
//   RAI_CUDA_PLUGIN=build/src/librai_cuda.so build/bench/quant_bench     (GPU section too)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "rai_bench.h"
#include "cpu_features.h"
#include "../src/quant/q4_kernels.h"
#include "rai.h"

namespace {

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

using bench::tensor;

void check(rai_status st) {
    if (st != RAI_OK) {
        std::fprintf(stderr, "rai error %d: %s\n", st, rai_last_error_message());
        std::exit(1);
    }
}

// Median wall time and median thread CPU time of `reps` runs after one warm-up. On a shared
// machine the CPU time is the steadier measure of the work itself; both are printed.
struct Timing {
    double wall = 0, cpu = 0;
};

template <class F>
Timing timed(F &&fn, int reps) {
    fn();
    std::vector<double> w, c;
    for (int i = 0; i < reps; ++i) {
        timespec c0{}, c1{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        const auto a = std::chrono::steady_clock::now();
        fn();
        const auto b = std::chrono::steady_clock::now();
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        w.push_back(std::chrono::duration<double>(b - a).count());
        c.push_back(double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec));
    }
    std::sort(w.begin(), w.end());
    std::sort(c.begin(), c.end());
    return {w[w.size() / 2], c[c.size() / 2]};
}

constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};
constexpr rai_dtype kU8{RAI_DTYPE_UINT, 8, 1};

// ---- GPU (only with a CUDA device): dequantise and quantise against a device-to-device copy of
// the same bytes, and the M=1 GEMV, each over enough weight copies that the L2 cannot serve them.
// Host timing around batches of launches ended by rai_context_synchronize.
void gpu_section(bool quick) {
    rai_context *g = bench::cuda_context_or_skip();
    if (!g) return;
    constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
    auto dtensor = [](rai_buffer *b, rai_dtype dt, const int64_t *shape, int32_t nd) {
        return bench::dev_tensor(rai_buffer_data(b), dt, shape, nd);
    };
    auto time_batch = [&](auto &&launch, int iters) {
        launch(0);
        check(rai_context_synchronize(g));
        std::vector<double> t;
        for (int r = 0; r < 5; ++r) {
            const auto a = std::chrono::steady_clock::now();
            for (int i = 0; i < iters; ++i) launch(i);
            check(rai_context_synchronize(g));
            t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count() / iters);
        }
        std::sort(t.begin(), t.end());
        return t[0];  // best of 5 batches
    };
    // Dequantise 14336 x 4096 NF4 -> bf16 vs copying the bf16 weight (read + write bytes).
    {
        const int64_t N = 14336, K = 4096, n = N * K;
        int64_t ws[2] = {N, K}, cs[1] = {n / 2};
        rai_buffer *wb = nullptr, *wb2 = nullptr, *cb = nullptr;
        check(rai_buffer_create(g, static_cast<size_t>(n) * 2, &wb));
        check(rai_buffer_create(g, static_cast<size_t>(n) * 2, &wb2));
        check(rai_buffer_create(g, static_cast<size_t>(n) / 2, &cb));
        std::vector<uint16_t> host(static_cast<size_t>(n));
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (auto &h : host) h = rai::q4::f32_to_bf16(nd(rng));
        check(rai_buffer_write(g, wb, 0, host.data(), host.size() * 2));
        rai_tensor w = dtensor(wb, kBF16, ws, 2), w2 = dtensor(wb2, kBF16, ws, 2), c = dtensor(cb, kU8, cs, 1);
        rai_q4_state *st = nullptr;
        rai_q4_params p;
        rai_q4_params_init(&p);
        const double tq = time_batch([&](int) {
            rai_q4_state_destroy(st);
            st = nullptr;
            check(rai_q4_quantize(g, &p, &w, &c, &st));
        }, 5);
        const double tcopy = time_batch([&](int) { check(rai_tensor_copy(g, &w, &w2)); }, 20);
        const double td = time_batch([&](int) { check(rai_q4_dequantize(g, st, &c, &w2)); }, 20);
        const double copy_bytes = double(n) * 4, deq_bytes = double(n) * 2 + double(n) / 2 + double(n) / 64 * 4;
        std::printf("bf16 copy 14336x4096      %8.1f us  %.2f TB/s (read+write)\n", tcopy * 1e6, copy_bytes / tcopy / 1e12);
        std::printf("NF4 dequantise -> bf16    %8.1f us  %.2f TB/s  (%.0f%% of copy bandwidth)\n", td * 1e6,
                    deq_bytes / td / 1e12, 100.0 * (deq_bytes / td) / (copy_bytes / tcopy));
        std::printf("NF4 quantise bf16         %8.1f us  %.2f TB/s  (%.2f ms per 1e9 params)\n", tq * 1e6,
                    deq_bytes / tq / 1e12, tq * 1e3 * 1e9 / double(n));
        rai_q4_state_destroy(st);
        rai_buffer_destroy(wb);
        rai_buffer_destroy(wb2);
        rai_buffer_destroy(cb);
    }
    // GEMV M=1, bf16 activations, weights rotated through >= 512 MB of codes (cold L2).
    std::printf("%-14s %10s %12s %10s   (reference H100 cuBLAS bf16 GEMV from docs: 15.5/7.5/41.5/43.5/375 us)\n",
                "N x K", "NF4 us", "TB/s codes", "NF4+DQ us");
    const int64_t shapes[][2] = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
    for (const auto &s : shapes) {
        const int64_t N = s[0], K = s[1], n = N * K;
        if (quick && n > 4096 * 4096) continue;
        const int copies = static_cast<int>(std::max<int64_t>(2, (int64_t{512} << 20) / (n / 2)));
        double t[2] = {0, 0};
        for (int dq = 0; dq < 2; ++dq) {
            std::vector<rai_buffer *> cbs(static_cast<size_t>(copies));
            std::vector<rai_q4_state *> sts(static_cast<size_t>(copies));
            int64_t ws[2] = {N, K}, cs[1] = {n / 2}, xs[2] = {1, K}, ys[2] = {1, N};
            rai_buffer *wb = nullptr, *xb = nullptr, *yb = nullptr;
            check(rai_buffer_create(g, static_cast<size_t>(n) * 2, &wb));
            check(rai_buffer_create(g, static_cast<size_t>(K) * 2, &xb));
            check(rai_buffer_create(g, static_cast<size_t>(N) * 2, &yb));
            std::vector<uint16_t> host(static_cast<size_t>(std::max(n, K)), rai::q4::f32_to_bf16(0.01f));
            check(rai_buffer_write(g, wb, 0, host.data(), static_cast<size_t>(n) * 2));
            check(rai_buffer_write(g, xb, 0, host.data(), static_cast<size_t>(K) * 2));
            rai_tensor w = dtensor(wb, kBF16, ws, 2), x = dtensor(xb, kBF16, xs, 2), y = dtensor(yb, kBF16, ys, 2);
            rai_q4_params p;
            rai_q4_params_init(&p);
            p.double_quant = dq;
            for (int i = 0; i < copies; ++i) {
                check(rai_buffer_create(g, static_cast<size_t>(n) / 2, &cbs[static_cast<size_t>(i)]));
                rai_tensor c = dtensor(cbs[static_cast<size_t>(i)], kU8, cs, 1);
                check(rai_q4_quantize(g, &p, &w, &c, &sts[static_cast<size_t>(i)]));
            }
            rai_buffer_destroy(wb);
            t[dq] = time_batch([&](int i) {
                const size_t k = static_cast<size_t>(i % copies);
                rai_tensor c = dtensor(cbs[k], kU8, cs, 1);
                check(rai_q4_linear_forward(g, sts[k], &c, &x, nullptr, &y));
            }, 200);
            for (int i = 0; i < copies; ++i) {
                rai_q4_state_destroy(sts[static_cast<size_t>(i)]);
                rai_buffer_destroy(cbs[static_cast<size_t>(i)]);
            }
            rai_buffer_destroy(xb);
            rai_buffer_destroy(yb);
        }
        char name[48];
        std::snprintf(name, sizeof name, "%lldx%lld", static_cast<long long>(N), static_cast<long long>(K));
        std::printf("%-14s %10.1f %12.2f %10.1f\n", name, t[0] * 1e6, (double(n) * 0.5625) / t[0] / 1e12, t[1] * 1e6);
    }
    rai_context_destroy(g);
}

}  // namespace

void quant_bnb_cuda_section(bool quick);  // quant_bnb_cuda.cpp

int main(int argc, char **argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (argc > 1 && std::strcmp(argv[1], "--gpu") == 0) {  // the GPU sections alone
        gpu_section(false);
        quant_bnb_cuda_section(false);
        return 0;
    }
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    cp.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    check(rai_context_create(&cp, &ctx));
    std::printf("rai %s quant_bench on %s, 1 thread, dispatch %s\n\n", rai_version_string(), cpu_model().c_str(),
                rai_cpu_dispatch_level());

    // ---- quantise / dequantise throughput (GB/s of fp32 values), block 64
    const int64_t n = quick ? (int64_t{1} << 22) : (int64_t{1} << 26);  // 16 MiB or 256 MiB of fp32
    std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n)), copy(static_cast<size_t>(n));
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (float &v : x) v = nd(rng);
    std::vector<uint8_t> codes(static_cast<size_t>((n + 1) / 2));
    const double gb = double(n) * 4 / 1e9;
    const Timing t_copy = timed([&] { std::memcpy(copy.data(), x.data(), x.size() * 4); }, 7);
    std::printf("GB/s of fp32 values; wall clock / thread CPU time\n");
    std::printf("memcpy %.0f MB         %7.2f / %7.2f GB/s\n", gb * 1e3, gb / t_copy.wall, gb / t_copy.cpu);
    const uint64_t all = ~uint64_t{0};
    double q_by[2] = {0, 0}, d_by[2] = {0, 0};
    const char *levels[2] = {"", ""};
    int nl = 0;
    for (uint64_t mask : {all, uint64_t{0}}) {
        rai_cpu_set_feature_mask(mask);
        if (nl == 1 && std::strcmp(rai_cpu_dispatch_level(), levels[0]) == 0) break;
        levels[nl] = rai_cpu_dispatch_level();
        int64_t shape[1] = {n}, cshape[1] = {(n + 1) / 2};
        rai_tensor src = tensor(x.data(), kF32, shape, 1), dst = tensor(y.data(), kF32, shape, 1),
                   ct = tensor(codes.data(), kU8, cshape, 1);
        rai_q4_params p;
        rai_q4_params_init(&p);
        p.type = RAI_Q4_NF4;
        p.blocksize = 64;
        rai_q4_state *st = nullptr;
        const Timing tq = timed([&] {
            rai_q4_state_destroy(st);
            st = nullptr;
            check(rai_q4_quantize(ctx, &p, &src, &ct, &st));
        }, 5);
        const Timing td = timed([&] { check(rai_q4_dequantize(ctx, st, &ct, &dst)); }, 7);
        q_by[nl] = gb / tq.cpu;
        d_by[nl] = gb / td.cpu;
        std::printf("%-7s NF4 quantise   %7.2f / %7.2f GB/s  (%.2fx memcpy by CPU time)\n", levels[nl], gb / tq.wall,
                    gb / tq.cpu, t_copy.cpu / tq.cpu);
        std::printf("%-7s NF4 dequantise %7.2f / %7.2f GB/s  (%.2fx memcpy by CPU time)\n", levels[nl], gb / td.wall,
                    gb / td.cpu, t_copy.cpu / td.cpu);
        rai_q4_state_destroy(st);
        ++nl;
    }
    rai_cpu_set_feature_mask(all);
    if (nl == 2)
        std::printf("%s vs scalar (CPU time): quantise %.2fx, dequantise %.2fx\n", levels[0], q_by[0] / q_by[1],
                    d_by[0] / d_by[1]);

    // ---- GEMV, M = 1: 4-bit weight (fused decode) vs fp32 GEMV on the dequantised weight
    std::printf("\nGEMV y = W x, M=1 (fp32 activations; weights NF4 block 64 vs the same weights in fp32)\n");
    std::printf("times are median thread CPU time (wall clock in brackets)\n");
    std::printf("%-12s %20s %20s %10s %12s %10s\n", "N x K", "NF4 ms", "fp32 ms", "fp32/NF4", "NF4+DQ ms", "DQ cost");
    const int64_t shapes[][2] = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}};
    const rai::q4::DotRowsFn dot = (rai::cpu::usable() & (rai::cpu::kAvx2Level | RAI_CPU_F16C)) ==
                                           (rai::cpu::kAvx2Level | RAI_CPU_F16C)
                                       ? rai::q4::dot_rows_avx2
                                       : rai::q4::dot_rows_ref;
    for (const auto &s : shapes) {
        const int64_t N = s[0], K = s[1];
        if (quick && N * K > 4096 * 4096) continue;
        std::vector<float> w(static_cast<size_t>(N * K));
        for (float &v : w) v = nd(rng) * 0.02f;
        std::vector<float> xv(static_cast<size_t>(K)), yq(static_cast<size_t>(N)), yf(static_cast<size_t>(N));
        for (float &v : xv) v = nd(rng);
        std::vector<uint8_t> c(static_cast<size_t>(N * K / 2));
        int64_t wshape[2] = {N, K}, cshape[1] = {N * K / 2}, xshape[2] = {1, K}, yshape[2] = {1, N};
        rai_tensor wt = tensor(w.data(), kF32, wshape, 2), ct = tensor(c.data(), kU8, cshape, 1),
                   xt = tensor(xv.data(), kF32, xshape, 2), yt = tensor(yq.data(), kF32, yshape, 2);
        Timing tq[2];
        std::vector<float> wd(static_cast<size_t>(N * K));
        for (int dq = 0; dq < 2; ++dq) {
            rai_q4_params p;
            rai_q4_params_init(&p);
            p.type = RAI_Q4_NF4;
            p.double_quant = dq;
            rai_q4_state *st = nullptr;
            check(rai_q4_quantize(ctx, &p, &wt, &ct, &st));
            if (dq == 0) {
                rai_tensor wdt = tensor(wd.data(), kF32, wshape, 2);
                check(rai_q4_dequantize(ctx, st, &ct, &wdt));
            }
            tq[dq] = timed([&] { check(rai_q4_linear_forward(ctx, st, &ct, &xt, nullptr, &yt)); }, 11);
            rai_q4_state_destroy(st);
        }
        const Timing tf = timed([&] {
            for (int64_t r = 0; r < N; ++r) dot(wd.data() + r * K, xv.data(), 1, K, &yf[static_cast<size_t>(r)]);
            bench::keep(yf);
        }, 11);
        char name[48];
        std::snprintf(name, sizeof name, "%lldx%lld", static_cast<long long>(N), static_cast<long long>(K));
        std::printf("%-12s %9.3f (%8.3f) %9.3f (%8.3f) %9.2fx %12.3f %+9.1f%%\n", name, tq[0].cpu * 1e3,
                    tq[0].wall * 1e3, tf.cpu * 1e3, tf.wall * 1e3, tf.cpu / tq[0].cpu, tq[1].cpu * 1e3,
                    (tq[1].cpu / tq[0].cpu - 1) * 100);
    }
    std::printf("\n(fp32/NF4 > 1 means the 4-bit GEMV is faster; DQ cost = double quant vs plain NF4)\n");
    rai_context_destroy(ctx);
    gpu_section(quick);
    quant_bnb_cuda_section(quick);
    return 0;
}
