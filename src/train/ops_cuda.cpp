// CUDA training ops: thin calls into the plugin's "train/1" table on the context's device and
// stream. Memory comes from the plugin's allocator and is zero-filled on the stream.
#include <mutex>
#include <string>

#include "../core/cuda_plugin.h"
#include "../core/error.h"
#include "ops.h"

namespace rai::train {

namespace {

class CudaOps final : public Ops {
public:
    explicit CudaOps(rai_context &ctx)
        : ctx_(ctx), be_(cuda::require_plugin()),
          t_(*static_cast<const raicuda_train_table *>(cuda::require_capability(RAICUDA_TRAIN_CAPABILITY))),
          dev_(ctx.device.device_id) {
        require(t_.version == 1 && t_.struct_size >= sizeof(raicuda_train_table), RAI_ERROR_UNSUPPORTED,
                "the CUDA plugin's train/1 table has an unexpected layout (plugin and librai built apart?)");
        void *p = nullptr;
        cuda::check([&](raicuda_err *e) {
            return be_.malloc_device(dev_, RAICUDA_TRAIN_REDUCE_SCRATCH * sizeof(double), &p, e);
        });
        scratch_ = static_cast<double *>(p);
    }
    ~CudaOps() override { be_.free_device(dev_, scratch_); }

    bool on_device() const override { return true; }

    float *alloc(std::size_t n) override {
        void *p = nullptr;
        cuda::check([&](raicuda_err *e) { return be_.malloc_device(dev_, n * sizeof(float), &p, e); });
        float *f = static_cast<float *>(p);
        try {
            call([&](void *s, raicuda_err *e) { return t_.fill(dev_, s, n, f, 0.0f, e); });
        } catch (...) {
            be_.free_device(dev_, p);
            throw;
        }
        return f;
    }
    void free(float *p) noexcept override { be_.free_device(dev_, p); }

    void adamw(std::size_t n, float *param, const float *grad, float *m, float *v, float *upd,
               const AdamWArgs &a) override {
        call([&](void *s, raicuda_err *e) { return t_.adamw(dev_, s, n, param, grad, m, v, upd, &a, e); });
    }
    void sgd(std::size_t n, float *param, const float *grad, float *buf, float *upd, const SgdArgs &a) override {
        call([&](void *s, raicuda_err *e) { return t_.sgd(dev_, s, n, param, grad, buf, upd, &a, e); });
    }
    double sumsq(std::size_t n, const float *a) override {
        double out[3] = {0, 0, 0};
        call([&](void *s, raicuda_err *e) {
            return t_.reduce(dev_, s, RAICUDA_REDUCE_SUMSQ, n, a, nullptr, scratch_, out, e);
        });
        return out[0];
    }
    void dot3(std::size_t n, const float *a, const float *b, double out[3]) override {
        call([&](void *s, raicuda_err *e) { return t_.reduce(dev_, s, RAICUDA_REDUCE_DOT3, n, a, b, scratch_, out, e); });
    }
    double maxabs(std::size_t n, const float *a) override {
        double out[3] = {0, 0, 0};
        call([&](void *s, raicuda_err *e) {
            return t_.reduce(dev_, s, RAICUDA_REDUCE_MAXABS, n, a, nullptr, scratch_, out, e);
        });
        return out[0];
    }
    void axpy(std::size_t n, float *x, float alpha, const float *y) override {
        call([&](void *s, raicuda_err *e) { return t_.axpy(dev_, s, n, x, alpha, y, e); });
    }
    void scale(std::size_t n, float *out, float alpha, const float *x) override {
        call([&](void *s, raicuda_err *e) { return t_.scale(dev_, s, n, out, alpha, x, e); });
    }
    void ema(std::size_t n, float *e_, float beta, const float *x) override {
        call([&](void *s, raicuda_err *e) { return t_.ema(dev_, s, n, e_, beta, x, e); });
    }
    void wls_fit(std::size_t n, const WlsFitArgs &a, float *b, float *v) override {
        call([&](void *s, raicuda_err *e) { return t_.wls_fit(dev_, s, n, &a, b, v, e); });
    }
    void wls_predict(std::size_t n, const float *b, const float *v, const float *r, float dt, float rdecay,
                     float scale, float *out) override {
        call([&](void *s, raicuda_err *e) { return t_.wls_predict(dev_, s, n, b, v, r, dt, rdecay, scale, out, e); });
    }
    void wls_correct(std::size_t n, float *r, const float *g, const float *b, const float *v, float dt, float keep,
                     float rate) override {
        call([&](void *s, raicuda_err *e) { return t_.wls_correct(dev_, s, n, r, g, b, v, dt, keep, rate, e); });
    }
    void lowrank_combine(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float beta, const float *u,
                         float *mat) override {
        call([&](void *s, raicuda_err *e) { return t_.lowrank_combine(dev_, s, m, k, r, p, q, beta, u, mat, e); });
    }
    void lowrank_mul_rows(int64_t m, int64_t k, int32_t r, const float *mat, const float *q, float *p) override {
        call([&](void *s, raicuda_err *e) { return t_.lowrank_mul_rows(dev_, s, m, k, r, mat, q, p, e); });
    }
    void lowrank_mul_cols(int64_t m, int64_t k, int32_t r, const float *mat, const float *p, float *q) override {
        call([&](void *s, raicuda_err *e) { return t_.lowrank_mul_cols(dev_, s, m, k, r, mat, p, q, e); });
    }
    void lowrank_expand(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float scale,
                        float *out) override {
        call([&](void *s, raicuda_err *e) { return t_.lowrank_expand(dev_, s, m, k, r, p, q, scale, out, e); });
    }
    void copy(std::size_t n, float *dst, const float *src) override {
        if (n == 0 || dst == src) return;
        call([&](void *s, raicuda_err *e) { return t_.copy(dev_, s, dst, src, n * sizeof(float), e); });
    }
    void fill(std::size_t n, float *x, float value) override {
        call([&](void *s, raicuda_err *e) { return t_.fill(dev_, s, n, x, value, e); });
    }
    void to_host(std::size_t n, float *host_dst, const float *src) override {
        if (n == 0) return;
        call([&](void *s, raicuda_err *e) {
            return be_.memcpy_sync(dev_, host_dst, src, n * sizeof(float), RAICUDA_DEVICE_TO_HOST, s, e);
        });
    }
    void from_host(std::size_t n, float *dst, const float *host_src) override {
        if (n == 0) return;
        call([&](void *s, raicuda_err *e) {
            return be_.memcpy_sync(dev_, dst, host_src, n * sizeof(float), RAICUDA_HOST_TO_DEVICE, s, e);
        });
    }

private:
    // Runs one table call on the context's current stream, holding the context's lock.
    template <class F>
    void call(F &&f) {
        std::lock_guard<std::mutex> lock(ctx_.mutex);
        void *stream = ctx_.stream;
        cuda::check([&](raicuda_err *e) { return f(stream, e); });
    }

    rai_context &ctx_;
    const raicuda_backend &be_;
    const raicuda_train_table &t_;
    int32_t dev_;
    double *scratch_ = nullptr;
};

}  // namespace

std::unique_ptr<Ops> make_cuda_ops(rai_context &ctx) { return std::make_unique<CudaOps>(ctx); }

}  // namespace rai::train
