#include "tensor_check.h"

#include <limits>

#include "error.h"

namespace rai {

std::string format_shape(const int64_t *shape, int32_t ndim) {
    std::string s = "[";
    for (int32_t i = 0; i < ndim; ++i) {
        if (i) s += ", ";
        s += shape[i] == kAnyDim ? "*" : std::to_string(shape[i]);
    }
    return s + "]";
}

TensorCheck::TensorCheck(const char *name, const rai_tensor *tensor) : name_(name), t_(tensor) {
    if (t_ == nullptr) throw Error(RAI_ERROR_INVALID_ARGUMENT, name_ + " must not be NULL");
    elem_bytes_ = dtype::size(t_->dtype);
    if (elem_bytes_ == 0) fail(RAI_ERROR_DTYPE_MISMATCH, "has " + dtype::describe(t_->dtype));
    if (t_->ndim < 0 || t_->ndim > kMaxDims)
        fail(RAI_ERROR_INVALID_ARGUMENT, "ndim is " + std::to_string(t_->ndim) + ", expected 0.." +
                                             std::to_string(kMaxDims));
    if (t_->ndim > 0 && t_->shape == nullptr) fail(RAI_ERROR_INVALID_ARGUMENT, "shape must not be NULL when ndim > 0");
    for (int32_t i = 0; i < t_->ndim; ++i) {
        const int64_t d = t_->shape[i];
        if (d < 0) fail(RAI_ERROR_INVALID_ARGUMENT, "shape[" + std::to_string(i) + "] is negative");
        if (d != 0 && numel_ > std::numeric_limits<int64_t>::max() / d)
            fail(RAI_ERROR_OUT_OF_RANGE, "has more elements than fit in int64");
        numel_ *= d;
        if (t_->strides != nullptr && t_->strides[i] < 0)
            fail(RAI_ERROR_LAYOUT, "strides[" + std::to_string(i) + "] is negative; rai takes non-negative strides");
    }
    if (numel_ > 0 && t_->data == nullptr) fail(RAI_ERROR_INVALID_ARGUMENT, "data must not be NULL");
    if (t_->byte_offset % elem_bytes_ != 0)
        fail(RAI_ERROR_LAYOUT, "byte_offset " + std::to_string(t_->byte_offset) + " is not a multiple of the element size");
    const int32_t dt = t_->device.device_type;
    if (dt != RAI_DEVICE_CPU && dt != RAI_DEVICE_CUDA && dt != RAI_DEVICE_CUDA_HOST)
        fail(RAI_ERROR_INVALID_ARGUMENT, "device_type " + std::to_string(dt) + " is not CPU, CUDA or CUDA_HOST");
    if (t_->device.device_id < 0) fail(RAI_ERROR_INVALID_ARGUMENT, "device_id is negative");
}

void TensorCheck::fail(rai_status status, const std::string &what) const { throw Error(status, name_ + ": " + what); }

TensorCheck &TensorCheck::dtype(const rai_dtype &expected) {
    if (!dtype::equal(t_->dtype, expected))
        fail(RAI_ERROR_DTYPE_MISMATCH,
             "expected dtype " + dtype::describe(expected) + ", got " + dtype::describe(t_->dtype));
    return *this;
}

TensorCheck &TensorCheck::dtype_in(std::initializer_list<rai_dtype> allowed) {
    std::string names;
    for (const rai_dtype &d : allowed) {
        if (dtype::equal(t_->dtype, d)) return *this;
        names += (names.empty() ? "" : ", ") + dtype::describe(d);
    }
    fail(RAI_ERROR_DTYPE_MISMATCH, "expected dtype one of " + names + ", got " + dtype::describe(t_->dtype));
}

TensorCheck &TensorCheck::ndim(int32_t expected) {
    if (t_->ndim != expected)
        fail(RAI_ERROR_SHAPE_MISMATCH, "expected " + std::to_string(expected) + " dimensions, got " +
                                           std::to_string(t_->ndim) + " (shape " + shape_string() + ")");
    return *this;
}

TensorCheck &TensorCheck::shape(std::initializer_list<int64_t> expected) {
    bool ok = static_cast<int32_t>(expected.size()) == t_->ndim;
    int32_t i = 0;
    for (int64_t e : expected) {
        if (!ok) break;
        ok = e == kAnyDim || e == t_->shape[i];
        ++i;
    }
    if (!ok)
        fail(RAI_ERROR_SHAPE_MISMATCH, "shape mismatch: expected " +
                                           format_shape(expected.begin(), static_cast<int32_t>(expected.size())) +
                                           ", got " + shape_string());
    return *this;
}

bool TensorCheck::is_contiguous() const {
    if (t_->strides == nullptr) return true;
    // A tensor with no elements has no layout to get wrong (numpy gives such arrays 0 strides).
    for (int32_t i = 0; i < t_->ndim; ++i)
        if (t_->shape[i] == 0) return true;
    int64_t expect = 1;
    for (int32_t i = t_->ndim - 1; i >= 0; --i) {
        if (t_->shape[i] != 1 && t_->strides[i] != expect) return false;
        expect *= t_->shape[i];
    }
    return true;
}

TensorCheck &TensorCheck::contiguous() {
    if (!is_contiguous()) fail(RAI_ERROR_LAYOUT, "must be contiguous (row-major), got strides that are not");
    return *this;
}

bool TensorCheck::on_host() const {
    return t_->device.device_type == RAI_DEVICE_CPU || t_->device.device_type == RAI_DEVICE_CUDA_HOST;
}

TensorCheck &TensorCheck::on(const rai_context &ctx) {
    if (ctx.device.device_type == RAI_DEVICE_CUDA) {
        if (t_->device.device_type != RAI_DEVICE_CUDA || t_->device.device_id != ctx.device.device_id)
            fail(RAI_ERROR_DEVICE_MISMATCH, "tensor is on device type " + std::to_string(t_->device.device_type) +
                                                " id " + std::to_string(t_->device.device_id) +
                                                ", the context computes on CUDA device " +
                                                std::to_string(ctx.device.device_id));
    } else if (!on_host()) {
        fail(RAI_ERROR_DEVICE_MISMATCH, "tensor is on a CUDA device, the context computes on the CPU");
    }
    return *this;
}

void *TensorCheck::data() const { return static_cast<char *>(t_->data) + t_->byte_offset; }

std::string TensorCheck::shape_string() const { return format_shape(t_->shape, t_->ndim); }

}  // namespace rai
