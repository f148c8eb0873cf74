// CPU benchmark of the NF4 format (one thread): quantise and dequantise throughput against a
// memcpy of the same bytes, each CPU backend, and the M=1 GEMV of a 4-bit weight against an fp32
// GEMV over the dequantised weights (same dot micro-kernel), in the same run. Medians of repeats.
//
//   build/bench/quant_bench [--quick]
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
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

rai_tensor tensor(void *data, rai_dtype dt, const int64_t *shape, int32_t ndim) {
    rai_tensor t{};
    t.data = data;
    t.device = {RAI_DEVICE_CPU, 0};
    t.ndim = ndim;
    t.dtype = dt;
    t.shape = shape;
    return t;
}

void check(rai_status st) {
    if (st != RAI_OK) {
        std::fprintf(stderr, "rai error %d: %s\n", st, rai_last_error_message());
        std::exit(1);
    }
}

constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};
constexpr rai_dtype kU8{RAI_DTYPE_UINT, 8, 1};

}  // namespace

int main(int argc, char **argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
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
    const double t_copy = bench::median_seconds([&] { std::memcpy(copy.data(), x.data(), x.size() * 4); }, 7);
    std::printf("memcpy %.0f MB: %.2f GB/s (read)\n", gb * 1e3, gb / t_copy);
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
        const double tq = bench::median_seconds([&] {
            rai_q4_state_destroy(st);
            st = nullptr;
            check(rai_q4_quantize(ctx, &p, &src, &ct, &st));
        }, 5);
        const double td = bench::median_seconds([&] { check(rai_q4_dequantize(ctx, st, &ct, &dst)); }, 7);
        q_by[nl] = gb / tq;
        d_by[nl] = gb / td;
        std::printf("%-7s NF4 quantise   %7.2f GB/s  (%.2fx memcpy)\n", levels[nl], q_by[nl], t_copy / tq);
        std::printf("%-7s NF4 dequantise %7.2f GB/s  (%.2fx memcpy)\n", levels[nl], d_by[nl], t_copy / td);
        rai_q4_state_destroy(st);
        ++nl;
    }
    rai_cpu_set_feature_mask(all);
    if (nl == 2)
        std::printf("%s vs scalar: quantise %.2fx, dequantise %.2fx\n", levels[0], q_by[0] / q_by[1], d_by[0] / d_by[1]);

    // ---- GEMV, M = 1: 4-bit weight (fused decode) vs fp32 GEMV on the dequantised weight
    std::printf("\nGEMV y = W x, M=1 (fp32 activations; weights NF4 block 64 vs the same weights in fp32)\n");
    std::printf("%-12s %12s %12s %10s %12s %10s\n", "N x K", "NF4 ms", "fp32 ms", "NF4/fp32", "NF4+DQ ms", "DQ cost");
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
        double tq[2] = {0, 0};
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
            tq[dq] = bench::median_seconds([&] { check(rai_q4_linear_forward(ctx, st, &ct, &xt, nullptr, &yt)); }, 11);
            rai_q4_state_destroy(st);
        }
        const double tf = bench::median_seconds([&] {
            for (int64_t r = 0; r < N; ++r) dot(wd.data() + r * K, xv.data(), 1, K, &yf[static_cast<size_t>(r)]);
            bench::keep(yf);
        }, 11);
        char name[32];
        std::snprintf(name, sizeof name, "%lldx%lld", static_cast<long long>(N), static_cast<long long>(K));
        std::printf("%-12s %12.3f %12.3f %9.2fx %12.3f %+9.1f%%\n", name, tq[0] * 1e3, tf * 1e3, tf / tq[0],
                    tq[1] * 1e3, (tq[1] / tq[0] - 1) * 100);
    }
    std::printf("\n(NF4/fp32 > 1 means the 4-bit GEMV is faster; DQ cost = double quant vs plain NF4)\n");
    rai_context_destroy(ctx);
    return 0;
}
