// The compressed all-reduce on MPI ranks (run by run_mpi.sh with mpirun -np 4): for each method,
// rai_gc_allreduce_mpi against the uncompressed MPI_Allreduce of the same gradients.
//   exact:  NONE, warm-up steps, TOPK at ratio 1 (equal to MPI_Allreduce up to summation order)
//   lossy:  every rank gets the same result, close to the true sum as the method promises
//           (PowerSGD: exact on a low-rank sum once warm; the others: a cosine bound)
//   AVERAGE divides by the communicator size.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "rai.h"

namespace {

int rank_ = 0, size_ = 1, passed = 0, failed = 0;

void check(bool ok, const std::string &what) {
    int local = ok ? 1 : 0, all = 0;
    MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all) ++passed;
    else ++failed;
    if (rank_ == 0) std::printf("%s %s\n", all ? "PASS" : "FAIL", what.c_str());
}

std::vector<float> gradient(size_t rows, size_t cols, int rank, int step, bool low_rank) {
    std::vector<float> g(rows * cols);
    uint64_t s = 0x9E3779B97F4A7C15ull * (rank * 131 + step + 1);
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            const float noise = static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5);
            const float common = std::sin(0.1f * i + 0.3f) * std::cos(0.2f * j) * (1.0f + 0.1f * rank);
            g[i * cols + j] = low_rank ? common : common + noise;
        }
    return g;
}

double cosine(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0, x = 0, y = 0;
    for (size_t i = 0; i < a.size(); ++i) d += double(a[i]) * b[i], x += double(a[i]) * a[i], y += double(b[i]) * b[i];
    return d / std::sqrt(x * y);
}
double max_rel(const std::vector<float> &a, const std::vector<float> &b) {
    double m = 0, r = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i])), r = std::max(r, std::fabs(double(a[i])));
    return m / (r > 0 ? r : 1);
}
bool same_on_all_ranks(const std::vector<float> &v) {
    std::vector<float> mn(v.size()), mx(v.size());
    MPI_Allreduce(v.data(), mn.data(), static_cast<int>(v.size()), MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(v.data(), mx.data(), static_cast<int>(v.size()), MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    return mn == mx;
}

struct Case {
    const char *name;
    int32_t method;
    float ratio;
    uint32_t warmup;
    bool low_rank;
    double min_cosine;  // < 0: exact (max relative difference 1e-5)
};

void run(rai_context *ctx, const Case &c, uint32_t flags = 0) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = c.method;
    p.ratio = c.ratio;
    p.warmup_steps = c.warmup;
    p.seed = 42;
    rai_gc *gc = nullptr;
    if (rai_gc_create(ctx, &p, &gc) != RAI_OK) {
        check(false, std::string(c.name) + ": create: " + rai_last_error_message());
        return;
    }
    const size_t rows = 48, cols = 40;
    int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
    std::vector<float> g = gradient(rows, cols, rank_, 0, c.low_rank);
    rai_tensor t{g.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
    uint32_t id = 0;
    rai_gc_add_tensor(gc, "w", &t, &id);
    for (int step = 0; step < 4; ++step) {
        g = gradient(rows, cols, rank_, step, c.low_rank);
        std::vector<float> ref(g.size());
        MPI_Allreduce(g.data(), ref.data(), static_cast<int>(g.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (flags & RAI_GC_ALLREDUCE_AVERAGE)
            for (float &v : ref) v /= static_cast<float>(size_);
        MPI_Comm comm = MPI_COMM_WORLD;
        t.data = g.data();
        const rai_status st = rai_gc_allreduce_mpi(gc, id, &t, &comm, flags);
        const std::string what = std::string(c.name) + (flags ? " (average)" : "") + " step " + std::to_string(step);
        if (st != RAI_OK) {
            check(false, what + ": " + rai_last_error_message());
            continue;
        }
        check(same_on_all_ranks(g), what + ": same result on every rank");
        const bool exact = c.min_cosine < 0 || step < static_cast<int>(c.warmup);
        if (exact) {
            check(max_rel(ref, g) < 1e-5, what + ": equals MPI_Allreduce (max rel diff " + std::to_string(max_rel(ref, g)) + ")");
        } else if (!(c.method == RAI_GC_POWERSGD && step == 0)) {  // PowerSGD: warm start from step 1
            const double cs = cosine(ref, g);
            check(cs >= c.min_cosine, what + ": cosine with MPI_Allreduce " + std::to_string(cs) + " >= " +
                                          std::to_string(c.min_cosine));
        }
    }
    rai_gc_stats stats;
    rai_gc_stats_init(&stats);
    rai_gc_get_stats(gc, id, &stats);
    if (rank_ == 0)
        std::printf("     %s: %.3f bits/param sent per rank and step\n", c.name, stats.bits_per_param);
    rai_gc_destroy(gc);
}

// RAI_GC_ALLREDUCE_SUM_DECODED: the result is the sum (or mean) over ranks of each rank's own
// decode, which a twin compressor's rai_gc_apply gives (same method, seed and EF state: the
// residual depends only on the rank's own message). A third compressor without the flag shows
// what it changes: nothing for TOPK (its reduce is the exact union-sum), the majority vote for SIGN.
void run_sum_decoded(rai_context *ctx, const char *name, int32_t method, uint32_t flags) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = method;
    p.ratio = 0.05f;
    p.seed = 7;
    rai_gc *gc = nullptr, *twin = nullptr, *plain = nullptr;
    if (rai_gc_create(ctx, &p, &gc) != RAI_OK || rai_gc_create(ctx, &p, &twin) != RAI_OK ||
        rai_gc_create(ctx, &p, &plain) != RAI_OK) {
        check(false, std::string(name) + " sum-decoded: create: " + rai_last_error_message());
        return;
    }
    const size_t rows = 33, cols = 29;
    int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
    std::vector<float> g = gradient(rows, cols, rank_, 0, false);
    rai_tensor t{g.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
    uint32_t id = 0;
    for (rai_gc *c : {gc, twin, plain}) rai_gc_add_tensor(c, "w", &t, &id);
    double vs_reduce = 0;
    const std::string label = std::string(name) + " sum-decoded" + ((flags & RAI_GC_ALLREDUCE_AVERAGE) ? " (average)" : "");
    for (int step = 0; step < 3; ++step) {
        g = gradient(rows, cols, rank_, step, false);
        std::vector<float> own = g, reduced = g;
        rai_tensor to = t, tr = t;
        t.data = g.data();
        to.data = own.data();
        tr.data = reduced.data();
        const std::string what = label + " step " + std::to_string(step);
        MPI_Comm comm = MPI_COMM_WORLD;
        if (rai_gc_apply(twin, id, &to) != RAI_OK ||
            rai_gc_allreduce_mpi(plain, id, &tr, &comm, flags) != RAI_OK ||
            rai_gc_allreduce_mpi(gc, id, &t, &comm, flags | RAI_GC_ALLREDUCE_SUM_DECODED) != RAI_OK) {
            check(false, what + ": " + rai_last_error_message());
            break;
        }
        std::vector<float> ref(own.size());
        MPI_Allreduce(own.data(), ref.data(), static_cast<int>(own.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (flags & RAI_GC_ALLREDUCE_AVERAGE)
            for (float &v : ref) v /= static_cast<float>(size_);
        check(same_on_all_ranks(g), what + ": same result on every rank");
        check(max_rel(ref, g) < 1e-6, what + ": equals the sum of every rank's own decode (max rel diff " +
                                          std::to_string(max_rel(ref, g)) + ")");
        vs_reduce = std::max(vs_reduce, max_rel(reduced, g));
    }
    if (method == RAI_GC_SIGN)
        check(vs_reduce > 0.1, label + ": differs from the majority vote (max rel diff " + std::to_string(vs_reduce) + ")");
    else
        check(vs_reduce < 1e-6, label + ": equals the reduce path (max rel diff " + std::to_string(vs_reduce) + ")");
    for (rai_gc *c : {gc, twin, plain}) rai_gc_destroy(c);
}

}  // namespace

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    if (!rai_gc_has_mpi()) {
        // Built with MPI, meson sets RAI_EXPECT_MPI: a plugin that fails to load is then a failure.
        const char *expect = std::getenv("RAI_EXPECT_MPI");
        const bool required = expect != nullptr && std::strcmp(expect, "1") == 0;
        if (rank_ == 0)
            std::printf("the MPI plugin does not load (%s)\n", required ? "FAILED: it was built" : "skipped");
        MPI_Finalize();
        return required ? 1 : 77;
    }
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    cp.flags = RAI_CONTEXT_IGNORE_ENV;
    rai_context *ctx = nullptr;
    rai_context_create(&cp, &ctx);
    const Case cases[] = {
        {"NONE", RAI_GC_NONE, 0.0f, 0, false, -1},
        {"SIGN warm-up 2", RAI_GC_SIGN, 0.0f, 2, false, 0.6},
        {"TOPK ratio 1", RAI_GC_TOPK, 1.0f, 0, false, -1},
        {"TOPK ratio 0.05", RAI_GC_TOPK, 0.05f, 0, false, 0.3},
        {"SIGN (majority vote)", RAI_GC_SIGN, 0.0f, 0, false, 0.6},
        {"TERNARY", RAI_GC_TERNARY, 0.0f, 0, false, 0.7},
        {"TERNARY_STOCH", RAI_GC_TERNARY_STOCH, 0.0f, 0, false, 0.5},
        {"QSGD", RAI_GC_QSGD, 0.0f, 0, false, 0.9},
        {"POWERSGD low-rank", RAI_GC_POWERSGD, 0.0f, 0, true, 0.99999},
        {"POWERSGD noisy", RAI_GC_POWERSGD, 0.0f, 0, false, 0.5},
    };
    for (const Case &c : cases) run(ctx, c);
    run(ctx, cases[0], RAI_GC_ALLREDUCE_AVERAGE);
    run(ctx, cases[8], RAI_GC_ALLREDUCE_AVERAGE);
    run_sum_decoded(ctx, "SIGN", RAI_GC_SIGN, 0);
    run_sum_decoded(ctx, "SIGN", RAI_GC_SIGN, RAI_GC_ALLREDUCE_AVERAGE);
    run_sum_decoded(ctx, "TOPK 0.05", RAI_GC_TOPK, 0);
    run_sum_decoded(ctx, "TERNARY", RAI_GC_TERNARY, RAI_GC_ALLREDUCE_AVERAGE);
    // bad input: an unregistered id fails on every rank alike, nothing is communicated
    {
        rai_gc *gc = nullptr;
        rai_gc_create(ctx, nullptr, &gc);
        float v = 1.0f;
        int64_t shape[1] = {1};
        rai_tensor t{&v, {RAI_DEVICE_CPU, 0}, 1, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
        MPI_Comm comm = MPI_COMM_WORLD;
        check(rai_gc_allreduce_mpi(gc, 5, &t, &comm, 0) == RAI_ERROR_INVALID_ARGUMENT && v == 1.0f,
              "unknown id: RAI_ERROR_INVALID_ARGUMENT, gradient unchanged");
        rai_gc_destroy(gc);
    }
    rai_context_destroy(ctx);
    if (rank_ == 0) std::printf("%d passed, %d failed (%d ranks)\n", passed, failed, size_);
    MPI_Finalize();
    return failed ? 1 : 0;
}
