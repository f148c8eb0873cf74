// Cyclic permutation of a packed row: element i moves to (i + shift) mod dim.
#include <algorithm>
#include <cstring>

#include "kernels.h"
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

// ORs bits [src_off, src_off + len) of src into bits [dst_off, dst_off + len) of dst (which are
// zero). Reads only words holding bits of the source range.
void or_bits(u64 *dst, std::size_t dst_off, const u64 *src, std::size_t src_off, std::size_t len) {
    if (len == 0) return;
    if (dst_off % 64 != 0) {  // leading partial destination word
        const std::size_t n = std::min(len, 64 - dst_off % 64);
        dst[dst_off / 64] |= get_bits(src, src_off, n) << (dst_off % 64);
        dst_off += n;
        src_off += n;
        len -= n;
    }
    u64 *d = dst + dst_off / 64;
    const u64 *s = src + src_off / 64;
    const std::size_t full = len / 64, sh = src_off % 64;
    if (sh == 0) {
        std::memcpy(d, s, full * sizeof(u64));
    } else {
        // s[i + 1] holds bits below src_off + len for every i < full, so it is in range.
        kernels().funnel(d, s, full, static_cast<unsigned>(sh));
    }
    if (len % 64 != 0) d[full] |= get_bits(src, src_off + 64 * full, len % 64);
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
    // Output [s, dim) holds input [0, dim - s); output [0, s) holds input [dim - s, dim).
    std::memset(dst, 0, 2 * wpad * sizeof(u64));
    for (int plane = 0; plane < 2; ++plane) {
        const u64 *in = src + plane * wpad;
        u64 *out = dst + plane * wpad;
        or_bits(out, s, in, 0, dim - s);
        or_bits(out, 0, in, dim - s, s);
    }
}

}  // namespace rai::ternary
