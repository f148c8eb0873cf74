// The scalar reference kernels: plain 64-bit words, no ISA extension. The oracle every other
// backend is tested against.
#include "kernels.h"

namespace rai::ternary {
namespace {

struct V {
    using T = u64;
    static constexpr std::size_t kWords = 1;
    static T load(const u64 *p) { return *p; }
    static void store(u64 *p, T v) { *p = v; }
    static T loadu(const u64 *p) { return *p; }
    static void storeu(u64 *p, T v) { *p = v; }
    static T shr(T a, unsigned n) { return a >> n; }
    static T shl(T a, unsigned n) { return a << n; }
    static T and_(T a, T b) { return a & b; }
    static T or_(T a, T b) { return a | b; }
    static T xor_(T a, T b) { return a ^ b; }
    static T andnot(T a, T b) { return ~a & b; }
    static T zero() { return 0; }
    static T ones() { return ~u64{0}; }
};

// Population count by the classic SWAR reduction (no POPCNT instruction needed).
inline uint64_t popcount64(u64 x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (x * 0x0101010101010101ULL) >> 56;
}

struct Pop {
    uint64_t sum = 0;
    void add(u64 v) { sum += popcount64(v); }
    uint64_t total() const { return sum; }
};

#include "kernel_impl.h"

}  // namespace

const Kernels kScalarKernels = make_kernels<V, Pop>("scalar");

}  // namespace rai::ternary
