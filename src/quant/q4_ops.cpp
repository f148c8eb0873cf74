// The 4-bit operations behind the C ABI: argument checks, state management, and dispatch to
// the CPU kernels or the CUDA plugin's "quant/1" table.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "cuda_quant_abi.h"
#include "dtype.h"
#include "error.h"
#include "q4_kernels.h"
#include "q4_state.h"
#include "tensor_check.h"

namespace rai::q4 {

namespace {

std::size_t align256(std::size_t v) { return (v + 255) & ~std::size_t{255}; }

Elem elem_of(const rai_dtype &d) {
    if (dtype::equal(d, dtype::f16)) return Elem::F16;
    if (dtype::equal(d, dtype::bf16)) return Elem::BF16;
    return Elem::F32;
}

const raicuda_quant_table &cuda_table() {
    return *static_cast<const raicuda_quant_table *>(rai::cuda::require_capability(RAICUDA_QUANT_CAPABILITY));
}

std::string shape_str(const std::vector<int64_t> &s) { return format_shape(s.data(), static_cast<int32_t>(s.size())); }

// Copies bytes between two pointers that both live on `dev` (host or one CUDA device).
void copy_same_device(const rai_device &dev, void *dst, const void *src, std::size_t bytes, void *stream) {
    if (bytes == 0) return;
    if (dev.device_type != RAI_DEVICE_CUDA) {
        std::memcpy(dst, src, bytes);
        return;
    }
    const raicuda_backend &be = rai::cuda::require_plugin();
    rai::cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(dev.device_id, dst, src, bytes, RAICUDA_DEVICE_TO_DEVICE, stream, e);
    });
}

void upload(const rai_device &dev, void *dst, const void *host_src, std::size_t bytes, void *stream) {
    if (bytes == 0) return;
    if (dev.device_type != RAI_DEVICE_CUDA) {
        std::memcpy(dst, host_src, bytes);
        return;
    }
    const raicuda_backend &be = rai::cuda::require_plugin();
    rai::cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(dev.device_id, dst, host_src, bytes, RAICUDA_HOST_TO_DEVICE, stream, e);
    });
}

void download(const rai_device &dev, void *host_dst, const void *src, std::size_t bytes, void *stream) {
    if (bytes == 0) return;
    if (dev.device_type != RAI_DEVICE_CUDA) {
        std::memcpy(host_dst, src, bytes);
        return;
    }
    const raicuda_backend &be = rai::cuda::require_plugin();
    rai::cuda::check([&](raicuda_err *e) {
        return be.memcpy_sync(dev.device_id, host_dst, src, bytes, RAICUDA_DEVICE_TO_HOST, stream, e);
    });
}

// The context's stream when it computes on the state's device, else the default stream.
void *stream_for(const rai_context &ctx, const rai_q4_state &s) {
    return (is_cuda(ctx) && ctx.device.device_id == s.device.device_id) ? ctx.stream : nullptr;
}

TensorCheck &float_tensor(TensorCheck &t, const rai_context &ctx) {
    return t.on(ctx).dtype_in({dtype::f32, dtype::f16, dtype::bf16}).contiguous();
}

}  // namespace

const char *torch_dtype_name(const rai_dtype &d) {
    if (dtype::equal(d, dtype::f32)) return "float32";
    if (dtype::equal(d, dtype::f16)) return "float16";
    if (dtype::equal(d, dtype::bf16)) return "bfloat16";
    return nullptr;
}

std::unique_ptr<rai_q4_state> allocate_state(const rai_context &ctx, const StateMeta &meta, const std::string &what,
                                             rai_status status) {
    require(meta.type == kFP4 || meta.type == kNF4, status,
            what + ": type " + std::to_string(meta.type) + " is not RAI_Q4_FP4 (1) or RAI_Q4_NF4 (2)");
    require(valid_blocksize(meta.blocksize), status,
            what + ": blocksize " + std::to_string(meta.blocksize) + " is not one of 32, 64, 128, ..., 4096");
    require(!meta.shape.empty() && meta.shape.size() <= static_cast<std::size_t>(kMaxDims), status,
            what + ": shape has " + std::to_string(meta.shape.size()) + " dimensions, expected 1.." +
                std::to_string(kMaxDims));
    int64_t numel = 1;
    for (int64_t d : meta.shape) {
        require(d >= 0, status, what + ": shape " + shape_str(meta.shape) + " has a negative dimension");
        require(d == 0 || numel <= std::numeric_limits<int64_t>::max() / 4 / d, RAI_ERROR_OUT_OF_RANGE,
                what + ": shape " + shape_str(meta.shape) + " has too many elements");
        numel *= d;
    }
    require(numel >= 1, status, what + ": shape " + shape_str(meta.shape) + " has no elements");
    require(torch_dtype_name(meta.dtype) != nullptr, status,
            what + ": dtype " + dtype::describe(meta.dtype) + " is not f32, f16 or bf16");
    if (meta.nested) {
        require(meta.nested_blocksize == kNestedBlocksize, status,
                what + ": nested blocksize " + std::to_string(meta.nested_blocksize) +
                    " is not 256 (the only one bitsandbytes' 4-bit kernels take)");
        require(std::isfinite(meta.offset), status, what + ": nested offset is not finite");
    }
    auto s = std::make_unique<rai_q4_state>();
    s->type = meta.type;
    s->blocksize = meta.blocksize;
    s->dtype = meta.dtype;
    s->shape = meta.shape;
    s->numel = numel;
    s->nblocks = num_blocks(numel, meta.blocksize);
    s->nested = meta.nested;
    s->device = ctx.device;
    if (meta.nested) {
        s->nested_blocksize = meta.nested_blocksize;
        s->nested_nblocks = num_blocks(s->nblocks, meta.nested_blocksize);
        s->offset = meta.offset;
        s->off_absmax8 = 0;
        s->off_absmax2 = align256(static_cast<std::size_t>(s->nblocks));
        s->off_code8 = align256(s->off_absmax2 + static_cast<std::size_t>(s->nested_nblocks) * 4);
        s->bytes = s->off_code8 + 256 * 4;
    } else {
        s->off_absmax = 0;
        s->bytes = static_cast<std::size_t>(s->nblocks) * 4;
    }
    if (is_cuda(ctx)) s->dev = std::make_unique<rai::cuda::DeviceMemory>(ctx.device.device_id, s->bytes);
    else s->host.resize(s->bytes);
    return s;
}

HostArrays to_host(const rai_context &ctx, const rai_q4_state &s) {
    HostArrays a;
    void *stream = stream_for(ctx, s);
    if (s.on_cuda() && stream == nullptr) {
        // Copying through another context: the work that filled the state may still be queued on
        // the stream of the context that made it.
        const raicuda_quant_table &t = cuda_table();
        rai::cuda::check([&](raicuda_err *e) { return t.device_synchronize(s.device.device_id, e); });
    }
    if (s.nested) {
        a.absmax8.resize(static_cast<std::size_t>(s.nblocks));
        a.absmax2.resize(static_cast<std::size_t>(s.nested_nblocks));
        a.code8.resize(256);
        download(s.device, a.absmax8.data(), s.absmax8(), a.absmax8.size(), stream);
        download(s.device, a.absmax2.data(), s.absmax2(), a.absmax2.size() * 4, stream);
        download(s.device, a.code8.data(), s.code8(), 256 * 4, stream);
    } else {
        a.absmax.resize(static_cast<std::size_t>(s.nblocks));
        download(s.device, a.absmax.data(), s.absmax(), a.absmax.size() * 4, stream);
    }
    return a;
}

void from_host(const rai_context &ctx, rai_q4_state &s, const HostArrays &a) {
    void *stream = stream_for(ctx, s);
    if (s.nested) {
        upload(s.device, s.absmax8(), a.absmax8.data(), static_cast<std::size_t>(s.nblocks), stream);
        upload(s.device, s.absmax2(), a.absmax2.data(), static_cast<std::size_t>(s.nested_nblocks) * 4, stream);
        upload(s.device, s.code8(), a.code8.data(), 256 * 4, stream);
    } else {
        upload(s.device, s.absmax(), a.absmax.data(), static_cast<std::size_t>(s.nblocks) * 4, stream);
    }
}

std::vector<float> decoded_absmax_host(const rai_q4_state &s) {
    std::vector<float> out(static_cast<std::size_t>(s.nblocks));
    if (s.nested)
        decode_nested_absmax(s.absmax8(), s.absmax2(), s.code8(), s.offset, s.nblocks, s.nested_blocksize, out.data());
    else
        std::memcpy(out.data(), s.absmax(), out.size() * 4);
    return out;
}

void bnb_quant_map(int32_t type, float out[16]) {
    std::memcpy(out, codebook(type), 16 * sizeof(float));
    if (type == kFP4) out[8] = 0.0f;  // bitsandbytes' get_4bit_type("fp4") has +0 there
}

void fill_cuda_weight(const rai_q4_state &s, const void *codes, raicuda_q4_weight *w) {
    std::memset(w, 0, sizeof *w);
    w->codes = static_cast<const uint8_t *>(codes);
    if (s.nested) {
        w->absmax8 = s.absmax8();
        w->absmax2 = s.absmax2();
        w->code8 = s.code8();
        w->offset = s.offset;
        w->nested = 1;
        w->nested_blocksize = s.nested_blocksize;
    } else {
        w->absmax = s.absmax();
    }
    w->type = s.type;
    w->blocksize = s.blocksize;
    w->n = s.numel;
}

const uint8_t *check_codes(const rai_context &ctx, const rai_tensor *codes, int64_t n, const char *name) {
    TensorCheck c(name, codes);
    c.on(ctx).contiguous();
    const int64_t need = codes_bytes(n);
    const int64_t eb = static_cast<int64_t>(c.elem_bytes());
    const int64_t expected = (need + eb - 1) / eb * eb;
    const int64_t have = c.numel() * eb;
    require(have == expected, RAI_ERROR_SHAPE_MISMATCH,
            std::string(name) + ": holds " + std::to_string(have) + " bytes (shape " + c.shape_string() +
                "), expected " + std::to_string(expected) + " for " + std::to_string(n) +
                " elements ((n + 1) / 2 bytes of codes)");
    return static_cast<const uint8_t *>(c.data());
}

void check_state_device(const rai_context &ctx, const rai_q4_state &s, const char *name) {
    const bool same = s.device.device_type == RAI_DEVICE_CUDA
                          ? (is_cuda(ctx) && ctx.device.device_id == s.device.device_id)
                          : !is_cuda(ctx);
    require(same, RAI_ERROR_DEVICE_MISMATCH,
            std::string(name) + ": the state lives on " +
                (s.on_cuda() ? "CUDA device " + std::to_string(s.device.device_id) : std::string("the host")) +
                ", the context computes on " +
                (is_cuda(ctx) ? "CUDA device " + std::to_string(ctx.device.device_id) : std::string("the CPU")) +
                " (rai_q4_state_copy moves it)");
}

rai_q4_state *quantize(const rai_context &ctx, const rai_q4_params &p, const rai_tensor *src, rai_tensor *codes) {
    require(p.double_quant == 0 || p.double_quant == 1, RAI_ERROR_INVALID_ARGUMENT,
            "params->double_quant is " + std::to_string(p.double_quant) + ", expected 0 or 1");
    TensorCheck x("src", src);
    float_tensor(x, ctx);
    require(x.tensor().ndim >= 1 && x.tensor().ndim <= kMaxDims, RAI_ERROR_SHAPE_MISMATCH,
            "src: has " + std::to_string(x.tensor().ndim) + " dimensions, expected 1.." + std::to_string(kMaxDims));
    require(x.numel() >= 1, RAI_ERROR_SHAPE_MISMATCH, "src: has no elements (shape " + x.shape_string() + ")");
    StateMeta meta;
    meta.type = p.type == 0 ? kNF4 : p.type;
    meta.blocksize = p.blocksize == 0 ? kDefaultBlocksize : p.blocksize;
    meta.dtype = x.tensor().dtype;
    meta.shape.assign(x.tensor().shape, x.tensor().shape + x.tensor().ndim);
    meta.nested = p.double_quant == 1;
    std::unique_ptr<rai_q4_state> s = allocate_state(ctx, meta, "params", RAI_ERROR_INVALID_ARGUMENT);
    uint8_t *out = const_cast<uint8_t *>(check_codes(ctx, codes, s->numel, "codes"));
    const Elem elem = elem_of(meta.dtype);
    const int64_t n = s->numel, nb = s->nblocks;
    if (!is_cuda(ctx)) {
        if (!s->nested) {
            q4::quantize(x.data(), elem, n, s->blocksize, s->type, out, s->absmax());
        } else {
            std::vector<float> absmax(static_cast<std::size_t>(nb));
            q4::quantize(x.data(), elem, n, s->blocksize, s->type, out, absmax.data());
            s->offset = mean_absmax(absmax.data(), nb);
            for (float &a : absmax) a = a - s->offset;
            std::memcpy(s->code8(), kDynamicMap, sizeof kDynamicMap);
            quantize_8bit_blockwise(absmax.data(), nb, s->nested_blocksize, s->code8(), s->absmax8(), s->absmax2());
        }
        return s.release();
    }
    const raicuda_quant_table &t = cuda_table();
    const int32_t ord = ctx.device.device_id;
    if (!s->nested) {
        rai::cuda::check([&](raicuda_err *e) {
            return t.quantize(ord, ctx.stream, x.data(), static_cast<int32_t>(elem), n, s->blocksize, s->type, out,
                              s->absmax(), e);
        });
        return s.release();
    }
    rai::cuda::DeviceMemory absmax(ord, static_cast<std::size_t>(nb) * 4);
    upload(s->device, s->code8(), kDynamicMap, sizeof kDynamicMap, ctx.stream);
    float offset = 0.0f;
    rai::cuda::check([&](raicuda_err *e) {
        return t.quantize(ord, ctx.stream, x.data(), static_cast<int32_t>(elem), n, s->blocksize, s->type, out,
                          static_cast<float *>(absmax.get()), e);
    });
    rai::cuda::check([&](raicuda_err *e) {
        return t.double_quant(ord, ctx.stream, static_cast<const float *>(absmax.get()), nb, s->nested_blocksize,
                              s->code8(), s->absmax8(), s->absmax2(), &offset, e);
    });
    s->offset = offset;
    return s.release();
}

void dequantize(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes, rai_tensor *dst) {
    check_state_device(ctx, s, "state");
    const uint8_t *c = check_codes(ctx, codes, s.numel, "codes");
    TensorCheck d("dst", dst);
    float_tensor(d, ctx);
    require(d.numel() == s.numel, RAI_ERROR_SHAPE_MISMATCH,
            "dst: has " + std::to_string(d.numel()) + " elements (shape " + d.shape_string() + "), the state has " +
                std::to_string(s.numel) + " (shape " + shape_str(s.shape) + ")");
    const Elem elem = elem_of(d.tensor().dtype);
    if (!is_cuda(ctx)) {
        if (s.nested) {
            const std::vector<float> scales = decoded_absmax_host(s);
            q4::dequantize(c, scales.data(), 0, s.numel, s.blocksize, s.type, d.data(), elem);
        } else {
            q4::dequantize(c, s.absmax(), 0, s.numel, s.blocksize, s.type, d.data(), elem);
        }
        return;
    }
    raicuda_q4_weight w;
    fill_cuda_weight(s, c, &w);
    const raicuda_quant_table &t = cuda_table();
    rai::cuda::check([&](raicuda_err *e) {
        return t.dequantize(ctx.device.device_id, ctx.stream, &w, d.data(), static_cast<int32_t>(elem), e);
    });
}

rai_q4_state *create_state(const rai_context &ctx, const rai_q4_state_params &p, const rai_tensor *absmax,
                           const rai_tensor *nested_absmax, const rai_tensor *nested_quant_map) {
    require(p.ndim >= 1 && p.ndim <= kMaxDims, RAI_ERROR_INVALID_ARGUMENT,
            "params->ndim is " + std::to_string(p.ndim) + ", expected 1.." + std::to_string(kMaxDims));
    TensorCheck a("absmax", absmax);
    a.on(ctx).dtype_in({dtype::f32, dtype::u8}).contiguous();
    StateMeta meta;
    meta.type = p.type == 0 ? kNF4 : p.type;
    meta.blocksize = p.blocksize == 0 ? kDefaultBlocksize : p.blocksize;
    meta.dtype = (p.dtype.code == 0 && p.dtype.bits == 0 && p.dtype.lanes == 0) ? dtype::f32 : p.dtype;
    meta.shape.assign(p.shape, p.shape + p.ndim);
    meta.nested = dtype::equal(a.tensor().dtype, dtype::u8);
    meta.nested_blocksize = p.nested_blocksize == 0 ? kNestedBlocksize : p.nested_blocksize;
    meta.offset = p.offset;
    if (!meta.nested) {
        require(nested_absmax == nullptr && nested_quant_map == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                "nested_absmax and nested_quant_map must be NULL for an f32 absmax (no double quantisation)");
    } else {
        require_not_null(nested_absmax, "nested_absmax (required with a u8 absmax: double quantisation)");
    }
    std::unique_ptr<rai_q4_state> s = allocate_state(ctx, meta, "params", RAI_ERROR_INVALID_ARGUMENT);
    require(a.numel() == s->nblocks, RAI_ERROR_SHAPE_MISMATCH,
            "absmax: has " + std::to_string(a.numel()) + " elements, expected " + std::to_string(s->nblocks) +
                " blocks (" + std::to_string(s->numel) + " elements / blocksize " + std::to_string(s->blocksize) + ")");
    void *stream = is_cuda(ctx) ? ctx.stream : nullptr;
    if (!s->nested) {
        copy_same_device(s->device, s->absmax(), a.data(), static_cast<std::size_t>(s->nblocks) * 4, stream);
        return s.release();
    }
    TensorCheck a2("nested_absmax", nested_absmax);
    a2.on(ctx).dtype(dtype::f32).contiguous();
    require(a2.numel() == s->nested_nblocks, RAI_ERROR_SHAPE_MISMATCH,
            "nested_absmax: has " + std::to_string(a2.numel()) + " elements, expected " +
                std::to_string(s->nested_nblocks) + " (blocks / 256)");
    if (nested_quant_map != nullptr) {
        TensorCheck q("nested_quant_map", nested_quant_map);
        q.on(ctx).dtype(dtype::f32).contiguous();
        require(q.numel() == 256, RAI_ERROR_SHAPE_MISMATCH,
                "nested_quant_map: has " + std::to_string(q.numel()) + " elements, expected 256");
        copy_same_device(s->device, s->code8(), q.data(), 256 * 4, stream);
    } else {
        upload(s->device, s->code8(), kDynamicMap, sizeof kDynamicMap, stream);
    }
    copy_same_device(s->device, s->absmax8(), a.data(), static_cast<std::size_t>(s->nblocks), stream);
    copy_same_device(s->device, s->absmax2(), a2.data(), static_cast<std::size_t>(s->nested_nblocks) * 4, stream);
    return s.release();
}

rai_q4_state *copy_state(const rai_context &ctx, const rai_q4_state &s) {
    StateMeta meta;
    meta.type = s.type;
    meta.blocksize = s.blocksize;
    meta.dtype = s.dtype;
    meta.shape = s.shape;
    meta.nested = s.nested;
    meta.nested_blocksize = s.nested ? s.nested_blocksize : kNestedBlocksize;
    meta.offset = s.offset;
    std::unique_ptr<rai_q4_state> out = allocate_state(ctx, meta, "state", RAI_ERROR_INTERNAL);
    from_host(ctx, *out, to_host(ctx, s));
    return out.release();
}

void state_info(const rai_q4_state &s, rai_q4_state_info *info) {
    info->type = s.type;
    info->blocksize = s.blocksize;
    info->double_quant = s.nested ? 1 : 0;
    info->nested_blocksize = s.nested ? s.nested_blocksize : 0;
    info->ndim = static_cast<int32_t>(s.shape.size());
    for (int i = 0; i < kMaxDims; ++i) info->shape[i] = i < info->ndim ? s.shape[static_cast<std::size_t>(i)] : 0;
    info->dtype = s.dtype;
    info->offset = s.nested ? s.offset : 0.0f;
    info->numel = s.numel;
    info->blocks = s.nblocks;
    info->nested_blocks = s.nested ? s.nested_nblocks : 0;
    info->codes_bytes = static_cast<uint64_t>(codes_bytes(s.numel));
    info->state_bytes = s.nested ? static_cast<uint64_t>(s.nblocks + s.nested_nblocks * 4 + 256 * 4 + 4)
                                 : static_cast<uint64_t>(s.nblocks * 4);
    info->device = s.device;
}

void read_field(const rai_context &ctx, const rai_q4_state &s, int32_t field, rai_tensor *dst) {
    check_state_device(ctx, s, "state");
    TensorCheck d("dst", dst);
    d.on(ctx).contiguous();
    auto expect = [&](const rai_dtype &dt, int64_t count) {
        d.dtype(dt);
        require(d.numel() == count, RAI_ERROR_SHAPE_MISMATCH,
                "dst: has " + std::to_string(d.numel()) + " elements, the field has " + std::to_string(count));
    };
    auto need_nested = [&](const char *what) {
        require(s.nested, RAI_ERROR_INVALID_ARGUMENT,
                std::string("field: ") + what + " exists only with double quantisation");
    };
    void *stream = is_cuda(ctx) ? ctx.stream : nullptr;
    switch (field) {
    case RAI_Q4_FIELD_ABSMAX:
        if (s.nested) {
            expect(dtype::u8, s.nblocks);
            copy_same_device(s.device, d.data(), s.absmax8(), static_cast<std::size_t>(s.nblocks), stream);
        } else {
            expect(dtype::f32, s.nblocks);
            copy_same_device(s.device, d.data(), s.absmax(), static_cast<std::size_t>(s.nblocks) * 4, stream);
        }
        return;
    case RAI_Q4_FIELD_QUANT_MAP: {
        expect(dtype::f32, 16);
        float qm[16];
        bnb_quant_map(s.type, qm);
        upload(s.device, d.data(), qm, sizeof qm, stream);
        return;
    }
    case RAI_Q4_FIELD_NESTED_ABSMAX:
        need_nested("RAI_Q4_FIELD_NESTED_ABSMAX");
        expect(dtype::f32, s.nested_nblocks);
        copy_same_device(s.device, d.data(), s.absmax2(), static_cast<std::size_t>(s.nested_nblocks) * 4, stream);
        return;
    case RAI_Q4_FIELD_NESTED_QUANT_MAP:
        need_nested("RAI_Q4_FIELD_NESTED_QUANT_MAP");
        expect(dtype::f32, 256);
        copy_same_device(s.device, d.data(), s.code8(), 256 * 4, stream);
        return;
    case RAI_Q4_FIELD_ABSMAX_DECODED: {
        expect(dtype::f32, s.nblocks);
        if (!is_cuda(ctx)) {
            const std::vector<float> v = decoded_absmax_host(s);
            std::memcpy(d.data(), v.data(), v.size() * 4);
            return;
        }
        raicuda_q4_weight w;
        fill_cuda_weight(s, nullptr, &w);
        const raicuda_quant_table &t = cuda_table();
        rai::cuda::check([&](raicuda_err *e) {
            return t.decode_absmax(ctx.device.device_id, ctx.stream, &w, static_cast<float *>(d.data()), e);
        });
        return;
    }
    default:
        throw Error(RAI_ERROR_INVALID_ARGUMENT,
                    "field: " + std::to_string(field) + " is not a rai_q4_field (1..5)");
    }
}

namespace {

struct LinearShapes {
    int64_t N = 0, K = 0, M = 0;
};

// Checks in[..., in_dim] and out[..., out_dim] with equal leading dimensions.
LinearShapes check_linear(const rai_context &ctx, const rai_q4_state &s, TensorCheck &in, TensorCheck &out,
                          bool forward) {
    require(s.shape.size() == 2, RAI_ERROR_SHAPE_MISMATCH,
            "state: a linear layer needs a 2-D weight [out, in], the state has shape " + shape_str(s.shape));
    LinearShapes r;
    r.N = s.shape[0];
    r.K = s.shape[1];
    const int64_t in_dim = forward ? r.K : r.N, out_dim = forward ? r.N : r.K;
    const char *in_name = forward ? "x" : "dy";
    const char *out_name = forward ? "y" : "dx";
    float_tensor(in, ctx);
    const rai_tensor &ti = in.tensor();
    require(ti.ndim >= 1 && ti.shape[ti.ndim - 1] == in_dim, RAI_ERROR_SHAPE_MISMATCH,
            std::string(in_name) + ": shape " + in.shape_string() + " must end in " + std::to_string(in_dim) +
                (forward ? " (the weight's in features K)" : " (the weight's out features N)"));
    out.on(ctx).dtype(ti.dtype).contiguous();
    const rai_tensor &to = out.tensor();
    bool ok = to.ndim == ti.ndim;
    for (int32_t i = 0; ok && i + 1 < ti.ndim; ++i) ok = to.shape[i] == ti.shape[i];
    ok = ok && to.shape[to.ndim - 1] == out_dim;
    if (!ok) {
        std::vector<int64_t> want(ti.shape, ti.shape + ti.ndim);
        want.back() = out_dim;
        throw Error(RAI_ERROR_SHAPE_MISMATCH,
                    std::string(out_name) + ": shape mismatch: expected " + shape_str(want) + ", got " + out.shape_string());
    }
    r.M = in.numel() / in_dim;
    return r;
}

}  // namespace

void linear_forward(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes, const rai_tensor *x,
                    const rai_tensor *bias, rai_tensor *y) {
    check_state_device(ctx, s, "state");
    const uint8_t *c = check_codes(ctx, codes, s.numel, "codes");
    TensorCheck xt("x", x), yt("y", y);
    const LinearShapes sh = check_linear(ctx, s, xt, yt, true);
    const void *b = nullptr;
    if (bias != nullptr) {
        TensorCheck bt("bias", bias);
        bt.on(ctx).dtype(xt.tensor().dtype).contiguous().shape({sh.N});
        b = bt.data();
    }
    if (sh.M == 0) return;
    const Elem elem = elem_of(xt.tensor().dtype);
    if (!is_cuda(ctx)) {
        if (s.nested) {
            const std::vector<float> scales = decoded_absmax_host(s);
            linear_forward_cpu(c, scales.data(), s.blocksize, s.type, sh.N, sh.K, xt.data(), sh.M, b, yt.data(), elem);
        } else {
            linear_forward_cpu(c, s.absmax(), s.blocksize, s.type, sh.N, sh.K, xt.data(), sh.M, b, yt.data(), elem);
        }
        return;
    }
    raicuda_q4_weight w;
    fill_cuda_weight(s, c, &w);
    const raicuda_quant_table &t = cuda_table();
    rai::cuda::check([&](raicuda_err *e) {
        return t.linear_forward(ctx.device.device_id, ctx.stream, &w, sh.N, sh.K, xt.data(), sh.M, b, yt.data(),
                                static_cast<int32_t>(elem), e);
    });
}

void linear_backward_input(const rai_context &ctx, const rai_q4_state &s, const rai_tensor *codes,
                           const rai_tensor *dy, rai_tensor *dx) {
    check_state_device(ctx, s, "state");
    const uint8_t *c = check_codes(ctx, codes, s.numel, "codes");
    TensorCheck dyt("dy", dy), dxt("dx", dx);
    const LinearShapes sh = check_linear(ctx, s, dyt, dxt, false);
    if (sh.M == 0) return;
    const Elem elem = elem_of(dyt.tensor().dtype);
    if (!is_cuda(ctx)) {
        if (s.nested) {
            const std::vector<float> scales = decoded_absmax_host(s);
            linear_backward_input_cpu(c, scales.data(), s.blocksize, s.type, sh.N, sh.K, dyt.data(), sh.M, dxt.data(),
                                      elem);
        } else {
            linear_backward_input_cpu(c, s.absmax(), s.blocksize, s.type, sh.N, sh.K, dyt.data(), sh.M, dxt.data(),
                                      elem);
        }
        return;
    }
    raicuda_q4_weight w;
    fill_cuda_weight(s, c, &w);
    const raicuda_quant_table &t = cuda_table();
    rai::cuda::check([&](raicuda_err *e) {
        return t.linear_backward_input(ctx.device.device_id, ctx.stream, &w, sh.N, sh.K, dyt.data(), sh.M,
                                       dxt.data(), static_cast<int32_t>(elem), e);
    });
}

}  // namespace rai::q4
