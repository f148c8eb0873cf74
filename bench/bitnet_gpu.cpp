// GPU section of bitnet_bench (issue 4's ternary target): the W2A8 ternary GEMV on CUDA
// (rai_ternary_gemm: int8 activations, int32 sums per scale group) against the dense bf16 GEMV
// through cuBLAS (cublasGemmEx, fp32 compute: the call torch.nn.Linear makes) at BitNet b1.58
// 2B4T's linear shapes (hidden 2560, intermediate 6912, 5 KV heads of 128) and 20480 x 3200.
// CUDA events on the rai context's stream (cuBLAS shares it), medians of 5 batches; weights rotate
// through >= 128 MB of copies so the 50 MB L2 cannot serve them. Target: >= 5x at the large shapes.
#include <algorithm>
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
void bitnet_gpu_section() {
    std::printf("\nGPU: this benchmark was built without the CUDA toolkit (no cuBLAS anchor): skipped\n");
}
#else
namespace {

using bench::DeviceBuffer;
using bench::event_time;
using bench::dev_tensor;
using bench::must;

void gemv_case(rai_context *g, cudaStream_t s, cublasHandle_t h, const char *name, int64_t out, int64_t in) {
    constexpr rai_dtype kI8{RAI_DTYPE_INT, 8, 1}, kF32{RAI_DTYPE_FLOAT, 32, 1};
    std::mt19937 rng(static_cast<uint32_t>(out * 31 + in));
    std::uniform_int_distribution<int> trit(-1, 1);
    std::vector<int8_t> trits(static_cast<size_t>(out * in));
    for (auto &v : trits) v = static_cast<int8_t>(trit(rng));
    const float scale = 0.02f;
    const int64_t ws[2] = {out, in}, ss[1] = {1};
    rai_tensor tt = bench::tensor(trits.data(), kI8, ws, 2);
    float sc = scale;
    rai_tensor ts = bench::tensor(&sc, kF32, ss, 1);
    const int64_t packed = out * in / 4;
    const int copies = static_cast<int>(std::max<int64_t>(2, (int64_t{128} << 20) / packed));
    std::vector<rai_ternary_weight *> w(static_cast<size_t>(copies));
    for (auto &p : w) must(rai_ternary_weight_create(g, &tt, &ts, &p), "rai_ternary_weight_create");
    // Activations: int8 [1, in] with a per-tensor scale; y f32 [1, out].
    DeviceBuffer x(static_cast<size_t>(in)), xs(4), y(static_cast<size_t>(out) * 4);
    {
        std::vector<int8_t> hx(static_cast<size_t>(in));
        std::uniform_int_distribution<int> q(-127, 127);
        for (auto &v : hx) v = static_cast<int8_t>(q(rng));
        cudaMemcpy(x.p, hx.data(), hx.size(), cudaMemcpyHostToDevice);
        const float xsc = 1.0f / 127;
        cudaMemcpy(xs.p, &xsc, 4, cudaMemcpyHostToDevice);
    }
    const int64_t xshape[2] = {1, in}, yshape[2] = {1, out}, sshape[1] = {1};
    rai_tensor tx = dev_tensor(x.p, kI8, xshape, 2), txs = dev_tensor(xs.p, kF32, sshape, 1),
               ty = dev_tensor(y.p, kF32, yshape, 2);
    const double t_rai = event_time(s, [&](int i) {
        must(rai_ternary_gemm(g, w[static_cast<size_t>(i % copies)], &tx, &txs, nullptr, nullptr, &ty), "rai_ternary_gemm");
    }, 200);
    for (auto *p : w) rai_ternary_weight_destroy(p);
    // cuBLAS bf16: the dense weight this format replaces.
    const int dense_copies = static_cast<int>(std::max<int64_t>(2, (int64_t{256} << 20) / (out * in * 2)));
    std::vector<DeviceBuffer *> dense;
    {
        std::vector<__nv_bfloat16> hw(static_cast<size_t>(out * in));
        for (size_t i = 0; i < hw.size(); ++i) hw[i] = __float2bfloat16(scale * trits[i]);
        for (int i = 0; i < dense_copies; ++i) {
            dense.push_back(new DeviceBuffer(hw.size() * 2));
            cudaMemcpy(dense.back()->p, hw.data(), hw.size() * 2, cudaMemcpyHostToDevice);
        }
    }
    DeviceBuffer xb(static_cast<size_t>(in) * 2), yb(static_cast<size_t>(out) * 2);
    const float one = 1.0f, zero = 0.0f;
    const double t_cublas = event_time(s, [&](int i) {
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), 1, static_cast<int>(in), &one,
                     dense[static_cast<size_t>(i % dense_copies)]->p, CUDA_R_16BF, static_cast<int>(in), xb.p, CUDA_R_16BF,
                     static_cast<int>(in), &zero, yb.p, CUDA_R_16BF, static_cast<int>(out), CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
    }, 200);
    for (DeviceBuffer *b : dense) delete b;
    std::printf("%-22s %6lld x %-6lld %10.1f %12.1f %8.2fx %10.2f\n", name, static_cast<long long>(out),
                static_cast<long long>(in), t_rai * 1e6, t_cublas * 1e6, t_cublas / t_rai, double(packed) / t_rai / 1e12);
}

}  // namespace

void bitnet_gpu_section() {
    rai_context *g = bench::cuda_context_or_skip();
    if (!g) return;
    const cudaStream_t s = bench::stream_of(g);
    cublasHandle_t h = nullptr;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) std::exit(1);
    cublasSetStream(h, s);
    std::printf("ternary W2A8 GEMV (M = 1) vs cuBLAS bf16 GEMV; times in us; ratio = cuBLAS / rai\n");
    std::printf("%-22s %15s %10s %12s %9s %10s\n", "shape", "out x in", "rai us", "cuBLAS us", "ratio", "TB/s trits");
    gemv_case(g, s, h, "2B4T q_proj / o_proj", 2560, 2560);
    gemv_case(g, s, h, "2B4T k_proj / v_proj", 640, 2560);
    gemv_case(g, s, h, "2B4T gate / up", 6912, 2560);
    gemv_case(g, s, h, "2B4T down", 2560, 6912);
    gemv_case(g, s, h, "large", 20480, 3200);
    cublasDestroy(h);
    rai_context_destroy(g);
}
#endif
