#include "matrix.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dtype.h"
#include "error.h"
#include "kernels.h"
#include "matrix_cuda.h"
#include "rng.h"
#include "tensor_check.h"
#include "error.h"

namespace rai::ternary {

void check_matrix_on(const rai_context &ctx, const rai_vsa_matrix &m, const char *name) {
    RAI_CHECK(m.device.device_type == ctx.device.device_type && m.device.device_id == ctx.device.device_id,
            RAI_ERROR_DEVICE_MISMATCH, std::string(name) + " lives on another device than ctx");
}

rai_vsa_matrix *matrix_create(const rai_context &ctx, std::size_t rows, std::size_t dim) {
    auto m = std::make_unique<rai_vsa_matrix>();
    m->device = ctx.device;
    m->rows = rows;
    m->dim = dim;
    m->wpad = padded_words(dim);
    if (is_cuda(ctx)) gpu::create(ctx, *m);
    else m->words = Words(row_block_words(rows, m->wpad, "rows"));
    return m.release();
}

void matrix_destroy(rai_vsa_matrix *m) noexcept {
    if (m == nullptr) return;
    gpu::destroy(*m);
    delete m;
}

void matrix_set_row(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row, const rai_tvec &v) {
    check_index(row, m.rows, "row");
    check_same_dim(v, "v", m.dim, "matrix");
    if (m.on_cuda()) gpu::set_row(ctx, m, row, v);
    else if (m.wpad != 0) std::memcpy(m.row(row), v.row(), 2 * m.wpad * sizeof(u64));
}

void matrix_get_row(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row, rai_tvec &out) {
    check_index(row, m.rows, "row");
    check_same_dim(out, "out", m.dim, "matrix");
    if (m.on_cuda()) gpu::get_row(ctx, m, row, out);
    else if (m.wpad != 0) std::memcpy(out.row(), m.row(row), 2 * m.wpad * sizeof(u64));
}

namespace {
// Validates an int8 [n, dim] tensor for rows [row_offset, row_offset + n) of m; returns n and the
// element strides.
std::size_t check_int8_rows(const rai_vsa_matrix &m, std::size_t row_offset, const TensorCheck &t,
                            std::ptrdiff_t *s0, std::ptrdiff_t *s1) {
    const std::size_t n = static_cast<std::size_t>(t.dim(0));
    RAI_CHECK(row_offset <= m.rows && n <= m.rows - row_offset, RAI_ERROR_OUT_OF_RANGE,
            "row_offset " + std::to_string(row_offset) + " + " + std::to_string(n) + " rows exceeds the matrix's " +
                std::to_string(m.rows) + " rows");
    const rai_tensor &tt = t.tensor();
    *s0 = tt.strides ? static_cast<std::ptrdiff_t>(tt.strides[0]) : static_cast<std::ptrdiff_t>(m.dim);
    *s1 = tt.strides ? static_cast<std::ptrdiff_t>(tt.strides[1]) : 1;
    return n;
}
}  // namespace

void matrix_write_int8(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row_offset, const rai_tensor *src) {
    TensorCheck t("src", src);
    // (TensorCheck::shape's kAnyDim skips the index increment, so pass the actual extent.)
    t.on(ctx).dtype(dtype::i8).ndim(2);
    t.shape({t.dim(0), static_cast<int64_t>(m.dim)});
    std::ptrdiff_t s0, s1;
    const std::size_t n = check_int8_rows(m, row_offset, t, &s0, &s1);
    const int8_t *base = static_cast<const int8_t *>(t.data());
    if (m.on_cuda()) {
        gpu::write_int8(ctx, m, row_offset, base, n, s0, s1);
        return;
    }
    for (std::size_t r = 0; r < n; ++r) {
        const int8_t *row = base + static_cast<std::ptrdiff_t>(r) * s0;
        const std::size_t bad = find_invalid_int8(row, s1, m.dim);
        RAI_CHECK(bad == m.dim, RAI_ERROR_INVALID_ARGUMENT,
                  "src[" + std::to_string(r) + ", " + std::to_string(bad) + "] is " +
                      std::to_string(row[static_cast<std::ptrdiff_t>(bad) * s1]) +
                      ", a trit must be -1, 0 or 1 (nothing was written)");
    }
    for (std::size_t r = 0; r < n; ++r) {
        u64 *dst = m.row(row_offset + r);
        pack_int8_row(base + static_cast<std::ptrdiff_t>(r) * s0, s1, m.dim, dst, dst + m.wpad);
    }
}

void matrix_read_int8(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row_offset, rai_tensor *dst) {
    TensorCheck t("dst", dst);
    // (TensorCheck::shape's kAnyDim skips the index increment, so pass the actual extent.)
    t.on(ctx).dtype(dtype::i8).ndim(2);
    t.shape({t.dim(0), static_cast<int64_t>(m.dim)});
    std::ptrdiff_t s0, s1;
    const std::size_t n = check_int8_rows(m, row_offset, t, &s0, &s1);
    int8_t *base = static_cast<int8_t *>(t.data());
    if (m.on_cuda()) {
        gpu::read_int8(ctx, m, row_offset, base, n, s0, s1);
        return;
    }
    for (std::size_t r = 0; r < n; ++r) {
        const u64 *row = m.row(row_offset + r);
        unpack_int8_row(row, row + m.wpad, m.dim, base + static_cast<std::ptrdiff_t>(r) * s0, s1);
    }
}

void matrix_random(const rai_context &ctx, rai_vsa_matrix &m, const RandomSpec &spec) {
    if (m.on_cuda()) {
        gpu::random(ctx, m, spec);
        return;
    }
    for (std::size_t r = 0; r < m.rows; ++r) {
        u64 *row = m.row(r);
        random_fill(spec, spec.seed + r, row, row + m.wpad, m.dim);
    }
}

void matrix_binary(const rai_context &ctx, const rai_vsa_matrix &a, const rai_vsa_matrix &b, int op,
                   rai_vsa_matrix &out) {
    RAI_CHECK(b.dim == a.dim, RAI_ERROR_SHAPE_MISMATCH,
            "b: dimension " + std::to_string(b.dim) + " differs from a's dimension " + std::to_string(a.dim));
    RAI_CHECK(b.rows == a.rows || b.rows == 1, RAI_ERROR_SHAPE_MISMATCH,
            "b: " + std::to_string(b.rows) + " rows, expected a's " + std::to_string(a.rows) + " rows or 1 row");
    RAI_CHECK(out.dim == a.dim && out.rows == a.rows, RAI_ERROR_SHAPE_MISMATCH,
            "out: shape [" + std::to_string(out.rows) + ", " + std::to_string(out.dim) + "] differs from a's [" +
                std::to_string(a.rows) + ", " + std::to_string(a.dim) + "]");
    if (a.on_cuda()) {
        gpu::binary(ctx, a, b, op, out);
        return;
    }
    const Kernels &k = kernels();
    for (std::size_t r = 0; r < a.rows; ++r) k.binary(op, a.row(r), b.row(b.rows == 1 ? 0 : r), out.row(r), a.wpad);
}

void matrix_permute(const rai_context &ctx, const rai_vsa_matrix &m, int64_t shift, rai_vsa_matrix &out) {
    RAI_CHECK(out.dim == m.dim && out.rows == m.rows, RAI_ERROR_SHAPE_MISMATCH,
            "out: shape [" + std::to_string(out.rows) + ", " + std::to_string(out.dim) + "] differs from m's [" +
                std::to_string(m.rows) + ", " + std::to_string(m.dim) + "]");
    if (m.on_cuda()) {
        gpu::permute(ctx, m, shift, out);
        return;
    }
    Words tmp(2 * m.wpad);
    for (std::size_t r = 0; r < m.rows; ++r) {
        permute_row(m.row(r), tmp.data(), m.dim, m.wpad, shift);
        if (m.wpad != 0) std::memcpy(out.row(r), tmp.data(), 2 * m.wpad * sizeof(u64));
    }
}

void matrix_bundle(const rai_context &ctx, const rai_vsa_matrix &m, const int32_t *weights, const BundleOptions &opt,
                   rai_vsa_matrix &out) {
    RAI_CHECK(m.rows > 0, RAI_ERROR_INVALID_ARGUMENT, "m: a bundle needs at least one row, m has none");
    RAI_CHECK(out.rows == 1 && out.dim == m.dim, RAI_ERROR_SHAPE_MISMATCH,
            "out: shape [" + std::to_string(out.rows) + ", " + std::to_string(out.dim) + "], expected [1, " +
                std::to_string(m.dim) + "]");
    check_weights(weights, m.rows);
    if (m.on_cuda()) {
        gpu::bundle(ctx, m, weights, opt, out);
        return;
    }
    std::vector<const u64 *> rows(m.rows);
    for (std::size_t r = 0; r < m.rows; ++r) rows[r] = m.row(r);
    // out may be m itself only if m has one row; bundle into a temporary to keep that case exact.
    Words tmp(2 * m.wpad);
    bundle_rows(rows.data(), weights, m.rows, m.dim, m.wpad, opt, tmp.data());
    if (m.wpad != 0) std::memcpy(out.row(0), tmp.data(), 2 * m.wpad * sizeof(u64));
}

}  // namespace rai::ternary
