// Gradient-compression benchmark.
//  1. Reconstruction quality on a real gradient: the reference MLP (32-128-128-10, ReLU, 22,026
//     parameters in 6 tensors; compression-and-hybrid-training.md section 6) trained with SGD +
//     momentum on the generated 10-class data for 200 steps; the next minibatch gradient is
//     compressed by every method at several ratios. Prints global cosine, relative L2 error and
//     effective bits per parameter (headers, indices, scales counted), next to the reference's
//     numpy numbers (section 6.1) where it has them.
//  2. Throughput: compress and decompress of a 4096 x 4096 f32 gradient (64 MiB) per method,
//     in GB/s of gradient, on 1 thread (RAI_NUM_THREADS=1) and on all hardware threads (the
//     worker pool), against std::memcpy of the same gradient (anchor); plus the memory the
//     compressor holds per parameter (EF residual, PowerSGD Q, host scratch).
//  3. Convergence: the same MLP trained 1200 steps with every gradient compressed, with and
//     without error feedback, 3 seeds, against uncompressed training (section 6.2's protocol).
//  4. (by hand, long) Acceptance protocol on a streamed task with W = 4 simulated workers,
//     SGD-momentum and AdamW, with and without EF, warm-up 0 and 5 %: T1 (the MLP, 2400 steps of
//     batch 64 per worker, 2x section 6) or T2 (the GRU character LM, 200 steps of batch 4 per
//     worker by default, clipped to global norm 1 after averaging). One training loop serves both.
//     compress_bench t1|t2 [--steps N] [--batch B (per worker)] [--seeds S] [--first-seed F]
//                          [--workers W] [--opt sgd|adamw|both] [--lr X]
//                          [--only "POWERSGD r2,SIGN,..."] [--full-grid 1]
//                          [--arms "uncompressed,EF-POWERSGD r2,TOPK 1%,..."] [--warmup 0,5]
//     Without --arms: the uncompressed baseline and every method with EF at warm-up 0 and 5 % and
//     without EF at warm-up 0 (--only keeps the listed methods, --full-grid adds no EF at 5 %).
//     With --arms: exactly the listed rows ("EF-" = error feedback on), each at every --warmup
//     (percent of the steps). The table goes to stdout, one line per run (seed) to stderr.
// Sections can be run alone: compress_bench quality | throughput | convergence | t1 | t2 | gpu
// (gpu: compress_gpu.cpp, with a CUDA device)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "rai.h"
#include "tasks/char_lm.h"
#include "tasks/char_lm_stream.h"
#include "tasks/t1_stream.h"

namespace {

// ---------------------------------------------------------------- the reference MLP
struct Mlp {
    static constexpr int kIn = 32, kH = 128, kOut = 10;
    std::vector<float> w1, b1, w2, b2, w3, b3;  // weights [out, in] row-major
    explicit Mlp(std::mt19937 &rng) {
        auto init = [&](std::vector<float> &w, int out, int in) {
            std::normal_distribution<float> nd(0.0f, std::sqrt(2.0f / in));
            w.resize(static_cast<size_t>(out) * in);
            for (float &v : w) v = nd(rng);
        };
        init(w1, kH, kIn), init(w2, kH, kH), init(w3, kOut, kH);
        b1.assign(kH, 0), b2.assign(kH, 0), b3.assign(kOut, 0);
    }
    // Mean cross-entropy gradient over a batch; returns the loss.
    float grad(const std::vector<float> &x, const std::vector<int> &y, std::vector<std::vector<float>> &g) const {
        const int B = static_cast<int>(y.size());
        g = {std::vector<float>(w1.size()), std::vector<float>(kH), std::vector<float>(w2.size()),
             std::vector<float>(kH), std::vector<float>(w3.size()), std::vector<float>(kOut)};
        float loss = 0;
        std::vector<float> h1(kH), h2(kH), lo(kOut), d3(kOut), d2(kH), d1(kH);
        for (int s = 0; s < B; ++s) {
            const float *xs = &x[static_cast<size_t>(s) * kIn];
            for (int o = 0; o < kH; ++o) {
                float a = b1[o];
                for (int i = 0; i < kIn; ++i) a += w1[o * kIn + i] * xs[i];
                h1[o] = std::max(a, 0.0f);
            }
            for (int o = 0; o < kH; ++o) {
                float a = b2[o];
                for (int i = 0; i < kH; ++i) a += w2[o * kH + i] * h1[i];
                h2[o] = std::max(a, 0.0f);
            }
            float mx = -1e30f;
            for (int o = 0; o < kOut; ++o) {
                float a = b3[o];
                for (int i = 0; i < kH; ++i) a += w3[o * kH + i] * h2[i];
                lo[o] = a;
                mx = std::max(mx, a);
            }
            float z = 0;
            for (int o = 0; o < kOut; ++o) z += std::exp(lo[o] - mx);
            loss += -(lo[y[s]] - mx - std::log(z));
            for (int o = 0; o < kOut; ++o) d3[o] = (std::exp(lo[o] - mx) / z - (o == y[s])) / B;
            std::fill(d2.begin(), d2.end(), 0.0f);
            for (int o = 0; o < kOut; ++o) {
                g[5][o] += d3[o];
                for (int i = 0; i < kH; ++i) g[4][o * kH + i] += d3[o] * h2[i], d2[i] += d3[o] * w3[o * kH + i];
            }
            for (int i = 0; i < kH; ++i) d2[i] = h2[i] > 0 ? d2[i] : 0.0f;
            std::fill(d1.begin(), d1.end(), 0.0f);
            for (int o = 0; o < kH; ++o) {
                g[3][o] += d2[o];
                for (int i = 0; i < kH; ++i) g[2][o * kH + i] += d2[o] * h1[i], d1[i] += d2[o] * w2[o * kH + i];
            }
            for (int i = 0; i < kH; ++i) d1[i] = h1[i] > 0 ? d1[i] : 0.0f;
            for (int o = 0; o < kH; ++o) {
                g[1][o] += d1[o];
                for (int i = 0; i < kIn; ++i) g[0][o * kIn + i] += d1[o] * xs[i];
            }
        }
        return loss / B;
    }
    std::vector<std::vector<float> *> params() { return {&w1, &b1, &w2, &b2, &w3, &b3}; }
};

// Generated 10-class data: Gaussian class centres x 0.4 in 32 dimensions, noise 1, then
// tanh(x) + 0.1 x^2 (section 6).
struct Data {
    std::vector<float> centres;
    std::mt19937 rng;
    explicit Data(uint32_t seed) : rng(seed) {
        std::normal_distribution<float> nd;
        centres.resize(10 * 32);
        for (float &c : centres) c = 0.4f * nd(rng);
    }
    void batch(int B, std::vector<float> &x, std::vector<int> &y) {
        std::normal_distribution<float> nd;
        std::uniform_int_distribution<int> cls(0, 9);
        x.resize(static_cast<size_t>(B) * 32);
        y.resize(B);
        for (int s = 0; s < B; ++s) {
            y[s] = cls(rng);
            for (int i = 0; i < 32; ++i) {
                const float v = centres[y[s] * 32 + i] + nd(rng);
                x[static_cast<size_t>(s) * 32 + i] = std::tanh(v) + 0.1f * v * v;
            }
        }
    }
};

std::vector<std::vector<float>> real_gradient() {
    std::mt19937 rng(0);
    Mlp net(rng);
    Data data(1);
    std::vector<std::vector<float>> g, mom;
    auto ps = net.params();
    for (auto *p : ps) mom.emplace_back(p->size(), 0.0f);
    std::vector<float> x;
    std::vector<int> y;
    float loss = 0;
    for (int step = 0; step < 200; ++step) {
        data.batch(64, x, y);
        loss = net.grad(x, y, g);
        for (size_t t = 0; t < ps.size(); ++t)
            for (size_t i = 0; i < ps[t]->size(); ++i) {
                mom[t][i] = 0.9f * mom[t][i] + g[t][i];
                (*ps[t])[i] -= 0.02f * mom[t][i];
            }
    }
    data.batch(64, x, y);
    net.grad(x, y, g);
    std::printf("MLP 32-128-128-10 after 200 SGD-momentum steps: train loss %.3f; gradient of the next batch\n", loss);
    return g;
}

const int64_t kShapes[6][2] = {{128, 32}, {128, 1}, {128, 128}, {128, 1}, {10, 128}, {10, 1}};

struct Result {
    double cosine, rel, bits;
};

Result quality(rai_context *ctx, const std::vector<std::vector<float>> &grad, rai_gc_params p) {
    p.error_feedback = RAI_GC_EF_OFF;
    rai_gc *gc = nullptr;
    if (rai_gc_create(ctx, &p, &gc) != RAI_OK) {
        std::printf("create: %s\n", rai_last_error_message());
        return {0, 0, 0};
    }
    double dot = 0, aa = 0, bb = 0, df = 0, bits = 0, params = 0;
    for (int t = 0; t < 6; ++t) {
        std::vector<float> x = grad[t];
        const int nd = kShapes[t][1] == 1 ? 1 : 2;
        rai_tensor tt{x.data(), {RAI_DEVICE_CPU, 0}, nd, {RAI_DTYPE_FLOAT, 32, 1}, kShapes[t], nullptr, 0};
        uint32_t id;
        rai_gc_add_tensor(gc, "t", &tt, &id);
        rai_gc_apply(gc, id, &tt);
        for (size_t i = 0; i < x.size(); ++i) {
            const double a = grad[t][i], b = x[i];
            dot += a * b, aa += a * a, bb += b * b, df += (a - b) * (a - b);
        }
    }
    rai_gc_stats st;
    rai_gc_stats_init(&st);
    rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st);
    bits = static_cast<double>(st.bits_out);
    params = static_cast<double>(st.params);
    rai_gc_destroy(gc);
    return {dot / std::sqrt(aa * bb), std::sqrt(df / aa), bits / params};
}

rai_gc_params make(int32_t m) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = m;
    p.seed = 1;
    return p;
}

void quality_table(rai_context *ctx) {
    const auto g = real_gradient();
    std::printf("\n%-34s %8s %8s %9s %7s   %s\n", "method", "cosine", "rel.err", "bits/par", "ratio",
                "reference (numpy, section 6.1): ratio / cosine / rel.err");
    auto row = [&](const char *name, rai_gc_params p, const char *ref) {
        const Result r = quality(ctx, g, p);
        std::printf("%-34s %8.3f %8.3f %9.3f %6.1fx   %s%s\n", name, r.cosine, r.rel, r.bits, 32.0 / r.bits, ref,
                    r.rel >= 1.0 ? "  [rel.err >= 1: not EF-safe]" : "");
    };
    row("SIGN (x mean|g|)", make(RAI_GC_SIGN), "31.7x / 0.65 / 0.76");
    row("TERNARY (0.7 mean|g|, TWN scale)", make(RAI_GC_TERNARY), "15.9x / 0.84 / 0.71 (mean-abs threshold)");
    row("TERNARY_STOCH (unbiased)", make(RAI_GC_TERNARY_STOCH), "15.9x / 0.46 / 2.00");
    for (uint32_t lv : {1u, 7u, 127u}) {
        rai_gc_params p = make(RAI_GC_QSGD);
        p.qsgd_levels = lv;
        row(("QSGD levels " + std::to_string(lv)).c_str(), p, "-");
    }
    for (float r : {1.0f / 16, 1.0f / 32, 1.0f / 64, 1.0f / 128, 1.0f / 256, 0.01f, 0.003f}) {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = r;
        const char *ref = r == 0.01f ? "49.4x / 0.47 / 0.88" : (r == 0.003f ? "157x / 0.32 / 0.95" : "-");
        char name[64];
        std::snprintf(name, sizeof name, "TOPK %.2f%%", 100.0 * r);
        row(name, p, ref);
    }
    for (uint32_t rank : {1u, 2u, 4u, 8u}) {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = rank;
        const char *ref = rank == 1 ? "26.9x / 0.46 / 0.89" : rank == 2 ? "16x / 0.67 / 0.74" : rank == 4 ? "8.9x / 0.83 / 0.56" : "-";
        row(("POWERSGD rank " + std::to_string(rank) + " (cold, 1 iter)").c_str(), p, ref);
        p.power_iters = 4;
        row(("POWERSGD rank " + std::to_string(rank) + " (4 iters)").c_str(), p, "-");
    }
    row("VSA_COMPAT (D=8192, per tensor)", make(RAI_GC_VSA_COMPAT),
        "42.5x / 0.15 / 1.09 bundled; 7.2x / 0.67 / 0.75 unbundled");
    {
        rai_gc_params p = make(RAI_GC_VSA_COMPAT);
        p.vsa_dimension = 2048;
        row("VSA_COMPAT (D=2048, per tensor)", p, "164x / 0.08 / 1.51 bundled");
    }
}

// ---------------------------------------------------------------- throughput
// Sets RAI_NUM_THREADS for the scope: the CPU compressors read it at every call.
struct ThreadsEnv {
    explicit ThreadsEnv(const char *v) { setenv("RAI_NUM_THREADS", v, 1); }
    ~ThreadsEnv() { unsetenv("RAI_NUM_THREADS"); }
};

void throughput(rai_context *ctx) {
    const int64_t R = 4096, C = 4096, n = R * C;
    std::vector<float> grad(static_cast<size_t>(n)), work(grad.size()), copy(grad.size());
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    for (float &v : grad) v = nd(rng);
    const int64_t shape[2] = {R, C};
    const double gb = 4.0 * n / 1e9;
    const double t_memcpy = bench::median_seconds([&] { std::memcpy(copy.data(), grad.data(), 4 * n); }, 9);
    unsetenv("RAI_NUM_THREADS");
    const int all = static_cast<int>(std::thread::hardware_concurrency());
    std::printf("\nThroughput, 4096 x 4096 f32 gradient (%.0f MiB); GB/s of gradient, median of the reps; "
                "1 thread (RAI_NUM_THREADS=1) and all %d hardware threads; anchor std::memcpy %.2f GB/s\n",
                4.0 * n / (1 << 20), all, gb / t_memcpy);
    std::printf("| method | bits/param | compress 1T | compress all | decompress 1T | decompress all | "
                "c+d 1T | c+d all | speed-up | state B/param | scratch B/param |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    struct Case {
        const char *name;
        rai_gc_params p;
        int reps;
    };
    std::vector<Case> cases;
    cases.push_back({"NONE (raw)", make(RAI_GC_NONE), 9});
    for (float r : {0.01f, 0.001f}) {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = r;
        cases.push_back({r == 0.01f ? "EF-TOPK 1%" : "EF-TOPK 0.1%", p, 5});
    }
    cases.push_back({"EF-SIGN", make(RAI_GC_SIGN), 9});
    cases.push_back({"EF-TERNARY", make(RAI_GC_TERNARY), 9});
    cases.push_back({"TERNARY_STOCH", make(RAI_GC_TERNARY_STOCH), 5});
    cases.push_back({"QSGD levels 7", make(RAI_GC_QSGD), 5});
    for (uint32_t rank : {1u, 2u, 4u}) {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = rank;
        cases.push_back({rank == 1 ? "EF-POWERSGD rank 1" : rank == 2 ? "EF-POWERSGD rank 2" : "EF-POWERSGD rank 4", p, 5});
    }
    for (Case &c : cases) {
        double tc[2], td[2], bits = 0, state = 0;
        for (int pass = 0; pass < 2; ++pass) {
            ThreadsEnv env(pass == 0 ? "1" : std::to_string(all).c_str());
            rai_gc *gc = nullptr;
            rai_gc_create(ctx, &c.p, &gc);
            rai_tensor t{work.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
            uint32_t id;
            rai_gc_add_tensor(gc, "g", &t, &id);
            size_t cap = 0, len = 0, st_bytes = 0;
            rai_gc_max_message_size(gc, id, &cap);
            std::vector<uint8_t> msg(cap);
            rai_tensor tg = t;
            tg.data = grad.data();
            tc[pass] = bench::median_seconds([&] { rai_gc_compress(gc, id, &tg, msg.data(), cap, &len); }, c.reps);
            td[pass] = bench::median_seconds([&] { rai_gc_decompress(gc, id, msg.data(), len, &t); }, c.reps);
            rai_gc_stats st;
            rai_gc_stats_init(&st);
            rai_gc_get_stats(gc, id, &st);
            rai_gc_state_size(gc, &st_bytes);
            bits = st.bits_per_param;
            state = static_cast<double>(st_bytes) / static_cast<double>(n);
            rai_gc_destroy(gc);
        }
        // Host scratch the handle keeps between calls (gc.h): M = grad + residual (4 B), the local
        // reconstruction when EF is on (4 B), top-k magnitude keys (4 B).
        const bool ef = c.p.method != RAI_GC_NONE && c.p.method != RAI_GC_QSGD && c.p.method != RAI_GC_TERNARY_STOCH;
        const double scratch = 4.0 + (ef ? 4.0 : 0.0) + (c.p.method == RAI_GC_TOPK ? 4.0 : 0.0);
        std::printf("| %s | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2fx | %.3f | %.0f |\n", c.name, bits,
                    gb / tc[0], gb / tc[1], gb / td[0], gb / td[1], gb / (tc[0] + td[0]), gb / (tc[1] + td[1]),
                    (tc[0] + td[0]) / (tc[1] + td[1]), state, scratch);
        std::fflush(stdout);
    }
    std::printf("(EF on for the biased methods, so compress includes the EF add and update; state = "
                "rai_gc_state_size: EF residual 4 B/param plus PowerSGD's Q; c+d = GB / (compress + decompress "
                "time). A shared machine: other jobs may run, so the all-thread column is a lower bound.)\n");
}

// ---------------------------------------------------------------- convergence
// The reference's section 6.2 protocol: 6144 generated training samples, MLP 32-128-128-10,
// SGD + momentum 0.9, lr 0.02, batch 64, 1200 steps, every gradient tensor through rai_gc_apply
// (one worker: the compressed gradient is what a data-parallel step would apply). Reports the
// final loss over the whole training set, mean +- std over 3 seeds.
double train(rai_context *ctx, const rai_gc_params *p, uint32_t seed, int steps) {
    std::mt19937 rng(seed);
    Mlp net(rng);
    Data data(1000 + seed);
    std::vector<float> X;
    std::vector<int> Y;
    data.batch(6144, X, Y);
    auto ps = net.params();
    std::vector<std::vector<float>> mom, g;
    for (auto *q : ps) mom.emplace_back(q->size(), 0.0f);
    rai_gc *gc = nullptr;
    if (p) {
        rai_gc_params pp = *p;
        pp.seed = seed;
        if (rai_gc_create(ctx, &pp, &gc) != RAI_OK) return NAN;
        for (int t = 0; t < 6; ++t) {
            std::vector<float> tmp(ps[t]->size());
            const int nd = kShapes[t][1] == 1 ? 1 : 2;
            rai_tensor tt{tmp.data(), {RAI_DEVICE_CPU, 0}, nd, {RAI_DTYPE_FLOAT, 32, 1}, kShapes[t], nullptr, 0};
            uint32_t id;
            rai_gc_add_tensor(gc, "t", &tt, &id);
        }
    }
    std::vector<float> xb(64 * 32);
    std::vector<int> yb(64);
    std::uniform_int_distribution<int> pick(0, 6143);
    for (int step = 0; step < steps; ++step) {
        for (int s = 0; s < 64; ++s) {
            const int k = pick(rng);
            yb[s] = Y[k];
            std::copy(&X[static_cast<size_t>(k) * 32], &X[static_cast<size_t>(k) * 32] + 32, &xb[static_cast<size_t>(s) * 32]);
        }
        const float loss = net.grad(xb, yb, g);
        if (!std::isfinite(loss)) {
            if (gc) rai_gc_destroy(gc);
            return NAN;
        }
        for (int t = 0; t < 6 && gc; ++t) {
            const int nd = kShapes[t][1] == 1 ? 1 : 2;
            rai_tensor tt{g[t].data(), {RAI_DEVICE_CPU, 0}, nd, {RAI_DTYPE_FLOAT, 32, 1}, kShapes[t], nullptr, 0};
            rai_gc_apply(gc, static_cast<uint32_t>(t), &tt);
        }
        for (size_t t = 0; t < ps.size(); ++t)
            for (size_t i = 0; i < ps[t]->size(); ++i) {
                mom[t][i] = 0.9f * mom[t][i] + g[t][i];
                (*ps[t])[i] -= 0.02f * mom[t][i];
            }
    }
    if (gc) rai_gc_destroy(gc);
    return net.grad(X, Y, g);  // full training-set loss
}

void convergence(rai_context *ctx) {
    const int steps = 1200;
    std::printf("\nConvergence: MLP, 6144 generated samples, SGD-momentum lr 0.02, batch 64, %d steps, 3 seeds; "
                "final training-set loss (mean +- std)\n", steps);
    std::printf("%-22s %-18s %-18s   %s\n", "method", "no EF", "with EF", "reference (numpy): no EF / EF");
    auto stat = [&](const rai_gc_params *p) {
        double v[3], m = 0, sd = 0;
        int bad = 0;
        for (uint32_t s = 0; s < 3; ++s) {
            v[s] = train(ctx, p, s, steps);
            if (!std::isfinite(v[s]) || v[s] > 100) ++bad;
            m += v[s] / 3;
        }
        for (double x : v) sd += (x - m) * (x - m) / 3;
        char buf[64];
        if (bad) std::snprintf(buf, sizeof buf, "diverged (%d/3)", bad);
        else std::snprintf(buf, sizeof buf, "%.3f +- %.3f", m, std::sqrt(sd));
        return std::string(buf);
    };
    std::printf("%-22s %-18s %-18s   %s\n", "uncompressed", stat(nullptr).c_str(), "", "0.519 +- 0.010");
    struct Row {
        const char *name;
        rai_gc_params p;
        const char *ref;
    };
    std::vector<Row> rows;
    rows.push_back({"SIGN", make(RAI_GC_SIGN), "0.593 / 0.542"});
    rows.push_back({"TERNARY", make(RAI_GC_TERNARY), "0.731 / 0.546"});
    rows.push_back({"TERNARY_STOCH", make(RAI_GC_TERNARY_STOCH), "0.639 / 0.560"});
    rows.push_back({"QSGD 7 levels", make(RAI_GC_QSGD), "-"});
    {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = 0.01f;
        rows.push_back({"TOPK 1%", p, "0.936 / 0.588"});
    }
    {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = 2;
        rows.push_back({"POWERSGD rank 2", p, "0.888 / 0.555"});
    }
    for (Row &r : rows) {
        r.p.error_feedback = RAI_GC_EF_OFF;
        const std::string off = stat(&r.p);
        r.p.error_feedback = RAI_GC_EF_ON;
        const std::string on = stat(&r.p);
        std::printf("%-22s %-18s %-18s   %s\n", r.name, off.c_str(), on.c_str(), r.ref);
        std::fflush(stdout);
    }
    std::printf("(VSA_COMPAT is left out: its on-the-fly projection costs O(n D) per step; the reference "
                "reports divergence with and without EF)\n");
}

// ---------------------------------------------------------------- streamed T1 and T2, W workers
// Acceptance protocol, section 5 item 2: a streamed task (T1: the MLP on the generator of
// bench/tasks/t1_stream.h; T2: the GRU character LM of bench/tasks/char_lm.h, both the tasks of
// train_bench), W simulated data-parallel workers, each with its own minibatch stream and its own
// compressor (own EF residuals, own PowerSGD warm start). Every step each worker compresses its
// gradient, worker 0 reduces the W messages (rai_gc_message_reduce: union-sum for top-k, rank
// concatenation for PowerSGD, majority vote for sign, dense sum for the others), decompresses the
// sum, and the optimizer applies sum / W. Uncompressed = the exact mean. Gradient clipping (T2)
// is the optimizer's max_grad_norm, so it acts on that averaged decompressed gradient, as DDP
// clips after the all-reduce.
//
// A task adaptor owns one model (the replicas are identical, so one copy serves every worker):
// init(seed); loss(stream, step), which leaves the gradient of that stream's batch in the
// gradient buffers; heldout(); each_tensor(f(name, param, grad)) in a fixed order; and its
// defaults (steps, per-worker batch, learning rates, clipping).
struct T1Task {
    static constexpr const char *kTitle =
        "Streamed T1 (MLP 32-128-128-10, fresh samples every step, held-out 2048 fixed samples)";
    static constexpr int kSteps = 2400, kBatch = 64;
    static constexpr float kSgdLr = 0.02f, kAdamwLr = 1e-3f, kClip = 0.0f;
    const t1::Task task;
    int batch;
    t1::Mlp m;
    explicit T1Task(int b) : batch(b) {}
    void init(uint64_t seed) {
        m.init(seed);
        m.reserve(batch);
    }
    float loss(uint64_t stream, uint64_t step) {
        t1::load_batch(m, task, stream, step, batch);
        return m.run(batch, true);
    }
    double heldout() { return t1::heldout_loss(m, task); }
    template <class F>
    void each_tensor(F &&f) { m.each_tensor(f); }
};

struct T2Task {
    static constexpr const char *kTitle =
        "Streamed T2 (2-layer GRU d 128 character LM, context 64, 32 symbols, fresh grammar-corpus windows "
        "every step, held-out 128 windows), gradients clipped to global norm 1 after averaging";
    // The reduced budget measured in docs/compress.md: 200 steps of 4 workers x 4 windows (the
    // 3,200 training windows of docs/train.md's 400 x 8). SGD at train_bench's best rate (0.2 x 2);
    // AdamW at the better of {2e-3, 5e-3} on the uncompressed arm.
    static constexpr int kSteps = 200, kBatch = 4;
    static constexpr float kSgdLr = 0.4f, kAdamwLr = 5e-3f, kClip = 1.0f;
    const char_lm::Corpus corpus{};
    int batch;
    char_lm::Gru<float> g;
    std::vector<uint8_t> tokens;
    explicit T2Task(int b) : batch(b) {}
    void init(uint64_t seed) { g.init(seed); }
    float loss(uint64_t stream, uint64_t step) {
        char_lm::load_batch(corpus, stream, step, batch, tokens);
        return static_cast<float>(g.run(tokens.data(), batch, true));
    }
    double heldout() { return char_lm::heldout_loss(g, corpus, tokens); }
    template <class F>
    void each_tensor(F &&f) {
        for (char_lm::Param<float> &q : g.params()) {
            const int32_t nd = static_cast<int32_t>(q.shape.size());
            f(q.name.c_str(), t1::cpu_f32(q.value.data(), q.shape.data(), nd),
              t1::cpu_f32(q.grad.data(), q.shape.data(), nd));
        }
    }
};

struct StreamOptions {
    int steps = 0, batch = 0;  // 0: the task's default
    int seeds = 3, first_seed = 0, workers = 4;
    std::vector<std::string> opts = {"sgd", "adamw"};
    float lr = 0;  // 0: the task's default for each optimizer
    // Either the default grid (every method: EF with warm-up 0 and 5 %, no EF with warm-up 0;
    // --only filters methods, --full-grid adds no EF with warm-up 5 %), or an explicit --arms
    // list ("uncompressed", "EF-<method>", "<method>" = no EF) run at each --warmup.
    std::string only;
    bool full_grid = false;
    std::vector<std::string> arms;
    std::vector<int> warmups = {0, 5};
};

struct StreamResult {
    double heldout = NAN, bits = 32.0, seconds = 0;
};

template <class TaskT>
StreamResult train_stream(rai_context *ctx, const std::string &opt_name, float lr, const rai_gc_params *p,
                          uint64_t seed, int steps, int batch, int workers) {
    const auto t0 = std::chrono::steady_clock::now();
    TaskT m(batch);  // fresh per run: nothing carries over between runs
    m.init(seed);
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    if (opt_name == "sgd") {
        op.kind = RAI_OPTIMIZER_MOMENTUM, op.lr = lr, op.momentum = 0.9f;
    } else {
        op.kind = RAI_OPTIMIZER_ADAMW, op.lr = lr, op.weight_decay = 0.01f;
    }
    if (TaskT::kClip > 0) op.max_grad_norm = TaskT::kClip;
    rai_optimizer *opt = nullptr;
    if (rai_optimizer_create(ctx, &op, &opt) != RAI_OK) return {};
    std::vector<rai_tensor> grads;  // the model's gradient buffers, in each_tensor's order
    m.each_tensor([&](const char *name, rai_tensor pt, rai_tensor gt) {
        rai_optimizer_add_param(opt, name, &pt, &gt, nullptr);
        grads.push_back(gt);
    });
    const size_t T = grads.size();
    auto numel = [](const rai_tensor &t) {
        size_t n = 1;
        for (int d = 0; d < t.ndim; ++d) n *= static_cast<size_t>(t.shape[d]);
        return n;
    };
    std::vector<rai_gc *> gcs(static_cast<size_t>(workers), nullptr);
    if (p)
        for (rai_gc *&gc : gcs) {
            if (rai_gc_create(ctx, p, &gc) != RAI_OK) return {};
            uint32_t id = 0;
            for (const rai_tensor &g : grads) rai_gc_add_tensor(gc, "t", &g, &id);
        }
    // Per worker and tensor: its gradient copy (uncompressed) or its message.
    std::vector<std::vector<std::vector<float>>> wg(static_cast<size_t>(workers), std::vector<std::vector<float>>(T));
    std::vector<std::vector<std::vector<uint8_t>>> msg(static_cast<size_t>(workers), std::vector<std::vector<uint8_t>>(T));
    std::vector<uint8_t> reduced;
    StreamResult res;
    bool finite = true;
    for (int step = 0; step < steps && finite; ++step) {
        for (int w = 0; w < workers; ++w) {
            finite = std::isfinite(m.loss(seed * 64 + static_cast<uint64_t>(w), static_cast<uint64_t>(step))) && finite;
            for (size_t t = 0; t < T; ++t) {
                const float *g = static_cast<const float *>(grads[t].data);
                if (!p) {
                    wg[w][t].assign(g, g + numel(grads[t]));
                    continue;
                }
                size_t len = 0;
                rai_gc_compress(gcs[w], static_cast<uint32_t>(t), &grads[t], nullptr, 0, &len);
                msg[w][t].resize(len);
                if (rai_gc_compress(gcs[w], static_cast<uint32_t>(t), &grads[t], msg[w][t].data(), len, &len) != RAI_OK) {
                    std::fprintf(stderr, "compress: %s\n", rai_last_error_message());
                    std::exit(1);
                }
            }
        }
        for (size_t t = 0; t < T; ++t) {
            float *g = static_cast<float *>(grads[t].data);
            const size_t n = numel(grads[t]);
            if (!p) {
                for (size_t i = 0; i < n; ++i) {
                    float s = 0;
                    for (int w = 0; w < workers; ++w) s += wg[w][t][i];
                    g[i] = s / static_cast<float>(workers);
                }
                continue;
            }
            std::vector<const void *> ms;
            std::vector<size_t> ls;
            for (int w = 0; w < workers; ++w) ms.push_back(msg[w][t].data()), ls.push_back(msg[w][t].size());
            size_t len = 0;
            rai_gc_message_reduce(gcs[0], static_cast<uint32_t>(t), ms.data(), ls.data(), ms.size(), nullptr, 0, &len);
            reduced.resize(len);
            if (rai_gc_message_reduce(gcs[0], static_cast<uint32_t>(t), ms.data(), ls.data(), ms.size(), reduced.data(),
                                      len, &len) != RAI_OK ||
                rai_gc_decompress(gcs[0], static_cast<uint32_t>(t), reduced.data(), len, &grads[t]) != RAI_OK) {
                std::fprintf(stderr, "reduce/decompress: %s\n", rai_last_error_message());
                std::exit(1);
            }
            for (size_t i = 0; i < n; ++i) g[i] /= static_cast<float>(workers);
        }
        rai_optimizer_step(opt, nullptr);
    }
    if (p) {
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        rai_gc_get_stats(gcs[0], RAI_GC_ALL_TENSORS, &st);
        res.bits = st.bits_per_param;
        for (rai_gc *gc : gcs) rai_gc_destroy(gc);
    }
    rai_optimizer_destroy(opt);
    res.heldout = finite ? m.heldout() : NAN;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

// One row of the table: a method (or none), with or without EF, at a warm-up in % of the steps.
struct StreamArm {
    std::string method;  // "uncompressed" or a method name of stream_methods()
    rai_gc_params p;
    bool ef = true;
    int warmup = 0;
    bool accept = false;  // part of the acceptance check (EF rows of accepted methods)
};

struct StreamMethod {
    std::string name;
    rai_gc_params p;
    bool accept;  // EF-POWERSGD r >= 2, EF-SIGN, EF-TOPK >= 1 %
};

std::vector<StreamMethod> stream_methods() {
    std::vector<StreamMethod> ms;
    for (uint32_t r : {1u, 2u, 4u}) {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = r;
        ms.push_back({"POWERSGD r" + std::to_string(r), p, r >= 2});
    }
    ms.push_back({"SIGN", make(RAI_GC_SIGN), true});
    for (float r : {0.01f, 0.001f}) {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = r;
        ms.push_back({r == 0.01f ? "TOPK 1%" : "TOPK 0.1%", p, r >= 0.01f});
    }
    ms.push_back({"TERNARY", make(RAI_GC_TERNARY), false});
    ms.push_back({"QSGD 7 levels", make(RAI_GC_QSGD), false});
    return ms;
}

// The rows to run, in order; the first is the uncompressed baseline when it is asked for.
std::vector<StreamArm> stream_arms(const StreamOptions &o) {
    const std::vector<StreamMethod> ms = stream_methods();
    std::vector<StreamArm> arms;
    auto arm = [](const StreamMethod &m, bool ef, int wu) {
        StreamArm a{m.name, m.p, ef, wu, m.accept && ef};
        a.p.error_feedback = ef ? RAI_GC_EF_ON : RAI_GC_EF_OFF;
        return a;
    };
    if (o.arms.empty()) {
        arms.push_back({"uncompressed", make(RAI_GC_NONE), false, 0, false});
        for (const StreamMethod &m : ms) {
            if (!o.only.empty() && ("," + o.only + ",").find("," + m.name + ",") == std::string::npos) continue;
            arms.push_back(arm(m, true, 0));
            arms.push_back(arm(m, true, 5));
            arms.push_back(arm(m, false, 0));
            if (o.full_grid) arms.push_back(arm(m, false, 5));
        }
        return arms;
    }
    for (const std::string &name : o.arms) {
        if (name == "uncompressed") {
            arms.insert(arms.begin(), {"uncompressed", make(RAI_GC_NONE), false, 0, false});
            continue;
        }
        const bool ef = name.rfind("EF-", 0) == 0;
        const std::string method = ef ? name.substr(3) : name;
        bool found = false;
        for (const StreamMethod &m : ms)
            if (m.name == method) {
                for (int wu : o.warmups) arms.push_back(arm(m, ef, wu));
                found = true;
            }
        if (!found) {
            std::fprintf(stderr, "--arms: unknown arm '%s' (uncompressed, [EF-]POWERSGD r1|r2|r4, [EF-]SIGN, "
                                 "[EF-]TOPK 1%%|0.1%%, [EF-]TERNARY, [EF-]QSGD 7 levels)\n", name.c_str());
            std::exit(2);
        }
    }
    return arms;
}

template <class TaskT>
void stream_bench(rai_context *ctx, const StreamOptions &opts) {
    StreamOptions o = opts;
    if (o.steps <= 0) o.steps = TaskT::kSteps;
    if (o.batch <= 0) o.batch = TaskT::kBatch;
    const std::vector<StreamArm> arms = stream_arms(o);
    const int warm_steps = (o.steps * 5 + 50) / 100;
    auto lr_of = [&](const std::string &opt) { return o.lr > 0 ? o.lr : opt == "sgd" ? TaskT::kSgdLr : TaskT::kAdamwLr; };
    std::string opt_text;  // the optimizers of this run, with their learning rates
    for (const std::string &opt : o.opts) {
        char buf[96];
        std::snprintf(buf, sizeof buf, opt == "sgd" ? "SGD-momentum 0.9 lr %g" : "AdamW lr %g wd 0.01",
                      static_cast<double>(lr_of(opt)));
        opt_text += (opt_text.empty() ? "" : ", ") + std::string(buf);
    }
    std::printf("\n%s, W = %d workers x batch %d, %d steps, seeds %d..%d, warm-up 5 %% = %d steps; %s; held-out "
                "cross-entropy mean +- std (sample std over seeds)\n",
                TaskT::kTitle, o.workers, o.batch, o.steps, o.first_seed, o.first_seed + o.seeds - 1, warm_steps,
                opt_text.c_str());
    std::printf("| optimizer | method | EF | warm-up | held-out loss | vs uncompressed | bits/param | within 5 %% |\n"
                "|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    // Mean and sample std of the held-out loss over the seeds; every run also goes to stderr.
    auto run = [&](const std::string &opt, const StreamArm &a, double *mean, double *sd, double *bits) {
        std::vector<double> v;
        rai_gc_params p = a.p;
        p.warmup_steps = static_cast<uint32_t>(a.warmup == 0 ? 0 : (o.steps * a.warmup + 50) / 100);
        const bool compressed = a.method != "uncompressed";
        *bits = 32.0;
        for (int s = o.first_seed; s < o.first_seed + o.seeds; ++s) {
            const StreamResult r = train_stream<TaskT>(ctx, opt, lr_of(opt), compressed ? &p : nullptr,
                                                       static_cast<uint64_t>(s), o.steps, o.batch, o.workers);
            std::fprintf(stderr, "run: %s %s EF %s warm-up %d%% seed %d: held-out %.4f, bits/param %.3f, %.1f s\n",
                         opt.c_str(), a.method.c_str(), compressed ? (a.ef ? "on" : "off") : "-", a.warmup, s,
                         r.heldout, r.bits, r.seconds);
            v.push_back(r.heldout);
            *bits = r.bits;
        }
        double m = 0, q = 0;
        for (double x : v) m += x / static_cast<double>(v.size());
        for (double x : v) q += (x - m) * (x - m);
        *mean = m, *sd = v.size() > 1 ? std::sqrt(q / static_cast<double>(v.size() - 1)) : 0.0;
    };
    for (const std::string &opt : o.opts) {
        double base = NAN, base_sd = 0, bits = 0;
        std::vector<std::string> verdicts;
        for (const StreamArm &a : arms) {
            double mean = 0, sd = 0;
            run(opt, a, &mean, &sd, &bits);
            if (a.method == "uncompressed") {
                base = mean, base_sd = sd;
                std::printf("| %s | uncompressed | - | - | %.4f +- %.4f | - | 32 | - |\n", opt.c_str(), base, base_sd);
                std::fflush(stdout);
                continue;
            }
            const double rel = mean / base - 1.0;
            const bool known = std::isfinite(base);
            const bool ok = std::isfinite(mean) && rel <= 0.05;
            char vs[32] = "-";
            if (known) std::snprintf(vs, sizeof vs, "%+.1f %%", 100.0 * rel);
            std::printf("| %s | %s | %s | %s | %.4f +- %.4f | %s | %.3f | %s |\n", opt.c_str(), a.method.c_str(),
                        a.ef ? "on" : "off", (std::to_string(a.warmup) + (a.warmup ? " %" : "")).c_str(), mean, sd, vs, bits, known ? (ok ? "yes" : "no") : "-");
            std::fflush(stdout);
            if (a.accept && known)
                verdicts.push_back(std::string(ok ? "PASS " : "FAIL ") + opt + " EF-" + a.method +
                                   " warm-up " + std::to_string(a.warmup) + (a.warmup ? "%" : ""));
        }
        if (!verdicts.empty()) {
            std::printf("\nAcceptance (%s): EF-POWERSGD r>=2, EF-SIGN, EF-TOPK >= 1%% within 5 %% of uncompressed "
                        "%.4f\n",
                        opt.c_str(), base);
            for (const std::string &v : verdicts) std::printf("  %s\n", v.c_str());
        }
        std::printf("\n");
    }
}

std::vector<std::string> split_list(const std::string &s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t end = s.find(',', start);
        const std::string item = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!item.empty()) out.push_back(item);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

StreamOptions parse_stream(int argc, char **argv) {
    StreamOptions o;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--steps") o.steps = std::atoi(v.c_str());
        else if (k == "--seeds") o.seeds = std::atoi(v.c_str());
        else if (k == "--first-seed") o.first_seed = std::atoi(v.c_str());
        else if (k == "--workers") o.workers = std::atoi(v.c_str());
        else if (k == "--batch") o.batch = std::atoi(v.c_str());
        else if (k == "--opt") o.opts = v == "both" ? std::vector<std::string>{"sgd", "adamw"} : std::vector<std::string>{v};
        else if (k == "--lr") o.lr = std::strtof(v.c_str(), nullptr);
        else if (k == "--only") o.only = v;
        else if (k == "--full-grid") o.full_grid = v == "1";
        else if (k == "--arms") o.arms = split_list(v);
        else if (k == "--warmup") {
            o.warmups.clear();
            for (const std::string &w : split_list(v)) o.warmups.push_back(std::atoi(w.c_str()));
        } else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            std::exit(2);
        }
    }
    for (const std::string &opt : o.opts)
        if (opt != "sgd" && opt != "adamw") {
            std::fprintf(stderr, "--opt: expected sgd, adamw or both, got '%s'\n", opt.c_str());
            std::exit(2);
        }
    return o;
}

}  // namespace

void compress_gpu_section();  // compress_gpu.cpp

int main(int argc, char **argv) {
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    rai_context *ctx = nullptr;
    if (rai_context_create(&cp, &ctx) != RAI_OK) {
        std::fprintf(stderr, "context: %s\n", rai_last_error_message());
        return 1;
    }
    std::printf("rai %s, CPU kernels %s, MPI %s\n", rai_version_string(), rai_cpu_dispatch_level(),
                rai_gc_has_mpi() ? "yes" : "no");
    const std::string only = argc > 1 ? argv[1] : "";
    if (only.empty() || only == "quality") quality_table(ctx);
    if (only.empty() || only == "throughput") throughput(ctx);
    if (only.empty() || only == "convergence") convergence(ctx);
    // Long: run by hand (BENCHMARKS.md, docs/compress.md).
    if (only == "t1") stream_bench<T1Task>(ctx, parse_stream(argc, argv));
    if (only == "t2") stream_bench<T2Task>(ctx, parse_stream(argc, argv));
    if (only == "gpu") compress_gpu_section();
    rai_context_destroy(ctx);
    return 0;
}
