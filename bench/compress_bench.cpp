// Gradient-compression benchmark.
//  1. Reconstruction quality on a real gradient: the reference MLP (32-128-128-10, ReLU, 22,026
//     parameters in 6 tensors; compression-and-hybrid-training.md section 6) trained with SGD +
//     momentum on the generated 10-class data for 200 steps; the next minibatch gradient is
//     compressed by every method at several ratios. Prints global cosine, relative L2 error and
//     effective bits per parameter (headers, indices, scales counted), next to the reference's
//     numpy numbers (section 6.1) where it has them.
//  2. Throughput: compress and decompress of a 4096 x 4096 f32 gradient (64 MiB) per method,
//     in GB/s of gradient, against std::memcpy of the same gradient in the same run (anchor);
//     ratio = memcpy time / rai time. Single thread (the CPU compressors are single-threaded).
//  3. Convergence: the same MLP trained 1200 steps with every gradient compressed, with and
//     without error feedback, 3 seeds, against uncompressed training (section 6.2's protocol).
// Sections can be run alone: compress_bench quality | throughput | convergence
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "rai.h"

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
void throughput(rai_context *ctx) {
    const int64_t R = 4096, C = 4096, n = R * C;
    std::vector<float> grad(static_cast<size_t>(n)), work(grad.size()), copy(grad.size());
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    for (float &v : grad) v = nd(rng);
    const int64_t shape[2] = {R, C};
    const double gb = 4.0 * n / 1e9;
    const double t_memcpy = bench::median_seconds([&] { std::memcpy(copy.data(), grad.data(), 4 * n); }, 9);
    std::printf("\nThroughput, 4096 x 4096 f32 gradient (%.0f MiB), 1 thread; anchor std::memcpy %.2f GB/s\n",
                4.0 * n / (1 << 20), gb / t_memcpy);
    std::printf("%-26s %10s %12s %12s %10s %10s\n", "method", "bits/par", "compress", "decompress", "vs memcpy",
                "(c / d)");
    struct Case {
        const char *name;
        rai_gc_params p;
        int reps;
    };
    std::vector<Case> cases;
    cases.push_back({"NONE (raw)", make(RAI_GC_NONE), 9});
    {
        rai_gc_params p = make(RAI_GC_TOPK);
        p.ratio = 0.01f;
        cases.push_back({"TOPK 1%", p, 5});
    }
    cases.push_back({"SIGN", make(RAI_GC_SIGN), 9});
    cases.push_back({"TERNARY", make(RAI_GC_TERNARY), 9});
    cases.push_back({"TERNARY_STOCH", make(RAI_GC_TERNARY_STOCH), 5});
    cases.push_back({"QSGD levels 7", make(RAI_GC_QSGD), 5});
    {
        rai_gc_params p = make(RAI_GC_POWERSGD);
        p.rank = 4;
        cases.push_back({"POWERSGD rank 4", p, 5});
    }
    for (Case &c : cases) {
        rai_gc *gc = nullptr;
        rai_gc_create(ctx, &c.p, &gc);
        rai_tensor t{work.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
        uint32_t id;
        rai_gc_add_tensor(gc, "g", &t, &id);
        size_t cap = 0, len = 0;
        rai_gc_max_message_size(gc, id, &cap);
        std::vector<uint8_t> msg(cap);
        rai_tensor tg = t;
        tg.data = grad.data();
        const double tc = bench::median_seconds([&] { rai_gc_compress(gc, id, &tg, msg.data(), cap, &len); }, c.reps);
        const double td = bench::median_seconds([&] { rai_gc_decompress(gc, id, msg.data(), len, &t); }, c.reps);
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        rai_gc_get_stats(gc, id, &st);
        std::printf("%-26s %10.3f %7.2f GB/s %7.2f GB/s %5.3f / %5.3f\n", c.name, st.bits_per_param, gb / tc, gb / td,
                    t_memcpy / tc, t_memcpy / td);
        rai_gc_destroy(gc);
    }
    std::printf("(vs memcpy = memcpy time / rai time for compress and decompress; EF on for the biased methods, "
                "so compress includes the EF add and update)\n");
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
    rai_context_destroy(ctx);
    return 0;
}
