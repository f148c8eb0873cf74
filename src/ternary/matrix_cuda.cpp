#include "matrix_cuda.h"

#include <memory>
#include <string>

#include "error.h"
#include "context.h"
#include "cuda_plugin.h"
#include "cuda_ternary_abi.h"
#include "error.h"

namespace rai::ternary::gpu {

namespace {

const raicuda_ternary &table() {
    const auto *t = static_cast<const raicuda_ternary *>(cuda::require_capability(RAICUDA_TERNARY_NAME));
    RAI_CHECK(t->struct_size >= sizeof(raicuda_ternary), RAI_ERROR_UNSUPPORTED,
              "the CUDA plugin's ternary kernels are older than this librai");
    return *t;
}

int32_t ordinal(const rai_context &ctx) { return ctx.device.device_id; }

uint64_t *base(const rai_vsa_matrix &m) { return static_cast<uint64_t *>(m.dev); }
uint64_t *row_ptr(const rai_vsa_matrix &m, std::size_t r) { return base(m) + r * 2 * m.wpad; }
std::size_t row_bytes(const rai_vsa_matrix &m) { return 2 * m.wpad * sizeof(uint64_t); }

void memcpy_sync(const rai_context &ctx, void *dst, const void *src, std::size_t bytes, int32_t kind) {
    if (bytes == 0) return;
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) { return be.memcpy_sync(ordinal(ctx), dst, src, bytes, kind, ctx.stream, e); });
}

}  // namespace

void create(const rai_context &ctx, rai_vsa_matrix &m) {
    const raicuda_ternary &t = table();
    const std::size_t words = row_block_words(m.rows, m.wpad, "rows");
    if (words == 0) return;
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) { return be.malloc_device(ordinal(ctx), words * sizeof(uint64_t), &m.dev, e); });
    try {
        cuda::check([&](raicuda_err *e) { return t.zero(ordinal(ctx), ctx.stream, base(m), words, e); });
    } catch (...) {
        destroy(m);
        throw;
    }
}

void destroy(rai_vsa_matrix &m) noexcept {
    if (m.dev == nullptr) return;
    if (const raicuda_backend *be = cuda::plugin()) be->free_device(m.device.device_id, m.dev);
    m.dev = nullptr;
}

void set_row(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row, const rai_tvec &v) {
    memcpy_sync(ctx, row_ptr(m, row), v.row(), row_bytes(m), RAICUDA_HOST_TO_DEVICE);
}

void get_row(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row, rai_tvec &out) {
    memcpy_sync(ctx, out.row(), row_ptr(m, row), row_bytes(m), RAICUDA_DEVICE_TO_HOST);
}

void write_int8(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row_offset, const int8_t *src, std::size_t n,
                int64_t s0, int64_t s1) {
    const raicuda_ternary &t = table();
    uint64_t bad = 0;
    int32_t value = 0;
    cuda::check([&](raicuda_err *e) { return t.validate_int8(ordinal(ctx), ctx.stream, src, s0, s1, n, m.dim, &bad, &value, e); });
    RAI_CHECK(bad >= static_cast<uint64_t>(n) * m.dim, RAI_ERROR_INVALID_ARGUMENT,
              "src[" + std::to_string(bad / (m.dim ? m.dim : 1)) + ", " + std::to_string(bad % (m.dim ? m.dim : 1)) +
                  "] is " + std::to_string(value) + ", a trit must be -1, 0 or 1 (nothing was written)");
    if (n == 0 || m.wpad == 0) return;
    cuda::check([&](raicuda_err *e) {
        return t.pack_int8(ordinal(ctx), ctx.stream, src, s0, s1, row_ptr(m, row_offset), n, m.dim, m.wpad, e);
    });
}

void read_int8(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row_offset, int8_t *dst, std::size_t n,
               int64_t s0, int64_t s1) {
    if (n == 0 || m.wpad == 0) return;
    const raicuda_ternary &t = table();
    cuda::check([&](raicuda_err *e) {
        return t.unpack_int8(ordinal(ctx), ctx.stream, row_ptr(m, row_offset), dst, s0, s1, n, m.dim, m.wpad, e);
    });
}

void random(const rai_context &ctx, rai_vsa_matrix &m, const RandomSpec &spec) {
    if (m.dev == nullptr) return;
    const raicuda_ternary &t = table();
    cuda::check([&](raicuda_err *e) {
        return t.random(ordinal(ctx), ctx.stream, base(m), m.rows, m.dim, m.wpad, spec.generator, spec.distribution,
                        spec.seed, spec.sparse_threshold, e);
    });
}

void binary(const rai_context &ctx, const rai_vsa_matrix &a, const rai_vsa_matrix &b, int op, rai_vsa_matrix &out) {
    if (a.dev == nullptr) return;
    const raicuda_ternary &t = table();
    cuda::check([&](raicuda_err *e) {
        return t.binary(ordinal(ctx), ctx.stream, op, base(a), base(b), base(out), a.rows, b.rows, a.wpad, e);
    });
}

void permute(const rai_context &ctx, const rai_vsa_matrix &m, int64_t shift, rai_vsa_matrix &out) {
    if (m.dev == nullptr) return;
    const raicuda_ternary &t = table();
    const std::size_t bytes = m.rows * row_bytes(m);
    if (&out != &m) {
        cuda::check([&](raicuda_err *e) {
            return t.permute(ordinal(ctx), ctx.stream, base(m), base(out), m.rows, m.dim, m.wpad, shift, e);
        });
        return;
    }
    cuda::DeviceMemory tmp(ordinal(ctx), bytes);  // in place: through a temporary
    auto *tp = static_cast<uint64_t *>(tmp.get());
    cuda::check([&](raicuda_err *e) { return t.permute(ordinal(ctx), ctx.stream, base(m), tp, m.rows, m.dim, m.wpad, shift, e); });
    memcpy_sync(ctx, base(out), tp, bytes, RAICUDA_DEVICE_TO_DEVICE);
}

void bundle(const rai_context &ctx, const rai_vsa_matrix &m, const int32_t *weights, const BundleOptions &opt,
            rai_vsa_matrix &out) {
    if (m.wpad == 0) return;
    const raicuda_ternary &t = table();
    std::unique_ptr<cuda::DeviceMemory> dw;
    if (weights != nullptr) {
        dw = std::make_unique<cuda::DeviceMemory>(ordinal(ctx), m.rows * sizeof(int32_t));
        memcpy_sync(ctx, dw->get(), weights, m.rows * sizeof(int32_t), RAICUDA_HOST_TO_DEVICE);
    }
    const int32_t *w = dw ? static_cast<const int32_t *>(dw->get()) : nullptr;
    // out may be m only when m has one row: bundle into a temporary then.
    std::unique_ptr<cuda::DeviceMemory> tmp;
    uint64_t *dst = base(out);
    if (&out == &m) {
        tmp = std::make_unique<cuda::DeviceMemory>(ordinal(ctx), row_bytes(m));
        dst = static_cast<uint64_t *>(tmp->get());
    }
    cuda::check([&](raicuda_err *e) {
        return t.bundle(ordinal(ctx), ctx.stream, base(m), m.rows, w, m.dim, m.wpad, opt.tie_break, opt.seed, dst, e);
    });
    if (tmp) memcpy_sync(ctx, base(out), dst, row_bytes(m), RAICUDA_DEVICE_TO_DEVICE);
    // The weights buffer is freed on return: make sure the kernel has read it.
    if (dw) rai::synchronize(ctx);
}

void similarity(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, int32_t metric,
                int32_t out_kind, void *out, int64_t s0, int64_t s1) {
    if (queries.rows == 0 || items.rows == 0) return;
    const raicuda_ternary &t = table();
    cuda::check([&](raicuda_err *e) {
        return t.similarity(ordinal(ctx), ctx.stream, base(queries), queries.rows, base(items), items.rows,
                            queries.dim, queries.wpad, metric, out_kind, out, s0, s1, e);
    });
}

void topk(const rai_context &ctx, const rai_vsa_matrix &queries, const rai_vsa_matrix &items, std::size_t k,
          int32_t metric, int64_t *index, int64_t is0, int64_t is1, float *score, int64_t ss0, int64_t ss1) {
    if (queries.rows == 0) return;
    const raicuda_ternary &t = table();
    cuda::check([&](raicuda_err *e) {
        return t.topk(ordinal(ctx), ctx.stream, base(queries), queries.rows, base(items), items.rows, queries.dim,
                      queries.wpad, k, metric, index, is0, is1, score, ss0, ss1, e);
    });
}

}  // namespace rai::ternary::gpu
