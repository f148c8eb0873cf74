// The elementwise and reduction operations the optimizers and the hybrid trainer are built from,
// behind one interface with two implementations: the CPU reference (ops_cpu.cpp, plain C++, the
// oracle of the tests) and CUDA (ops_cuda.cpp, through the plugin's "train/1" table). Pointers
// are host pointers for the CPU and device pointers for CUDA; DevVec owns such an array.
//
// The CPU reference is single-threaded and sums in a fixed order (doubles for reductions), so
// its results are bitwise reproducible. CUDA reductions use a fixed grid and order too (so they
// are reproducible run to run) but differ from the CPU in the last bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/context.h"
#include "cuda_train_abi.h"

namespace rai::train {

using AdamWArgs = raicuda_adamw_args;
using SgdArgs = raicuda_sgd_args;
using WlsFitArgs = raicuda_wls_fit_args;
constexpr int kMaxHistory = RAICUDA_TRAIN_MAX_HISTORY;

class Ops {
public:
    virtual ~Ops() = default;
    virtual bool on_device() const = 0;

    // Memory for `n` floats on the ops' device, zero-filled.
    virtual float *alloc(std::size_t n) = 0;
    virtual void free(float *p) noexcept = 0;

    virtual void adamw(std::size_t n, float *param, const float *grad, float *m, float *v, float *upd,
                       const AdamWArgs &a) = 0;
    virtual void sgd(std::size_t n, float *param, const float *grad, float *buf, float *upd, const SgdArgs &a) = 0;
    virtual double sumsq(std::size_t n, const float *a) = 0;
    // Sum of squares over several arrays with one synchronisation: begin(count), add(slot, ...)
    // for slots 0..count-1 (queued; the array may be overwritten by later queued work), end()
    // returns the total, added in slot order. Equal to adding sumsq() of each slot in order.
    virtual void sumsq_begin(std::size_t count) = 0;
    virtual void sumsq_add(std::size_t slot, std::size_t n, const float *a) = 0;
    virtual double sumsq_end() = 0;
    // out = {a.b, a.a, b.b}
    virtual void dot3(std::size_t n, const float *a, const float *b, double out[3]) = 0;
    virtual double maxabs(std::size_t n, const float *a) = 0;
    virtual void axpy(std::size_t n, float *x, float alpha, const float *y) = 0;
    virtual void scale(std::size_t n, float *out, float alpha, const float *x) = 0;
    virtual void ema(std::size_t n, float *e, float beta, const float *x) = 0;
    virtual void wls_fit(std::size_t n, const WlsFitArgs &a, float *b, float *v) = 0;
    virtual void wls_predict(std::size_t n, const float *b, const float *v, const float *r, float dt, float rdecay,
                             float scale, float *out) = 0;
    virtual void wls_correct(std::size_t n, float *r, const float *g, const float *b, const float *v, float dt,
                             float keep, float rate) = 0;
    virtual void lowrank_combine(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float beta,
                                 const float *u, float *mat) = 0;
    virtual void lowrank_mul_rows(int64_t m, int64_t k, int32_t r, const float *mat, const float *q, float *p) = 0;
    virtual void lowrank_mul_cols(int64_t m, int64_t k, int32_t r, const float *mat, const float *p, float *q) = 0;
    virtual void lowrank_expand(int64_t m, int64_t k, int32_t r, const float *p, const float *q, float scale,
                                float *out) = 0;
    virtual void copy(std::size_t n, float *dst, const float *src) = 0;
    virtual void fill(std::size_t n, float *x, float value) = 0;
    // Host <-> ops memory, synchronous.
    virtual void to_host(std::size_t n, float *host_dst, const float *src) = 0;
    virtual void from_host(std::size_t n, float *dst, const float *host_src) = 0;
};

// The ops for a context's device (CPU reference, or CUDA through the plugin's "train/1" table;
// throws NO_DEVICE / UNSUPPORTED when that is missing). The context is borrowed; CUDA calls lock
// its mutex around each launch so the stream cannot change underneath.
std::unique_ptr<Ops> make_ops(rai_context &ctx);
std::unique_ptr<Ops> make_cpu_ops();
std::unique_ptr<Ops> make_cuda_ops(rai_context &ctx);

// An owned array of floats on the ops' device.
class DevVec {
public:
    DevVec() = default;
    DevVec(Ops &ops, std::size_t n) : ops_(&ops), n_(n), p_(n ? ops.alloc(n) : nullptr) {}
    ~DevVec() { reset(); }
    DevVec(DevVec &&o) noexcept : ops_(o.ops_), n_(o.n_), p_(o.p_) {
        o.p_ = nullptr;
        o.n_ = 0;
    }
    DevVec &operator=(DevVec &&o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_;
            n_ = o.n_;
            p_ = o.p_;
            o.p_ = nullptr;
            o.n_ = 0;
        }
        return *this;
    }
    DevVec(const DevVec &) = delete;
    DevVec &operator=(const DevVec &) = delete;

    float *data() const { return p_; }
    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    void reset() noexcept {
        if (p_ != nullptr && ops_ != nullptr) ops_->free(p_);
        p_ = nullptr;
        n_ = 0;
    }
    std::vector<float> to_host() const {
        std::vector<float> h(n_);
        if (n_) ops_->to_host(n_, h.data(), p_);
        return h;
    }

private:
    Ops *ops_ = nullptr;
    std::size_t n_ = 0;
    float *p_ = nullptr;
};

}  // namespace rai::train
