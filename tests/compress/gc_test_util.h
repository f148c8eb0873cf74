// Helpers shared by the gradient-compression tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "../unit/test_helpers.h"

constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kF16{RAI_DTYPE_FLOAT, 16, 1};

inline rai_gc_params gc_params(int32_t method) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = method;
    p.seed = 1234;
    return p;
}

inline rai_gc *make_gc(rai_context *ctx, const rai_gc_params &p) {
    rai_gc *gc = nullptr;
    EXPECT_EQ(rai_gc_create(ctx, &p, &gc), RAI_OK) << rai_last_error_message();
    return gc;
}

// A dense host gradient of a given shape (f32 values, and a bf16 copy when asked).
struct Grad {
    std::vector<int64_t> shape;
    std::vector<float> f;
    std::vector<uint16_t> h;
    rai_dtype dtype{RAI_DTYPE_FLOAT, 32, 1};
    size_t n() const { return f.size(); }
    rai_tensor t() {
        return make_tensor(dtype.bits == 16 ? static_cast<void *>(h.data()) : static_cast<void *>(f.data()), dtype,
                           shape.data(), static_cast<int32_t>(shape.size()));
    }
    std::vector<float> values() const {
        if (dtype.bits == 32) return f;
        std::vector<float> v(h.size());
        for (size_t i = 0; i < h.size(); ++i) {
            const uint32_t u = static_cast<uint32_t>(h[i]) << 16;
            std::memcpy(&v[i], &u, 4);
        }
        return v;
    }
};

inline uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

inline Grad random_grad(std::vector<int64_t> shape, uint32_t seed, bool bf16 = false, float scale = 1.0f) {
    Grad g;
    g.shape = shape;
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    g.f.resize(n);
    for (float &v : g.f) v = nd(rng);
    if (bf16) {
        g.dtype = kBF16;
        g.h.resize(n);
        for (size_t i = 0; i < n; ++i) g.h[i] = to_bf16(g.f[i]);
    }
    return g;
}

inline Grad zeros_like(const Grad &g) {
    Grad z = g;
    std::fill(z.f.begin(), z.f.end(), 0.0f);
    std::fill(z.h.begin(), z.h.end(), 0);
    return z;
}

inline std::vector<uint8_t> compress_msg(rai_gc *gc, uint32_t id, Grad &g) {
    size_t need = 0;
    rai_tensor t = g.t();
    EXPECT_EQ(rai_gc_compress(gc, id, &t, nullptr, 0, &need), RAI_OK) << rai_last_error_message();
    std::vector<uint8_t> msg(need);
    size_t written = 0;
    EXPECT_EQ(rai_gc_compress(gc, id, &t, msg.data(), msg.size(), &written), RAI_OK) << rai_last_error_message();
    EXPECT_EQ(written, need);
    return msg;
}

inline double cosine(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0, x = 0, y = 0;
    for (size_t i = 0; i < a.size(); ++i) d += double(a[i]) * b[i], x += double(a[i]) * a[i], y += double(b[i]) * b[i];
    return (x > 0 && y > 0) ? d / std::sqrt(x * y) : 0.0;
}
inline double rel_error(const std::vector<float> &ref, const std::vector<float> &got) {
    double e = 0, r = 0;
    for (size_t i = 0; i < ref.size(); ++i) e += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]), r += double(ref[i]) * ref[i];
    return r > 0 ? std::sqrt(e / r) : 0.0;
}

constexpr int32_t kAllMethods[] = {RAI_GC_NONE,          RAI_GC_TOPK, RAI_GC_SIGN,     RAI_GC_TERNARY,
                                   RAI_GC_TERNARY_STOCH, RAI_GC_QSGD, RAI_GC_POWERSGD, RAI_GC_VSA_COMPAT};
