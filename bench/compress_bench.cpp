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
//  4. (by hand, long) Acceptance protocol on the streamed T1 task with W = 4 simulated workers,
//     SGD-momentum and AdamW, with and without EF, warm-up 0 and 5 %, 2400 steps (2x section 6):
//     compress_bench t1 [--steps N] [--seeds S] [--workers W] [--batch B] [--opt sgd|adamw|both]
//                       [--only "POWERSGD r2,SIGN,..."] [--full-grid 1]
// Sections can be run alone: compress_bench quality | throughput | convergence | t1
#include <algorithm>
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

// ---------------------------------------------------------------- streamed T1, W workers
// Acceptance protocol, section 5 item 2: the T1 MLP on the streamed generator (bench/tasks/
// t1_stream.h, the task of train_bench), W simulated data-parallel workers, each with its own
// minibatch stream and its own compressor (own EF residuals, own PowerSGD warm start). Every step
// each worker compresses its gradient, worker 0 reduces the W messages (rai_gc_message_reduce:
// union-sum for top-k, rank concatenation for PowerSGD, majority vote for sign, dense sum for the
// others), decompresses the sum, and the optimizer applies sum / W. Uncompressed = the exact mean.
struct T1Options {
    int steps = 2400, seeds = 3, workers = 4, batch = 64;
    std::vector<std::string> opts = {"sgd", "adamw"};
    std::string only;  // comma-separated arm names; empty = all
    bool full_grid = false;  // also no-EF with warm-up
};

struct T1Result {
    double heldout = NAN, bits = 32.0;
};

T1Result train_t1(rai_context *ctx, const t1::Task &task, const std::string &opt_name, const rai_gc_params *p,
                  uint64_t seed, const T1Options &o) {
    t1::Mlp m;
    m.init(seed);
    m.reserve(o.batch);
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    if (opt_name == "sgd") {
        op.kind = RAI_OPTIMIZER_MOMENTUM, op.lr = 0.02f, op.momentum = 0.9f;
    } else {
        op.kind = RAI_OPTIMIZER_ADAMW, op.lr = 1e-3f, op.weight_decay = 0.01f;
    }
    rai_optimizer *opt = nullptr;
    if (rai_optimizer_create(ctx, &op, &opt) != RAI_OK) return {};
    std::vector<rai_tensor> grads;  // the model's gradient buffers: W1, b1, W2, b2, W3, b3
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
    std::vector<rai_gc *> gcs(static_cast<size_t>(o.workers), nullptr);
    if (p)
        for (rai_gc *&gc : gcs) {
            if (rai_gc_create(ctx, p, &gc) != RAI_OK) return {};
            uint32_t id = 0;
            for (const rai_tensor &g : grads) rai_gc_add_tensor(gc, "t", &g, &id);
        }
    // Per worker and tensor: its gradient copy (uncompressed) or its message.
    std::vector<std::vector<std::vector<float>>> wg(static_cast<size_t>(o.workers), std::vector<std::vector<float>>(T));
    std::vector<std::vector<std::vector<uint8_t>>> msg(static_cast<size_t>(o.workers), std::vector<std::vector<uint8_t>>(T));
    std::vector<uint8_t> reduced;
    T1Result res;
    bool finite = true;
    for (int step = 0; step < o.steps && finite; ++step) {
        for (int w = 0; w < o.workers; ++w) {
            t1::load_batch(m, task, seed * 64 + static_cast<uint64_t>(w), static_cast<uint64_t>(step), o.batch);
            finite = std::isfinite(m.run(o.batch, true)) && finite;
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
                    for (int w = 0; w < o.workers; ++w) s += wg[w][t][i];
                    g[i] = s / static_cast<float>(o.workers);
                }
                continue;
            }
            std::vector<const void *> ms;
            std::vector<size_t> ls;
            for (int w = 0; w < o.workers; ++w) ms.push_back(msg[w][t].data()), ls.push_back(msg[w][t].size());
            size_t len = 0;
            rai_gc_message_reduce(gcs[0], static_cast<uint32_t>(t), ms.data(), ls.data(), ms.size(), nullptr, 0, &len);
            reduced.resize(len);
            if (rai_gc_message_reduce(gcs[0], static_cast<uint32_t>(t), ms.data(), ls.data(), ms.size(), reduced.data(),
                                      len, &len) != RAI_OK ||
                rai_gc_decompress(gcs[0], static_cast<uint32_t>(t), reduced.data(), len, &grads[t]) != RAI_OK) {
                std::fprintf(stderr, "reduce/decompress: %s\n", rai_last_error_message());
                std::exit(1);
            }
            for (size_t i = 0; i < n; ++i) g[i] /= static_cast<float>(o.workers);
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
    res.heldout = finite ? t1::heldout_loss(m, task) : NAN;
    return res;
}

void t1_stream(rai_context *ctx, const T1Options &o) {
    const t1::Task task;
    struct Arm {
        std::string name;
        rai_gc_params p;
        bool accept;  // part of the acceptance check (with EF)
    };
    std::vector<Arm> arms;
    for (uint32_t r : {1u, 2u, 4u}) {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = r;
        arms.push_back({"POWERSGD r" + std::to_string(r), p, r >= 2});
    }
    arms.push_back({"SIGN", make(RAI_GC_SIGN), true});
    for (float r : {0.01f, 0.001f}) {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = r;
        arms.push_back({r == 0.01f ? "TOPK 1%" : "TOPK 0.1%", p, r >= 0.01f});
    }
    arms.push_back({"TERNARY", make(RAI_GC_TERNARY), false});
    arms.push_back({"QSGD 7 levels", make(RAI_GC_QSGD), false});
    auto wanted = [&](const std::string &name) {
        return o.only.empty() || ("," + o.only + ",").find("," + name + ",") != std::string::npos;
    };
    const int warm = (o.steps * 5 + 50) / 100;
    std::printf("\nStreamed T1 (MLP 32-128-128-10, fresh samples every step, held-out 2048 fixed samples), W = %d "
                "workers x batch %d, %d steps, seeds 0..%d, warm-up 0 or %d steps (5 %%); SGD-momentum lr 0.02, "
                "AdamW lr 1e-3 wd 0.01; held-out cross-entropy mean +- std\n",
                o.workers, o.batch, o.steps, o.seeds - 1, warm);
    std::printf("| optimizer | method | EF | warm-up | held-out loss | vs uncompressed | bits/param | within 5 %% |\n"
                "|---|---|---|---|---|---|---|---|\n");
    auto run = [&](const std::string &opt, const rai_gc_params *p, double *mean, double *sd, double *bits) {
        std::vector<double> v;
        *bits = 32.0;
        for (int s = 0; s < o.seeds; ++s) {
            const T1Result r = train_t1(ctx, task, opt, p, static_cast<uint64_t>(s), o);
            v.push_back(r.heldout);
            *bits = r.bits;
        }
        double m = 0, q = 0;
        for (double x : v) m += x / static_cast<double>(v.size());
        for (double x : v) q += (x - m) * (x - m) / static_cast<double>(v.size());
        *mean = m, *sd = std::sqrt(q);
    };
    for (const std::string &opt : o.opts) {
        double base = 0, base_sd = 0, bits = 0;
        run(opt, nullptr, &base, &base_sd, &bits);
        std::printf("| %s | uncompressed | - | - | %.4f +- %.4f | - | 32 | - |\n", opt.c_str(), base, base_sd);
        std::fflush(stdout);
        std::vector<std::string> verdicts;
        for (const Arm &a : arms) {
            if (!wanted(a.name)) continue;
            for (int variant = 0; variant < (o.full_grid ? 4 : 3); ++variant) {
                const bool ef = variant != 2 && variant != 3;
                const bool wu = variant == 1 || variant == 3;
                rai_gc_params p = a.p;
                p.error_feedback = ef ? RAI_GC_EF_ON : RAI_GC_EF_OFF;
                p.warmup_steps = wu ? static_cast<uint32_t>(warm) : 0;
                double mean = 0, sd = 0;
                run(opt, &p, &mean, &sd, &bits);
                const double rel = mean / base - 1.0;
                const bool ok = std::isfinite(mean) && rel <= 0.05;
                std::printf("| %s | %s | %s | %s | %.4f +- %.4f | %+.1f %% | %.3f | %s |\n", opt.c_str(), a.name.c_str(),
                            ef ? "on" : "off", wu ? "5 %" : "0", mean, sd, 100.0 * rel, bits, ok ? "yes" : "no");
                std::fflush(stdout);
                if (a.accept && ef)
                    verdicts.push_back(std::string(ok ? "PASS " : "FAIL ") + opt + " EF-" + a.name +
                                       (wu ? " warm-up 5%" : " warm-up 0"));
            }
        }
        std::printf("\nAcceptance (%s): EF-POWERSGD r>=2, EF-SIGN, EF-TOPK >= 1%% within 5 %% of uncompressed %.4f\n",
                    opt.c_str(), base);
        for (const std::string &v : verdicts) std::printf("  %s\n", v.c_str());
        std::printf("\n");
    }
}

T1Options parse_t1(int argc, char **argv) {
    T1Options o;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--steps") o.steps = std::atoi(v.c_str());
        else if (k == "--seeds") o.seeds = std::atoi(v.c_str());
        else if (k == "--workers") o.workers = std::atoi(v.c_str());
        else if (k == "--batch") o.batch = std::atoi(v.c_str());
        else if (k == "--opt") o.opts = v == "both" ? std::vector<std::string>{"sgd", "adamw"} : std::vector<std::string>{v};
        else if (k == "--only") o.only = v;
        else if (k == "--full-grid") o.full_grid = v == "1";
        else std::fprintf(stderr, "unknown option %s\n", k.c_str());
    }
    return o;
}

}  // namespace

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
    if (only == "t1") t1_stream(ctx, parse_t1(argc, argv));  // long: run by hand (BENCHMARKS.md)
    rai_context_destroy(ctx);
    return 0;
}
