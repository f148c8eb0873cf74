// Momentum correction (DGC) in rai_gc: the velocity u <- m*u + g is what gets compressed with its
// EF residual, top-k masks the velocity where it sent, and the velocity is per-tensor state that
// survives save/load. Checked against a float re-implementation of the same recurrences.
#include <algorithm>
#include <cstddef>
#include <numeric>

#include "compress/gc.h"
#include "gc_test_util.h"

namespace {

class GcMomentum : public CpuContextTest {
protected:
    rai_gc_params params(int32_t method, float momentum) {
        rai_gc_params p = gc_params(method);
        p.error_feedback = RAI_GC_EF_ON;
        p.momentum = momentum;
        return p;
    }
    // Registers one tensor of `shape` (f32) and returns the compressor.
    rai_gc *with_tensor(const rai_gc_params &p, std::vector<int64_t> shape) {
        rai_gc *gc = make_gc(ctx, p);
        Grad like = random_grad(shape, 1);
        rai_tensor t = like.t();
        uint32_t id;
        EXPECT_EQ(rai_gc_add_tensor(gc, "w", &t, &id), RAI_OK) << rai_last_error_message();
        return gc;
    }
};

std::vector<float> decode(rai_gc *gc, const std::vector<uint8_t> &msg, const Grad &like) {
    Grad d = zeros_like(like);
    rai_tensor t = d.t();
    EXPECT_EQ(rai_gc_decompress(gc, 0, msg.data(), msg.size(), &t), RAI_OK) << rai_last_error_message();
    return d.f;
}

std::vector<float> velocity_of(rai_gc *gc) {
    const rai::gc::FloatBuf &v = gc->tensors[0].velocity;
    return std::vector<float>(v.host(), v.host() + v.size());
}

// Compresses `steps` random gradients (seeds seed, seed+1, ...) into tensor 0.
void run_steps(rai_gc *gc, const std::vector<int64_t> &shape, uint32_t seed, int steps) {
    for (int step = 0; step < steps; ++step) {
        Grad g = random_grad(shape, seed + static_cast<uint32_t>(step));
        compress_msg(gc, 0, g);
    }
}

// The compressor's state blob.
std::vector<uint8_t> saved_state(rai_gc *gc) {
    size_t sz = 0, wr = 0;
    EXPECT_EQ(rai_gc_state_size(gc, &sz), RAI_OK);
    std::vector<uint8_t> blob(sz);
    EXPECT_EQ(rai_gc_state_save(gc, blob.data(), sz, &wr), RAI_OK) << rai_last_error_message();
    return blob;
}

// The same arithmetic as the library (a product, then a sum: no FMA).
float momentum_step(float m, float u, float g) {
    volatile float p = m * u;
    return p + g;
}

}  // namespace

TEST_F(GcMomentum, CreateChecksMomentumAndTheStructSize) {
    rai_gc *gc = reinterpret_cast<rai_gc *>(0x1);
    for (float bad : {-0.1f, 1.0f, 1.5f, std::nanf("")}) {
        rai_gc_params p = params(RAI_GC_TOPK, bad);
        EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "momentum");
        EXPECT_EQ(gc, nullptr);
    }
    rai_gc_params p = params(RAI_GC_TOPK, 0.9f);
    p.error_feedback = RAI_GC_EF_OFF;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "error feedback");
    p = params(RAI_GC_QSGD, 0.9f);
    p.error_feedback = RAI_GC_EF_DEFAULT;  // off for an unbiased method
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "error feedback");
    p = params(RAI_GC_SIGN, 0.9f);
    p.reserved1 = 1;
    EXPECT_RAI_ERROR(rai_gc_create(ctx, &p, &gc), RAI_ERROR_INVALID_ARGUMENT, "reserved1");
    p = params(RAI_GC_SIGN, 0.9f);
    p.error_feedback = RAI_GC_EF_DEFAULT;  // on for a biased method: accepted
    rai_gc *ok = make_gc(ctx, p);
    ASSERT_NE(ok, nullptr);
    EXPECT_FLOAT_EQ(ok->cfg.momentum, 0.9f);
    rai_gc_destroy(ok);

    // A caller compiled against the first release passes a struct that ends at `seed`: the bytes
    // after it are not read, and momentum is off.
    const size_t v1 = offsetof(rai_gc_params, momentum);
    rai_gc_params old;
    std::memset(&old, 0xff, sizeof old);
    ASSERT_RAI_OK(rai_gc_params_init_sized(&old, v1));
    EXPECT_EQ(old.struct_size, v1);
    EXPECT_EQ(old.method, RAI_GC_NONE);
    old.method = RAI_GC_SIGN;
    ASSERT_RAI_OK(rai_gc_create(ctx, &old, &gc));  // momentum and reserved1 still hold 0xff bytes
    EXPECT_EQ(gc->cfg.momentum, 0.0f);
    rai_gc_destroy(gc);
    EXPECT_RAI_ERROR(rai_gc_params_init_sized(&old, v1 - 8), RAI_ERROR_STRUCT_SIZE, "struct_size");
}

// Exact transport (NONE with EF) of the corrected velocity is momentum SGD: each decoded message is
// u_t = m*u_{t-1} + g_t, bit for bit, and the residual stays zero.
TEST_F(GcMomentum, LosslessTransportSendsTheVelocity) {
    const std::vector<int64_t> shape{37, 29};
    rai_gc *gc = with_tensor(params(RAI_GC_NONE, 0.9f), shape);
    std::vector<float> u(37 * 29, 0.0f);
    for (int step = 0; step < 6; ++step) {
        Grad g = random_grad(shape, 100 + step);
        for (size_t i = 0; i < u.size(); ++i) u[i] = momentum_step(0.9f, u[i], g.f[i]);
        const std::vector<float> d = decode(gc, compress_msg(gc, 0, g), g);
        ASSERT_EQ(d, u) << "step " << step;
        ASSERT_EQ(velocity_of(gc), u);
    }
    rai_gc_stats st;
    rai_gc_stats_init(&st);
    ASSERT_RAI_OK(rai_gc_get_stats(gc, 0, &st));
    EXPECT_EQ(st.ef_norm, 0.0);
    rai_gc_destroy(gc);
}

// DGC's recurrences re-implemented in float: u = m*u + g; v = u + r; send top-k of v (ties: the
// smaller index); r = v - sent; u = 0 where sent. Messages must decode to exactly the sent values.
TEST_F(GcMomentum, TopkFollowsDgcWithMomentumFactorMasking) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{1}, {33}, {41, 13}}) {
        const size_t n = static_cast<size_t>(std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                                             std::multiplies<int64_t>()));
        rai_gc_params p = params(RAI_GC_TOPK, 0.8f);
        p.ratio = 0.05f;
        p.warmup_steps = 2;  // raw steps: the whole velocity is sent, and none of it is masked
        rai_gc *gc = with_tensor(p, shape);
        const size_t k = std::min(n, std::max<size_t>(1, static_cast<size_t>(std::ceil(0.05 * n))));
        std::vector<float> u(n, 0.0f), r(n, 0.0f);
        for (int step = 0; step < 8; ++step) {
            SCOPED_TRACE("n " + std::to_string(n) + " step " + std::to_string(step));
            Grad g = random_grad(shape, 200 + step);
            std::vector<float> v(n), sent(n, 0.0f);
            for (size_t i = 0; i < n; ++i) {
                u[i] = momentum_step(0.8f, u[i], g.f[i]);
                v[i] = u[i] + r[i];
            }
            if (step < 2) {
                sent = v;
            } else {
                std::vector<size_t> idx(n);
                std::iota(idx.begin(), idx.end(), size_t{0});
                std::stable_sort(idx.begin(), idx.end(),
                                 [&](size_t a, size_t b) { return std::fabs(v[a]) > std::fabs(v[b]); });
                for (size_t j = 0; j < k; ++j) sent[idx[j]] = v[idx[j]];
            }
            for (size_t i = 0; i < n; ++i) {
                r[i] = v[i] - sent[i];
                if (step >= 2 && sent[i] != 0.0f) u[i] = 0.0f;
            }
            ASSERT_EQ(decode(gc, compress_msg(gc, 0, g), g), sent);
            ASSERT_EQ(velocity_of(gc), u);
            const rai::gc::FloatBuf &res = gc->tensors[0].residual;
            ASSERT_EQ(std::vector<float>(res.host(), res.host() + n), r);
        }
        rai_gc_destroy(gc);
    }
}

// For the dense methods nothing is masked: whatever the compressor, the velocity is the plain
// momentum recurrence, and sent + residual adds up to the sum of velocities (EF identity).
TEST_F(GcMomentum, DenseMethodsKeepTheVelocityAndTheEfIdentity) {
    const std::vector<int64_t> shape{40, 30};
    for (int32_t m : {RAI_GC_SIGN, RAI_GC_TERNARY, RAI_GC_TERNARY_STOCH, RAI_GC_QSGD, RAI_GC_POWERSGD}) {
        SCOPED_TRACE(rai::gc::method_name(m));
        rai_gc *gc = with_tensor(params(m, 0.9f), shape);
        const size_t n = 40 * 30;
        std::vector<float> u(n, 0.0f);
        std::vector<double> sent(n, 0.0), sum_u(n, 0.0);
        for (int step = 0; step < 10; ++step) {
            Grad g = random_grad(shape, 300 + step);
            for (size_t i = 0; i < n; ++i) {
                u[i] = momentum_step(0.9f, u[i], g.f[i]);
                sum_u[i] += u[i];
            }
            const std::vector<float> d = decode(gc, compress_msg(gc, 0, g), g);
            for (size_t i = 0; i < n; ++i) sent[i] += d[i];
            ASSERT_EQ(velocity_of(gc), u) << "step " << step;
        }
        const rai::gc::FloatBuf &res = gc->tensors[0].residual;
        double err = 0, ref = 0;
        for (size_t i = 0; i < n; ++i) {
            err = std::max(err, std::fabs(sent[i] + res.host()[i] - sum_u[i]));
            ref = std::max(ref, std::fabs(sum_u[i]));
        }
        EXPECT_LT(err, 1e-5 * ref * 10);
        rai_gc_destroy(gc);
    }
}

// rai_gc_apply is compress + decompress with the same state update, momentum included.
TEST_F(GcMomentum, ApplyMatchesCompressThenDecompress) {
    const std::vector<int64_t> shape{25, 19};
    for (int32_t m : {RAI_GC_TOPK, RAI_GC_SIGN, RAI_GC_POWERSGD}) {
        SCOPED_TRACE(rai::gc::method_name(m));
        rai_gc *a = with_tensor(params(m, 0.9f), shape), *b = with_tensor(params(m, 0.9f), shape);
        for (int step = 0; step < 5; ++step) {
            Grad g = random_grad(shape, 400 + step), h = g;
            const std::vector<float> d = decode(a, compress_msg(a, 0, g), g);
            rai_tensor th = h.t();
            ASSERT_RAI_OK(rai_gc_apply(b, 0, &th));
            ASSERT_EQ(h.f, d) << "step " << step;
        }
        EXPECT_EQ(velocity_of(a), velocity_of(b));
        rai_gc_destroy(a);
        rai_gc_destroy(b);
    }
}

// bf16 gradients: the velocity is f32 and starts from the widened bf16 values.
TEST_F(GcMomentum, Bf16GradientsFeedAnF32Velocity) {
    const std::vector<int64_t> shape{17, 9};
    rai_gc_params p = params(RAI_GC_NONE, 0.5f);
    rai_gc *gc = make_gc(ctx, p);
    Grad like = random_grad(shape, 1, true);
    rai_tensor t = like.t();
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(gc, "w", &t, &id));
    std::vector<float> u(17 * 9, 0.0f);
    for (int step = 0; step < 3; ++step) {
        Grad g = random_grad(shape, 500 + step, true);
        const std::vector<float> gv = g.values();
        for (size_t i = 0; i < u.size(); ++i) u[i] = momentum_step(0.5f, u[i], gv[i]);
        std::vector<uint8_t> msg = compress_msg(gc, 0, g);
        ASSERT_EQ(velocity_of(gc), u);
    }
    rai_gc_destroy(gc);
}

// The two-round PowerSGD protocol (rai_gc_powersgd_p / _q) commits the same velocity as the
// one-call path, and only when the Q round completes.
TEST_F(GcMomentum, PowerSgdTwoRoundsCommitTheVelocityWithTheQRound) {
    const std::vector<int64_t> shape{48, 32};
    rai_gc *one = with_tensor(params(RAI_GC_POWERSGD, 0.9f), shape);
    rai_gc *two = with_tensor(params(RAI_GC_POWERSGD, 0.9f), shape);
    for (int step = 0; step < 4; ++step) {
        Grad g = random_grad(shape, 600 + step), h = g;
        compress_msg(one, 0, g);
        rai_tensor th = h.t();
        size_t need = 0, wr = 0;
        ASSERT_RAI_OK(rai_gc_powersgd_p(two, 0, &th, nullptr, 0, &need));
        std::vector<uint8_t> pm(need);
        const std::vector<float> before = velocity_of(two);
        ASSERT_RAI_OK(rai_gc_powersgd_p(two, 0, &th, pm.data(), pm.size(), &wr));
        EXPECT_EQ(velocity_of(two), before) << "the P round commits nothing";
        ASSERT_RAI_OK(rai_gc_powersgd_q(two, 0, pm.data(), pm.size(), nullptr, 0, &need));
        std::vector<uint8_t> qm(need);
        ASSERT_RAI_OK(rai_gc_powersgd_q(two, 0, pm.data(), pm.size(), qm.data(), qm.size(), &wr));
        Grad out = zeros_like(g);
        rai_tensor to = out.t();
        ASSERT_RAI_OK(rai_gc_decompress(two, 0, qm.data(), qm.size(), &to));
        ASSERT_EQ(velocity_of(two), velocity_of(one)) << "step " << step;
    }
    rai_gc_destroy(one);
    rai_gc_destroy(two);
}

TEST_F(GcMomentum, StateSaveLoadKeepsTheVelocity) {
    const std::vector<int64_t> shape{20, 12};
    for (int32_t m : {RAI_GC_TOPK, RAI_GC_SIGN, RAI_GC_POWERSGD}) {
        SCOPED_TRACE(rai::gc::method_name(m));
        rai_gc *a = with_tensor(params(m, 0.9f), shape);
        run_steps(a, shape, 700, 3);
        const std::vector<uint8_t> blob = saved_state(a);
        rai_gc *b = with_tensor(params(m, 0.9f), shape);
        ASSERT_RAI_OK(rai_gc_state_load(b, blob.data(), blob.size()));
        EXPECT_EQ(velocity_of(b), velocity_of(a));
        for (int step = 0; step < 3; ++step) {
            Grad x = random_grad(shape, 800 + step), y = x;
            EXPECT_EQ(compress_msg(a, 0, x), compress_msg(b, 0, y)) << "step " << step;
        }
        // A compressor without momentum correction has no velocity to load, and the reverse.
        rai_gc *plain = with_tensor(params(m, 0.0f), shape);
        const std::vector<float> res_before = [&] {
            const rai::gc::FloatBuf &r = plain->tensors[0].residual;
            return std::vector<float>(r.host(), r.host() + r.size());
        }();
        EXPECT_RAI_ERROR(rai_gc_state_load(plain, blob.data(), blob.size()), RAI_ERROR_FORMAT, "velocity");
        EXPECT_EQ(std::vector<float>(plain->tensors[0].residual.host(), plain->tensors[0].residual.host() + 240),
                  res_before);
        const std::vector<uint8_t> plain_blob = saved_state(plain);
        const std::vector<float> vel_before = velocity_of(b);
        EXPECT_RAI_ERROR(rai_gc_state_load(b, plain_blob.data(), plain_blob.size()), RAI_ERROR_FORMAT, "velocity");
        EXPECT_EQ(velocity_of(b), vel_before);
        for (rai_gc *g : {a, b, plain}) rai_gc_destroy(g);
    }
}

// States written before momentum correction existed (version 1: no velocity field) still load.
TEST_F(GcMomentum, VersionOneStatesStillLoad) {
    const std::vector<int64_t> shape{20, 12};
    rai_gc *a = with_tensor(params(RAI_GC_TOPK, 0.0f), shape);
    run_steps(a, shape, 900, 3);
    const std::vector<uint8_t> v2 = saved_state(a);
    // Version 2 puts a u64 velocity count after the residual: drop it to get version 1's layout.
    // Header 24, then numel 8, dtype 4, ndim 4, shape 2x8, step 8, residual count 8, residual 240x4.
    const size_t at = 24 + 16 + 16 + 16 + 4 * 240;
    ASSERT_EQ(v2[at], 0u);
    std::vector<uint8_t> v1(v2.begin(), v2.begin() + static_cast<std::ptrdiff_t>(at));
    v1.insert(v1.end(), v2.begin() + static_cast<std::ptrdiff_t>(at + 8), v2.end());
    v1[4] = 1;
    v1[5] = 0;
    rai_gc *b = with_tensor(params(RAI_GC_TOPK, 0.0f), shape);
    ASSERT_RAI_OK(rai_gc_state_load(b, v1.data(), v1.size()));
    Grad x = random_grad(shape, 950), y = x;
    EXPECT_EQ(compress_msg(a, 0, x), compress_msg(b, 0, y));
    // A version-1 state has no velocity: a momentum compressor refuses it.
    rai_gc *mom = with_tensor(params(RAI_GC_TOPK, 0.9f), shape);
    EXPECT_RAI_ERROR(rai_gc_state_load(mom, v1.data(), v1.size()), RAI_ERROR_FORMAT, "velocity");
    for (rai_gc *g : {a, b, mom}) rai_gc_destroy(g);
}

// A failing call (wrong dtype, buffer too small) leaves the velocity as it was.
TEST_F(GcMomentum, FailedCallsLeaveTheVelocityAlone) {
    const std::vector<int64_t> shape{20, 12};
    rai_gc *gc = with_tensor(params(RAI_GC_TOPK, 0.9f), shape);
    Grad g = random_grad(shape, 1000);
    compress_msg(gc, 0, g);
    const std::vector<float> before = velocity_of(gc);
    Grad b = random_grad(shape, 1001, true);
    rai_tensor tb = b.t();
    size_t wr = 0;
    std::vector<uint8_t> out(4096);
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 0, &tb, out.data(), out.size(), &wr), RAI_ERROR_DTYPE_MISMATCH, "grad");
    rai_tensor tg = g.t();
    EXPECT_RAI_ERROR(rai_gc_compress(gc, 0, &tg, out.data(), 8, &wr), RAI_ERROR_BUFFER_TOO_SMALL, "capacity");
    EXPECT_EQ(velocity_of(gc), before);
    rai_gc_destroy(gc);
}
