// Cyclic permutation of a packed row: element i moves to (i + shift) mod dim.
#include <cstring>

#include "vsa.h"

namespace rai::ternary {

namespace {
// Bits [off, off + len) of a plane, len in [1, 64], as the low bits of the result.
inline u64 get_bits(const u64 *src, std::size_t off, std::size_t len) {
    const std::size_t w = off / 64, sh = off % 64;
    u64 v = src[w] >> sh;
    if (sh != 0 && sh + len > 64) v |= src[w + 1] << (64 - sh);
    return len == 64 ? v : v & ((u64{1} << len) - 1);
}

void permute_plane(const u64 *src, u64 *dst, std::size_t dim, std::size_t s) {
    // Output position j holds input (j - s) mod dim: positions [s, dim) come from [0, dim - s),
    // positions [0, s) from [dim - s, dim).
    for (std::size_t w = 0; w * 64 < dim; ++w) {
        const std::size_t lo = w * 64, hi = lo + 64 < dim ? lo + 64 : dim;
        u64 v = 0;
        if (lo < s) {
            const std::size_t end = hi < s ? hi : s;
            v |= get_bits(src, lo + dim - s, end - lo);
        }
        if (hi > s) {
            const std::size_t start = lo > s ? lo : s;
            v |= get_bits(src, start - s, hi - start) << (start - lo);
        }
        dst[w] = v;
    }
}
}  // namespace

void permute_row(const u64 *src, u64 *dst, std::size_t dim, std::size_t wpad, int64_t shift) {
    if (dim == 0) return;
    const int64_t n = static_cast<int64_t>(dim);
    const std::size_t s = static_cast<std::size_t>(((shift % n) + n) % n);
    if (s == 0) {
        std::memcpy(dst, src, 2 * wpad * sizeof(u64));
        return;
    }
    permute_plane(src, dst, dim, s);
    permute_plane(src + wpad, dst + wpad, dim, s);
}

}  // namespace rai::ternary
