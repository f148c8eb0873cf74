// The one tensor-validation helper every operation uses. It checks the descriptor itself
// (supported dtype, ndim, shape, strides, data) on construction, and then whatever the
// operation asks for, each failure with its own status and a message naming the argument:
//
//   TensorCheck x("x", x_ptr);
//   x.on(ctx).dtype(dtype::f32).ndim(2).contiguous();
//   TensorCheck y("y", y_ptr);
//   y.on(ctx).dtype(dtype::f32).shape({x.dim(0), n});
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "context.h"
#include "dtype.h"
#include "rai.h"

namespace rai {

constexpr int32_t kMaxDims = 32;
constexpr int64_t kAnyDim = -1;

// Whether [a, a + a_bytes) and [b, b + b_bytes) share a byte (empty ranges share none).
inline bool bytes_overlap(const void *a, std::size_t a_bytes, const void *b, std::size_t b_bytes) {
    const auto *pa = static_cast<const char *>(a), *pb = static_cast<const char *>(b);
    return a_bytes != 0 && b_bytes != 0 && pa < pb + b_bytes && pb < pa + a_bytes;
}

class TensorCheck {
public:
    TensorCheck(const char *name, const rai_tensor *tensor);

    TensorCheck &dtype(const rai_dtype &expected);
    TensorCheck &dtype_in(std::initializer_list<rai_dtype> allowed);
    TensorCheck &ndim(int32_t expected);
    // kAnyDim matches any extent.
    TensorCheck &shape(std::initializer_list<int64_t> expected);
    TensorCheck &contiguous();
    // The tensor lives where the context computes: host memory for a CPU context, the
    // context's CUDA device for a CUDA context.
    TensorCheck &on(const rai_context &ctx);

    const rai_tensor &tensor() const { return *t_; }
    int64_t dim(int32_t i) const { return t_->shape[i]; }
    int64_t numel() const { return numel_; }
    std::size_t elem_bytes() const { return elem_bytes_; }
    bool is_contiguous() const;
    bool on_host() const;
    // data + byte_offset
    void *data() const;
    std::string shape_string() const;

private:
    [[noreturn]] void fail(rai_status status, const std::string &what) const;

    std::string name_;
    const rai_tensor *t_;
    int64_t numel_ = 1;
    std::size_t elem_bytes_ = 0;
};

std::string format_shape(const int64_t *shape, int32_t ndim);

}  // namespace rai
