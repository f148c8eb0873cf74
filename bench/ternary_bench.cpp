// Ternary / VSA benchmark (issue 3): rai's packed-trit operations against an int8 and an f32
// implementation of the same operation, in the same run, one thread. Throughput in trits per
// second (for bundle: input trits, n * D); medians of repeated runs; ratio = anchor time / rai time
// (above 1: rai is faster). Every rai CPU backend the machine has is measured (scalar, avx2,
// avx512), selected with rai_cpu_set_feature_mask.
//
// The int8 and f32 anchors are plain loops compiled at -O3 for the best ISA this CPU has
// (target_clones: AVX-512F, AVX2, baseline), i.e. what a compiler makes of the obvious code;
// the f32 ones may reassociate (fast-math), like a BLAS dot.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <cstdlib>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "rai.h"

// -O3 for the anchors (the library builds at -O2, where GCC 12 hardly vectorizes plain loops);
// the f32 reductions may also reassociate, as a BLAS dot would.
#define ANCHOR __attribute__((target_clones("avx512f", "avx2", "default"), noinline, optimize("O3")))
#define ANCHOR_F32 \
    __attribute__((target_clones("avx512f", "avx2", "default"), noinline, optimize("O3", "fast-math")))

void ternary_gpu_section();  // ternary_gpu.cpp: the GPU targets, with a CUDA device only

namespace {

// ---- int8 anchors (one trit per byte)
ANCHOR int64_t dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
ANCHOR void bind_i8(const int8_t *a, const int8_t *b, int8_t *o, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const int8_t v = static_cast<int8_t>(a[i] - b[i]);  // (a - b) mod 3, balanced
        o[i] = static_cast<int8_t>(v > 1 ? v - 3 : (v < -1 ? v + 3 : v));
    }
}
ANCHOR void bundle_i8(const int8_t *const *rows, size_t k, int16_t *acc, int8_t *o, size_t n) {
    std::memset(acc, 0, n * sizeof(int16_t));
    for (size_t r = 0; r < k; ++r)
        for (size_t i = 0; i < n; ++i) acc[i] = static_cast<int16_t>(acc[i] + rows[r][i]);
    for (size_t i = 0; i < n; ++i) o[i] = static_cast<int8_t>((acc[i] > 0) - (acc[i] < 0));
}
ANCHOR int64_t hamming_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += a[i] != b[i];
    return s;
}
ANCHOR void permute_i8(const int8_t *a, int8_t *o, size_t n, size_t shift) {
    std::memcpy(o + shift, a, n - shift);
    std::memcpy(o, a + n - shift, shift);
}

// ---- f32 anchors (one trit per float)
ANCHOR_F32 double dot_f32(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
ANCHOR_F32 void bind_f32(const float *a, const float *b, float *o, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float v = a[i] - b[i];
        o[i] = v > 1.0f ? v - 3.0f : (v < -1.0f ? v + 3.0f : v);
    }
}
ANCHOR_F32 void bundle_f32(const float *const *rows, size_t k, float *acc, float *o, size_t n) {
    std::memset(acc, 0, n * sizeof(float));
    for (size_t r = 0; r < k; ++r)
        for (size_t i = 0; i < n; ++i) acc[i] += rows[r][i];
    for (size_t i = 0; i < n; ++i) o[i] = static_cast<float>((acc[i] > 0.0f) - (acc[i] < 0.0f));
}
ANCHOR_F32 int64_t hamming_f32(const float *a, const float *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += a[i] != b[i];
    return s;
}
ANCHOR_F32 void permute_f32(const float *a, float *o, size_t n, size_t shift) {
    std::memcpy(o + shift, a, (n - shift) * sizeof(float));
    std::memcpy(o, a + n - shift, shift * sizeof(float));
}

std::vector<int8_t> random_trits(size_t n, uint64_t seed) {
    std::mt19937_64 g(seed);
    std::vector<int8_t> t(n);
    for (auto &x : t) x = static_cast<int8_t>(static_cast<int>(g() % 3) - 1);
    return t;
}

struct Data {
    size_t dim;
    std::vector<std::vector<int8_t>> i8;
    std::vector<std::vector<float>> f32;
    std::vector<rai_tvec *> tv;
    Data(size_t d, size_t rows) : dim(d) {
        for (size_t r = 0; r < rows; ++r) {
            i8.push_back(random_trits(d, 1000 + r));
            f32.emplace_back(i8.back().begin(), i8.back().end());
            rai_tvec *v = nullptr;
            rai_tvec_create(d, &v);
            rai_tvec_import_int8(v, i8.back().data(), d);
            tv.push_back(v);
        }
    }
    ~Data() {
        for (auto *v : tv) rai_tvec_destroy(v);
    }
};

// Repeats fn until about `work` trits have been processed per timing sample.
template <class F>
double per_call_seconds(F &&fn, double trits_per_call, double work = 4e8 / 8) {
    const int iters = static_cast<int>(std::max(1.0, work / trits_per_call));
    const double t = bench::median_seconds(
        [&] {
            for (int i = 0; i < iters; ++i) fn();
        },
        9);
    return t / iters;
}

void row(const char *op, size_t dim, const char *backend, double trits, double t_rai, double t_i8, double t_f32) {
    std::printf("%-14s %8zu %-7s %10.3g %10.3g %10.3g %8.1f %8.1f\n", op, dim, backend, trits / t_rai, trits / t_i8,
                trits / t_f32, t_i8 / t_rai, t_f32 / t_rai);
}

struct BackendSel {
    uint64_t mask;
    const char *name;
};

}  // namespace

// Item-memory top-k at the sizes (D = 1e4, m = 1e5, q in {1, 64}) on one thread and on
// every hardware thread (the worker pool; RAI_NUM_THREADS is read at each call), best backend.
void item_memory_threads() {
    const size_t m = 100000, dim = 10000, k = 10;
    rai_context_params p;
    rai_context_params_init(&p);
    p.device_type = RAI_DEVICE_CPU;
    rai_context *ctx = nullptr;
    rai_context_create(&p, &ctx);
    rai_vsa_matrix *mi = nullptr;
    rai_vsa_matrix_create(ctx, m, dim, &mi);
    rai_random_params rp;
    rai_random_params_init(&rp);
    rp.generator = RAI_VSA_RNG_COUNTER;
    rp.seed = 7;
    rai_vsa_matrix_random(ctx, mi, &rp);
    const unsigned hw = std::thread::hardware_concurrency();
    std::printf("\nitem-memory top-k, D=%zu, m=%zu, k=%zu, dot; threads: 1 vs %u (worker pool)\n", dim, m, k, hw);
    std::printf("%-6s %14s %14s %8s\n", "q", "1 thread", "all threads", "speedup");
    for (size_t q : {size_t{1}, size_t{64}}) {
        rai_vsa_matrix *mq = nullptr;
        rai_vsa_matrix_create(ctx, q, dim, &mq);
        rp.seed = 11;
        rai_vsa_matrix_random(ctx, mq, &rp);
        std::vector<int64_t> idx(q * k);
        const int64_t ks[2] = {static_cast<int64_t>(q), static_cast<int64_t>(k)};
        rai_tensor ti{idx.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 64, 1}, ks, nullptr, 0};
        const int reps = q == 1 ? 7 : 3;
        setenv("RAI_NUM_THREADS", "1", 1);
        const double t1 = bench::median_seconds([&] { rai_vsa_topk(ctx, mq, mi, k, RAI_VSA_DOT, &ti, nullptr); }, reps);
        unsetenv("RAI_NUM_THREADS");
        const double tn = bench::median_seconds([&] { rai_vsa_topk(ctx, mq, mi, k, RAI_VSA_DOT, &ti, nullptr); }, reps);
        std::printf("%-6zu %10.3g q/s %10.3g q/s %7.2fx\n", q, static_cast<double>(q) / t1, static_cast<double>(q) / tn,
                    t1 / tn);
        rai_vsa_matrix_destroy(mq);
    }
    rai_vsa_matrix_destroy(mi);
    rai_context_destroy(ctx);
}

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "--gpu") == 0) {  // the GPU section alone
        ternary_gpu_section();
        return 0;
    }
    setenv("RAI_NUM_THREADS", "1", 1);  // per-core numbers; item_memory_threads() measures the pool
    std::printf("rai %s ternary bench, 1 thread; CPU features 0x%llx\n", rai_version_string(),
                static_cast<unsigned long long>(rai_cpu_features_detected()));
    std::printf("throughput in trits/s (bundle: input trits n*D); ratio = anchor time / rai time\n");
    std::printf("%-14s %8s %-7s %10s %10s %10s %8s %8s\n", "op", "D", "rai", "rai", "int8", "f32", "x int8", "x f32");

    std::vector<BackendSel> backends{{0, "scalar"}};
    const uint64_t f = rai_cpu_features_detected();
    const uint64_t avx2 = RAI_CPU_AVX2 | RAI_CPU_FMA | RAI_CPU_POPCNT;
    const uint64_t avx512 = avx2 | RAI_CPU_AVX512F | RAI_CPU_AVX512BW | RAI_CPU_AVX512VL | RAI_CPU_AVX512VPOPCNTDQ;
    if ((f & avx2) == avx2) backends.push_back({avx2, "avx2"});
    if ((f & avx512) == avx512) backends.push_back({avx512, "avx512"});

    for (size_t dim : {size_t{10000}, size_t{65536}, size_t{1000000}}) {
        Data d(dim, 256);
        std::vector<int8_t> o8(dim);
        std::vector<float> of(dim);
        std::vector<int16_t> acc16(dim);
        std::vector<float> accf(dim);
        rai_tvec *out = nullptr;
        rai_tvec_create(dim, &out);
        const double D = static_cast<double>(dim);

        // Anchors once per dimension (they do not depend on the rai backend).
        const double i8_dot = per_call_seconds([&] { bench::keep(dot_i8(d.i8[0].data(), d.i8[1].data(), dim)); }, D);
        const double f_dot = per_call_seconds([&] { bench::keep(dot_f32(d.f32[0].data(), d.f32[1].data(), dim)); }, D);
        const double i8_bind = per_call_seconds([&] { bind_i8(d.i8[0].data(), d.i8[1].data(), o8.data(), dim); bench::keep(o8); }, D);
        const double f_bind = per_call_seconds([&] { bind_f32(d.f32[0].data(), d.f32[1].data(), of.data(), dim); bench::keep(of); }, D);
        const double i8_ham = per_call_seconds([&] { bench::keep(hamming_i8(d.i8[0].data(), d.i8[1].data(), dim)); }, D);
        const double f_ham = per_call_seconds([&] { bench::keep(hamming_f32(d.f32[0].data(), d.f32[1].data(), dim)); }, D);
        const double i8_perm = per_call_seconds([&] { permute_i8(d.i8[0].data(), o8.data(), dim, 12345 % dim); bench::keep(o8); }, D);
        const double f_perm = per_call_seconds([&] { permute_f32(d.f32[0].data(), of.data(), dim, 12345 % dim); bench::keep(of); }, D);
        std::vector<double> i8_bundle, f_bundle;
        const size_t ns[3] = {3, 16, 256};
        for (size_t n : ns) {
            std::vector<const int8_t *> r8;
            std::vector<const float *> rf;
            for (size_t k = 0; k < n; ++k) {
                r8.push_back(d.i8[k].data());
                rf.push_back(d.f32[k].data());
            }
            i8_bundle.push_back(per_call_seconds([&] { bundle_i8(r8.data(), n, acc16.data(), o8.data(), dim); bench::keep(o8); }, D * static_cast<double>(n)));
            f_bundle.push_back(per_call_seconds([&] { bundle_f32(rf.data(), n, accf.data(), of.data(), dim); bench::keep(of); }, D * static_cast<double>(n)));
        }

        for (const BackendSel &be : backends) {
            rai_cpu_set_feature_mask(be.mask);
            int64_t dot = 0;
            size_t h = 0;
            const double t_dot = per_call_seconds([&] { rai_vsa_dot(d.tv[0], d.tv[1], &dot); bench::keep(dot); }, D);
            row("dot", dim, be.name, D, t_dot, i8_dot, f_dot);
            const double t_bind = per_call_seconds([&] { rai_vsa_bind(d.tv[0], d.tv[1], RAI_VSA_BIND_MOD3, out); }, D);
            row("bind", dim, be.name, D, t_bind, i8_bind, f_bind);
            const double t_ham = per_call_seconds([&] { rai_vsa_hamming_distance(d.tv[0], d.tv[1], &h); bench::keep(h); }, D);
            row("hamming", dim, be.name, D, t_ham, i8_ham, f_ham);
            const double t_perm = per_call_seconds([&] { rai_vsa_permute(d.tv[0], 12345, out); }, D);
            row("permute", dim, be.name, D, t_perm, i8_perm, f_perm);
            for (size_t k = 0; k < 3; ++k) {
                const size_t n = ns[k];
                const double t_b = per_call_seconds([&] { rai_vsa_bundle(d.tv.data(), nullptr, n, nullptr, out); }, D * static_cast<double>(n));
                const std::string name = "bundle n=" + std::to_string(n);
                row(name.c_str(), dim, be.name, D * static_cast<double>(n), t_b, i8_bundle[k], f_bundle[k]);
            }
        }
        rai_cpu_set_feature_mask(~uint64_t{0});
        rai_tvec_destroy(out);
    }

    // Item memory: q x m similarity matrix (dot) at D = 10000: rai vs int8 / f32 dot products.
    {
        const size_t q = 16, m = 2000, dim = 10000;
        rai_context_params p;
        rai_context_params_init(&p);
        p.device_type = RAI_DEVICE_CPU;
        rai_context *ctx = nullptr;
        rai_context_create(&p, &ctx);
        rai_vsa_matrix *mq = nullptr, *mi = nullptr;
        rai_vsa_matrix_create(ctx, q, dim, &mq);
        rai_vsa_matrix_create(ctx, m, dim, &mi);
        rai_random_params rp;
        rai_random_params_init(&rp);
        rp.generator = RAI_VSA_RNG_COUNTER;
        rai_vsa_matrix_random(ctx, mq, &rp);
        rp.seed = 1000;
        rai_vsa_matrix_random(ctx, mi, &rp);
        std::vector<int8_t> q8(q * dim), m8(m * dim);
        const int64_t qs[2] = {static_cast<int64_t>(q), static_cast<int64_t>(dim)}, ms[2] = {static_cast<int64_t>(m), static_cast<int64_t>(dim)};
        rai_tensor tq{q8.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, qs, nullptr, 0};
        rai_tensor tm{m8.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, ms, nullptr, 0};
        rai_vsa_matrix_read_int8(ctx, mq, 0, &tq);
        rai_vsa_matrix_read_int8(ctx, mi, 0, &tm);
        std::vector<float> qf(q8.begin(), q8.end()), mf(m8.begin(), m8.end());
        std::vector<float> sim(q * m);
        const int64_t os[2] = {static_cast<int64_t>(q), static_cast<int64_t>(m)};
        rai_tensor to{sim.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, os, nullptr, 0};
        const double work = static_cast<double>(q) * m * dim;  // trit products
        const double t8 = bench::median_seconds([&] {
            for (size_t i = 0; i < q; ++i)
                for (size_t j = 0; j < m; ++j) sim[i * m + j] = static_cast<float>(dot_i8(&q8[i * dim], &m8[j * dim], dim));
            bench::keep(sim);
        }, 5);
        const double tf = bench::median_seconds([&] {
            for (size_t i = 0; i < q; ++i)
                for (size_t j = 0; j < m; ++j) sim[i * m + j] = static_cast<float>(dot_f32(&qf[i * dim], &mf[j * dim], dim));
            bench::keep(sim);
        }, 5);
        for (const BackendSel &be : backends) {
            rai_cpu_set_feature_mask(be.mask);
            const double tr = bench::median_seconds([&] { rai_vsa_similarity_matrix(ctx, mq, mi, RAI_VSA_DOT, &to); }, 5);
            row("simmat 16x2000", dim, be.name, work, tr, t8, tf);
            std::vector<int64_t> idx(q * 10);
            const int64_t ks[2] = {static_cast<int64_t>(q), 10};
            rai_tensor ti{idx.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 64, 1}, ks, nullptr, 0};
            const double tk = bench::median_seconds([&] { rai_vsa_topk(ctx, mq, mi, 10, RAI_VSA_COSINE, &ti, nullptr); }, 5);
            std::printf("%-14s %8zu %-7s %10.3g items/s (q=16, m=2000, k=10, cosine)\n", "topk", dim, be.name,
                        static_cast<double>(q * m) / tk);
        }
        rai_cpu_set_feature_mask(~uint64_t{0});
        rai_vsa_matrix_destroy(mq);
        rai_vsa_matrix_destroy(mi);
        rai_context_destroy(ctx);
    }
    item_memory_threads();
    ternary_gpu_section();
    return 0;
}
