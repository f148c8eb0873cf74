// GPU section of adapters_bench (issue 5's targets), run only with a CUDA device. All times are
// CUDA events on the rai context's stream, which cuBLAS shares; medians of 5 batches; the base
// weights rotate through >= 128 MB of copies so the 50 MB L2 cannot serve them.
//  * Unmerged LoRA overhead over the base GEMM (4096 x 4096, bf16, r in {16, 64},
//    M in {1, 16, 128, 1024, 8192}): the anchor is the base product alone through cuBLAS
//    (cublasGemmEx, bf16, fp32 compute: the call torch.nn.Linear makes); beside it the naive
//    3-call cuBLAS LoRA (base, t = x·Aᵀ, y += s·t·Bᵀ) and rai_lora_linear_forward.
//    Targets: rai <= +15 % at M <= 16 and <= +10 % at M >= 1024.
//  * QLoRA layer forward + backward (NF4 base) against bf16 LoRA on a dense base, both rai
//    (target <= 1.3x time, <= 0.35x weight memory).
//  * Mixed batch over 8 adapters against one adapter for all rows (target >= 80 %).
//  * The adapter model on a CUDA context, one tuner at a time (LoRA r16, IA3, VeRA r256, LoHa
//    r16, LoKr r8) over a 4096 x 4096 bf16 base: forward, and forward + backward with dx,
//    against cuBLAS's base GEMM (forward) and base + dX GEMMs (forward + backward), the products
//    a frozen nn.Linear costs in PyTorch. One weight (32 MB), so L2 may help at small M.
#include <cstdio>
#include <random>
#include <vector>

#include "rai.h"

#ifdef RAI_BENCH_CUDA
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "gpu_timer.h"
#endif

#ifndef RAI_BENCH_CUDA
void adapters_gpu_section(bool) {
    std::printf("\nGPU: this benchmark was built without the CUDA toolkit (no cuBLAS anchor): skipped\n");
}
#else
namespace {

using bench::DeviceBuffer;
using bench::event_time;
using bench::must;

constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};

void fill(DeviceBuffer &b, size_t n, rai_dtype dt, float scale, uint32_t seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    if (dt.bits == 32) {
        std::vector<float> h(n);
        for (float &v : h) v = d(g);
        cudaMemcpy(b.p, h.data(), n * 4, cudaMemcpyHostToDevice);
    } else {
        std::vector<__nv_bfloat16> h(n);
        for (auto &v : h) v = __float2bfloat16(d(g));
        cudaMemcpy(b.p, h.data(), n * 2, cudaMemcpyHostToDevice);
    }
}

// A device tensor over a buffer (shape kept alive by the struct).
struct DT {
    std::vector<int64_t> shape;
    rai_tensor t{};
    DT(void *p, rai_dtype dt, std::vector<int64_t> s) : shape(std::move(s)) {
        t = bench::dev_tensor(p, dt, shape.data(), static_cast<int32_t>(shape.size()));
    }
};

void cublas_ok(cublasStatus_t st) {
    if (st != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "cuBLAS status %d\n", static_cast<int>(st));
        std::exit(1);
    }
}

// Row-major C[M,N] (+)= alpha·X[M,K]·Y[N,K]ᵀ in bf16 with fp32 compute (column-major Cᵀ = Y·Xᵀ).
void gemm_nt(cublasHandle_t h, int64_t M, int64_t N, int64_t K, float alpha, const void *x, const void *y, float beta,
             void *c) {
    cublas_ok(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K),
                           &alpha, y, CUDA_R_16BF, static_cast<int>(K), x, CUDA_R_16BF, static_cast<int>(K), &beta, c,
                           CUDA_R_16BF, static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

int iters_for(int64_t M) { return M <= 128 ? 100 : M <= 1024 ? 20 : 5; }

void lora_overhead(rai_context *g, cublasHandle_t h, cudaStream_t s, bool quick) {
    const int64_t N = 4096, K = 4096;
    const int copies = 4;  // 4 x 32 MB of bf16 weights
    std::vector<DeviceBuffer *> w;
    for (int i = 0; i < copies; ++i) {
        w.push_back(new DeviceBuffer(static_cast<size_t>(N * K) * 2));
        fill(*w.back(), static_cast<size_t>(N * K), kBF16, 0.02f, 100 + i);
    }
    std::printf("\nunmerged LoRA, %lldx%lld bf16 base, adapters bf16, s = 2: times in us, overhead over the base GEMM\n",
                static_cast<long long>(N), static_cast<long long>(K));
    std::printf("%6s %4s | %10s | %10s %8s | %10s %8s\n", "M", "r", "cuBLAS base", "3-call", "overhead", "rai", "overhead");
    for (int64_t r : {int64_t{16}, int64_t{64}}) {
        DeviceBuffer a(static_cast<size_t>(r * K) * 2), b(static_cast<size_t>(N * r) * 2);
        fill(a, static_cast<size_t>(r * K), kBF16, 0.02f, 1);
        fill(b, static_cast<size_t>(N * r), kBF16, 0.02f, 2);
        for (int64_t M : {int64_t{1}, int64_t{16}, int64_t{128}, int64_t{1024}, int64_t{8192}}) {
            if (quick && M > 1024) continue;
            DeviceBuffer x(static_cast<size_t>(M * K) * 2), y(static_cast<size_t>(M * N) * 2),
                t(static_cast<size_t>(M * r) * 2);
            fill(x, static_cast<size_t>(M * K), kBF16, 1.0f, 3);
            const int it = iters_for(M);
            const double t_base = event_time(s, [&](int i) { gemm_nt(h, M, N, K, 1.0f, x.p, w[i % copies]->p, 0.0f, y.p); }, it);
            const double t_naive = event_time(s, [&](int i) {
                gemm_nt(h, M, N, K, 1.0f, x.p, w[i % copies]->p, 0.0f, y.p);
                gemm_nt(h, M, r, K, 1.0f, x.p, a.p, 0.0f, t.p);
                gemm_nt(h, M, N, r, 2.0f, t.p, b.p, 1.0f, y.p);
            }, it);
            DT tx(x.p, kBF16, {M, K}), ty(y.p, kBF16, {M, N}), ta(a.p, kBF16, {r, K}), tb(b.p, kBF16, {N, r});
            std::vector<DT> tw;
            for (int i = 0; i < copies; ++i) tw.emplace_back(w[i]->p, kBF16, std::vector<int64_t>{N, K});
            rai_lora_linear_params p;
            rai_lora_linear_params_init(&p);
            p.scaling = 2.0f;
            const double t_rai = event_time(s, [&](int i) {
                must(rai_lora_linear_forward(g, &p, &tx.t, &tw[i % copies].t, nullptr, &ta.t, &tb.t, nullptr, &ty.t),
                     "rai_lora_linear_forward");
            }, it);
            std::printf("%6lld %4lld | %10.1f | %10.1f %+7.0f%% | %10.1f %+7.0f%%\n", static_cast<long long>(M),
                        static_cast<long long>(r), t_base * 1e6, t_naive * 1e6, 100.0 * (t_naive / t_base - 1),
                        t_rai * 1e6, 100.0 * (t_rai / t_base - 1));
        }
    }
    for (DeviceBuffer *b : w) delete b;
}

void qlora_vs_lora(rai_context *g, cudaStream_t s, bool quick) {
    const int64_t N = 4096, K = 4096, r = 16;
    std::printf("\nQLoRA (NF4 base, double quant) vs LoRA on a dense bf16 base, %lldx%lld, r = 16, adapters f32: "
                "forward + backward (dx, dA, dB), us\n",
                static_cast<long long>(N), static_cast<long long>(K));
    std::printf("%6s | %10s %10s %8s\n", "M", "bf16 LoRA", "QLoRA", "ratio");
    DeviceBuffer w(static_cast<size_t>(N * K) * 2), codes(static_cast<size_t>(N * K) / 2);
    fill(w, static_cast<size_t>(N * K), kBF16, 0.02f, 7);
    DeviceBuffer a(static_cast<size_t>(r * K) * 4), b(static_cast<size_t>(N * r) * 4), da(static_cast<size_t>(r * K) * 4),
        db(static_cast<size_t>(N * r) * 4);
    fill(a, static_cast<size_t>(r * K), kF32, 0.02f, 8);
    fill(b, static_cast<size_t>(N * r), kF32, 0.02f, 9);
    DT tw(w.p, kBF16, {N, K}), tc(codes.p, rai_dtype{RAI_DTYPE_UINT, 8, 1}, {N * K / 2}), ta(a.p, kF32, {r, K}),
        tb(b.p, kF32, {N, r}), tda(da.p, kF32, {r, K}), tdb(db.p, kF32, {N, r});
    rai_q4_params qp;
    rai_q4_params_init(&qp);
    qp.double_quant = 1;
    rai_q4_state *st = nullptr;
    must(rai_q4_quantize(g, &qp, &tw.t, &tc.t, &st), "rai_q4_quantize");
    rai_q4_state_info si;
    rai_q4_state_info_init(&si);
    must(rai_q4_state_get_info(st, &si), "rai_q4_state_get_info");
    rai_lora_linear_params p;
    rai_lora_linear_params_init(&p);
    p.scaling = 2.0f;
    for (int64_t M : {int64_t{16}, int64_t{512}, int64_t{2048}, int64_t{8192}}) {
        if (quick && M > 2048) continue;
        DeviceBuffer x(static_cast<size_t>(M * K) * 2), y(static_cast<size_t>(M * N) * 2), dy(static_cast<size_t>(M * N) * 2),
            dx(static_cast<size_t>(M * K) * 2);
        fill(x, static_cast<size_t>(M * K), kBF16, 1.0f, 10);
        fill(dy, static_cast<size_t>(M * N), kBF16, 1.0f, 11);
        DT tx(x.p, kBF16, {M, K}), ty(y.p, kBF16, {M, N}), tdy(dy.p, kBF16, {M, N}), tdx(dx.p, kBF16, {M, K});
        const int it = iters_for(M);
        const double t_l = event_time(s, [&](int) {
            must(rai_lora_linear_forward(g, &p, &tx.t, &tw.t, nullptr, &ta.t, &tb.t, nullptr, &ty.t), "lora forward");
            must(rai_lora_linear_backward(g, &p, &tx.t, &tw.t, &ta.t, &tb.t, nullptr, &tdy.t, &tdx.t, &tda.t, &tdb.t,
                                          nullptr),
                 "lora backward");
        }, it);
        const double t_q = event_time(s, [&](int) {
            must(rai_qlora_linear_forward(g, &p, &tx.t, st, &tc.t, nullptr, &ta.t, &tb.t, nullptr, &ty.t), "qlora forward");
            must(rai_qlora_linear_backward(g, &p, &tx.t, st, &tc.t, &ta.t, &tb.t, nullptr, &tdy.t, &tdx.t, &tda.t, &tdb.t,
                                           nullptr),
                 "qlora backward");
        }, it);
        std::printf("%6lld | %10.1f %10.1f %7.2fx\n", static_cast<long long>(M), t_l * 1e6, t_q * 1e6, t_q / t_l);
    }
    // Base weight memory: codes + 8-bit absmax + nested absmax + code maps, against bf16.
    const double q_bytes = double(N * K) / 2 + double(N * K) / 64 + double(N * K) / 64 / 256 * 4 + 256 * 4 + 16 * 4;
    std::printf("base weight memory: bf16 %.1f MB, NF4 double quant %.1f MB: %.3fx\n", double(N * K) * 2 / 1e6,
                q_bytes / 1e6, q_bytes / (double(N * K) * 2));
    rai_q4_state_destroy(st);
}

void mixed_batch(rai_context *g, cudaStream_t s) {
    const int64_t N = 4096, K = 4096, r = 16;
    DeviceBuffer w(static_cast<size_t>(N * K) * 2);
    fill(w, static_cast<size_t>(N * K), kBF16, 0.02f, 12);
    std::vector<DeviceBuffer *> bufs;
    std::vector<DT> as, bs;
    for (int i = 0; i < 8; ++i) {
        bufs.push_back(new DeviceBuffer(static_cast<size_t>(r * K) * 2));
        fill(*bufs.back(), static_cast<size_t>(r * K), kBF16, 0.02f, 20 + i);
        as.emplace_back(bufs.back()->p, kBF16, std::vector<int64_t>{r, K});
        bufs.push_back(new DeviceBuffer(static_cast<size_t>(N * r) * 2));
        fill(*bufs.back(), static_cast<size_t>(N * r), kBF16, 0.02f, 40 + i);
        bs.emplace_back(bufs.back()->p, kBF16, std::vector<int64_t>{N, r});
    }
    std::vector<const rai_tensor *> ap, bp;
    for (int i = 0; i < 8; ++i) {
        ap.push_back(&as[static_cast<size_t>(i)].t);
        bp.push_back(&bs[static_cast<size_t>(i)].t);
    }
    const std::vector<float> sc(8, 2.0f);
    DT tw(w.p, kBF16, {N, K});
    std::printf("\nmixed batch, %lldx%lld bf16, r = 16: 8 adapters (rows round-robin) vs 1 adapter for all rows\n",
                static_cast<long long>(N), static_cast<long long>(K));
    for (int64_t M : {int64_t{64}, int64_t{512}, int64_t{4096}}) {
        DeviceBuffer x(static_cast<size_t>(M * K) * 2), y(static_cast<size_t>(M * N) * 2);
        fill(x, static_cast<size_t>(M * K), kBF16, 1.0f, 13);
        DT tx(x.p, kBF16, {M, K}), ty(y.p, kBF16, {M, N});
        std::vector<int32_t> rows8(static_cast<size_t>(M)), rows1(static_cast<size_t>(M), 0);
        for (int64_t i = 0; i < M; ++i) rows8[static_cast<size_t>(i)] = static_cast<int32_t>(i % 8);
        const int it = iters_for(M);
        const double t8 = event_time(s, [&](int) {
            must(rai_lora_linear_forward_mixed(g, &tx.t, &tw.t, nullptr, 8, ap.data(), bp.data(), sc.data(), rows8.data(),
                                               &ty.t),
                 "mixed 8");
        }, it);
        const double t1 = event_time(s, [&](int) {
            must(rai_lora_linear_forward_mixed(g, &tx.t, &tw.t, nullptr, 1, ap.data(), bp.data(), sc.data(), rows1.data(),
                                               &ty.t),
                 "mixed 1");
        }, it);
        std::printf("M = %5lld: 8 adapters %9.1f us, 1 adapter %9.1f us: %.0f%% of single-adapter throughput\n",
                    static_cast<long long>(M), t8 * 1e6, t1 * 1e6, 100.0 * t1 / t8);
    }
    for (DeviceBuffer *b : bufs) delete b;
}

void model_tuners(rai_context *g, cublasHandle_t h, cudaStream_t s, bool quick) {
    const int64_t N = 4096, K = 4096;
    std::vector<__nv_bfloat16> wh(static_cast<size_t>(N * K));
    std::mt19937 gen(31);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (auto &v : wh) v = __float2bfloat16(d(gen));
    DeviceBuffer w(static_cast<size_t>(N * K) * 2);
    cudaMemcpy(w.p, wh.data(), wh.size() * 2, cudaMemcpyHostToDevice);
    std::vector<int64_t> wshape{N, K};
    rai_tensor wt = bench::dev_tensor(wh.data(), kBF16, wshape.data(), 2);
    wt.device = rai_device{RAI_DEVICE_CPU, 0};  // the model takes its state from host memory
    std::printf("\nadapter model on CUDA, %lldx%lld bf16 base, activations bf16, one tuner active: us, and the ratio to "
                "cuBLAS's base GEMM (fwd) / base + dX GEMMs (fwd+bwd)\n",
                static_cast<long long>(N), static_cast<long long>(K));
    std::printf("%-6s %6s | %9s %9s %7s | %9s %9s %7s\n", "tuner", "M", "cuBLAS", "fwd", "ratio", "cuBLAS", "fwd+bwd",
                "ratio");
    struct Tuner {
        const char *name;
        int32_t type, r;
    };
    const Tuner tuners[] = {{"lora", RAI_PEFT_LORA, 16}, {"ia3", RAI_PEFT_IA3, 0}, {"vera", RAI_PEFT_VERA, 256},
                            {"loha", RAI_PEFT_LOHA, 16}, {"lokr", RAI_PEFT_LOKR, 8}};
    for (const Tuner &tu : tuners) {
        rai_adapter_model *m = nullptr;
        must(rai_adapter_model_create(g, &m), "rai_adapter_model_create");
        must(rai_adapter_model_add_linear(m, "l.q_proj", &wt, nullptr, 0), "add_linear");
        rai_adapter_params p;
        rai_adapter_params_init(&p);
        p.peft_type = tu.type;
        p.r = tu.r;
        p.alpha = 16;
        p.init = RAI_ADAPTER_INIT_RANDOM;
        p.target_modules = "[\"q_proj\"]";
        must(rai_adapter_add(m, tu.name, &p), "rai_adapter_add");
        must(rai_adapter_model_set_training(m, 1), "set_training");
        for (int64_t M : {int64_t{16}, int64_t{1024}, int64_t{8192}}) {
            if (quick && M > 1024) continue;
            DeviceBuffer x(static_cast<size_t>(M * K) * 2), y(static_cast<size_t>(M * N) * 2),
                dy(static_cast<size_t>(M * N) * 2), dx(static_cast<size_t>(M * K) * 2);
            fill(x, static_cast<size_t>(M * K), kBF16, 1.0f, 50);
            fill(dy, static_cast<size_t>(M * N), kBF16, 1.0f, 51);
            DT tx(x.p, kBF16, {M, K}), ty(y.p, kBF16, {M, N}), tdy(dy.p, kBF16, {M, N}), tdx(dx.p, kBF16, {M, K});
            const int it = iters_for(M) / 4 + 2;
            const double t_base = event_time(s, [&](int) { gemm_nt(h, M, N, K, 1.0f, x.p, w.p, 0.0f, y.p); }, it);
            // dX[M,K] = dY[M,N]·W[N,K]: column-major dXᵀ = Wᵀ·dYᵀ.
            const float one = 1.0f, zero = 0.0f;
            const double t_base2 = event_time(s, [&](int) {
                gemm_nt(h, M, N, K, 1.0f, x.p, w.p, 0.0f, y.p);
                cublas_ok(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(K), static_cast<int>(M),
                                       static_cast<int>(N), &one, w.p, CUDA_R_16BF, static_cast<int>(K), dy.p,
                                       CUDA_R_16BF, static_cast<int>(N), &zero, dx.p, CUDA_R_16BF, static_cast<int>(K),
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
            }, it);
            const double t_fwd = event_time(s, [&](int) {
                must(rai_adapter_forward(m, "l.q_proj", &tx.t, &ty.t), "rai_adapter_forward");
            }, it);
            const double t_fb = event_time(s, [&](int) {
                must(rai_adapter_forward(m, "l.q_proj", &tx.t, &ty.t), "rai_adapter_forward");
                must(rai_adapter_backward(m, "l.q_proj", &tx.t, &tdy.t, &tdx.t), "rai_adapter_backward");
            }, it);
            std::printf("%-6s %6lld | %9.1f %9.1f %6.2fx | %9.1f %9.1f %6.2fx\n", tu.name, static_cast<long long>(M),
                        t_base * 1e6, t_fwd * 1e6, t_fwd / t_base, t_base2 * 1e6, t_fb * 1e6, t_fb / t_base2);
        }
        rai_adapter_model_destroy(m);
    }
}

}  // namespace

void adapters_gpu_section(bool quick) {
    rai_context *g = bench::cuda_context_or_skip();
    if (!g) return;
    const cudaStream_t s = bench::stream_of(g);
    cublasHandle_t h = nullptr;
    cublas_ok(cublasCreate(&h));
    cublas_ok(cublasSetStream(h, s));
    lora_overhead(g, h, s, quick);
    qlora_vs_lora(g, s, quick);
    mixed_batch(g, s);
    model_tuners(g, h, s, quick);
    cublasDestroy(h);
    rai_context_destroy(g);
}
#endif
