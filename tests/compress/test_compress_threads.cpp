// The CPU compressors split their work over the worker pool (src/compress/gc_parallel.h); every
// output must be the same bits whatever RAI_NUM_THREADS says. Each case runs the same sequence
// (two peers compress two steps, the messages are reduced and decompressed, a third handle
// applies in place, PowerSGD also runs its two-round protocol, stats and the state blob are
// read) once per thread setting and compares the recorded bytes. Sizes are awkward: several
// 64 Ki-element blocks with tails that are not multiples of the packing units.
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>

#include "gc_test_util.h"

namespace {

// Sets RAI_NUM_THREADS for the scope (num_threads() reads it at every call), then restores it.
class ThreadsEnv {
public:
    explicit ThreadsEnv(const char *value) {
        if (const char *old = std::getenv("RAI_NUM_THREADS")) had_ = true, old_ = old;
        setenv("RAI_NUM_THREADS", value, 1);
    }
    ~ThreadsEnv() {
        if (had_) setenv("RAI_NUM_THREADS", old_.c_str(), 1);
        else unsetenv("RAI_NUM_THREADS");
    }

private:
    bool had_ = false;
    std::string old_;
};

struct Case {
    std::string name;
    rai_gc_params params;
};

std::vector<Case> all_cases() {
    auto p = [](int32_t m) {
        rai_gc_params q = gc_params(m);
        q.flags = RAI_GC_MEASURE_QUALITY;
        q.vsa_dimension = 256;  // keep VSA_COMPAT cheap
        q.vsa_ratio = 0.001f;
        return q;
    };
    std::vector<Case> cs;
    cs.push_back({"none", p(RAI_GC_NONE)});
    for (float r : {0.01f, 0.001f}) {
        Case c{"topk " + std::to_string(r), p(RAI_GC_TOPK)};
        c.params.ratio = r;
        c.params.error_feedback = RAI_GC_EF_ON;
        cs.push_back(c);
    }
    cs.push_back({"sign", p(RAI_GC_SIGN)});
    cs.push_back({"ternary", p(RAI_GC_TERNARY)});
    cs.push_back({"ternary_stoch", p(RAI_GC_TERNARY_STOCH)});
    for (uint32_t lv : {1u, 7u, 127u, 1000u}) {  // code widths 2, 4, 8 and 16 bits
        Case c{"qsgd levels " + std::to_string(lv), p(RAI_GC_QSGD)};
        c.params.qsgd_levels = lv;
        c.params.error_feedback = RAI_GC_EF_ON;
        cs.push_back(c);
    }
    for (uint32_t r : {1u, 2u, 4u}) {
        Case c{"powersgd rank " + std::to_string(r), p(RAI_GC_POWERSGD)};
        c.params.rank = r;
        cs.push_back(c);
    }
    cs.push_back({"vsa_compat", p(RAI_GC_VSA_COMPAT)});
    Case w{"sign warm-up", p(RAI_GC_SIGN)};
    w.params.warmup_steps = 1;  // the first step is raw
    cs.push_back(w);
    return cs;
}

void append(std::vector<uint8_t> &out, const void *p, size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    out.insert(out.end(), b, b + n);
}

// Many equal magnitudes spread over every block: top-k ties cross block boundaries.
Grad tied_grad(std::vector<int64_t> shape, uint32_t seed) {
    Grad g = random_grad(shape, seed);
    for (float &v : g.f) v = (v < 0 ? -1.0f : 1.0f) * (std::fabs(v) > 2.0f ? 2.0f : 0.5f);
    return g;
}

// Everything a case produces, as bytes.
std::vector<uint8_t> run_case(rai_context *ctx, const rai_gc_params &params, const std::vector<int64_t> &shape,
                              bool bf16) {
    std::vector<uint8_t> trace;
    rai_gc *peers[2] = {make_gc(ctx, params), make_gc(ctx, params)};
    rai_gc *local = make_gc(ctx, params);
    Grad like = random_grad(shape, 1, bf16);
    rai_tensor lt = like.t();
    uint32_t id = 0;
    for (rai_gc *gc : {peers[0], peers[1], local}) EXPECT_EQ(rai_gc_add_tensor(gc, "w", &lt, &id), RAI_OK);
    for (uint32_t step = 0; step < 2; ++step) {
        std::vector<std::vector<uint8_t>> msgs(2);
        for (int p = 0; p < 2; ++p) {
            Grad g = random_grad(shape, 100 * step + p, bf16, 0.01f);
            rai_tensor t = g.t();
            size_t size = 0;
            EXPECT_EQ(rai_gc_compress(peers[p], id, &t, nullptr, 0, &size), RAI_OK);
            msgs[p].resize(size);
            EXPECT_EQ(rai_gc_compress(peers[p], id, &t, msgs[p].data(), size, &size), RAI_OK) << rai_last_error_message();
            append(trace, msgs[p].data(), size);
        }
        const void *mp[2] = {msgs[0].data(), msgs[1].data()};
        const size_t ml[2] = {msgs[0].size(), msgs[1].size()};
        size_t rsize = 0;
        EXPECT_EQ(rai_gc_message_reduce(peers[0], id, mp, ml, 2, nullptr, 0, &rsize), RAI_OK);
        std::vector<uint8_t> reduced(rsize);
        EXPECT_EQ(rai_gc_message_reduce(peers[0], id, mp, ml, 2, reduced.data(), rsize, &rsize), RAI_OK)
            << rai_last_error_message();
        append(trace, reduced.data(), rsize);
        Grad out = zeros_like(like);
        rai_tensor ot = out.t();
        EXPECT_EQ(rai_gc_decompress(peers[0], id, reduced.data(), rsize, &ot), RAI_OK) << rai_last_error_message();
        append(trace, bf16 ? static_cast<void *>(out.h.data()) : out.f.data(), bf16 ? 2 * out.n() : 4 * out.n());
        Grad g = random_grad(shape, 7 + step, bf16, 0.01f);
        rai_tensor gt = g.t();
        EXPECT_EQ(rai_gc_apply(local, id, &gt), RAI_OK) << rai_last_error_message();
        append(trace, bf16 ? static_cast<void *>(g.h.data()) : g.f.data(), bf16 ? 2 * g.n() : 4 * g.n());
    }
    if (params.method == RAI_GC_POWERSGD) {  // the two-round protocol on one peer
        Grad g = random_grad(shape, 99, bf16, 0.01f);
        rai_tensor t = g.t();
        size_t n = 0;
        EXPECT_EQ(rai_gc_powersgd_p(local, id, &t, nullptr, 0, &n), RAI_OK);
        std::vector<uint8_t> pm(n);
        EXPECT_EQ(rai_gc_powersgd_p(local, id, &t, pm.data(), n, &n), RAI_OK) << rai_last_error_message();
        append(trace, pm.data(), n);
        EXPECT_EQ(rai_gc_powersgd_q(local, id, pm.data(), pm.size(), nullptr, 0, &n), RAI_OK);
        std::vector<uint8_t> qm(n);
        EXPECT_EQ(rai_gc_powersgd_q(local, id, pm.data(), pm.size(), qm.data(), n, &n), RAI_OK)
            << rai_last_error_message();
        append(trace, qm.data(), n);
    }
    for (rai_gc *gc : {peers[0], peers[1], local}) {
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        EXPECT_EQ(rai_gc_get_stats(gc, RAI_GC_ALL_TENSORS, &st), RAI_OK);
        append(trace, &st.bits_out, sizeof st.bits_out);
        append(trace, &st.last_cosine, sizeof st.last_cosine);
        append(trace, &st.last_rel_error, sizeof st.last_rel_error);
        append(trace, &st.ef_norm, sizeof st.ef_norm);
        size_t n = 0;
        EXPECT_EQ(rai_gc_state_save(gc, nullptr, 0, &n), RAI_OK);
        std::vector<uint8_t> blob(n);
        EXPECT_EQ(rai_gc_state_save(gc, blob.data(), n, &n), RAI_OK);
        append(trace, blob.data(), n);
        rai_gc_destroy(gc);
    }
    return trace;
}

class GcThreads : public CpuContextTest {};

}  // namespace

TEST_F(GcThreads, EveryMethodGivesTheSameBitsOnAnyThreadCount) {
    // 131 x 1031 = 135,061 f32 elements (3 blocks, tail not a multiple of 8 or 512) and a bf16
    // 67 x 1033 matrix (2 blocks). The pool has one worker fewer than the hardware threads, so
    // "2" splits differently from "1" on any machine with two or more cores.
    for (const Case &c : all_cases()) {
        for (const bool bf16 : {false, true}) {
            const std::vector<int64_t> shape = bf16 ? std::vector<int64_t>{67, 1033} : std::vector<int64_t>{131, 1031};
            SCOPED_TRACE(c.name + (bf16 ? " bf16" : " f32"));
            std::vector<uint8_t> one, two;
            {
                ThreadsEnv env("1");
                one = run_case(ctx, c.params, shape, bf16);
            }
            {
                ThreadsEnv env("2");
                two = run_case(ctx, c.params, shape, bf16);
            }
            ASSERT_GT(one.size(), 1000u);
            EXPECT_TRUE(one == two) << "RAI_NUM_THREADS=1 and 2 differ";
        }
    }
}

TEST_F(GcThreads, TopkTiesAcrossBlocksGoToTheSmallestIndices) {
    // Magnitudes take two values, so the k-th largest is tied over every block; the merged
    // selection must equal a plain stable sort by magnitude (ties by index) on any thread count.
    const std::vector<int64_t> shape = {300007};
    rai_gc_params p = gc_params(RAI_GC_TOPK);
    p.ratio = 0.1f;
    p.error_feedback = RAI_GC_EF_OFF;
    Grad g = tied_grad(shape, 5);
    const size_t n = g.n(), k = static_cast<size_t>(std::ceil(0.1 * static_cast<double>(n)));
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return std::fabs(g.f[a]) > std::fabs(g.f[b]); });
    std::vector<uint32_t> expect(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
    std::sort(expect.begin(), expect.end());
    const size_t big = static_cast<size_t>(std::count_if(g.f.begin(), g.f.end(), [](float v) { return std::fabs(v) > 1.0f; }));
    ASSERT_LT(big, k) << "the test needs ties at the threshold";
    for (const char *threads : {"1", "2", "3"}) {
        SCOPED_TRACE(std::string("RAI_NUM_THREADS=") + threads);
        ThreadsEnv env(threads);
        rai_gc *gc = make_gc(ctx, p);
        rai_tensor t = g.t();
        uint32_t id = 0;
        ASSERT_RAI_OK(rai_gc_add_tensor(gc, "w", &t, &id));
        size_t size = 0;
        ASSERT_RAI_OK(rai_gc_compress(gc, id, &t, nullptr, 0, &size));
        std::vector<uint8_t> msg(size);
        ASSERT_RAI_OK(rai_gc_compress(gc, id, &t, msg.data(), size, &size));
        uint32_t kk = 0;
        std::memcpy(&kk, msg.data() + 40, 4);
        ASSERT_EQ(kk, k);
        std::vector<uint32_t> idx(k);
        std::memcpy(idx.data(), msg.data() + 44, 4 * k);
        EXPECT_TRUE(idx == expect);
        std::vector<float> vals(k);
        std::memcpy(vals.data(), msg.data() + 44 + 4 * k, 4 * k);
        for (size_t j = 0; j < k; j += 997) EXPECT_EQ(vals[j], g.f[idx[j]]);
        rai_gc_destroy(gc);
    }
}

TEST_F(GcThreads, BadThreadSettingsFallBackWithoutChangingResults) {
    // RAI_NUM_THREADS values num_threads() rejects (0, junk) mean "all threads": still the same bits.
    rai_gc_params p = gc_params(RAI_GC_SIGN);
    std::vector<uint8_t> ref;
    {
        ThreadsEnv env("1");
        ref = run_case(ctx, p, {70001}, false);
    }
    for (const char *v : {"0", "junk", "100000"}) {
        SCOPED_TRACE(std::string("RAI_NUM_THREADS=") + v);
        ThreadsEnv env(v);
        EXPECT_TRUE(run_case(ctx, p, {70001}, false) == ref);
    }
}
