// Host implementation of the adapter model's device primitives (src/adapters/device_ops.h):
// plain loops over host memory, so that the device path's orchestration (model_device.cpp) runs
// on a machine without a GPU and can be compared with the reference model. Test-only.
#pragma once
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../../src/adapters/device_ops.h"
#include "../../src/adapters/rng.h"

namespace rai::adapters {

class HostOps final : public Ops {
public:
    int64_t allocations = 0, live = 0;  // for the tests' leak check

    void *alloc(std::size_t bytes) override {
        ++allocations, ++live;
        // Poisoned, so that a read before a write shows up as NaN.
        void *p = std::malloc(bytes == 0 ? 1 : bytes);
        std::memset(p, 0xff, bytes);
        return p;
    }
    void release(void *p) noexcept override {
        --live;
        std::free(p);
    }
    void upload(void *dst, const void *src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
    void download(void *dst, const void *src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
    void copy(void *dst, const void *src, std::size_t bytes) override { std::memmove(dst, src, bytes); }
    void sync() override {}

    void fill(float *x, int64_t n, float v) override {
        for (int64_t i = 0; i < n; ++i) x[i] = v;
    }
    void to_f32(const void *src, Fp t, int64_t n, float *dst) override {
        load_floats(t, src, dst, static_cast<std::size_t>(n));
    }
    void from_f32(const float *src, int64_t n, void *dst, Fp t) override {
        store_floats(t, src, dst, static_cast<std::size_t>(n));
    }
    void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int64_t lda,
              const void *B, int64_t ldb, Fp t, float beta, float *C, int64_t ldc) override {
        const std::vector<float> a = floats(A, t, ta ? K : M, ta ? M : K, lda),
                                 b = floats(B, t, tb ? N : K, tb ? K : N, ldb);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                float s = 0.0f;
                for (int64_t k = 0; k < K; ++k) s += (ta ? a[k * lda + i] : a[i * lda + k]) * (tb ? b[j * ldb + k] : b[k * ldb + j]);
                C[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
            }
    }
    void scale_cols(float *X, int64_t rows, int64_t cols, const float *v) override {
        for (int64_t i = 0; i < rows * cols; ++i) X[i] *= v[i % cols];
    }
    void scale_rows(float *X, int64_t rows, int64_t cols, const float *v) override {
        for (int64_t i = 0; i < rows * cols; ++i) X[i] *= v[i / cols];
    }
    void add_cols(float *X, int64_t rows, int64_t cols, float alpha, const float *v) override {
        for (int64_t i = 0; i < rows * cols; ++i) X[i] += alpha * v[i % cols];
    }
    void axpby(int64_t n, float alpha, const float *x, float beta, float *y) override {
        for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + (beta == 0.0f ? 0.0f : beta * y[i]);
    }
    void mul(int64_t n, float alpha, const float *x, const float *y, float *out) override {
        for (int64_t i = 0; i < n; ++i) out[i] = alpha * x[i] * y[i];
    }
    void col_dot(int64_t rows, int64_t cols, const float *A, const float *B, float *out) override {
        for (int64_t j = 0; j < cols; ++j) {
            double s = 0;
            for (int64_t i = 0; i < rows; ++i) s += static_cast<double>(A[i * cols + j]) * (B ? B[i * cols + j] : 1.0f);
            out[j] = static_cast<float>(s);
        }
    }
    void row_norm(int64_t rows, int64_t cols, const float *A, float *out) override {
        for (int64_t i = 0; i < rows; ++i) {
            double s = 0;
            for (int64_t j = 0; j < cols; ++j) s += static_cast<double>(A[i * cols + j]) * A[i * cols + j];
            out[i] = static_cast<float>(std::sqrt(s));
        }
    }
    void dropout_mask(int64_t n, uint64_t key, float p, float *mask) override {
        for (int64_t i = 0; i < n; ++i) mask[i] = dropout_keep(key, static_cast<uint64_t>(i), p) ? 1.0f / (1.0f - p) : 0.0f;
    }
    void kron(int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *w1, const float *w2,
              float *D) override {
        for (int64_t p = 0; p < ol; ++p)
            for (int64_t q = 0; q < im; ++q)
                for (int64_t b = 0; b < ok; ++b)
                    for (int64_t c = 0; c < inn; ++c)
                        D[(p * ok + b) * (im * inn) + q * inn + c] = s * w1[p * im + q] * w2[b * inn + c];
    }
    void kron_grad(int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *dD, const float *w1,
                   const float *w2, float *g1, float *g2) override {
        std::memset(g1, 0, static_cast<std::size_t>(ol * im) * sizeof(float));
        std::memset(g2, 0, static_cast<std::size_t>(ok * inn) * sizeof(float));
        for (int64_t p = 0; p < ol; ++p)
            for (int64_t q = 0; q < im; ++q)
                for (int64_t b = 0; b < ok; ++b)
                    for (int64_t c = 0; c < inn; ++c) {
                        const float dd = s * dD[(p * ok + b) * (im * inn) + q * inn + c];
                        g1[p * im + q] += dd * w2[b * inn + c];
                        g2[b * inn + c] += dd * w1[p * im + q];
                    }
    }
    void gather_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) override {
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * cols, src + rows[i] * cols, cols * sizeof(float));
    }
    void scatter_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) override {
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + rows[i] * cols, src + i * cols, cols * sizeof(float));
    }

private:
    // A stored [rows, cols] with leading dimension ld, read up to its last element only.
    static std::vector<float> floats(const void *p, Fp t, int64_t rows, int64_t cols, int64_t ld) {
        std::vector<float> v(static_cast<std::size_t>(rows > 0 ? (rows - 1) * ld + cols : 0));
        load_floats(t, p, v.data(), v.size());
        return v;
    }
};

}  // namespace rai::adapters
