// Helpers for the ternary/VSA tests: RAII handles, the CPU backends to sweep, random trit data
// and a plain int8 reference implementation of every vector operation (the test oracle).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"
#include "cpu_features.h"
#include "rai.h"

using Trits = std::vector<int8_t>;

// Restores the CPU mask in force at construction (the environment's RAI_CPU_MASK included).
struct MaskGuard {
    uint64_t saved = rai_cpu_features();
    ~MaskGuard() { rai_cpu_set_feature_mask(saved); }
};

struct Backend {
    uint64_t mask;
    const char *name;  // what rai_vsa_cpu_backend() reports under the mask
};

// The scalar reference plus every SIMD backend this machine (and RAI_CPU_MASK) allows.
inline std::vector<Backend> cpu_backends() {
    const uint64_t f = rai_cpu_features();
    std::vector<Backend> out{{0, "scalar"}};
    if ((f & rai::cpu::kAvx2Level) == rai::cpu::kAvx2Level) out.push_back({rai::cpu::kAvx2Level, "avx2"});
    const uint64_t l512 = rai::cpu::kAvx512Level | RAI_CPU_AVX512VPOPCNTDQ;
    if ((f & l512) == l512) out.push_back({l512, "avx512"});
    return out;
}

class TVec {
public:
    explicit TVec(size_t dim) { EXPECT_EQ(rai_tvec_create(dim, &v_), RAI_OK) << rai_last_error_message(); }
    explicit TVec(const Trits &t) : TVec(t.size()) {
        EXPECT_EQ(rai_tvec_import_int8(v_, t.data(), t.size()), RAI_OK) << rai_last_error_message();
    }
    ~TVec() { rai_tvec_destroy(v_); }
    TVec(const TVec &) = delete;
    TVec &operator=(const TVec &) = delete;
    rai_tvec *get() const { return v_; }
    operator rai_tvec *() const { return v_; }
    size_t dim() const {
        size_t d = 0;
        rai_tvec_dim(v_, &d);
        return d;
    }
    Trits trits() const {
        Trits t(dim());
        size_t n = 0;
        EXPECT_EQ(rai_tvec_export_int8(v_, t.data(), t.size(), &n), RAI_OK) << rai_last_error_message();
        return t;
    }

private:
    rai_tvec *v_ = nullptr;
};

class SVec {
public:
    explicit SVec(size_t dim) { EXPECT_EQ(rai_svec_create(dim, &s_), RAI_OK); }
    ~SVec() { rai_svec_destroy(s_); }
    SVec(const SVec &) = delete;
    SVec &operator=(const SVec &) = delete;
    operator rai_svec *() const { return s_; }

private:
    rai_svec *s_ = nullptr;
};

inline Trits random_trits(size_t n, uint64_t seed, int zero_percent = 33) {
    std::mt19937_64 g(seed);
    Trits t(n);
    for (auto &x : t) {
        const int r = static_cast<int>(g() % 100);
        x = r < zero_percent ? 0 : ((g() & 1) ? 1 : -1);
    }
    return t;
}

// ---- int8 reference (the obvious definitions of reference section 3.4)
inline int8_t mod3_balanced(int v) {
    int r = ((v % 3) + 3) % 3;
    return static_cast<int8_t>(r == 2 ? -1 : r);
}
inline Trits ref_bind(const Trits &a, const Trits &b) {
    Trits o(a.size());
    for (size_t i = 0; i < a.size(); ++i) o[i] = mod3_balanced(a[i] - b[i]);
    return o;
}
inline Trits ref_unbind(const Trits &c, const Trits &b) {
    Trits o(c.size());
    for (size_t i = 0; i < c.size(); ++i) o[i] = mod3_balanced(c[i] + b[i]);
    return o;
}
inline Trits ref_mul(const Trits &a, const Trits &b) {
    Trits o(a.size());
    for (size_t i = 0; i < a.size(); ++i) o[i] = static_cast<int8_t>(a[i] * b[i]);
    return o;
}
inline int8_t sign_of(long long v) { return static_cast<int8_t>(v > 0 ? 1 : (v < 0 ? -1 : 0)); }
inline Trits ref_bundle(const std::vector<Trits> &vs, const std::vector<int32_t> &w = {}) {
    Trits o(vs[0].size());
    for (size_t i = 0; i < o.size(); ++i) {
        long long s = 0;
        for (size_t k = 0; k < vs.size(); ++k) s += static_cast<long long>(w.empty() ? 1 : w[k]) * vs[k][i];
        o[i] = sign_of(s);
    }
    return o;
}
inline long long ref_dot(const Trits &a, const Trits &b) {
    long long d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += a[i] * b[i];
    return d;
}
inline size_t ref_hamming(const Trits &a, const Trits &b) {
    size_t d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
    return d;
}
inline size_t ref_nnz(const Trits &a) {
    size_t n = 0;
    for (auto x : a) n += x != 0;
    return n;
}
inline Trits ref_permute(const Trits &v, long long shift) {
    const long long n = static_cast<long long>(v.size());
    Trits o(v.size());
    for (long long i = 0; i < n; ++i) o[static_cast<size_t>((((i + shift) % n) + n) % n)] = v[static_cast<size_t>(i)];
    return o;
}
inline Trits parse_trits(const std::string &s) {
    Trits t;
    for (char c : s) t.push_back(static_cast<int8_t>(c == '+' ? 1 : (c == '-' ? -1 : 0)));
    return t;
}

// A CPU context and a matrix on it, destroyed at scope exit.
class Ctx {
public:
    Ctx() : c_(make_cpu_context()) {}
    ~Ctx() { rai_context_destroy(c_); }
    operator rai_context *() const { return c_; }

private:
    rai_context *c_;
};

class Mat {
public:
    Mat(rai_context *ctx, size_t rows, size_t dim) { EXPECT_RAI_OK(rai_vsa_matrix_create(ctx, rows, dim, &m_)); }
    ~Mat() { rai_vsa_matrix_destroy(m_); }
    operator rai_vsa_matrix *() const { return m_; }

private:
    rai_vsa_matrix *m_ = nullptr;
};
