// rai_vsa_matrix: `rows` packed trit vectors of one dimension, stored row after row in the
// words.h layout on the device of the context that created it. The item memory of the VSA
// search functions, and the batch form of the element-wise operations. CPU contexts keep the
// rows in host memory (`words`); CUDA contexts in device memory (`dev`), handled by
// matrix_cuda.cpp through the plugin's "ternary/1" kernels.
#pragma once
#include <cstddef>
#include <cstdint>

#include "context.h"
#include "rai.h"
#include "tvec.h"
#include "rng.h"
#include "vsa.h"
#include "words.h"

struct rai_vsa_matrix {
    rai_device device{RAI_DEVICE_CPU, 0};
    std::size_t rows = 0;
    std::size_t dim = 0;
    std::size_t wpad = 0;
    rai::ternary::Words words;  // CPU: rows * 2 * wpad words
    void *dev = nullptr;        // CUDA: rows * 2 * wpad words on device.device_id

    bool on_cuda() const { return device.device_type == RAI_DEVICE_CUDA; }
    rai::ternary::u64 *row(std::size_t r) { return words.data() + r * 2 * wpad; }
    const rai::ternary::u64 *row(std::size_t r) const { return words.data() + r * 2 * wpad; }
    std::size_t stride() const { return 2 * wpad; }
};

namespace rai::ternary {

// Throws DEVICE_MISMATCH when a matrix lives on another device than ctx.
void check_matrix_on(const rai_context &ctx, const rai_vsa_matrix &m, const char *name);

rai_vsa_matrix *matrix_create(const rai_context &ctx, std::size_t rows, std::size_t dim);
void matrix_destroy(rai_vsa_matrix *m) noexcept;
void matrix_set_row(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row, const rai_tvec &v);
void matrix_get_row(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row, rai_tvec &out);
// src/dst: int8 tensors [n, dim] on the context's device, rows [row_offset, row_offset + n).
void matrix_write_int8(const rai_context &ctx, rai_vsa_matrix &m, std::size_t row_offset, const rai_tensor *src);
void matrix_read_int8(const rai_context &ctx, const rai_vsa_matrix &m, std::size_t row_offset, rai_tensor *dst);
// Row r gets the vector rai_vsa_random would make with seed + r.
void matrix_random(const rai_context &ctx, rai_vsa_matrix &m, const RandomSpec &spec);
// out[r] = op(a[r], b[r or 0]); b has a's rows or one row (broadcast). out may be a or b.
void matrix_binary(const rai_context &ctx, const rai_vsa_matrix &a, const rai_vsa_matrix &b, int op,
                   rai_vsa_matrix &out);
void matrix_permute(const rai_context &ctx, const rai_vsa_matrix &m, int64_t shift, rai_vsa_matrix &out);
// out (one row) = bundle of all rows of m. weights: host array of m.rows values or NULL.
void matrix_bundle(const rai_context &ctx, const rai_vsa_matrix &m, const int32_t *weights, const BundleOptions &opt,
                   rai_vsa_matrix &out);

}  // namespace rai::ternary
