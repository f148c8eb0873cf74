// The adapter model's device primitives on CUDA: the plugin's "adapter_ops/1" table on the
// context's device and current stream, and device memory kept between calls.
#include <map>

#include "../core/context.h"
#include "../core/cuda_plugin.h"
#include "cuda_adapter_ops_abi.h"
#include "device_ops.h"

namespace rai::adapters {

namespace {

int32_t cuda_type(Fp t) { return t == Fp::F32 ? 0 : t == Fp::BF16 ? 1 : 2; }

class CudaOps final : public Ops {
public:
    explicit CudaOps(const rai_context &ctx)
        : ctx_(ctx),
          be_(cuda::require_plugin()),
          t_(*static_cast<const raicuda_adapter_ops *>(cuda::require_capability(RAICUDA_ADAPTER_OPS_CAPABILITY))),
          dev_(ctx.device.device_id) {}
    ~CudaOps() override {
        for (auto &f : free_) be_.free_device(dev_, f.second);
    }

    // Blocks given back are kept by size and handed out again. Every user of them queues on the
    // one stream, so a block reused while earlier kernels still read it is ordered after them.
    void *alloc(std::size_t bytes) override {
        const std::size_t size = bytes < 256 ? 256 : (bytes + 255) / 256 * 256;
        if (auto it = free_.find(size); it != free_.end()) {
            void *p = it->second;
            free_.erase(it);
            sizes_[p] = size;
            return p;
        }
        void *p = nullptr;
        cuda::check([&](raicuda_err *e) { return be_.malloc_device(dev_, size, &p, e); });
        sizes_[p] = size;
        return p;
    }
    void release(void *p) noexcept override {
        auto it = sizes_.find(p);
        if (it == sizes_.end()) return;
        free_.emplace(it->second, p);
        sizes_.erase(it);
    }
    void upload(void *dst, const void *src, std::size_t bytes) override {
        cuda::check([&](raicuda_err *e) { return be_.memcpy_sync(dev_, dst, src, bytes, RAICUDA_HOST_TO_DEVICE, s(), e); });
    }
    void download(void *dst, const void *src, std::size_t bytes) override {
        cuda::check([&](raicuda_err *e) { return be_.memcpy_sync(dev_, dst, src, bytes, RAICUDA_DEVICE_TO_HOST, s(), e); });
    }
    void copy(void *dst, const void *src, std::size_t bytes) override {
        cuda::check([&](raicuda_err *e) { return t_.copy(dev_, s(), dst, src, bytes, e); });
    }
    void sync() override {
        cuda::check([&](raicuda_err *e) { return be_.stream_synchronize(dev_, s(), e); });
    }
    void fill(float *x, int64_t n, float v) override {
        cuda::check([&](raicuda_err *e) { return t_.fill(dev_, s(), x, n, v, e); });
    }
    void to_f32(const void *src, Fp t, int64_t n, float *dst) override {
        cuda::check([&](raicuda_err *e) { return t_.to_f32(dev_, s(), src, cuda_type(t), n, dst, e); });
    }
    void from_f32(const float *src, int64_t n, void *dst, Fp t) override {
        cuda::check([&](raicuda_err *e) { return t_.from_f32(dev_, s(), src, n, dst, cuda_type(t), e); });
    }
    void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int64_t lda,
              const void *B, int64_t ldb, Fp t, float beta, float *C, int64_t ldc) override {
        cuda::check([&](raicuda_err *e) {
            return t_.gemm(dev_, s(), ta, tb, M, N, K, alpha, A, lda, B, ldb, cuda_type(t), beta, C, ldc, e);
        });
    }
    void scale_cols(float *X, int64_t rows, int64_t cols, const float *v) override {
        scale(RAICUDA_SCALE_COLS, X, rows, cols, 1.0f, v);
    }
    void scale_rows(float *X, int64_t rows, int64_t cols, const float *v) override {
        scale(RAICUDA_SCALE_ROWS, X, rows, cols, 1.0f, v);
    }
    void add_cols(float *X, int64_t rows, int64_t cols, float alpha, const float *v) override {
        scale(RAICUDA_ADD_COLS, X, rows, cols, alpha, v);
    }
    void axpby(int64_t n, float alpha, const float *x, float beta, float *y) override {
        cuda::check([&](raicuda_err *e) { return t_.axpby(dev_, s(), n, alpha, x, beta, y, e); });
    }
    void mul(int64_t n, float alpha, const float *x, const float *y, float *out) override {
        cuda::check([&](raicuda_err *e) { return t_.mul(dev_, s(), n, alpha, x, y, out, e); });
    }
    void col_dot(int64_t rows, int64_t cols, const float *A, const float *B, float *out) override {
        cuda::check([&](raicuda_err *e) { return t_.col_dot(dev_, s(), rows, cols, A, B, out, e); });
    }
    void row_norm(int64_t rows, int64_t cols, const float *A, float *out) override {
        cuda::check([&](raicuda_err *e) { return t_.row_norm(dev_, s(), rows, cols, A, out, e); });
    }
    void dropout_mask(int64_t n, uint64_t key, float p, float *mask) override {
        cuda::check([&](raicuda_err *e) { return t_.dropout_mask(dev_, s(), n, key, p, mask, e); });
    }
    void kron(int64_t ol, int64_t im, int64_t ok, int64_t inn, float sc, const float *w1, const float *w2,
              float *D) override {
        cuda::check([&](raicuda_err *e) { return t_.kron(dev_, s(), ol, im, ok, inn, sc, w1, w2, D, e); });
    }
    void kron_grad(int64_t ol, int64_t im, int64_t ok, int64_t inn, float sc, const float *dD, const float *w1,
                   const float *w2, float *g1, float *g2) override {
        cuda::check([&](raicuda_err *e) { return t_.kron_grad(dev_, s(), ol, im, ok, inn, sc, dD, w1, w2, g1, g2, e); });
    }
    void gather_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) override {
        cuda::check([&](raicuda_err *e) { return t_.move_rows(dev_, s(), 0, src, rows, n, cols, dst, e); });
    }
    void scatter_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) override {
        cuda::check([&](raicuda_err *e) { return t_.move_rows(dev_, s(), 1, src, rows, n, cols, dst, e); });
    }

private:
    void *s() const { return ctx_.stream; }
    void scale(int32_t mode, float *X, int64_t rows, int64_t cols, float alpha, const float *v) {
        cuda::check([&](raicuda_err *e) { return t_.scale(dev_, s(), mode, X, rows, cols, alpha, v, e); });
    }

    const rai_context &ctx_;
    const raicuda_backend &be_;
    const raicuda_adapter_ops &t_;
    int32_t dev_;
    std::multimap<std::size_t, void *> free_;
    std::map<void *, std::size_t> sizes_;
};

}  // namespace

std::unique_ptr<Ops> make_cuda_ops(const rai_context &ctx) { return std::make_unique<CudaOps>(ctx); }

}  // namespace rai::adapters
