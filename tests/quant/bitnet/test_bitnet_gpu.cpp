// BitNet on CUDA (meson test --suite gpu): GPU == CPU. Integer outputs (activation codes, raw
// integer dots), scales and W2A8 outputs are bit-identical; float-activation paths agree within
// the stated tolerance. Skips without a CUDA device.
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "bitnet_test_util.h"

namespace {

// A device copy of a host tensor (or an empty device tensor of a shape).
struct Dev {
    rai_buffer *buf = nullptr;
    std::vector<int64_t> shape;
    rai_tensor t{};
    size_t bytes = 0;
    rai_context *ctx = nullptr;

    Dev(rai_context *c, std::vector<int64_t> s, rai_dtype dt) : shape(std::move(s)), ctx(c) {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        bytes = n * dt.bits / 8;
        EXPECT_EQ(rai_buffer_create(ctx, bytes > 0 ? bytes : 1, &buf), RAI_OK) << rai_last_error_message();
        t = make_tensor(rai_buffer_data(buf), dt, shape.data(), static_cast<int32_t>(shape.size()), nullptr,
                        rai_device{RAI_DEVICE_CUDA, 0});
    }
    template <class T>
    Dev(rai_context *c, const Host<T> &h) : Dev(c, h.shape, h.t.dtype) {
        EXPECT_EQ(rai_buffer_write(ctx, buf, 0, h.data.data(), bytes), RAI_OK) << rai_last_error_message();
    }
    ~Dev() { rai_buffer_destroy(buf); }
    Dev(const Dev &) = delete;
    Dev &operator=(const Dev &) = delete;
    rai_tensor *operator&() { return &t; }
    template <class T>
    std::vector<T> read() {
        std::vector<T> v(bytes / sizeof(T));
        EXPECT_EQ(rai_context_synchronize(ctx), RAI_OK) << rai_last_error_message();
        EXPECT_EQ(rai_buffer_read(ctx, buf, 0, v.data(), bytes), RAI_OK) << rai_last_error_message();
        return v;
    }
};

class BitnetGpu : public GpuVsCpu {};

rai_bitnet_act_params act(int32_t bits, int32_t mode, int32_t round_mode, int32_t per_tensor) {
    rai_bitnet_act_params p;
    rai_bitnet_act_params_init(&p);
    p.bits = bits;
    p.scale_mode = mode;
    p.round_mode = round_mode;
    p.per_tensor = per_tensor;
    return p;
}

struct Weight {
    rai_ternary_weight *w = nullptr;
    ~Weight() { rai_ternary_weight_destroy(w); }
};

}  // namespace

TEST_F(BitnetGpu, ActivationQuantizationIsBitIdentical) {
    const int64_t tokens = 37, hidden = 1000;
    F32 x = randn({tokens, hidden}, 1, 3.0f);
    x[17] = 0.0f;
    for (int64_t i = 0; i < hidden; ++i) x[size_t(5 * hidden + i)] = 0.0f;  // an all-zero token
    Host<uint16_t> xb({tokens, hidden}, kBF16);
    for (size_t i = 0; i < x.size(); ++i) xb[i] = to_bf16(x[i]);
    Dev dx(gpu, x), dxb(gpu, xb);
    for (int32_t bits : {2, 4, 8})
        for (int32_t mode : {RAI_BITNET_ACT_RUST, RAI_BITNET_ACT_OFFICIAL})
            for (int32_t rnd : {RAI_BITNET_ROUND_HALF_AWAY, RAI_BITNET_ROUND_HALF_EVEN})
                for (int32_t per_tensor : {0, 1})
                    for (int bf : {0, 1}) {
                        const rai_bitnet_act_params p = act(bits, mode, rnd, per_tensor);
                        const int64_t ns = per_tensor ? 1 : tokens;
                        I8 q = i8({tokens, hidden});
                        F32 s = f32({ns});
                        ASSERT_RAI_OK(rai_bitnet_quantize_activations(cpu, &p, bf ? &xb.t : &x.t, &q, &s));
                        Dev dq(gpu, {tokens, hidden}, kI8), ds(gpu, {ns}, kF32);
                        ASSERT_RAI_OK(rai_bitnet_quantize_activations(gpu, &p, bf ? &dxb : &dx, &dq, &ds));
                        const std::string what = "bits " + std::to_string(bits) + " mode " + std::to_string(mode) +
                                                 " round " + std::to_string(rnd) + " per_tensor " +
                                                 std::to_string(per_tensor) + " bf16 " + std::to_string(bf);
                        EXPECT_EQ(dq.read<int8_t>(), q.data) << what;
                        EXPECT_EQ(ds.read<float>(), s.data) << what;
                        // dequantize on both
                        F32 xd = f32({tokens, hidden});
                        ASSERT_RAI_OK(rai_bitnet_dequantize_activations(cpu, &p, &q, &s, &xd));
                        Dev dxd(gpu, {tokens, hidden}, kF32);
                        ASSERT_RAI_OK(rai_bitnet_dequantize_activations(gpu, &p, &dq, &ds, &dxd));
                        EXPECT_EQ(dxd.read<float>(), xd.data) << what;
                    }
}

TEST_F(BitnetGpu, RmsNormQuantizeIsBitIdentical) {
    for (int64_t hidden : {int64_t{1}, int64_t{255}, int64_t{2560}, int64_t{6912}}) {
        const int64_t tokens = 13;
        F32 x = randn({tokens, hidden}, 2, 2.0f);
        F32 gamma = randn({hidden}, 3);
        Dev dx(gpu, x), dg(gpu, gamma);
        for (int use_gamma : {0, 1}) {
            I8 q = i8({tokens, hidden});
            F32 s = f32({tokens});
            ASSERT_RAI_OK(rai_bitnet_rmsnorm_quantize(cpu, nullptr, &x, use_gamma ? &gamma.t : nullptr, 1e-6f, &q, &s));
            Dev dq(gpu, {tokens, hidden}, kI8), ds(gpu, {tokens}, kF32);
            ASSERT_RAI_OK(rai_bitnet_rmsnorm_quantize(gpu, nullptr, &dx, use_gamma ? &dg.t : nullptr, 1e-6f, &dq, &ds));
            EXPECT_EQ(dq.read<int8_t>(), q.data) << "hidden " << hidden;
            EXPECT_EQ(ds.read<float>(), s.data) << "hidden " << hidden;
        }
    }
}

TEST_F(BitnetGpu, SteIsBitIdentical) {
    F32 x = randn({3, 777}, 4, 3.0f);
    Dev dx(gpu, x), dy(gpu, {3, 777}, kF32);
    for (int32_t rnd : {0, 1}) {
        F32 y = f32({3, 777});
        ASSERT_RAI_OK(rai_bitnet_ste_forward(cpu, &x, 0.5f, -1.0f, 1.0f, rnd, &y));
        ASSERT_RAI_OK(rai_bitnet_ste_forward(gpu, &dx, 0.5f, -1.0f, 1.0f, rnd, &dy));
        EXPECT_EQ(dy.read<float>(), y.data);
    }
    Dev dg(gpu, {3, 777}, kF32);
    ASSERT_RAI_OK(rai_bitnet_ste_backward(gpu, &dx, &dg));
    EXPECT_EQ(dg.read<float>(), x.data);
}

TEST_F(BitnetGpu, WeightLivesOnTheDevice) {
    I8 t = rand_trits({5, 300}, 5);
    F32 s = rand_scales({5, 3}, 6);
    Weight w;
    ASSERT_RAI_OK(rai_ternary_weight_create(gpu, &t, &s, &w.w));
    rai_ternary_weight_info info;
    rai_ternary_weight_info_init(&info);
    ASSERT_RAI_OK(rai_ternary_weight_get_info(w.w, &info));
    EXPECT_EQ(info.device.device_type, RAI_DEVICE_CUDA);
    I8 back = i8({5, 300});
    F32 sb = f32({5, 3});
    ASSERT_RAI_OK(rai_ternary_weight_unpack(gpu, w.w, &back, &sb));
    EXPECT_EQ(back.data, t.data);
    EXPECT_EQ(sb.data, s.data);
    // a CPU weight with a GPU context, and host tensors with a GPU context
    Weight wc;
    ASSERT_RAI_OK(rai_ternary_weight_create(cpu, &t, &s, &wc.w));
    Dev dx(gpu, {1, 300}, kF32), dy(gpu, {1, 5}, kF32);
    EXPECT_RAI_ERROR(rai_ternary_gemm(gpu, wc.w, &dx, nullptr, nullptr, nullptr, &dy), RAI_ERROR_DEVICE_MISMATCH,
                     "weight lives on the CPU");
    F32 hx = f32({1, 300});
    EXPECT_RAI_ERROR(rai_ternary_gemm(gpu, w.w, &hx, nullptr, nullptr, nullptr, &dy), RAI_ERROR_DEVICE_MISMATCH, "x");
    // weight quantization is a CPU operation
    F32 wf = randn({4, 64}, 7);
    Dev dwf(gpu, wf), dt(gpu, {4, 64}, kI8), ds(gpu, {4, 1}, kF32);
    EXPECT_RAI_ERROR(rai_bitnet_quantize_weights(gpu, nullptr, &dwf, &dt, &ds), RAI_ERROR_UNSUPPORTED, "CPU only");
}

TEST_F(BitnetGpu, GemmMatchesCpu) {
    struct Case {
        int64_t n, k;
        std::vector<int64_t> ss;
    } cases[] = {{1, 1, {1}},           {7, 31, {7}},           {33, 257, {1}},        {20, 256, {20, 8}},
                 {9, 384, {9, 6}},      {5, 96, {5, 32}},       {3, 65537, {3}},       {300, 2560, {1}},
                 {129, 2560, {129, 40}}, {64, 6912, {64}}};
    uint32_t seed = 50;
    for (const Case &c : cases) {
        I8 t = rand_trits({c.n, c.k}, ++seed);
        F32 s = rand_scales(c.ss, ++seed);
        Weight wc, wg;
        ASSERT_RAI_OK(rai_ternary_weight_create(cpu, &t, &s, &wc.w));
        ASSERT_RAI_OK(rai_ternary_weight_create(gpu, &t, &s, &wg.w));
        F32 bias = randn({c.n}, ++seed);
        Dev dbias(gpu, bias);
        for (int64_t m : {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{33}, int64_t{130}}) {
            if (m * c.k > 3000000) continue;
            const std::string what = std::to_string(c.n) + "x" + std::to_string(c.k) + " m=" + std::to_string(m) +
                                     " scales=" + std::to_string(s.size());
            F32 x = randn({m, c.k}, ++seed);
            Host<uint16_t> xb({m, c.k}, kBF16);
            for (size_t i = 0; i < x.size(); ++i) xb[i] = to_bf16(x[i]);
            I8 q = rand_i8({m, c.k}, ++seed);
            F32 xs = rand_scales({m}, ++seed);
            Dev dx(gpu, x), dxb(gpu, xb), dq(gpu, q), dxs(gpu, xs);
            // raw integer dot: bit-identical
            I32 yi = i32({m, c.n});
            ASSERT_RAI_OK(rai_ternary_gemm(cpu, wc.w, &q, nullptr, nullptr, nullptr, &yi));
            Dev dyi(gpu, {m, c.n}, kI32);
            ASSERT_RAI_OK(rai_ternary_gemm(gpu, wg.w, &dq, nullptr, nullptr, nullptr, &dyi));
            EXPECT_EQ(dyi.read<int32_t>(), yi.data) << what;
            // W2A8: exact int32 group sums and the same float epilogue order: bit-identical
            for (int32_t mode : {RAI_BITNET_ACT_RUST, RAI_BITNET_ACT_OFFICIAL}) {
                const rai_bitnet_act_params ap = act(8, mode, 0, 0);
                F32 yw = f32({m, c.n});
                ASSERT_RAI_OK(rai_ternary_gemm(cpu, wc.w, &q, &xs, &ap, &bias, &yw));
                Dev dyw(gpu, {m, c.n}, kF32);
                ASSERT_RAI_OK(rai_ternary_gemm(gpu, wg.w, &dq, &dxs, &ap, &dbias, &dyw));
                EXPECT_EQ(dyw.read<float>(), yw.data) << what << " mode " << mode;
            }
            // f32 and bf16 activations: float tolerance
            for (int bf : {0, 1}) {
                F32 yf = f32({m, c.n});
                ASSERT_RAI_OK(rai_ternary_gemm(cpu, wc.w, bf ? &xb.t : &x.t, nullptr, nullptr, &bias, &yf));
                Dev dyf(gpu, {m, c.n}, kF32);
                ASSERT_RAI_OK(rai_ternary_gemm(gpu, wg.w, bf ? &dxb : &dx, nullptr, nullptr, &dbias, &dyf));
                const std::vector<float> g = dyf.read<float>();
                for (int64_t b = 0; b < m; ++b)
                    for (int64_t o = 0; o < c.n; ++o) {
                        double mag = std::fabs(bias[size_t(o)]) + 1.0;
                        for (int64_t i = 0; i < c.k; ++i)
                            mag += std::fabs(x[size_t(b * c.k + i)]) * s[scale_index(c.ss, c.n, c.k, o, i)];
                        ASSERT_NEAR(g[size_t(b * c.n + o)], yf[size_t(b * c.n + o)], 4e-6 * mag) << what << " bf16 " << bf;
                    }
            }
        }
    }
}

TEST_F(BitnetGpu, BitLinearMatchesCpuInEveryMode) {
    const int64_t out = 320, in = 2560, tokens = 5;
    F32 weight = randn({out, in}, 60, 0.03f);
    F32 bias = randn({out}, 61);
    F32 x = randn({tokens, in}, 62);
    for (int32_t gran : {RAI_BITNET_GRANULARITY_TENSOR, RAI_BITNET_GRANULARITY_GROUP}) {
        rai_bitnet_weight_params wp;
        rai_bitnet_weight_params_init(&wp);
        wp.granularity = gran;
        for (int32_t mode : {RAI_BITNET_ACT_RUST, RAI_BITNET_ACT_OFFICIAL}) {
            const rai_bitnet_act_params ap = act(8, mode, 0, 0);
            rai_bitlinear *lc = nullptr, *lg = nullptr;
            ASSERT_RAI_OK(rai_bitlinear_create(cpu, &wp, &ap, &weight, &bias, &lc));
            ASSERT_RAI_OK(rai_bitlinear_create(gpu, &wp, &ap, &weight, &bias, &lg));
            Dev dx(gpu, x);
            for (int32_t lm : {RAI_BITLINEAR_WFP, RAI_BITLINEAR_FAKEQ, RAI_BITLINEAR_W2A8}) {
                F32 y = f32({tokens, out});
                ASSERT_RAI_OK(rai_bitlinear_forward(cpu, lc, lm, &x, &y));
                Dev dy(gpu, {tokens, out}, kF32);
                ASSERT_RAI_OK(rai_bitlinear_forward(gpu, lg, lm, &dx, &dy));
                const std::vector<float> g = dy.read<float>();
                const bool exact = lm == RAI_BITLINEAR_W2A8;
                for (size_t i = 0; i < g.size(); ++i) {
                    if (exact) ASSERT_EQ(g[i], y[i]) << "mode " << lm;
                    else ASSERT_NEAR(g[i], y[i], 2e-4 * (std::fabs(y[i]) + 1.0)) << "mode " << lm << " i " << i;
                }
            }
            rai_bitlinear_destroy(lc);
            rai_bitlinear_destroy(lg);
        }
    }
}
