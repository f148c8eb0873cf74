// The vocabulary of the adapter model's device path (model_device.cpp): fp32 matrix primitives
// on one device, row-major throughout. The CUDA implementation (cuda_ops.cpp) queues them on the
// context's stream; a host implementation in the tests runs the same orchestration on the CPU,
// so that the orchestration is checked against the reference model without a GPU and the GPU
// tests only have these primitives left to prove.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "half.h"
#include "rai.h"

namespace rai::adapters {

class Ops {
public:
    virtual ~Ops() = default;

    // Memory on the device. alloc never returns NULL (bytes may be 0).
    virtual void *alloc(std::size_t bytes) = 0;
    virtual void release(void *p) noexcept = 0;
    virtual void upload(void *dst, const void *host_src, std::size_t bytes) = 0;
    // Waits for the queued work, then copies.
    virtual void download(void *host_dst, const void *src, std::size_t bytes) = 0;
    virtual void copy(void *dst, const void *src, std::size_t bytes) = 0;
    // Waits for the queued work (the end of every model call, before scratch is reused).
    virtual void sync() = 0;

    virtual void fill(float *x, int64_t n, float v) = 0;
    virtual void to_f32(const void *src, Fp t, int64_t n, float *dst) = 0;
    virtual void from_f32(const float *src, int64_t n, void *dst, Fp t) = 0;

    // C[M,N] = alpha·op(A)·op(B) + beta·C; op(A) is [M,K] (A stored [K,M] when ta), op(B) is [K,N]
    // (B stored [N,K] when tb); A and B in `t`, C fp32 with fp32 accumulation. beta 0: C not read.
    virtual void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int64_t lda,
                      const void *B, int64_t ldb, Fp t, float beta, float *C, int64_t ldc) = 0;

    // On [rows, cols]: X[i,j] *= v[j]; X[i,j] *= v[i]; X[i,j] += alpha·v[j].
    virtual void scale_cols(float *X, int64_t rows, int64_t cols, const float *v) = 0;
    virtual void scale_rows(float *X, int64_t rows, int64_t cols, const float *v) = 0;
    virtual void add_cols(float *X, int64_t rows, int64_t cols, float alpha, const float *v) = 0;
    // y = alpha·x + beta·y (beta 0: y is not read); out = alpha·x⊙y (out may alias x or y).
    virtual void axpby(int64_t n, float alpha, const float *x, float beta, float *y) = 0;
    virtual void mul(int64_t n, float alpha, const float *x, const float *y, float *out) = 0;
    // out[j] = Σ_i A[i,j]·B[i,j] (B NULL: Σ_i A[i,j]), summed in fp64 per column like the CPU.
    virtual void col_dot(int64_t rows, int64_t cols, const float *A, const float *B, float *out) = 0;
    // out[i] = ‖A[i,:]‖₂ (fp64 sums).
    virtual void row_norm(int64_t rows, int64_t cols, const float *A, float *out) = 0;
    // mask[i] = 1/(1-p) where dropout_keep(key, i, p), else 0 (the CPU path's masks).
    virtual void dropout_mask(int64_t n, uint64_t key, float p, float *mask) = 0;
    // LoKr: D[(p·ok + b), (q·inn + c)] = s·w1[p,q]·w2[b,c] (D is [ol·ok, im·inn]); and its
    // gradients g1[p,q] = s·Σ_bc dD·w2[b,c], g2[b,c] = s·Σ_pq dD·w1[p,q] (written, not added).
    virtual void kron(int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *w1, const float *w2,
                      float *D) = 0;
    virtual void kron_grad(int64_t ol, int64_t im, int64_t ok, int64_t inn, float s, const float *dD,
                           const float *w1, const float *w2, float *g1, float *g2) = 0;
    // dst[i,:] = src[rows[i],:] and dst[rows[i],:] = src[i,:]; `rows` is a device array of n.
    virtual void gather_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) = 0;
    virtual void scatter_rows(const float *src, const int64_t *rows, int64_t n, int64_t cols, float *dst) = 0;
};

// Device memory owned for a scope.
class DevBuf {
public:
    DevBuf() = default;
    DevBuf(Ops &ops, std::size_t bytes) : ops_(&ops), p_(ops.alloc(bytes)), bytes_(bytes) {}
    DevBuf(DevBuf &&o) noexcept { *this = std::move(o); }
    DevBuf &operator=(DevBuf &&o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_, p_ = o.p_, bytes_ = o.bytes_;
            o.p_ = nullptr, o.bytes_ = 0;
        }
        return *this;
    }
    ~DevBuf() { reset(); }
    void reset() noexcept {
        if (p_ != nullptr) ops_->release(p_);
        p_ = nullptr, bytes_ = 0;
    }
    float *f() const { return static_cast<float *>(p_); }
    void *get() const { return p_; }
    std::size_t bytes() const { return bytes_; }
    explicit operator bool() const { return p_ != nullptr; }

private:
    Ops *ops_ = nullptr;
    void *p_ = nullptr;
    std::size_t bytes_ = 0;
};

// `n` floats on the device, zero-filled when `zero`.
inline DevBuf dev_floats(Ops &ops, int64_t n, bool zero = false) {
    DevBuf b(ops, static_cast<std::size_t>(n) * sizeof(float));
    if (zero && n > 0) ops.fill(b.f(), n, 0.0f);
    return b;
}

// The CUDA implementation on a context's device and its current stream (cuda_ops.cpp).
std::unique_ptr<Ops> make_cuda_ops(const rai_context &ctx);

}  // namespace rai::adapters
