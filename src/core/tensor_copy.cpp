#include "tensor_copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cuda_plugin.h"
#include "error.h"
#include "tensor_check.h"

namespace rai {

namespace {

// Row-major element strides of a tensor (its own strides, or the contiguous ones).
std::vector<int64_t> element_strides(const rai_tensor &t) {
    std::vector<int64_t> s(static_cast<std::size_t>(t.ndim));
    int64_t acc = 1;
    for (int32_t i = t.ndim - 1; i >= 0; --i) {
        s[i] = t.strides ? t.strides[i] : acc;
        acc *= t.shape[i];
    }
    return s;
}

// Copies `n` elements of type T between strided rows.
template <class T>
void copy_row(char *dst, int64_t dstride, const char *src, int64_t sstride, int64_t n) {
    T *d = reinterpret_cast<T *>(dst);
    const T *s = reinterpret_cast<const T *>(src);
    if (dstride == 1 && sstride == 1) {
        std::memcpy(d, s, static_cast<std::size_t>(n) * sizeof(T));
        return;
    }
    for (int64_t i = 0; i < n; ++i) d[i * dstride] = s[i * sstride];
}

// Host strided copy: walks the outer dimensions with a multi-index and copies the innermost
// dimension as a (possibly strided) row.
void host_copy(const TensorCheck &src, const TensorCheck &dst) {
    const std::size_t eb = src.elem_bytes();
    if (src.is_contiguous() && dst.is_contiguous()) {
        std::memcpy(dst.data(), src.data(), static_cast<std::size_t>(src.numel()) * eb);
        return;
    }
    const rai_tensor &s = src.tensor(), &d = dst.tensor();
    const auto ss = element_strides(s), ds = element_strides(d);
    const int32_t last = s.ndim - 1;  // ndim >= 1 here: a 0-d tensor is always contiguous
    const int64_t inner = s.shape[last];
    auto row = eb == 1 ? copy_row<uint8_t> : eb == 2 ? copy_row<uint16_t> : eb == 4 ? copy_row<uint32_t>
                                                                                   : copy_row<uint64_t>;
    std::vector<int64_t> idx(static_cast<std::size_t>(s.ndim), 0);
    const char *sp = static_cast<const char *>(src.data());
    char *dp = static_cast<char *>(dst.data());
    const int64_t rows = src.numel() / inner;
    for (int64_t r = 0; r < rows; ++r) {
        int64_t so = 0, doff = 0;
        for (int32_t i = 0; i < last; ++i) {
            so += idx[i] * ss[i];
            doff += idx[i] * ds[i];
        }
        row(dp + doff * static_cast<int64_t>(eb), ds[last], sp + so * static_cast<int64_t>(eb), ss[last], inner);
        for (int32_t i = last - 1; i >= 0; --i) {
            if (++idx[i] < s.shape[i]) break;
            idx[i] = 0;
        }
    }
}

raicuda_view view_of(const rai_tensor &t, void *data) {
    raicuda_view v{};
    v.data = data;
    v.ndim = t.ndim;
    const auto s = element_strides(t);
    for (int32_t i = 0; i < t.ndim; ++i) {
        v.shape[i] = t.shape[i];
        v.strides[i] = s[i];
    }
    return v;
}

// A contiguous rai_tensor of the same shape over `data`.
rai_tensor contiguous_like(const rai_tensor &t, void *data, rai_device device) {
    rai_tensor c = t;
    c.data = data;
    c.strides = nullptr;
    c.byte_offset = 0;
    c.device = device;
    return c;
}

}  // namespace

void tensor_copy(const rai_context &ctx, const rai_tensor *src_t, const rai_tensor *dst_t) {
    TensorCheck src("src", src_t), dst("dst", dst_t);
    dst.dtype(src_t->dtype);
    require(src_t->ndim == dst_t->ndim &&
                std::equal(src_t->shape, src_t->shape + src_t->ndim, dst_t->shape),
            RAI_ERROR_SHAPE_MISMATCH,
            "dst: shape mismatch: expected " + src.shape_string() + ", got " + dst.shape_string());
    if (!is_cuda(ctx)) {
        src.on(ctx);
        dst.on(ctx);
    } else {
        if (!src.on_host()) src.on(ctx);
        if (!dst.on_host()) dst.on(ctx);
    }
    if (src.numel() == 0) return;
    if (src.on_host() && dst.on_host()) {
        host_copy(src, dst);
        return;
    }

    const raicuda_backend &be = cuda::require_plugin();
    const int32_t dev = ctx.device.device_id;
    const std::size_t bytes = static_cast<std::size_t>(src.numel()) * src.elem_bytes();
    const rai_device cpu{RAI_DEVICE_CPU, 0}, gpu = ctx.device;
    auto memcpy_sync = [&](void *d, const void *s, int32_t kind) {
        cuda::check([&](raicuda_err *e) { return be.memcpy_sync(dev, d, s, bytes, kind, ctx.stream, e); });
    };
    auto device_strided = [&](const rai_tensor &d, void *dd, const rai_tensor &s, void *sd) {
        const raicuda_view dv = view_of(d, dd), sv = view_of(s, sd);
        cuda::check([&](raicuda_err *e) { return be.copy_strided(dev, &dv, &sv, src.elem_bytes(), ctx.stream, e); });
    };

    if (!src.on_host() && !dst.on_host()) {
        if (src.is_contiguous() && dst.is_contiguous())
            memcpy_sync(dst.data(), src.data(), RAICUDA_DEVICE_TO_DEVICE);
        else {
            device_strided(*dst_t, dst.data(), *src_t, src.data());
            synchronize(ctx);
        }
        return;
    }

    if (src.on_host()) {  // host -> device
        std::vector<char> staging;
        const void *packed = src.data();
        if (!src.is_contiguous()) {
            staging.resize(bytes);
            const rai_tensor c = contiguous_like(*src_t, staging.data(), cpu);
            host_copy(src, TensorCheck("staging", &c));
            packed = staging.data();
        }
        if (dst.is_contiguous()) {
            memcpy_sync(dst.data(), packed, RAICUDA_HOST_TO_DEVICE);
        } else {
            cuda::DeviceMemory tmp(dev, bytes);
            memcpy_sync(tmp.get(), packed, RAICUDA_HOST_TO_DEVICE);
            const rai_tensor c = contiguous_like(*src_t, tmp.get(), gpu);
            device_strided(*dst_t, dst.data(), c, tmp.get());
            synchronize(ctx);
        }
        return;
    }

    // device -> host
    std::vector<char> staging;
    void *host_target = dst.is_contiguous() ? dst.data() : (staging.resize(bytes), staging.data());
    if (src.is_contiguous()) {
        memcpy_sync(host_target, src.data(), RAICUDA_DEVICE_TO_HOST);
    } else {
        cuda::DeviceMemory tmp(dev, bytes);
        const rai_tensor c = contiguous_like(*src_t, tmp.get(), gpu);
        device_strided(c, tmp.get(), *src_t, src.data());
        memcpy_sync(host_target, tmp.get(), RAICUDA_DEVICE_TO_HOST);
    }
    if (!dst.is_contiguous()) {
        const rai_tensor c = contiguous_like(*dst_t, staging.data(), cpu);
        host_copy(TensorCheck("staging", &c), dst);
    }
}

}  // namespace rai
