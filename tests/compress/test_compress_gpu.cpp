// GPU suite for gradient compression: on a CUDA device, GPU messages equal CPU messages for the
// deterministic methods (and for the counter-RNG stochastic ones), decode agrees, and PowerSGD
// agrees within float tolerance. Skips without a device.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../unit/test_helpers.h"

namespace {

class GcGpu : public GpuVsCpu {};

struct DeviceBuf {
    DeviceBuf(rai_context *ctx, size_t bytes) { EXPECT_EQ(rai_buffer_create(ctx, bytes, &b), RAI_OK); }
    ~DeviceBuf() { rai_buffer_destroy(b); }
    rai_buffer *b = nullptr;
};

std::vector<float> awkward_values(size_t n, uint32_t seed) {
    std::vector<float> v(n);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; ++i) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const double u = (static_cast<double>(s >> 11) + 0.5) / 9007199254740992.0;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const double w = static_cast<double>(s >> 11) / 9007199254740992.0;
        v[i] = static_cast<float>(std::sqrt(-2 * std::log(u)) * std::cos(6.283185307 * w));
    }
    return v;
}

// Compresses the same gradients on the GPU and on the CPU and compares the messages.
void compare(rai_context *gpu, rai_context *cpu, int32_t method, std::vector<int64_t> shape, bool exact,
             float ratio = 0.0f, float momentum = 0.0f) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = method;
    p.seed = 7;
    p.ratio = ratio;
    p.momentum = momentum;
    if (momentum != 0.0f) p.error_feedback = RAI_GC_EF_ON;
    rai_gc *g = nullptr, *c = nullptr;
    ASSERT_RAI_OK(rai_gc_create(gpu, &p, &g));
    ASSERT_RAI_OK(rai_gc_create(cpu, &p, &c));
    std::vector<float> host = awkward_values(n, 1);
    DeviceBuf dev(gpu, n * 4 + 4);
    rai_tensor th = make_tensor(host.data(), kF32, shape.data(), static_cast<int32_t>(shape.size()));
    rai_tensor td = th;
    td.data = rai_buffer_data(dev.b);
    td.device = {RAI_DEVICE_CUDA, 0};
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(g, "t", &td, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(c, "t", &th, &id));
    for (int step = 0; step < 3; ++step) {
        SCOPED_TRACE("method " + std::to_string(method) + " n " + std::to_string(n) + " step " + std::to_string(step));
        const std::vector<float> fresh = awkward_values(n, 10 + step);
        std::copy(fresh.begin(), fresh.end(), host.begin());  // th views host's storage: keep it
        ASSERT_RAI_OK(rai_buffer_write(gpu, dev.b, 0, host.data(), n * 4));
        size_t mg = 0, mc = 0;
        ASSERT_RAI_OK(rai_gc_max_message_size(g, 0, &mg));
        std::vector<uint8_t> bg(mg), bc(mg);
        ASSERT_RAI_OK(rai_gc_compress(g, 0, &td, bg.data(), bg.size(), &mg));
        ASSERT_RAI_OK(rai_gc_compress(c, 0, &th, bc.data(), bc.size(), &mc));
        ASSERT_EQ(mg, mc);
        bg.resize(mg);
        bc.resize(mc);
        if (exact) {
            // header and payload identical except float scales, which may differ in the last bits
            EXPECT_EQ(std::memcmp(bg.data(), bc.data(), 40), 0);
        }
        if (exact && (method == RAI_GC_NONE || method == RAI_GC_TOPK)) {
            EXPECT_EQ(bg, bc);  // raw values and top-k (index, value) pairs: no float sums involved
        }
        // Decode the CPU message on the GPU and the GPU message on the CPU: same values.
        std::vector<float> out_g(n), out_c(n);
        ASSERT_RAI_OK(rai_gc_decompress(g, 0, bc.data(), bc.size(), &td));
        ASSERT_RAI_OK(rai_buffer_read(gpu, dev.b, 0, out_g.data(), n * 4));
        rai_tensor tc = th;
        tc.data = out_c.data();
        ASSERT_RAI_OK(rai_gc_decompress(c, 0, bc.data(), bc.size(), &tc));
        for (size_t i = 0; i < n; ++i) ASSERT_NEAR(out_g[i], out_c[i], 1e-5f * (1 + std::fabs(out_c[i]))) << i;
        ASSERT_RAI_OK(rai_gc_decompress(c, 0, bg.data(), bg.size(), &tc));
        double diff = 0, ref = 0;
        for (size_t i = 0; i < n; ++i) {
            diff += std::fabs(double(out_c[i]) - out_g[i]);
            ref += std::fabs(double(out_g[i]));
        }
        if (exact) {
            EXPECT_LE(diff, 1e-4 * (1 + ref));  // GPU and CPU messages decode the same
        } else {
            EXPECT_LE(diff, 1e-2 * (1 + ref));  // PowerSGD: matmul rounding only
        }
    }
    rai_gc_stats sg, sc;
    rai_gc_stats_init(&sg);
    rai_gc_stats_init(&sc);
    ASSERT_RAI_OK(rai_gc_get_stats(g, 0, &sg));
    ASSERT_RAI_OK(rai_gc_get_stats(c, 0, &sc));
    EXPECT_EQ(sg.bits_out, sc.bits_out);
    EXPECT_NEAR(sg.ef_norm, sc.ef_norm, 1e-3 * (1 + sc.ef_norm));
    rai_gc_destroy(g);
    rai_gc_destroy(c);
}

}  // namespace

TEST_F(GcGpu, DeterministicMethodsMatchTheCpu) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{1}, {31}, {33}, {65537}, {300, 129}}) {
        compare(gpu, cpu, RAI_GC_NONE, shape, true);
        compare(gpu, cpu, RAI_GC_TOPK, shape, true, 0.01f);
        compare(gpu, cpu, RAI_GC_TOPK, shape, true, 0.5f);
        compare(gpu, cpu, RAI_GC_SIGN, shape, true);
        compare(gpu, cpu, RAI_GC_TERNARY, shape, true);
    }
}

// Momentum correction: the velocity update and top-k's momentum-factor masking run on the device;
// the messages of three steps must equal the CPU's.
TEST_F(GcGpu, MomentumCorrectionMatchesTheCpu) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{33}, {65537}, {300, 129}}) {
        compare(gpu, cpu, RAI_GC_NONE, shape, true, 0.0f, 0.9f);
        compare(gpu, cpu, RAI_GC_TOPK, shape, true, 0.01f, 0.9f);
        compare(gpu, cpu, RAI_GC_SIGN, shape, true, 0.0f, 0.9f);
    }
    compare(gpu, cpu, RAI_GC_POWERSGD, {256, 96}, false, 0.0f, 0.9f);
}

TEST_F(GcGpu, CounterRngMethodsMatchTheCpu) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{33}, {65537}}) {
        compare(gpu, cpu, RAI_GC_TERNARY_STOCH, shape, true);
        compare(gpu, cpu, RAI_GC_QSGD, shape, true);
    }
}

TEST_F(GcGpu, PowerSgdMatchesTheCpuWithinTolerance) {
    compare(gpu, cpu, RAI_GC_POWERSGD, {256, 96}, false);
    compare(gpu, cpu, RAI_GC_POWERSGD, {33, 31, 2}, false);
}

TEST_F(GcGpu, VsaCompatIsCpuOnly) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = RAI_GC_VSA_COMPAT;
    rai_gc *g = nullptr;
    EXPECT_RAI_ERROR(rai_gc_create(gpu, &p, &g), RAI_ERROR_UNSUPPORTED, "VSA_COMPAT");
    EXPECT_EQ(g, nullptr);
}
