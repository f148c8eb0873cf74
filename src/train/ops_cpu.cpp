// The CPU reference of the training ops: plain loops, single-threaded, fixed summation order
// (reductions in double), so results are bitwise reproducible on one machine. These loops are
// memory-bound and the compiler vectorises them; there is no separate SIMD variant, so there is
// nothing to dispatch at run time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "../core/error.h"
#include "kernel_math.h"
#include "ops.h"

namespace rai::train {

namespace {

class CpuOps final : public Ops {
public:
    bool on_device() const override { return false; }

    float *alloc(std::size_t n) override {
        float *p = new (std::nothrow) float[n]();
        if (p == nullptr)
            throw Error(RAI_ERROR_OUT_OF_MEMORY, "could not allocate " + std::to_string(n * sizeof(float)) +
                                                     " bytes of training state on the host");
        return p;
    }
    void free(float *p) noexcept override { delete[] p; }

    void adamw(std::size_t n, float *param, const float *grad, float *m, float *v, float *upd,
               const AdamWArgs &a) override {
        for (std::size_t i = 0; i < n; ++i) {
            const float p0 = param[i];
            const float p2 = math::adamw(p0, grad ? grad[i] : 0.0f, m[i], v[i], a);
            if (upd) upd[i] = p2 - p0;
            if (a.apply) param[i] = p2;
        }
    }

    void sgd(std::size_t n, float *param, const float *grad, float *buf, float *upd, const SgdArgs &a) override {
        for (std::size_t i = 0; i < n; ++i) {
            const float p0 = param[i];
            const float p2 = math::sgd(p0, grad ? grad[i] : 0.0f, buf ? buf + i : nullptr, a);
            if (upd) upd[i] = p2 - p0;
            if (a.apply) param[i] = p2;
        }
    }

    double sumsq(std::size_t n, const float *a) override {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(a[i]);
        return s;
    }

    void sumsq_begin(std::size_t count) override { partial_.assign(count, 0.0); }
    void sumsq_add(std::size_t slot, std::size_t n, const float *a) override { partial_.at(slot) = sumsq(n, a); }
    double sumsq_end() override {
        double s = 0.0;
        for (double p : partial_) s += p;
        return s;
    }

    void dot3(std::size_t n, const float *a, const float *b, double out[3]) override {
        double ab = 0.0, aa = 0.0, bb = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double x = a[i], y = b[i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        out[0] = ab;
        out[1] = aa;
        out[2] = bb;
    }

    double maxabs(std::size_t n, const float *a) override {
        double mx = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double x = std::fabs(static_cast<double>(a[i]));
            if (std::isnan(x)) return x;
            mx = std::max(mx, x);
        }
        return mx;
    }

    void axpy(std::size_t n, float *x, float alpha, const float *y) override {
        for (std::size_t i = 0; i < n; ++i) x[i] = x[i] + alpha * y[i];
    }

    void scale(std::size_t n, float *out, float alpha, const float *x) override {
        for (std::size_t i = 0; i < n; ++i) out[i] = alpha * x[i];
    }

    void ema(std::size_t n, float *e, float beta, const float *x) override {
        const float rest = 1.0f - beta;
        for (std::size_t i = 0; i < n; ++i) e[i] = beta * e[i] + rest * x[i];
    }

    void wls_fit(std::size_t n, const WlsFitArgs &a, float *b, float *v) override {
        for (std::size_t i = 0; i < n; ++i) {
            float sb = 0.0f, sv = 0.0f;
            for (int32_t j = 0; j < a.count; ++j) {
                const float h = a.hist[j][i];
                sb = sb + a.alpha[j] * h;
                sv = sv + a.beta[j] * h;
            }
            b[i] = sb;
            v[i] = sv;
        }
    }

    void wls_predict(std::size_t n, const float *b, const float *v, const float *r, float dt, float rdecay,
                     float scale, float *out) override {
        for (std::size_t i = 0; i < n; ++i) out[i] = math::wls_predict(b[i], v[i], r[i], dt, rdecay, scale);
    }

    void wls_correct(std::size_t n, float *r, const float *g, const float *b, const float *v, float dt, float keep,
                     float rate) override {
        for (std::size_t i = 0; i < n; ++i) r[i] = math::wls_correct(r[i], g[i], b[i], v[i], dt, keep, rate);
    }

    void lowrank_combine(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float beta, const float *u,
                         float *mat) override {
        const float rest = 1.0f - beta;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < k; ++j) {
                const float x = u[i * k + j];
                if (beta == 0.0f) {
                    mat[i * k + j] = x;
                    continue;
                }
                float t = 0.0f;
                for (int32_t l = 0; l < r; ++l) t = t + p[i * r + l] * q[j * r + l];
                mat[i * k + j] = beta * t + rest * x;
            }
    }

    void lowrank_mul_rows(int64_t m, int64_t k, int32_t r, const float *mat, const float *q, float *p) override {
        for (int64_t i = 0; i < m; ++i)
            for (int32_t l = 0; l < r; ++l) {
                double s = 0.0;
                for (int64_t j = 0; j < k; ++j) s += static_cast<double>(mat[i * k + j]) * q[j * r + l];
                p[i * r + l] = static_cast<float>(s);
            }
    }

    void lowrank_mul_cols(int64_t m, int64_t k, int32_t r, const float *mat, const float *p, float *q) override {
        for (int64_t j = 0; j < k; ++j)
            for (int32_t l = 0; l < r; ++l) {
                double s = 0.0;
                for (int64_t i = 0; i < m; ++i) s += static_cast<double>(mat[i * k + j]) * p[i * r + l];
                q[j * r + l] = static_cast<float>(s);
            }
    }

    void lowrank_expand(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float scale,
                        float *out) override {
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < k; ++j) {
                float t = 0.0f;
                for (int32_t l = 0; l < r; ++l) t = t + p[i * r + l] * q[j * r + l];
                out[i * k + j] = scale * t;
            }
    }

    void copy(std::size_t n, float *dst, const float *src) override {
        if (n) std::memmove(dst, src, n * sizeof(float));
    }
    void fill(std::size_t n, float *x, float value) override { std::fill(x, x + n, value); }
    void to_host(std::size_t n, float *host_dst, const float *src) override { copy(n, host_dst, src); }
    void from_host(std::size_t n, float *dst, const float *host_src) override { copy(n, dst, host_src); }

private:
    std::vector<double> partial_;
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() { return std::make_unique<CpuOps>(); }

std::unique_ptr<Ops> make_ops(rai_context &ctx) {
    if (is_cuda(ctx)) return make_cuda_ops(ctx);
    return make_cpu_ops();
}

}  // namespace rai::train
