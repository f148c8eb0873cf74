// BitNet b1.58 CPU benchmark: ternary GEMV (M = 1) in rai's prepared layout (bitnet.cpp's I2_S
// interleave) against an fp32 GEMV and an int8 GEMV written here with AVX2, in the same run.
// Prints medians, GB/s of weight traffic and the ratios (baseline time / rai time: > 1 means rai
// is faster). "cold" rotates through enough weight copies (>= 512 MiB) that every call streams
// its weights from DRAM; "hot" reuses one copy (caches help the smaller formats).
// `bitnet_bench --gpu` runs only the GPU section (bitnet_gpu.cpp: W2A8 GEMV vs cuBLAS bf16).
//
// With llama.cpp's ggml sources fetched (scripts/fetch_ggml.sh; anchors/meson.build), it also runs
// llama.cpp's own TQ2_0 and TQ1_0 GEMV (ggml-cpu's ggml_vec_dot_tq*_q8_K per row after
// quantize_row_q8_K, as ggml's mul_mat does on one thread) on the same weights, in the same run.
//
//   build/bench/bitnet_bench [--quick]       (RAI_NUM_THREADS is set by the program)
#include <immintrin.h>

#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "rai_bench.h"
#include "rai.h"

#ifdef RAI_BENCH_LLAMACPP
// ggml-cpu's quant kernels (ggml/src/ggml-cpu/quants.h, a C header) and ggml-base's reference
// quantizers, declared here with C linkage.
extern "C" {
void quantize_row_q8_K(const float *x, void *y, int64_t k);
void quantize_row_tq1_0_ref(const float *x, void *y, int64_t k);
void quantize_row_tq2_0_ref(const float *x, void *y, int64_t k);
void ggml_vec_dot_tq1_0_q8_K(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by,
                             int nrc);
void ggml_vec_dot_tq2_0_q8_K(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by,
                             int nrc);
void rai_anchor_ggml_cpu_init(void);
}
#endif

namespace {

#define CHECK(call)                                                                                         \
    do {                                                                                                    \
        const rai_status st_ = (call);                                                                      \
        if (st_ != RAI_OK) {                                                                                \
            std::fprintf(stderr, "%s failed: %s\n", #call, rai_last_error_message());                       \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

using bench::tensor;

constexpr rai_dtype kF32{RAI_DTYPE_FLOAT, 32, 1};
constexpr rai_dtype kI8{RAI_DTYPE_INT, 8, 1};
constexpr rai_dtype kI32{RAI_DTYPE_INT, 32, 1};

// ---- baselines (AVX2): y = W x with W row-major

__attribute__((target("avx2,fma"))) float dot_f32(const float *w, const float *x, int64_t k) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; i < k; ++i) r += w[i] * x[i];
    return r;
}

// llama.cpp's q8 x q8 idiom: |x| as u8 times sign(w, x) with maddubs.
__attribute__((target("avx2,fma"))) int32_t dot_i8(const int8_t *w, const int8_t *x, int64_t k) {
    __m256i acc = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i));
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x + i));
        const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wv, xv));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    int32_t r = _mm_cvtsi128_si32(s);
    for (; i < k; ++i) r += w[i] * x[i];
    return r;
}

struct Stat {
    double med, p10, p90, min;
};

Stat stat_of(std::vector<double> t) {
    std::sort(t.begin(), t.end());
    return {t[t.size() / 2], t[t.size() / 10], t[t.size() * 9 / 10], t.front()};
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One function, single-threaded: the calling thread's CPU time per call (a shared machine's
// other load does not count).
template <class F>
Stat measure(F &&fn, int reps) {
    fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const double a = thread_cpu_seconds();
        fn();
        t.push_back(thread_cpu_seconds() - a);
    }
    return stat_of(std::move(t));
}

// Runs the functions round-robin (one call of each per round, after a warm-up round), so that
// load from other processes hits all of them alike. With `cpu_time`, measures the calling
// thread's CPU time instead of wall time (single-threaded runs on a shared machine: time spent
// descheduled does not count).
std::vector<Stat> measure_interleaved(const std::vector<std::function<void()>> &fns, int reps, bool cpu_time) {
    for (const auto &f : fns) f();
    std::vector<std::vector<double>> t(fns.size());
    for (int i = 0; i < reps; ++i)
        for (size_t k = 0; k < fns.size(); ++k) {
            if (cpu_time) {
                const double a = thread_cpu_seconds();
                fns[k]();
                t[k].push_back(thread_cpu_seconds() - a);
            } else {
                const auto a = std::chrono::steady_clock::now();
                fns[k]();
                const auto b = std::chrono::steady_clock::now();
                t[k].push_back(std::chrono::duration<double>(b - a).count());
            }
        }
    std::vector<Stat> out;
    for (auto &v : t) out.push_back(stat_of(std::move(v)));
    return out;
}

std::string cpu_name() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

void report(const char *what, const Stat &s, double weight_bytes, double base_med) {
    std::printf("  %-28s %8.3f ms (min %7.3f, p10 %7.3f, p90 %7.3f) %6.2f GB/s", what, s.med * 1e3, s.min * 1e3,
                s.p10 * 1e3, s.p90 * 1e3, weight_bytes / s.med / 1e9);
    if (base_med > 0) std::printf("  x%.2f vs fp32", base_med / s.med);
    std::printf("\n");
}

void gemv_case(int64_t n, int64_t k, bool quick, rai_context *ctx) {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd;
    const int64_t wshape[2] = {n, k};
    const size_t nk = static_cast<size_t>(n * k);
    const double tern_bytes = static_cast<double>(n * ((k + 127) / 128 * 32) + 4);
    const double i8_bytes = static_cast<double>(nk), f32_bytes = 4.0 * static_cast<double>(nk);
    const double rot_target = quick ? 64.0e6 : 512.0e6;
    auto copies = [&](double bytes) { return std::max(1, static_cast<int>(std::ceil(rot_target / bytes))); };

    // ternary weights (per-tensor scale, as official BitNet), several prepared copies
    std::vector<int8_t> trits(nk);
    for (auto &t : trits) t = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    float scale = 0.02f;
    const int64_t sshape[1] = {1};
    rai_tensor tt = tensor(trits.data(), kI8, wshape, 2), ts = tensor(&scale, kF32, sshape, 1);
    const int nt = copies(tern_bytes);
    std::vector<rai_ternary_weight *> tw(static_cast<size_t>(nt));
    for (auto &w : tw) CHECK(rai_ternary_weight_create(ctx, &tt, &ts, &w));
    // fp32 and int8 weights
    const int nf = copies(f32_bytes), ni = copies(i8_bytes);
    std::vector<std::vector<float>> wf(static_cast<size_t>(nf), std::vector<float>(nk));
    for (auto &w : wf)
        for (size_t i = 0; i < nk; ++i) w[i] = static_cast<float>(trits[i]) * scale + nd(rng) * 1e-3f;
    std::vector<std::vector<int8_t>> wi(static_cast<size_t>(ni), std::vector<int8_t>(nk));
    for (auto &w : wi)
        for (size_t i = 0; i < nk; ++i) w[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    // activations
    std::vector<float> x(static_cast<size_t>(k));
    for (auto &v : x) v = nd(rng);
    std::vector<int8_t> xq(static_cast<size_t>(k));
    float xs = 0;
    const int64_t xshape[2] = {1, k}, yshape[2] = {1, n}, one[1] = {1};
    rai_tensor xt = tensor(x.data(), kF32, xshape, 2), xqt = tensor(xq.data(), kI8, xshape, 2),
               xst = tensor(&xs, kF32, one, 1);
    CHECK(rai_bitnet_quantize_activations(ctx, nullptr, &xt, &xqt, &xst));
    std::vector<float> y(static_cast<size_t>(n));
    std::vector<int32_t> yi(static_cast<size_t>(n));
    rai_tensor yt = tensor(y.data(), kF32, yshape, 2);
    const int reps = quick ? 11 : 41;

    std::printf("\nGEMV %lld x %lld (out x in), M = 1: weights fp32 %.1f MB, int8 %.1f MB, ternary 2-bit %.2f MB\n",
                static_cast<long long>(n), static_cast<long long>(k), f32_bytes / 1e6, i8_bytes / 1e6,
                tern_bytes / 1e6);
    for (const char *threads : {"1", "all"}) {
        const bool single = std::strcmp(threads, "1") == 0;
        if (single) setenv("RAI_NUM_THREADS", "1", 1);
        else unsetenv("RAI_NUM_THREADS");
        for (int cold = 1; cold >= 0; --cold) {
            std::printf(" %s thread%s, %s weights, %s:\n", single ? "1" : "all", single ? "" : "s",
                        cold ? "cold (rotated, from DRAM)" : "hot (one copy)",
                        single ? "thread CPU time" : "wall time");
            size_t i_f = 0, i_i = 0, i_w = 0, i_x = 0;
            const std::vector<Stat> st = measure_interleaved(
                {[&] {
                     const float *w = wf[cold ? i_f++ % wf.size() : 0].data();
                     for (int64_t o = 0; o < n; ++o) y[static_cast<size_t>(o)] = dot_f32(w + o * k, x.data(), k);
                     bench::keep(y);
                 },
                 [&] {
                     const int8_t *w = wi[cold ? i_i++ % wi.size() : 0].data();
                     for (int64_t o = 0; o < n; ++o) yi[static_cast<size_t>(o)] = dot_i8(w + o * k, xq.data(), k);
                     bench::keep(yi);
                 },
                 [&] { CHECK(rai_ternary_gemm(ctx, tw[cold ? i_w++ % tw.size() : 0], &xqt, &xst, nullptr, nullptr, &yt)); },
                 [&] { CHECK(rai_ternary_gemm(ctx, tw[cold ? i_x++ % tw.size() : 0], &xt, nullptr, nullptr, nullptr, &yt)); }},
                reps, single);
            const Stat &f32s = st[0], &i8s = st[1], &w2a8 = st[2], &wf32 = st[3];
            const char *base_note = single ? "" : " (baselines single-threaded)";
            std::printf("  baselines%s:\n", base_note);
            report("fp32 GEMV (AVX2 FMA)", f32s, f32_bytes, f32s.med);
            report("int8 GEMV (AVX2 maddubs)", i8s, i8_bytes, f32s.med);
            report("rai ternary W2A8 (int8 x)", w2a8, tern_bytes, f32s.med);
            std::printf("  %-34s x%.2f vs int8\n", "", i8s.med / w2a8.med);
            report("rai ternary, f32 x", wf32, tern_bytes, f32s.med);
        }
    }
    unsetenv("RAI_NUM_THREADS");
    for (auto *w : tw) rai_ternary_weight_destroy(w);
}

#ifdef RAI_BENCH_LLAMACPP
double rel_l2(const std::vector<float> &y, const std::vector<double> &ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < y.size(); ++i) {
        num += (y[i] - ref[i]) * (y[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / den);
}

// rai's W2A8 GEMV against llama.cpp's TQ2_0 / TQ1_0 GEMV on the same ternary weights (one
// per-tensor scale, so every 256-block of llama.cpp's formats holds it exactly), one thread,
// thread CPU time, every call quantizing its f32 activations (rai: per-token absmax int8;
// llama.cpp: q8_K, absmax per 256) and then computing all n rows.
void llamacpp_case(int64_t n, int64_t k, bool quick, rai_context *ctx) {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd;
    const size_t nk = static_cast<size_t>(n * k), blocks = static_cast<size_t>(k / 256);
    const size_t tq2_row = blocks * 66, tq1_row = blocks * 54, q8k_bytes = blocks * 292;
    std::vector<int8_t> trits(nk);
    for (auto &t : trits) t = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    const float scale = 0.02f;
    std::vector<float> x(static_cast<size_t>(k));
    for (auto &v : x) v = nd(rng);
    std::vector<double> ref(static_cast<size_t>(n));
    for (int64_t o = 0; o < n; ++o) {
        double acc = 0;
        for (int64_t j = 0; j < k; ++j) acc += trits[static_cast<size_t>(o * k + j)] * static_cast<double>(x[static_cast<size_t>(j)]);
        ref[static_cast<size_t>(o)] = acc * scale;
    }

    const double rot_target = quick ? 64.0e6 : 512.0e6;
    auto copies = [&](double bytes) { return std::max(1, static_cast<int>(std::ceil(rot_target / bytes))); };
    // llama.cpp weights: the f32 values trit * scale through its reference quantizers.
    std::vector<uint8_t> tq2(static_cast<size_t>(n) * tq2_row), tq1(static_cast<size_t>(n) * tq1_row);
    {
        std::vector<float> row(static_cast<size_t>(k));
        for (int64_t o = 0; o < n; ++o) {
            for (int64_t j = 0; j < k; ++j) row[static_cast<size_t>(j)] = trits[static_cast<size_t>(o * k + j)] * scale;
            quantize_row_tq2_0_ref(row.data(), tq2.data() + static_cast<size_t>(o) * tq2_row, k);
            quantize_row_tq1_0_ref(row.data(), tq1.data() + static_cast<size_t>(o) * tq1_row, k);
        }
    }
    std::vector<std::vector<uint8_t>> tq2s(static_cast<size_t>(copies(double(tq2.size()))), tq2),
        tq1s(static_cast<size_t>(copies(double(tq1.size()))), tq1);
    const int64_t wshape[2] = {n, k}, sshape[1] = {1};
    float sc = scale;
    rai_tensor tt = tensor(trits.data(), kI8, wshape, 2), ts = tensor(&sc, kF32, sshape, 1);
    const double rai_bytes = static_cast<double>(n * ((k + 127) / 128 * 32) + 4);
    std::vector<rai_ternary_weight *> tw(static_cast<size_t>(copies(rai_bytes)));
    for (auto &w : tw) CHECK(rai_ternary_weight_create(ctx, &tt, &ts, &w));

    std::vector<uint8_t> q8k(q8k_bytes);
    std::vector<float> y_tq2(static_cast<size_t>(n)), y_tq1(static_cast<size_t>(n)), y_rai(static_cast<size_t>(n));
    std::vector<int8_t> xq(static_cast<size_t>(k));
    float xs = 0;
    const int64_t xshape[2] = {1, k}, yshape[2] = {1, n}, one[1] = {1};
    rai_tensor xt = tensor(x.data(), kF32, xshape, 2), xqt = tensor(xq.data(), kI8, xshape, 2),
               xst = tensor(&xs, kF32, one, 1), yt = tensor(y_rai.data(), kF32, yshape, 2);
    auto llama_gemv = [&](const uint8_t *w, size_t row_bytes, bool tq1_format, std::vector<float> &y) {
        quantize_row_q8_K(x.data(), q8k.data(), k);
        for (int64_t o = 0; o < n; ++o) {
            const uint8_t *r = w + static_cast<size_t>(o) * row_bytes;
            if (tq1_format) ggml_vec_dot_tq1_0_q8_K(static_cast<int>(k), &y[static_cast<size_t>(o)], 0, r, 0, q8k.data(), 0, 1);
            else ggml_vec_dot_tq2_0_q8_K(static_cast<int>(k), &y[static_cast<size_t>(o)], 0, r, 0, q8k.data(), 0, 1);
        }
        bench::keep(y);
    };
    setenv("RAI_NUM_THREADS", "1", 1);
    std::printf("\nGEMV %lld x %lld, M = 1, one thread, thread CPU time: rai vs llama.cpp (ggml-cpu, -march=native)\n",
                static_cast<long long>(n), static_cast<long long>(k));
    std::printf("  weights: rai I2_S %.2f MB, TQ2_0 %.2f MB, TQ1_0 %.2f MB\n", rai_bytes / 1e6, double(tq2.size()) / 1e6,
                double(tq1.size()) / 1e6);
    const int reps = quick ? 11 : 41;
    for (int cold = 1; cold >= 0; --cold) {
        size_t i2 = 0, i1 = 0, ir = 0;
        const std::vector<Stat> st = measure_interleaved(
            {[&] { llama_gemv(tq2s[cold ? i2++ % tq2s.size() : 0].data(), tq2_row, false, y_tq2); },
             [&] { llama_gemv(tq1s[cold ? i1++ % tq1s.size() : 0].data(), tq1_row, true, y_tq1); },
             [&] {
                 CHECK(rai_bitnet_quantize_activations(ctx, nullptr, &xt, &xqt, &xst));
                 CHECK(rai_ternary_gemm(ctx, tw[cold ? ir++ % tw.size() : 0], &xqt, &xst, nullptr, nullptr, &yt));
             }},
            reps, true);
        std::printf(" %s:\n", cold ? "cold (rotated, from DRAM)" : "hot (one copy)");
        std::printf("  %-40s %8.3f ms (p10 %7.3f, p90 %7.3f)\n", "llama.cpp TQ2_0 (q8_K x + vec_dot rows)", st[0].med * 1e3,
                    st[0].p10 * 1e3, st[0].p90 * 1e3);
        std::printf("  %-40s %8.3f ms (p10 %7.3f, p90 %7.3f)\n", "llama.cpp TQ1_0 (q8_K x + vec_dot rows)", st[1].med * 1e3,
                    st[1].p10 * 1e3, st[1].p90 * 1e3);
        std::printf("  %-40s %8.3f ms (p10 %7.3f, p90 %7.3f)  x%.2f vs TQ2_0, x%.2f vs TQ1_0\n",
                    "rai W2A8 (absmax int8 x + I2_S GEMV)", st[2].med * 1e3, st[2].p10 * 1e3, st[2].p90 * 1e3,
                    st[0].med / st[2].med, st[1].med / st[2].med);
    }
    std::printf("  relative L2 error vs the f64 product: llama.cpp TQ2_0 %.2e, TQ1_0 %.2e, rai %.2e\n",
                rel_l2(y_tq2, ref), rel_l2(y_tq1, ref), rel_l2(y_rai, ref));
    unsetenv("RAI_NUM_THREADS");
    for (auto *w : tw) rai_ternary_weight_destroy(w);
}
#endif

void throughput(rai_context *ctx, bool quick) {
    std::printf("\nQuantization and packing throughput (1 thread, thread CPU time):\n");
    setenv("RAI_NUM_THREADS", "1", 1);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    const int64_t rows = 1024, cols = 4096;
    std::vector<float> w(static_cast<size_t>(rows * cols));
    for (auto &v : w) v = nd(rng);
    std::vector<int8_t> t(w.size());
    std::vector<float> s(static_cast<size_t>(rows * cols / 64));
    const int64_t shape[2] = {rows, cols}, sshape[2] = {rows, cols / 64}, tok[1] = {rows};
    rai_tensor wt = tensor(w.data(), kF32, shape, 2), tt = tensor(t.data(), kI8, shape, 2),
               st = tensor(s.data(), kF32, sshape, 2);
    const int reps = quick ? 5 : 15;
    const double mb = static_cast<double>(w.size()) * 4 / 1e6;
    const Stat wq = measure([&] { CHECK(rai_bitnet_quantize_weights(ctx, nullptr, &wt, &tt, &st)); }, reps);
    std::printf("  absmean weights, group 64, 1024x4096 f32: %8.2f ms = %7.0f MB/s\n", wq.med * 1e3, mb / wq.med);
    std::vector<float> as(static_cast<size_t>(rows));
    std::vector<int8_t> q(w.size());
    rai_tensor ast = tensor(as.data(), kF32, tok, 1), qt = tensor(q.data(), kI8, shape, 2);
    const Stat aq = measure([&] { CHECK(rai_bitnet_quantize_activations(ctx, nullptr, &wt, &qt, &ast)); }, reps);
    std::printf("  absmax activations, 1024 tokens x 4096:   %8.2f ms = %7.0f MB/s\n", aq.med * 1e3, mb / aq.med);
    const int64_t sq[2] = {1024, 1024};
    rai_tensor t2 = tensor(t.data(), kI8, sq, 2);
    for (int32_t layout : {RAI_TERNARY_LAYOUT_BYTE2, RAI_TERNARY_LAYOUT_I2_S, RAI_TERNARY_LAYOUT_TQ2_0,
                           RAI_TERNARY_LAYOUT_TQ1_0}) {
        size_t bytes = 0;
        CHECK(rai_ternary_packed_size(layout, 1024, 1024, &bytes));
        std::vector<uint8_t> p(bytes);
        const int64_t pshape[1] = {static_cast<int64_t>(bytes)};
        rai_tensor pt = tensor(p.data(), rai_dtype{RAI_DTYPE_UINT, 8, 1}, pshape, 1);
        float one = 0.5f;
        const int64_t os[1] = {1};
        rai_tensor sc = tensor(&one, kF32, os, 1);
        const bool scaled = layout != RAI_TERNARY_LAYOUT_BYTE2;
        const Stat pk = measure([&] { CHECK(rai_ternary_pack(layout, &t2, scaled ? &sc : nullptr, &pt)); }, reps);
        const Stat up = measure([&] { CHECK(rai_ternary_unpack(layout, &pt, &t2, nullptr)); }, reps);
        const char *names[] = {"", "PLANES", "BYTE2", "U32_16", "I2_S", "TQ1_0", "TQ2_0"};
        std::printf("  pack / unpack 1024x1024 %-6s:             %8.3f / %.3f ms\n", names[layout], pk.med * 1e3,
                    up.med * 1e3);
    }
    unsetenv("RAI_NUM_THREADS");
}

}  // namespace

void bitnet_gpu_section();  // bitnet_gpu.cpp

int main(int argc, char **argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (argc > 1 && std::strcmp(argv[1], "--gpu") == 0) {  // the GPU section alone
        bitnet_gpu_section();
        return 0;
    }
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        std::printf("this benchmark's baselines need AVX2 + FMA\n");
        return 0;
    }
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CPU;
    p.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    CHECK(rai_context_create(&p, &ctx));
    std::printf("rai %s BitNet CPU benchmark on %s; rai kernels: %s\n", rai_version_string(), cpu_name().c_str(),
                rai_cpu_dispatch_level());
    gemv_case(4096, 4096, quick, ctx);
    gemv_case(4096, 11008, quick, ctx);
    gemv_case(2048, 2048, quick, ctx);
#ifdef RAI_BENCH_LLAMACPP
    rai_anchor_ggml_cpu_init();
    for (const auto &nk : {std::pair<int64_t, int64_t>{4096, 4096}, {4096, 11008}, {2048, 2048}})
        llamacpp_case(nk.first, nk.second, quick, ctx);
#else
    std::printf("\nllama.cpp anchor: not built (no ggml sources; run scripts/fetch_ggml.sh and reconfigure)\n");
#endif
    throughput(ctx, quick);
    rai_context_destroy(ctx);
    return 0;
}
