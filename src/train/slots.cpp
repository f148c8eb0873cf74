#include "slots.h"

#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/tensor_check.h"

namespace rai::train {

namespace {

// Whether two float ranges (lengths in elements) share memory.
bool overlaps(const float *a, std::size_t na, const float *b, std::size_t nb) {
    return bytes_overlap(a, na * sizeof(float), b, nb * sizeof(float));
}

}  // namespace

Slot make_slot(const rai_context &ctx, const char *name, const rai_tensor *param, const rai_tensor *grad,
               const std::vector<Slot> &existing) {
    Slot s;
    s.name = name != nullptr ? std::string(name) : "param" + std::to_string(existing.size());
    TensorCheck p("param", param);
    p.dtype(dtype::f32).on(ctx).contiguous();
    TensorCheck g("grad", grad);
    g.dtype(dtype::f32).on(ctx).contiguous();
    if (g.tensor().ndim != p.tensor().ndim || g.shape_string() != p.shape_string())
        throw Error(RAI_ERROR_SHAPE_MISMATCH, "grad: shape " + g.shape_string() + " differs from param '" + s.name +
                                                  "' shape " + p.shape_string());
    require(p.numel() > 0, RAI_ERROR_INVALID_ARGUMENT, "param: '" + s.name + "' has no elements");
    s.param = static_cast<float *>(p.data());
    s.grad = static_cast<float *>(g.data());
    s.n = static_cast<std::size_t>(p.numel());
    s.shape.assign(param->shape, param->shape + param->ndim);
    require(!overlaps(s.param, s.n, s.grad, s.n), RAI_ERROR_INVALID_ARGUMENT,
            "grad: overlaps its parameter '" + s.name + "' in memory");
    for (const Slot &e : existing) {
        require(!overlaps(s.param, s.n, e.param, e.n) && !overlaps(s.param, s.n, e.grad, e.n), RAI_ERROR_INVALID_ARGUMENT,
                "param: '" + s.name + "' overlaps the registered tensors of '" + e.name + "'");
        require(!overlaps(s.grad, s.n, e.param, e.n) && !overlaps(s.grad, s.n, e.grad, e.n), RAI_ERROR_INVALID_ARGUMENT,
                "grad: of '" + s.name + "' overlaps the registered tensors of '" + e.name + "'");
    }
    return s;
}

float *check_output(const rai_context &ctx, const char *what, const rai_tensor *t, const Slot &slot) {
    TensorCheck c(what, t);
    c.dtype(dtype::f32).on(ctx).contiguous();
    if (c.numel() != static_cast<int64_t>(slot.n) ||
        c.shape_string() != format_shape(slot.shape.data(), static_cast<int32_t>(slot.shape.size())))
        throw Error(RAI_ERROR_SHAPE_MISMATCH, std::string(what) + ": shape " + c.shape_string() + " differs from '" +
                                                  slot.name + "' " +
                                                  format_shape(slot.shape.data(), static_cast<int32_t>(slot.shape.size())));
    return static_cast<float *>(c.data());
}

}  // namespace rai::train
