// Adapters CPU benchmark: LoRA forward and backward through rai's C API against a plain fp32
// GEMM of the same shapes (the anchor: the base product alone, computed by rai's own fp32 GEMM
// kernel in the same run), a mixed batch over 8 adapters against a single adapter, and loading
// a PEFT adapter directory against reading its file. Prints times and ratios. With a CUDA device
// it adds the GPU section (adapters_gpu.cpp: LoRA overhead over cuBLAS, QLoRA, mixed batches).
//   adapters_bench [--quick | --gpu]      (--gpu: the GPU section alone)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../src/adapters/gemm_cpu.h"
#include "bench_util.h"
#include "rai.h"

namespace {

// Median thread CPU time of fn() (one warm-up run): the development machines are shared, and
// CPU time excludes the time this thread waits for a core (wall time does not).
template <class F>
double median_cpu_seconds(F &&fn, int reps) {
    auto now = [] {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    };
    fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const double a = now();
        fn();
        t.push_back(now() - a);
    }
    std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
    return t[static_cast<size_t>(reps / 2)];
}

struct T {
    std::vector<int64_t> shape;
    std::vector<float> v;
    rai_tensor t{};
    explicit T(std::vector<int64_t> s, float scale = 0.0f, uint32_t seed = 1) : shape(std::move(s)) {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        v.assign(n, 0.0f);
        if (scale != 0.0f) {
            std::mt19937 g(seed);
            std::normal_distribution<float> d(0.0f, scale);
            for (float &x : v) x = d(g);
        }
        t.data = v.data();
        t.device = {RAI_DEVICE_CPU, 0};
        t.ndim = static_cast<int32_t>(shape.size());
        t.dtype = {RAI_DTYPE_FLOAT, 32, 1};
        t.shape = shape.data();
    }
};

void check(rai_status st) {
    if (st != RAI_OK) {
        std::fprintf(stderr, "rai error: %s\n", rai_last_error_message());
        std::exit(1);
    }
}

}  // namespace

void adapters_gpu_section(bool quick);  // adapters_gpu.cpp

int main(int argc, char **argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (argc > 1 && std::strcmp(argv[1], "--gpu") == 0) {
        adapters_gpu_section(false);
        return 0;
    }
    const int reps = quick ? 3 : 7;
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    cp.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    check(rai_context_create(&cp, &ctx));
    std::printf("rai adapters CPU benchmark; %s; GEMM kernels: %s; single thread; fp32; median thread CPU time of %d runs\n",
                rai_build_info(), rai::adapters::cpu::gemm_variant_name(), reps);

    const int64_t K = quick ? 512 : 1024, N = quick ? 512 : 1024;
    std::printf("\nLoRA layer %lldx%lld: forward y = x·Wᵀ + s·B(A(x)); backward dx, dA, dB. Anchor: fp32 GEMM of the "
                "base shape (forward x·Wᵀ; backward dy·W).\n",
                static_cast<long long>(N), static_cast<long long>(K));
    std::printf("%6s %4s | %10s %10s %7s | %10s %10s %7s\n", "M", "r", "gemm ms", "lora fwd", "ratio", "gemm ms",
                "lora bwd", "ratio");
    T w({N, K}, 0.05f, 2);
    for (int64_t M : {int64_t{1}, int64_t{16}, int64_t{128}, quick ? int64_t{256} : int64_t{1024}}) {
        for (int64_t r : {int64_t{16}, int64_t{64}}) {
            T x({M, K}, 1.0f, 3), y({M, N}), a({r, K}, 0.05f, 4), b({N, r}, 0.05f, 5), dy({M, N}, 1.0f, 6), dx({M, K}),
                da({r, K}), db({N, r});
            rai_lora_linear_params p;
            rai_lora_linear_params_init(&p);
            p.scaling = 2.0f;
            const double g_f = median_cpu_seconds(
                [&] {
                    rai::adapters::cpu::gemm_nt(M, N, K, 1.0f, x.v.data(), K, w.v.data(), K, 0.0f, y.v.data(), N);
                    bench::keep(y.v[0]);
                },
                reps);
            const double l_f = median_cpu_seconds(
                [&] { check(rai_lora_linear_forward(ctx, &p, &x.t, &w.t, nullptr, &a.t, &b.t, nullptr, &y.t)); }, reps);
            const double g_b = median_cpu_seconds(
                [&] {
                    rai::adapters::cpu::gemm_nn(M, K, N, 1.0f, dy.v.data(), N, w.v.data(), K, 0.0f, dx.v.data(), K);
                    bench::keep(dx.v[0]);
                },
                reps);
            const double l_b = median_cpu_seconds(
                [&] {
                    check(rai_lora_linear_backward(ctx, &p, &x.t, &w.t, &a.t, &b.t, nullptr, &dy.t, &dx.t, &da.t, &db.t,
                                                   nullptr));
                },
                reps);
            std::printf("%6lld %4lld | %10.3f %10.3f %6.2fx | %10.3f %10.3f %6.2fx\n", static_cast<long long>(M),
                        static_cast<long long>(r), g_f * 1e3, l_f * 1e3, l_f / g_f, g_b * 1e3, l_b * 1e3, l_b / g_b);
        }
    }

    // Mixed batch: 8 adapters (r = 16) over one base vs one adapter for all rows.
    {
        const int64_t M = quick ? 128 : 256, r = 16;
        T x({M, K}, 1.0f, 7), y({M, N});
        std::vector<T> as, bs;
        for (int i = 0; i < 8; ++i) {
            as.emplace_back(std::vector<int64_t>{r, K}, 0.05f, 10 + i);
            bs.emplace_back(std::vector<int64_t>{N, r}, 0.05f, 20 + i);
        }
        std::vector<const rai_tensor *> ap, bp;
        for (int i = 0; i < 8; ++i) {
            ap.push_back(&as[i].t);
            bp.push_back(&bs[i].t);
        }
        const std::vector<float> sc(8, 2.0f);
        std::vector<int32_t> rows8(M), rows1(M, 0);
        for (int64_t i = 0; i < M; ++i) rows8[i] = static_cast<int32_t>(i % 8);
        const double t8 = median_cpu_seconds(
            [&] {
                check(rai_lora_linear_forward_mixed(ctx, &x.t, &w.t, nullptr, 8, ap.data(), bp.data(), sc.data(),
                                                    rows8.data(), &y.t));
            },
            reps);
        const double t1 = median_cpu_seconds(
            [&] {
                check(rai_lora_linear_forward_mixed(ctx, &x.t, &w.t, nullptr, 1, ap.data(), bp.data(), sc.data(),
                                                    rows1.data(), &y.t));
            },
            reps);
        std::printf("\nmixed batch, M=%lld, %lldx%lld, r=16: 8 adapters %.3f ms, 1 adapter %.3f ms: %.0f%% of "
                    "single-adapter throughput\n",
                    static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K), t8 * 1e3, t1 * 1e3,
                    100.0 * t1 / t8);
    }

    // Adapter load vs raw read of adapter_model.safetensors (7 modules N x K, r = 16).
    {
        rai_adapter_model *m = nullptr;
        check(rai_adapter_model_create(ctx, &m));
        const char *mods[] = {"l.q_proj", "l.k_proj", "l.v_proj", "l.o_proj", "l.gate_proj", "l.up_proj", "l.down_proj"};
        for (const char *name : mods) check(rai_adapter_model_add_linear(m, name, &w.t, nullptr, 0));
        rai_adapter_params p;
        rai_adapter_params_init(&p);
        p.r = 16;
        p.alpha = 16;
        p.init = RAI_ADAPTER_INIT_RANDOM;
        p.target_modules = "\"all-linear\"";
        check(rai_adapter_add(m, "a", &p));
        const std::string dir = "/tmp/rai-adapters-bench-" + std::to_string(getpid());
        check(rai_adapter_save_peft(m, "a", dir.c_str(), nullptr));
        const std::string file = dir + "/adapter_model.safetensors";
        struct stat sb {};
        stat(file.c_str(), &sb);
        int k = 0;
        const double t_load = median_cpu_seconds(
            [&] {
                const std::string n = "l" + std::to_string(k++);
                check(rai_adapter_load_peft(m, dir.c_str(), n.c_str()));
                check(rai_adapter_delete(m, n.c_str()));
            },
            reps);
        std::vector<char> buf(static_cast<size_t>(sb.st_size));
        const double t_read = median_cpu_seconds(
            [&] {
                std::ifstream in(file, std::ios::binary);
                in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
                bench::keep(buf[0]);
            },
            reps);
        const char *names[] = {"a"};
        std::vector<double> sw;
        const double t_switch = median_cpu_seconds([&] { check(rai_adapter_set_active(m, names, nullptr, 1)); }, 101);
        std::printf("\nadapter load (%.1f MB file, page cache warm): load_peft %.3f ms, raw read %.3f ms: %.2fx; "
                    "set_active %.2f us\n",
                    sb.st_size / 1e6, t_load * 1e3, t_read * 1e3, t_load / t_read, t_switch * 1e6);
        std::system(("rm -rf '" + dir + "'").c_str());
        rai_adapter_model_destroy(m);
    }
    rai_context_destroy(ctx);
    adapters_gpu_section(quick);
    return 0;
}
