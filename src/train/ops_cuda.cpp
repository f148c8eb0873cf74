// CUDA training ops: thin calls into the plugin's "train/1" table on the context's device and
// stream. Memory comes from the plugin's allocator and is zero-filled on the stream.
#include <cmath>
#include <mutex>
#include <vector>
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
        reserve_partials(1);
    }
    ~CudaOps() override { be_.free_device(dev_, partials_); }

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
        sumsq_begin(1);
        sumsq_add(0, n, a);
        return sumsq_end();
    }
    void sumsq_begin(std::size_t count) override {
        reserve_partials(count);
        blocks_.assign(count, 0);
    }
    void sumsq_add(std::size_t slot, std::size_t n, const float *a) override {
        queue_reduce(RAICUDA_REDUCE_SUMSQ, slot, n, a, nullptr);
    }
    double sumsq_end() override {
        const std::vector<double> h = read_partials();
        double total = 0.0;
        for (std::size_t slot = 0; slot < blocks_.size(); ++slot) {
            double s = 0.0;  // per slot, then across slots: the order of the CPU reference
            for (int32_t b = 0; b < blocks_[slot]; ++b) s += h[slot * kPartials + 3 * b];
            total += s;
        }
        return total;
    }
    void dot3(std::size_t n, const float *a, const float *b, double out[3]) override {
        reserve_partials(1);
        blocks_.assign(1, 0);
        queue_reduce(RAICUDA_REDUCE_DOT3, 0, n, a, b);
        const std::vector<double> h = read_partials();
        out[0] = out[1] = out[2] = 0.0;
        for (int32_t i = 0; i < blocks_[0]; ++i)
            for (int c = 0; c < 3; ++c) out[c] += h[3 * i + c];
    }
    double maxabs(std::size_t n, const float *a) override {
        reserve_partials(1);
        blocks_.assign(1, 0);
        queue_reduce(RAICUDA_REDUCE_MAXABS, 0, n, a, nullptr);
        const std::vector<double> h = read_partials();
        double m = 0.0;
        for (int32_t i = 0; i < blocks_[0]; ++i) {
            const double v = h[3 * i];
            if (std::isnan(v) || std::isnan(m)) m = NAN;
            else if (v > m) m = v;
        }
        return m;
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

    static constexpr std::size_t kPartials = RAICUDA_TRAIN_REDUCE_PARTIALS;

    // Device room for the partials of `slots` reductions.
    void reserve_partials(std::size_t slots) {
        if (slots <= partial_slots_) return;
        void *p = nullptr;
        cuda::check([&](raicuda_err *e) { return be_.malloc_device(dev_, slots * kPartials * sizeof(double), &p, e); });
        be_.free_device(dev_, partials_);
        partials_ = static_cast<double *>(p);
        partial_slots_ = slots;
    }
    void queue_reduce(int32_t op, std::size_t slot, std::size_t n, const float *a, const float *b) {
        int32_t blocks = 0;
        double *dst = partials_ + slot * kPartials;
        call([&](void *s, raicuda_err *e) { return t_.reduce_partials(dev_, s, op, n, a, b, dst, &blocks, e); });
        blocks_.at(slot) = blocks;
    }
    // One copy of every slot's partials to the host (synchronises the stream).
    std::vector<double> read_partials() {
        std::vector<double> h(blocks_.size() * kPartials, 0.0);
        if (!h.empty())
            call([&](void *s, raicuda_err *e) {
                return be_.memcpy_sync(dev_, h.data(), partials_, h.size() * sizeof(double), RAICUDA_DEVICE_TO_HOST, s, e);
            });
        return h;
    }

    rai_context &ctx_;
    const raicuda_backend &be_;
    const raicuda_train_table &t_;
    int32_t dev_;
    double *partials_ = nullptr;
    std::size_t partial_slots_ = 0;
    std::vector<int32_t> blocks_;
};

}  // namespace

std::unique_ptr<Ops> make_cuda_ops(rai_context &ctx) { return std::make_unique<CudaOps>(ctx); }

}  // namespace rai::train
