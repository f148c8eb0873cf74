// Helpers for the BitNet tests: owning host tensors, seeded random data, reference math.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "../../unit/test_helpers.h"

constexpr rai_dtype kI8{RAI_DTYPE_INT, 8, 1};
constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kF16{RAI_DTYPE_FLOAT, 16, 1};

// A host tensor that owns its data and shape.
template <class T>
struct Host {
    std::vector<T> data;
    std::vector<int64_t> shape;
    rai_tensor t{};

    Host() = default;
    Host(std::vector<int64_t> s, rai_dtype dt) : shape(std::move(s)) {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        data.assign(n, T{});
        t = make_tensor(data.data(), dt, shape.data(), static_cast<int32_t>(shape.size()));
    }
    Host(std::vector<int64_t> s, rai_dtype dt, std::vector<T> values) : Host(std::move(s), dt) {
        EXPECT_EQ(values.size(), data.size());
        data = std::move(values);
        t.data = data.data();
    }
    Host(const Host &) = delete;
    Host &operator=(const Host &) = delete;
    Host(Host &&o) noexcept { *this = std::move(o); }
    Host &operator=(Host &&o) noexcept {
        data = std::move(o.data);
        shape = std::move(o.shape);
        t = o.t;
        t.data = data.data();
        t.shape = shape.data();
        return *this;
    }
    rai_tensor *operator&() { return &t; }
    size_t size() const { return data.size(); }
    T &operator[](size_t i) { return data[i]; }
    const T &operator[](size_t i) const { return data[i]; }
};

using F32 = Host<float>;
using I8 = Host<int8_t>;
using U8 = Host<uint8_t>;
using I32 = Host<int32_t>;

inline F32 f32(std::vector<int64_t> s) { return F32(std::move(s), kF32); }
inline F32 f32(std::vector<int64_t> s, std::vector<float> v) { return F32(std::move(s), kF32, std::move(v)); }
inline I8 i8(std::vector<int64_t> s) { return I8(std::move(s), kI8); }
inline I8 i8(std::vector<int64_t> s, std::vector<int8_t> v) { return I8(std::move(s), kI8, std::move(v)); }
inline U8 u8(std::vector<int64_t> s) { return U8(std::move(s), kU8); }
inline I32 i32(std::vector<int64_t> s) { return I32(std::move(s), kI32); }

inline F32 randn(std::vector<int64_t> s, uint32_t seed, float scale = 1.0f) {
    F32 t = f32(std::move(s));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto &v : t.data) v = nd(rng) * scale;
    return t;
}

inline I8 rand_trits(std::vector<int64_t> s, uint32_t seed) {
    I8 t = i8(std::move(s));
    std::mt19937 rng(seed);
    for (auto &v : t.data) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    return t;
}

inline I8 rand_i8(std::vector<int64_t> s, uint32_t seed, int lo = -128, int hi = 127) {
    I8 t = i8(std::move(s));
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(lo, hi);
    for (auto &v : t.data) v = static_cast<int8_t>(d(rng));
    return t;
}

// Positive scales of the given shape.
inline F32 rand_scales(std::vector<int64_t> s, uint32_t seed) {
    F32 t = f32(std::move(s));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(0.01f, 0.2f);
    for (auto &v : t.data) v = d(rng);
    return t;
}

inline uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float from_bf16(uint16_t b) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Scale index of weight element (r, c) for a scale tensor of `scale_shape` and [rows, cols].
inline size_t scale_index(const std::vector<int64_t> &ss, int64_t rows, int64_t cols, int64_t r, int64_t c) {
    if (ss.size() == 2) return static_cast<size_t>(r * ss[1] + c / (cols / ss[1]));
    if (ss.size() == 1 && ss[0] == rows) return static_cast<size_t>(r);
    return 0;
}

struct CpuCtx {
    rai_context *ctx = make_cpu_context();
    ~CpuCtx() { rai_context_destroy(ctx); }
    operator rai_context *() const { return ctx; }
};

// Restores the CPU feature mask at the end of a scope.
struct MaskGuard {
    uint64_t saved = rai_cpu_features();
    ~MaskGuard() { rai_cpu_set_feature_mask(saved); }
};
