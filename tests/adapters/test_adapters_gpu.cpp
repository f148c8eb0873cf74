// GPU suite for the adapters: the CUDA LoRA/DoRA layer (forward, backward, mixed batches) and
// the adapter model on a CUDA context (every scenario of device_path_scenarios.h) against the
// CPU reference on awkward sizes. Skips without a CUDA device.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "device_path_scenarios.h"

namespace {

// A device tensor; an empty host vector leaves it uninitialised (an output), sized from the shape.
struct Dev {
    rai_buffer *buf = nullptr;
    std::vector<int64_t> shape;
    rai_tensor t{};
    Dev(rai_context *ctx, const void *host, size_t n, size_t elem, rai_dtype dt, std::vector<int64_t> s)
        : shape(std::move(s)) {
        size_t count = 1;
        for (int64_t d : shape) count *= static_cast<size_t>(d);
        EXPECT_EQ(rai_buffer_create(ctx, std::max(n, count) * 4 + 4, &buf), RAI_OK) << rai_last_error_message();
        if (n > 0) {
            EXPECT_EQ(rai_buffer_write(ctx, buf, 0, host, n * elem), RAI_OK);
        }
        t = make_tensor(rai_buffer_data(buf), dt, shape.data(), static_cast<int32_t>(shape.size()), nullptr,
                        rai_device{RAI_DEVICE_CUDA, 0});
    }
    Dev(rai_context *ctx, const std::vector<float> &host, std::vector<int64_t> s)
        : Dev(ctx, host.data(), host.size(), 4, kF32, std::move(s)) {}
    Dev(rai_context *ctx, const std::vector<uint16_t> &bf16, std::vector<int64_t> s, rai_dtype dt)  // dt: kBF16
        : Dev(ctx, bf16.data(), bf16.size(), 2, dt, std::move(s)) {}
    ~Dev() { rai_buffer_destroy(buf); }
    std::vector<float> read(rai_context *ctx, size_t n) const {
        std::vector<float> h(n);
        EXPECT_EQ(rai_buffer_read(ctx, buf, 0, h.data(), n * 4), RAI_OK);
        return h;
    }
    std::vector<uint16_t> read_bf16(rai_context *ctx, size_t n) const {
        std::vector<uint16_t> h(n);
        EXPECT_EQ(rai_buffer_read(ctx, buf, 0, h.data(), n * 2), RAI_OK);
        return h;
    }
};

// bf16 round-to-nearest-even (finite inputs) and back.
uint16_t to_bf16(float f) {
    uint32_t u = 0;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
float from_bf16(uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f = 0;
    std::memcpy(&f, &u, 4);
    return f;
}
std::vector<uint16_t> to_bf16(const std::vector<float> &v) {
    std::vector<uint16_t> o(v.size());
    for (size_t i = 0; i < v.size(); ++i) o[i] = to_bf16(v[i]);
    return o;
}
std::vector<float> from_bf16(const std::vector<uint16_t> &v) {
    std::vector<float> o(v.size());
    for (size_t i = 0; i < v.size(); ++i) o[i] = from_bf16(v[i]);
    return o;
}

std::vector<float> rnd(size_t n, uint32_t seed, float s = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, s);
    std::vector<float> v(n);
    for (float &x : v) x = d(g);
    return v;
}

class AdaptersGpu : public GpuVsCpu {};

float max_rel(const std::vector<float> &a, const std::vector<float> &b) {
    float m = 0, s = 1e-6f;
    for (size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, std::fabs(a[i] - b[i]));
        s = std::max(s, std::fabs(b[i]));
    }
    return m / s;
}

TEST_F(AdaptersGpu, ForwardBackwardMatchCpu) {
    for (int dora = 0; dora < 2; ++dora)
        for (int64_t M : {1, 31, 65}) {
            const int64_t K = 33, N = 17, r = 5;
            auto x = rnd(M * K, 1), w = rnd(N * K, 2, 0.5f), a = rnd(r * K, 3, 0.3f), b = rnd(N * r, 4, 0.3f),
                 bias = rnd(N, 5), m = rnd(N, 6), dy = rnd(M * N, 7);
            for (float &v : m) v = 1.0f + 0.1f * v;
            const int64_t xs[] = {M, K}, ws[] = {N, K}, as[] = {r, K}, bs[] = {N, r}, ns[] = {N}, ys[] = {M, N};
            rai_tensor xc = make_tensor(x.data(), kF32, xs, 2), wc = make_tensor(w.data(), kF32, ws, 2),
                       ac = make_tensor(a.data(), kF32, as, 2), bc = make_tensor(b.data(), kF32, bs, 2),
                       biasc = make_tensor(bias.data(), kF32, ns, 1), mc = make_tensor(m.data(), kF32, ns, 1),
                       dyc = make_tensor(dy.data(), kF32, ys, 2);
            std::vector<float> y(M * N), dx(M * K), da(r * K), db(N * r), dm(N);
            rai_tensor yc = make_tensor(y.data(), kF32, ys, 2), dxc = make_tensor(dx.data(), kF32, xs, 2),
                       dac = make_tensor(da.data(), kF32, as, 2), dbc = make_tensor(db.data(), kF32, bs, 2),
                       dmc = make_tensor(dm.data(), kF32, ns, 1);
            rai_lora_linear_params p;
            rai_lora_linear_params_init(&p);
            p.scaling = 1.25f;
            p.dropout = 0.2f;
            p.flags = RAI_LORA_TRAINING;
            p.seed = 5;
            p.step = 9;
            ASSERT_EQ(rai_lora_linear_forward(cpu, &p, &xc, &wc, &biasc, &ac, &bc, dora ? &mc : nullptr, &yc), RAI_OK);
            ASSERT_EQ(rai_lora_linear_backward(cpu, &p, &xc, &wc, &ac, &bc, dora ? &mc : nullptr, &dyc, &dxc, &dac, &dbc,
                                               dora ? &dmc : nullptr),
                      RAI_OK);
            Dev X(gpu, x, {M, K}), W(gpu, w, {N, K}), A(gpu, a, {r, K}), B(gpu, b, {N, r}), Bi(gpu, bias, {N}),
                Mg(gpu, m, {N}), DY(gpu, dy, {M, N}), Y(gpu, {}, {M, N}), DX(gpu, {}, {M, K}), DA(gpu, {}, {r, K}),
                DB(gpu, {}, {N, r}), DM(gpu, {}, {N});
            ASSERT_EQ(rai_lora_linear_forward(gpu, &p, &X.t, &W.t, &Bi.t, &A.t, &B.t, dora ? &Mg.t : nullptr, &Y.t), RAI_OK)
                << rai_last_error_message();
            ASSERT_EQ(rai_lora_linear_backward(gpu, &p, &X.t, &W.t, &A.t, &B.t, dora ? &Mg.t : nullptr, &DY.t, &DX.t, &DA.t,
                                               &DB.t, dora ? &DM.t : nullptr),
                      RAI_OK)
                << rai_last_error_message();
            ASSERT_EQ(rai_context_synchronize(gpu), RAI_OK);
            EXPECT_LE(max_rel(Y.read(gpu, y.size()), y), 1e-5f) << "dora " << dora << " M " << M;
            EXPECT_LE(max_rel(DX.read(gpu, dx.size()), dx), 1e-5f);
            EXPECT_LE(max_rel(DA.read(gpu, da.size()), da), 1e-5f);
            EXPECT_LE(max_rel(DB.read(gpu, db.size()), db), 1e-5f);
            if (dora) {
                EXPECT_LE(max_rel(DM.read(gpu, dm.size()), dm), 1e-5f);
            }
        }
}

// The fast forward (no dropout, no DoRA, a dense base, adapters in x's dtype): the small-M
// kernels (M <= 8), the small adapter kernels (M <= 128) and the cuBLASLt path (M > 128);
// K = 37 takes the kernels' unvectorised loads.
TEST_F(AdaptersGpu, FastForwardMatchesCpu) {
    for (int64_t K : {40, 37})
        for (int64_t M : {1, 7, 64, 300})
            for (int with_bias = 0; with_bias < 2; ++with_bias) {
                if (K == 37 && M == 300) continue;
                const int64_t N = 48, r = 8;
                auto x = rnd(M * K, 11, 1.0f), w = rnd(N * K, 12, 0.5f), a = rnd(r * K, 13, 0.3f),
                     b = rnd(N * r, 14, 0.3f), bias = rnd(N, 15);
                const int64_t xs[] = {M, K}, ws[] = {N, K}, as[] = {r, K}, bs[] = {N, r}, ns[] = {N}, ys[] = {M, N};
                rai_tensor xc = make_tensor(x.data(), kF32, xs, 2), wc = make_tensor(w.data(), kF32, ws, 2),
                           ac = make_tensor(a.data(), kF32, as, 2), bc = make_tensor(b.data(), kF32, bs, 2),
                           biasc = make_tensor(bias.data(), kF32, ns, 1);
                std::vector<float> y(M * N);
                rai_tensor yc = make_tensor(y.data(), kF32, ys, 2);
                rai_lora_linear_params p;
                rai_lora_linear_params_init(&p);
                p.scaling = 1.5f;
                ASSERT_EQ(rai_lora_linear_forward(cpu, &p, &xc, &wc, with_bias ? &biasc : nullptr, &ac, &bc, nullptr, &yc),
                          RAI_OK);
                Dev X(gpu, x, {M, K}), W(gpu, w, {N, K}), A(gpu, a, {r, K}), B(gpu, b, {N, r}), Bi(gpu, bias, {N}),
                    Y(gpu, {}, {M, N});
                ASSERT_EQ(rai_lora_linear_forward(gpu, &p, &X.t, &W.t, with_bias ? &Bi.t : nullptr, &A.t, &B.t, nullptr,
                                                  &Y.t),
                          RAI_OK)
                    << rai_last_error_message();
                ASSERT_EQ(rai_context_synchronize(gpu), RAI_OK);
                EXPECT_LE(max_rel(Y.read(gpu, y.size()), y), 1e-5f) << "M " << M << " K " << K << " bias " << with_bias;
            }
}

// The fast forward in bf16 against the CPU on the same bf16 inputs: the GPU rounds the adapter
// term to bf16 before adding the base product (as PEFT does), hence the looser tolerance.
TEST_F(AdaptersGpu, FastForwardBf16MatchesCpu) {
    for (int64_t M : {5, 64, 300}) {
        const int64_t K = 64, N = 48, r = 8;
        auto x = to_bf16(rnd(M * K, 21, 1.0f)), w = to_bf16(rnd(N * K, 22, 0.5f)), a = to_bf16(rnd(r * K, 23, 0.3f)),
             b = to_bf16(rnd(N * r, 24, 0.3f)), bias = to_bf16(rnd(N, 25));
        const int64_t xs[] = {M, K}, ws[] = {N, K}, as[] = {r, K}, bs[] = {N, r}, ns[] = {N}, ys[] = {M, N};
        rai_tensor xc = make_tensor(x.data(), kBF16, xs, 2), wc = make_tensor(w.data(), kBF16, ws, 2),
                   ac = make_tensor(a.data(), kBF16, as, 2), bc = make_tensor(b.data(), kBF16, bs, 2),
                   biasc = make_tensor(bias.data(), kBF16, ns, 1);
        std::vector<uint16_t> y(M * N);
        rai_tensor yc = make_tensor(y.data(), kBF16, ys, 2);
        rai_lora_linear_params p;
        rai_lora_linear_params_init(&p);
        p.scaling = 2.0f;
        ASSERT_EQ(rai_lora_linear_forward(cpu, &p, &xc, &wc, &biasc, &ac, &bc, nullptr, &yc), RAI_OK)
            << rai_last_error_message();
        Dev X(gpu, x, {M, K}, kBF16), W(gpu, w, {N, K}, kBF16), A(gpu, a, {r, K}, kBF16), B(gpu, b, {N, r}, kBF16),
            Bi(gpu, bias, {N}, kBF16), Y(gpu, std::vector<uint16_t>{}, {M, N}, kBF16);
        ASSERT_EQ(rai_lora_linear_forward(gpu, &p, &X.t, &W.t, &Bi.t, &A.t, &B.t, nullptr, &Y.t), RAI_OK)
            << rai_last_error_message();
        ASSERT_EQ(rai_context_synchronize(gpu), RAI_OK);
        EXPECT_LE(max_rel(from_bf16(Y.read_bf16(gpu, y.size())), from_bf16(y)), 2e-2f) << "M " << M;
    }
}

TEST_F(AdaptersGpu, MixedBatchMatchesCpu) {
    const int64_t M = 67, K = 40, N = 24;
    auto x = rnd(M * K, 1), w = rnd(N * K, 2), a0 = rnd(4 * K, 3), b0 = rnd(N * 4, 4), a1 = rnd(16 * K, 5),
         b1 = rnd(N * 16, 6);
    std::vector<int32_t> rows(M);
    for (int64_t i = 0; i < M; ++i) rows[i] = static_cast<int32_t>((i * 5) % 3) - 1;
    const float sc[] = {2.0f, 0.5f};
    const int64_t xs[] = {M, K}, ws[] = {N, K}, a0s[] = {4, K}, b0s[] = {N, 4}, a1s[] = {16, K}, b1s[] = {N, 16},
                  ys[] = {M, N};
    rai_tensor xc = make_tensor(x.data(), kF32, xs, 2), wc = make_tensor(w.data(), kF32, ws, 2),
               a0c = make_tensor(a0.data(), kF32, a0s, 2), b0c = make_tensor(b0.data(), kF32, b0s, 2),
               a1c = make_tensor(a1.data(), kF32, a1s, 2), b1c = make_tensor(b1.data(), kF32, b1s, 2);
    std::vector<float> y(M * N);
    rai_tensor yc = make_tensor(y.data(), kF32, ys, 2);
    const rai_tensor *ac[] = {&a0c, &a1c}, *bc[] = {&b0c, &b1c};
    ASSERT_EQ(rai_lora_linear_forward_mixed(cpu, &xc, &wc, nullptr, 2, ac, bc, sc, rows.data(), &yc), RAI_OK);
    Dev X(gpu, x, {M, K}), W(gpu, w, {N, K}), A0(gpu, a0, {4, K}), B0(gpu, b0, {N, 4}), A1(gpu, a1, {16, K}),
        B1(gpu, b1, {N, 16}), Y(gpu, {}, {M, N});
    const rai_tensor *ag[] = {&A0.t, &A1.t}, *bg[] = {&B0.t, &B1.t};
    ASSERT_EQ(rai_lora_linear_forward_mixed(gpu, &X.t, &W.t, nullptr, 2, ag, bg, sc, rows.data(), &Y.t), RAI_OK)
        << rai_last_error_message();
    ASSERT_EQ(rai_context_synchronize(gpu), RAI_OK);
    EXPECT_LE(max_rel(Y.read(gpu, y.size()), y), 1e-5f);
}

TEST_F(AdaptersGpu, QloraMatchesCpu) {
    const int64_t M = 37, K = 128, N = 40, r = 8;
    auto w = rnd(N * K, 1, 0.5f), x = rnd(M * K, 2), a = rnd(r * K, 3, 0.2f), b = rnd(N * r, 4, 0.2f), dy = rnd(M * N, 5);
    const int64_t ws[] = {N, K}, xs[] = {M, K}, as[] = {r, K}, bs[] = {N, r}, ys[] = {M, N};
    rai_tensor wc = make_tensor(w.data(), kF32, ws, 2), xc = make_tensor(x.data(), kF32, xs, 2),
               ac = make_tensor(a.data(), kF32, as, 2), bc = make_tensor(b.data(), kF32, bs, 2),
               dyc = make_tensor(dy.data(), kF32, ys, 2);
    uint64_t nbytes = 0;
    ASSERT_EQ(rai_q4_codes_size(N * K, &nbytes), RAI_OK);
    std::vector<uint8_t> codes(nbytes);
    const int64_t cs[] = {static_cast<int64_t>(nbytes)};
    rai_tensor cc = make_tensor(codes.data(), kU8, cs, 1);
    rai_q4_params qp;
    rai_q4_params_init(&qp);
    rai_q4_state *sc = nullptr, *sg = nullptr;
    ASSERT_EQ(rai_q4_quantize(cpu, &qp, &wc, &cc, &sc), RAI_OK);
    ASSERT_EQ(rai_q4_state_copy(gpu, sc, &sg), RAI_OK) << rai_last_error_message();
    rai_buffer *cb = nullptr;
    ASSERT_EQ(rai_buffer_create(gpu, nbytes, &cb), RAI_OK);
    ASSERT_EQ(rai_buffer_write(gpu, cb, 0, codes.data(), nbytes), RAI_OK);
    rai_tensor cg = make_tensor(rai_buffer_data(cb), kU8, cs, 1, nullptr, rai_device{RAI_DEVICE_CUDA, 0});
    rai_lora_linear_params p;
    rai_lora_linear_params_init(&p);
    p.scaling = 2.0f;
    std::vector<float> y(M * N), dx(M * K), da(r * K), db(N * r);
    rai_tensor yc = make_tensor(y.data(), kF32, ys, 2), dxc = make_tensor(dx.data(), kF32, xs, 2),
               dac = make_tensor(da.data(), kF32, as, 2), dbc = make_tensor(db.data(), kF32, bs, 2);
    ASSERT_EQ(rai_qlora_linear_forward(cpu, &p, &xc, sc, &cc, nullptr, &ac, &bc, nullptr, &yc), RAI_OK);
    ASSERT_EQ(rai_qlora_linear_backward(cpu, &p, &xc, sc, &cc, &ac, &bc, nullptr, &dyc, &dxc, &dac, &dbc, nullptr), RAI_OK);
    Dev X(gpu, x, {M, K}), A(gpu, a, {r, K}), B(gpu, b, {N, r}), DY(gpu, dy, {M, N}), Y(gpu, {}, {M, N}),
        DX(gpu, {}, {M, K}), DA(gpu, {}, {r, K}), DB(gpu, {}, {N, r});
    ASSERT_EQ(rai_qlora_linear_forward(gpu, &p, &X.t, sg, &cg, nullptr, &A.t, &B.t, nullptr, &Y.t), RAI_OK)
        << rai_last_error_message();
    ASSERT_EQ(rai_qlora_linear_backward(gpu, &p, &X.t, sg, &cg, &A.t, &B.t, nullptr, &DY.t, &DX.t, &DA.t, &DB.t, nullptr),
              RAI_OK)
        << rai_last_error_message();
    ASSERT_EQ(rai_context_synchronize(gpu), RAI_OK);
    EXPECT_LE(max_rel(Y.read(gpu, y.size()), y), 1e-4f);
    EXPECT_LE(max_rel(DX.read(gpu, dx.size()), dx), 1e-4f);
    EXPECT_LE(max_rel(DA.read(gpu, da.size()), da), 1e-5f);
    EXPECT_LE(max_rel(DB.read(gpu, db.size()), db), 1e-5f);
    rai_buffer_destroy(cb);
    rai_q4_state_destroy(sg);
    rai_q4_state_destroy(sc);
}

// The adapter model on a CUDA context against the same model on a CPU context: eval and
// training forward, backward (dx and every gradient), mixed batches, for every scenario.
TEST_F(AdaptersGpu, ModelMatchesCpuOnEveryScenario) {
    for (const PathScenario &sc : device_path_scenarios()) {
        SCOPED_TRACE(sc.name);
        rai_adapter_model *ref = nullptr, *dev = nullptr;
        ASSERT_RAI_OK(rai_adapter_model_create(cpu, &ref));
        ASSERT_RAI_OK(rai_adapter_model_create(gpu, &dev));
        sc.setup(ref);
        sc.setup(dev);
        const float tol = sc.bf16 ? 1e-2f : 1e-4f;
        const rai_dtype dt = sc.bf16 ? kBF16 : kF32;
        const size_t esz = sc.bf16 ? 2 : 4;
        // A device copy of a host activation, and a device output of a shape.
        auto up = [&](const HostAct &a) {
            return std::make_unique<Dev>(gpu, sc.bf16 ? static_cast<const void *>(a.h.data()) : a.f.data(), a.f.size(),
                                         esz, dt, a.shape);
        };
        auto values = [&](const Dev &d, size_t n) { return sc.bf16 ? from_bf16(d.read_bf16(gpu, n)) : d.read(gpu, n); };
        uint32_t seed = 500;
        for (const PathModule &pm : sc.modules) {
            for (int64_t M : {int64_t{7}, int64_t{1}, int64_t{300}}) {
                const std::string at = pm.name + " M=" + std::to_string(M);
                HostAct x({M, pm.in}, seed++, sc.bf16), dy({M, pm.out}, seed++, sc.bf16), y({M, pm.out}, 0, sc.bf16),
                    dx({M, pm.in}, 0, sc.bf16);
                auto X = up(x), DY = up(dy), Y = up(y), DX = up(dx);
                for (int training = 0; training < 2; ++training) {
                    for (rai_adapter_model *m : {ref, dev}) ASSERT_RAI_OK(rai_adapter_model_set_training(m, training));
                    ASSERT_RAI_OK(rai_adapter_forward(ref, pm.name.c_str(), &x.t, &y.t));
                    ASSERT_RAI_OK(rai_adapter_forward(dev, pm.name.c_str(), &X->t, &Y->t));
                    EXPECT_LE(rel_diff(values(*Y, y.f.size()), y.values()), tol) << at << " training " << training;
                }
                ASSERT_RAI_OK(rai_adapter_backward(ref, pm.name.c_str(), &x.t, &dy.t, &dx.t));
                ASSERT_RAI_OK(rai_adapter_backward(dev, pm.name.c_str(), &X->t, &DY->t, &DX->t));
                EXPECT_LE(rel_diff(values(*DX, dx.f.size()), dx.values()), tol) << at << " dx";
                for (rai_adapter_model *m : {ref, dev}) ASSERT_RAI_OK(rai_adapter_model_set_training(m, 0));
            }
        }
        EXPECT_GT(expect_same_grads(ref, dev, sc.bf16 ? 2e-2f : 1e-4f), 0);
        if (!sc.mixed.empty()) {
            const PathModule &pm = sc.modules.front();
            const int64_t M = 301;
            std::vector<int32_t> rows(M);
            for (int64_t i = 0; i < M; ++i) rows[i] = static_cast<int32_t>((i * 5) % (sc.mixed.size() + 1)) - 1;
            std::vector<const char *> names;
            for (const std::string &n : sc.mixed) names.push_back(n.c_str());
            HostAct x({M, pm.in}, seed++, sc.bf16), y({M, pm.out}, 0, sc.bf16);
            auto X = up(x), Y = up(y);
            ASSERT_RAI_OK(rai_adapter_forward_mixed(ref, pm.name.c_str(), &x.t, names.data(), names.size(), rows.data(), &y.t));
            ASSERT_RAI_OK(rai_adapter_forward_mixed(dev, pm.name.c_str(), &X->t, names.data(), names.size(), rows.data(), &Y->t));
            EXPECT_LE(rel_diff(values(*Y, y.f.size()), y.values()), tol) << "mixed";
        }
        rai_adapter_model_destroy(ref);
        rai_adapter_model_destroy(dev);
    }
}

// On a CUDA context: host tensors for the state, device tensors for compute, no 4-bit modules.
TEST_F(AdaptersGpu, ModelOnCudaTakesHostStateAndDeviceActivations) {
    rai_adapter_model *m = nullptr;
    ASSERT_RAI_OK(rai_adapter_model_create(gpu, &m));
    HostT w = random_t({4, 6}, 1);
    ASSERT_RAI_OK(rai_adapter_model_add_linear(m, "l.q_proj", &w, nullptr, 0));
    Dev wd(gpu, w.v, {4, 6});
    EXPECT_RAI_ERROR(rai_adapter_model_add_linear(m, "l.k_proj", &wd.t, nullptr, 0), RAI_ERROR_DEVICE_MISMATCH, "weight");
    HostT x = random_t({2, 6}, 2), y({2, 4});
    EXPECT_RAI_ERROR(rai_adapter_forward(m, "l.q_proj", &x, &y), RAI_ERROR_DEVICE_MISMATCH, "x");
    rai_q4_state *st = nullptr;
    std::vector<uint8_t> codes(12);
    int64_t shape[] = {4, 6}, cshape[] = {12};
    rai_tensor wt = make_tensor(w.v.data(), kF32, shape, 2);
    rai_q4_params qp;
    rai_q4_params_init(&qp);
    qp.blocksize = 64;
    rai_tensor ct = make_tensor(codes.data(), rai_dtype{RAI_DTYPE_UINT, 8, 1}, cshape, 1);
    ASSERT_RAI_OK(rai_q4_quantize(cpu, &qp, &wt, &ct, &st));
    EXPECT_RAI_ERROR(rai_adapter_model_add_linear_q4(m, "l.v_proj", st, &ct, nullptr), RAI_ERROR_UNSUPPORTED,
                     "4-bit modules");
    rai_q4_state_destroy(st);
    rai_adapter_model_destroy(m);
}

}  // namespace
