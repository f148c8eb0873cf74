// Helpers shared by the 4-bit tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"
#include "q4_format.h"

// The 4-bit kernels' element type of a tensor dtype (f32, bf16 or f16).
inline rai::q4::Elem elem_of(const rai_dtype &d) {
    if (d.bits == 32) return rai::q4::Elem::F32;
    return d.code == RAI_DTYPE_BFLOAT ? rai::q4::Elem::BF16 : rai::q4::Elem::F16;
}

constexpr rai_dtype kF16{RAI_DTYPE_FLOAT, 16, 1};
constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};

inline std::string to_hex(const uint8_t *p, size_t n) {
    static const char *d = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

inline std::vector<float> normal_floats(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float &x : v) x = dist(rng);
    return v;
}

// Restores the CPU feature mask at scope end.
class CpuMaskGuard {
public:
    ~CpuMaskGuard() { rai_cpu_set_feature_mask(~uint64_t{0}); }
};

// A context, quantise and dequantise through the public API.
struct Q4Run {
    std::vector<uint8_t> codes;
    rai_q4_state *state = nullptr;
    ~Q4Run() { rai_q4_state_destroy(state); }
};

inline rai_status q4_quantize_host(rai_context *ctx, const void *data, rai_dtype dt, std::vector<int64_t> shape,
                                   int32_t type, int32_t bs, int32_t dq, Q4Run &out) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    out.codes.assign(static_cast<size_t>((n + 1) / 2), 0);
    rai_tensor src = make_tensor(const_cast<void *>(data), dt, shape.data(), static_cast<int32_t>(shape.size()));
    int64_t cshape[1] = {(n + 1) / 2};
    rai_tensor codes = make_tensor(out.codes.data(), kU8, cshape, 1);
    rai_q4_params p;
    rai_q4_params_init(&p);
    p.type = type;
    p.blocksize = bs;
    p.double_quant = dq;
    return rai_q4_quantize(ctx, &p, &src, &codes, &out.state);
}

inline std::vector<float> q4_dequantize_host(rai_context *ctx, Q4Run &run, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    int64_t s[1] = {n}, cs[1] = {static_cast<int64_t>(run.codes.size())};
    rai_tensor dst = make_tensor(out.data(), kF32, s, 1);
    rai_tensor codes = make_tensor(run.codes.data(), kU8, cs, 1);
    EXPECT_EQ(rai_q4_dequantize(ctx, run.state, &codes, &dst), RAI_OK) << rai_last_error_message();
    return out;
}
