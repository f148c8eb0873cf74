// quant_bench's bitsandbytes CUDA anchor (issue 4): rai's NF4 kernels against bitsandbytes' own
// CUDA kernels, called through their C entry points in libbitsandbytes_cuda*.so (dlopen of
// $RAI_BNB_LIBRARY, e.g. site-packages/bitsandbytes/libbitsandbytes_cuda130.so), on the same
// codes and absmax, in the same process, timed the same way (CUDA events, medians of 5 batches;
// codes rotate through >= 256 MB so the L2 cannot serve them):
//  * quantise and dequantise (bf16, blocksize 64);
//  * the M = 1 GEMV (bitsandbytes' gemv_4bit kernel, cgemm_4bit_inference_naive_bf16);
//  * M = 1..16: rai_q4_linear_forward (fused kernel up to M = 4, dequantise + cuBLASLt above)
//    against dequantise + cuBLAS bf16 GEMM, bitsandbytes' path for M > 1 on an H100 (its own
//    heuristic in backends/cuda/ops.py), to locate the crossover of the fused kernel.
// Each rai/bitsandbytes pair is checked to agree (codes byte for byte; outputs within bf16
// rounding) before it is timed.
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "rai.h"

#ifdef RAI_BENCH_CUDA
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "../src/quant/q4_state.h"
#include "gpu_timer.h"
#endif

#ifndef RAI_BENCH_CUDA
void quant_bnb_cuda_section(bool) {}
#else
namespace {

using bench::DeviceBuffer;
using bench::event_time;
using bench::dev_tensor;
using bench::must;

using quantize_fn = void (*)(void *code, void *a, void *absmax, void *out, int blocksize, int n);
using dequantize_fn = void (*)(void *code, void *a, void *absmax, void *out, int blocksize, int n, cudaStream_t s);
using gemv_fn = void (*)(int m, int n, int k, void *a, void *b, void *absmax, void *code, void *out, int lda, int ldb,
                         int ldc, int blocksize, cudaStream_t s);

struct Bnb {
    quantize_fn quantize = nullptr;
    dequantize_fn dequantize = nullptr;
    gemv_fn gemv = nullptr;
};

constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};
constexpr rai_dtype kU8{RAI_DTYPE_UINT, 8, 1};

std::vector<float> bf16_to_host(const void *p, size_t n) {
    std::vector<__nv_bfloat16> h(n);
    cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost);
    std::vector<float> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = __bfloat162float(h[i]);
    return f;
}

// Largest |a - b| relative to the largest |b|.
double rel_diff(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0, m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::fabs(double(a[i]) - b[i]));
        m = std::max(m, std::fabs(double(b[i])));
    }
    return m > 0 ? d / m : d;
}

void section(rai_context *g, const Bnb &bnb) {
    const cudaStream_t s = bench::stream_of(g);
    cublasHandle_t h = nullptr;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) std::exit(1);
    cublasSetStream(h, s);
    // The NF4 code as bitsandbytes passes it (16 floats on the device).
    float code_host[16];
    rai::q4::bnb_quant_map(rai::q4::kNF4, code_host);
    DeviceBuffer code(64);
    cudaMemcpy(code.p, code_host, 64, cudaMemcpyHostToDevice);
    std::printf("\nrai vs bitsandbytes CUDA kernels (NF4, blocksize 64, bf16, no double quant); ratio = bnb / rai\n");
    const int64_t shapes[][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
    for (const auto &sh : shapes) {
        const int64_t N = sh[0], K = sh[1], n = N * K, nb = n / 64;
        const int copies = static_cast<int>(std::max<int64_t>(2, (int64_t{256} << 20) / (n / 2)));
        std::printf("\n%lld x %lld (%d copies of the codes)\n", static_cast<long long>(N), static_cast<long long>(K), copies);
        DeviceBuffer w(static_cast<size_t>(n) * 2), wd(static_cast<size_t>(n) * 2);
        {
            std::vector<__nv_bfloat16> hw(static_cast<size_t>(n));
            std::mt19937 rng(5);
            std::normal_distribution<float> nd(0.0f, 0.02f);
            for (auto &v : hw) v = __float2bfloat16(nd(rng));
            cudaMemcpy(w.p, hw.data(), hw.size() * 2, cudaMemcpyHostToDevice);
        }
        const int64_t ws[2] = {N, K}, cs[1] = {n / 2}, as[1] = {nb};
        std::vector<DeviceBuffer *> codes, absmax;
        std::vector<rai_q4_state *> states;
        rai_q4_params qp;
        rai_q4_params_init(&qp);
        rai_tensor tw = dev_tensor(w.p, kBF16, ws, 2);
        for (int i = 0; i < copies; ++i) {
            codes.push_back(new DeviceBuffer(static_cast<size_t>(n) / 2));
            absmax.push_back(new DeviceBuffer(static_cast<size_t>(nb) * 4));
            rai_tensor tc = dev_tensor(codes.back()->p, kU8, cs, 1), ta = dev_tensor(absmax.back()->p, kF32, as, 1);
            rai_q4_state *st = nullptr;
            must(rai_q4_quantize(g, &qp, &tw, &tc, &st), "rai_q4_quantize");
            must(rai_q4_state_read(g, st, RAI_Q4_FIELD_ABSMAX, &ta), "rai_q4_state_read");
            states.push_back(st);
        }
        must(rai_context_synchronize(g), "synchronize");
        // Quantise: same codes and absmax first.
        DeviceBuffer bcodes(static_cast<size_t>(n) / 2), babsmax(static_cast<size_t>(nb) * 4);
        bnb.quantize(nullptr, w.p, babsmax.p, bcodes.p, 64, static_cast<int>(n));
        cudaDeviceSynchronize();
        std::vector<uint8_t> c1(static_cast<size_t>(n) / 2), c2(static_cast<size_t>(n) / 2);
        cudaMemcpy(c1.data(), codes[0]->p, c1.size(), cudaMemcpyDeviceToHost);
        cudaMemcpy(c2.data(), bcodes.p, c2.size(), cudaMemcpyDeviceToHost);
        size_t code_diff = 0;
        for (size_t i = 0; i < c1.size(); ++i) code_diff += c1[i] != c2[i];
        rai_q4_state *tmp = nullptr;
        rai_tensor tc0 = dev_tensor(bcodes.p, kU8, cs, 1);
        const double tq_r = event_time(s, [&](int) {
            rai_q4_state_destroy(tmp);
            tmp = nullptr;
            must(rai_q4_quantize(g, &qp, &tw, &tc0, &tmp), "rai_q4_quantize");
        }, 10);
        rai_q4_state_destroy(tmp);
        cudaDeviceSynchronize();
        const double tq_b = event_time(nullptr, [&](int) { bnb.quantize(nullptr, w.p, babsmax.p, bcodes.p, 64, static_cast<int>(n)); }, 10);
        std::printf("  quantise     rai %8.1f us  bnb %8.1f us  %5.2fx   codes: %s\n", tq_r * 1e6, tq_b * 1e6, tq_b / tq_r,
                    code_diff == 0 ? "identical" : "DIFFER");
        // Dequantise.
        rai_tensor twd = dev_tensor(wd.p, kBF16, ws, 2);
        const double td_r = event_time(s, [&](int i) {
            rai_tensor tc = dev_tensor(codes[static_cast<size_t>(i % copies)]->p, kU8, cs, 1);
            must(rai_q4_dequantize(g, states[static_cast<size_t>(i % copies)], &tc, &twd), "rai_q4_dequantize");
        }, 20);
        const std::vector<float> d_r = bf16_to_host(wd.p, 1 << 20);
        const double td_b = event_time(s, [&](int i) {
            const size_t k = static_cast<size_t>(i % copies);
            bnb.dequantize(code.p, codes[k]->p, absmax[k]->p, wd.p, 64, static_cast<int>(n), s);
        }, 20);
        const std::vector<float> d_b = bf16_to_host(wd.p, 1 << 20);
        std::printf("  dequantise   rai %8.1f us  bnb %8.1f us  %5.2fx   values: %s\n", td_r * 1e6, td_b * 1e6, td_b / td_r,
                    rel_diff(d_r, d_b) == 0 ? "identical" : "DIFFER");
        // GEMV and small M, with the dense bf16 GEMM through cuBLAS as the anchor (the weight a
        // 4-bit format replaces; copies rotate through >= 256 MB like the codes).
        const int dense_copies = static_cast<int>(std::max<int64_t>(2, (int64_t{256} << 20) / (n * 2)));
        std::vector<DeviceBuffer *> dense;
        for (int i = 0; i < dense_copies; ++i) {
            dense.push_back(new DeviceBuffer(static_cast<size_t>(n) * 2));
            cudaMemcpy(dense.back()->p, w.p, static_cast<size_t>(n) * 2, cudaMemcpyDeviceToDevice);
        }
        std::printf("  %4s %10s %12s %9s %10s %8s %14s\n", "M", "rai us", "cuBLAS bf16", "vs cuBLAS", "bnb us", "bnb/rai",
                    "rai deq+GEMM");
        for (int64_t M : {int64_t{1}, int64_t{2}, int64_t{4}, int64_t{8}, int64_t{16}}) {
            DeviceBuffer x(static_cast<size_t>(M * K) * 2), y(static_cast<size_t>(M * N) * 2), yb(static_cast<size_t>(M * N) * 2);
            {
                std::vector<__nv_bfloat16> hx(static_cast<size_t>(M * K));
                std::mt19937 rng(9);
                std::normal_distribution<float> nd(0.0f, 1.0f);
                for (auto &v : hx) v = __float2bfloat16(nd(rng));
                cudaMemcpy(x.p, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice);
            }
            const int64_t xs[2] = {M, K}, ys[2] = {M, N};
            rai_tensor tx = dev_tensor(x.p, kBF16, xs, 2), ty = dev_tensor(y.p, kBF16, ys, 2);
            const float one = 1.0f, zero = 0.0f;
            auto deq_gemm = [&](int i, bool with_bnb) {
                const size_t k = static_cast<size_t>(i % copies);
                if (with_bnb) {
                    bnb.dequantize(code.p, codes[k]->p, absmax[k]->p, wd.p, 64, static_cast<int>(n), s);
                } else {
                    rai_tensor tc = dev_tensor(codes[k]->p, kU8, cs, 1);
                    must(rai_q4_dequantize(g, states[k], &tc, &twd), "rai_q4_dequantize");
                }
                cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &one,
                             wd.p, CUDA_R_16BF, static_cast<int>(K), x.p, CUDA_R_16BF, static_cast<int>(K), &zero, yb.p,
                             CUDA_R_16BF, static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            };
            const int it = 100;
            const double t_r = event_time(s, [&](int i) {
                const size_t k = static_cast<size_t>(i % copies);
                rai_tensor tc = dev_tensor(codes[k]->p, kU8, cs, 1);
                must(rai_q4_linear_forward(g, states[k], &tc, &tx, nullptr, &ty), "rai_q4_linear_forward");
            }, it);
            const std::vector<float> y_r = bf16_to_host(y.p, static_cast<size_t>(M * N));
            const double t_rd = event_time(s, [&](int i) { deq_gemm(i, false); }, it);
            const double t_dense = event_time(s, [&](int i) {
                cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &one,
                             dense[static_cast<size_t>(i % dense_copies)]->p, CUDA_R_16BF, static_cast<int>(K), x.p,
                             CUDA_R_16BF, static_cast<int>(K), &zero, yb.p, CUDA_R_16BF, static_cast<int>(N),
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            }, it);
            double t_b = 0;
            if (M == 1) {
                t_b = event_time(s, [&](int i) {
                    const size_t k = static_cast<size_t>(i % copies);
                    bnb.gemv(static_cast<int>(N), 1, static_cast<int>(K), x.p, codes[k]->p, absmax[k]->p, code.p, yb.p,
                             static_cast<int>(N), static_cast<int>((K + 1) / 2), static_cast<int>(N), 64, s);
                }, it);
            } else {
                t_b = event_time(s, [&](int i) { deq_gemm(i, true); }, it);
            }
            const std::vector<float> y_b = bf16_to_host(yb.p, static_cast<size_t>(M * N));
            const double d = rel_diff(y_r, y_b);
            std::printf("  %4lld %10.1f %12.1f %8.2fx %10.1f %7.2fx %14.1f   %s (max diff %.1e of max |y|)\n",
                        static_cast<long long>(M), t_r * 1e6, t_dense * 1e6, t_dense / t_r, t_b * 1e6, t_b / t_r,
                        t_rd * 1e6, M == 1 ? "bnb gemv_4bit" : "bnb dequant+GEMM", d);
        }
        for (DeviceBuffer *b : dense) delete b;
        for (rai_q4_state *st : states) rai_q4_state_destroy(st);
        for (DeviceBuffer *b : codes) delete b;
        for (DeviceBuffer *b : absmax) delete b;
    }
    cublasDestroy(h);
}

}  // namespace

void quant_bnb_cuda_section(bool) {
    const char *path = std::getenv("RAI_BNB_LIBRARY");
    if (!path || !*path) {
        std::printf("\nbitsandbytes CUDA anchor: set RAI_BNB_LIBRARY to libbitsandbytes_cuda*.so: skipped\n");
        return;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    Bnb bnb;
    if (lib) {
        bnb.quantize = reinterpret_cast<quantize_fn>(dlsym(lib, "cquantize_blockwise_bf16_nf4"));
        bnb.dequantize = reinterpret_cast<dequantize_fn>(dlsym(lib, "cdequantize_blockwise_bf16_nf4"));
        bnb.gemv = reinterpret_cast<gemv_fn>(dlsym(lib, "cgemm_4bit_inference_naive_bf16"));
    }
    if (!bnb.quantize || !bnb.dequantize || !bnb.gemv) {
        std::printf("\nbitsandbytes CUDA anchor: cannot load %s (%s): skipped\n", path, lib ? "symbols missing" : dlerror());
        return;
    }
    rai_context *g = bench::cuda_context_or_skip();
    if (!g) return;
    section(g, bnb);
    rai_context_destroy(g);
}
#endif
