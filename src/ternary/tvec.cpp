#include "tvec.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "error.h"
#include "kernels.h"
#include "scalar.h"
#include "error.h"

namespace rai::ternary {

rai_tvec *tvec_create(std::size_t dim) {
    auto v = std::make_unique<rai_tvec>();
    v->dim = dim;
    v->wpad = padded_words(dim);
    v->words = Words(row_block_words(1, v->wpad, "dim"));
    return v.release();
}

rai_tvec *tvec_clone(const rai_tvec &src) {
    auto v = std::make_unique<rai_tvec>();
    v->dim = src.dim;
    v->wpad = src.wpad;
    v->words = src.words.clone();
    return v.release();
}

void check_same_dim(const rai_tvec &v, const char *name, std::size_t dim, const char *ref_name) {
    RAI_CHECK(v.dim == dim, RAI_ERROR_SHAPE_MISMATCH,
            std::string(name) + ": dimension " + std::to_string(v.dim) + " differs from " + ref_name +
                "'s dimension " + std::to_string(dim));
}

std::size_t find_invalid_int8(const int8_t *values, std::ptrdiff_t stride, std::size_t dim) {
    for (std::size_t i = 0; i < dim; ++i) {
        const int8_t x = values[static_cast<std::ptrdiff_t>(i) * stride];
        if (x < -1 || x > 1) return i;
    }
    return dim;
}

void pack_int8_row(const int8_t *values, std::ptrdiff_t stride, std::size_t dim, u64 *plus, u64 *minus) {
    const std::size_t nw = words_for(dim);
    for (std::size_t w = 0; w < nw; ++w) {
        const std::size_t base = w * 64, n = dim - base < 64 ? dim - base : 64;
        u64 p = 0, m = 0;
        if (stride == 1) {
            const int8_t *x = values + base;
            for (std::size_t j = 0; j < n; ++j) {
                p |= static_cast<u64>(x[j] == 1) << j;
                m |= static_cast<u64>(x[j] == -1) << j;
            }
        } else {
            for (std::size_t j = 0; j < n; ++j) {
                const int8_t x = values[static_cast<std::ptrdiff_t>(base + j) * stride];
                p |= static_cast<u64>(x == 1) << j;
                m |= static_cast<u64>(x == -1) << j;
            }
        }
        plus[w] = p;
        minus[w] = m;
    }
}

void unpack_int8_row(const u64 *plus, const u64 *minus, std::size_t dim, int8_t *out, std::ptrdiff_t stride) {
    for (std::size_t i = 0; i < dim; ++i) {
        const u64 bit = u64{1} << (i % 64);
        out[static_cast<std::ptrdiff_t>(i) * stride] =
            static_cast<int8_t>(((plus[i / 64] & bit) != 0) - ((minus[i / 64] & bit) != 0));
    }
}

void tvec_import_int8(rai_tvec &v, const int8_t *values, std::size_t count, const char *name) {
    RAI_CHECK(count == v.dim, RAI_ERROR_SHAPE_MISMATCH,
            std::string(name) + ": count " + std::to_string(count) + " differs from the vector's dimension " +
                std::to_string(v.dim));
    if (count != 0) require_not_null(values, name);
    const std::size_t bad = find_invalid_int8(values, 1, count);
    RAI_CHECK(bad == count, RAI_ERROR_INVALID_ARGUMENT,
            bad == count ? std::string()
                         : std::string(name) + "[" + std::to_string(bad) + "] is " + std::to_string(values[bad]) +
                               ", a trit must be -1, 0 or 1");
    pack_int8_row(values, 1, count, v.plus(), v.minus());
}

void tvec_export_int8(const rai_tvec &v, int8_t *out) { unpack_int8_row(v.plus(), v.minus(), v.dim, out, 1); }

namespace {
template <class W>
void check_planes(const W *plus, const W *minus, std::size_t words, std::size_t dim) {
    constexpr std::size_t bits = sizeof(W) * 8;
    for (std::size_t w = 0; w < words; ++w) {
        RAI_CHECK((plus[w] & minus[w]) == 0, RAI_ERROR_INVALID_ARGUMENT,
                "plus and minus planes overlap in word " + std::to_string(w) + " (a position cannot be both +1 and -1)");
    }
    if (dim % bits != 0 && words > 0) {
        const W pad = static_cast<W>(~((W{1} << (dim % bits)) - 1));
        RAI_CHECK(((plus[words - 1] | minus[words - 1]) & pad) == 0, RAI_ERROR_INVALID_ARGUMENT,
                "padding bits beyond dimension " + std::to_string(dim) + " are set in the last plane word");
    }
}

template <class W>
void check_plane_args(const rai_tvec &v, const W *plus, const W *minus, std::size_t words) {
    constexpr std::size_t bits = sizeof(W) * 8;
    const std::size_t need = v.dim / bits + (v.dim % bits != 0);
    RAI_CHECK(words == need, RAI_ERROR_SHAPE_MISMATCH,
            "words is " + std::to_string(words) + ", a vector of dimension " + std::to_string(v.dim) + " has " +
                std::to_string(need) + " u" + std::to_string(bits) + " words per plane");
    if (words != 0) {
        require_not_null(plus, "plus");
        require_not_null(minus, "minus");
    }
    check_planes(plus, minus, words, v.dim);
}
}  // namespace

void tvec_import_planes_u32(rai_tvec &v, const uint32_t *plus, const uint32_t *minus, std::size_t words) {
    check_plane_args(v, plus, minus, words);
    for (std::size_t w = 0; w < words_for(v.dim); ++w) {
        const std::size_t lo = 2 * w, hi = 2 * w + 1;
        v.plus()[w] = u64{plus[lo]} | (hi < words ? u64{plus[hi]} << 32 : 0);
        v.minus()[w] = u64{minus[lo]} | (hi < words ? u64{minus[hi]} << 32 : 0);
    }
}

void tvec_import_planes_u64(rai_tvec &v, const uint64_t *plus, const uint64_t *minus, std::size_t words) {
    check_plane_args(v, plus, minus, words);
    if (words != 0) {
        std::memcpy(v.plus(), plus, words * sizeof(u64));
        std::memcpy(v.minus(), minus, words * sizeof(u64));
    }
}

void tvec_export_planes_u32(const rai_tvec &v, uint32_t *plus, uint32_t *minus) {
    const std::size_t n32 = v.dim / 32 + (v.dim % 32 != 0);
    for (std::size_t k = 0; k < n32; ++k) {
        plus[k] = static_cast<uint32_t>(v.plus()[k / 2] >> (32 * (k % 2)));
        minus[k] = static_cast<uint32_t>(v.minus()[k / 2] >> (32 * (k % 2)));
    }
}

void tvec_export_planes_u64(const rai_tvec &v, uint64_t *plus, uint64_t *minus) {
    const std::size_t n = words_for(v.dim);
    if (n != 0) {
        std::memcpy(plus, v.plus(), n * sizeof(u64));
        std::memcpy(minus, v.minus(), n * sizeof(u64));
    }
}

void check_index(std::size_t index, std::size_t dim, const char *name) {
    RAI_CHECK(index < dim, RAI_ERROR_OUT_OF_RANGE,
            std::string(name) + " " + std::to_string(index) + " is out of range for dimension " + std::to_string(dim));
}

int8_t tvec_get(const rai_tvec &v, std::size_t index) {
    check_index(index, v.dim, "index");
    const u64 bit = u64{1} << (index % 64);
    return static_cast<int8_t>(((v.plus()[index / 64] & bit) != 0) - ((v.minus()[index / 64] & bit) != 0));
}

void tvec_set(rai_tvec &v, std::size_t index, int8_t value) {
    check_index(index, v.dim, "index");
    check_trit(value, "value");
    const u64 bit = u64{1} << (index % 64);
    u64 &p = v.plus()[index / 64], &m = v.minus()[index / 64];
    p = value == 1 ? (p | bit) : (p & ~bit);
    m = value == -1 ? (m | bit) : (m & ~bit);
}

std::size_t tvec_count_positive(const rai_tvec &v) { return kernels().popcount(v.plus(), v.wpad); }
std::size_t tvec_count_negative(const rai_tvec &v) { return kernels().popcount(v.minus(), v.wpad); }

int64_t tvec_sum(const rai_tvec &v) {
    return static_cast<int64_t>(tvec_count_positive(v)) - static_cast<int64_t>(tvec_count_negative(v));
}

double tvec_sparsity(const rai_tvec &v) {
    if (v.dim == 0) return 1.0;
    const std::size_t nnz = kernels().popcount(v.words.data(), 2 * v.wpad);
    return 1.0 - static_cast<double>(nnz) / static_cast<double>(v.dim);
}

void tvec_negate(const rai_tvec &v, rai_tvec &out) {
    // Swap the planes; out has v's dimension and may be v itself.
    if (&out == &v) {
        std::swap_ranges(out.plus(), out.plus() + out.wpad, out.minus());
        return;
    }
    if (v.wpad != 0) {
        std::memcpy(out.plus(), v.minus(), v.wpad * sizeof(u64));
        std::memcpy(out.minus(), v.plus(), v.wpad * sizeof(u64));
    }
}

bool tvec_equal(const rai_tvec &a, const rai_tvec &b) {
    return a.dim == b.dim && (a.wpad == 0 || std::memcmp(a.words.data(), b.words.data(), 2 * a.wpad * sizeof(u64)) == 0);
}

}  // namespace rai::ternary
