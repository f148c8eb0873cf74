// AVX-512 kernels (compiled with -mavx512f -mavx512vpopcntdq ...; called only through kernels()
// when the CPU has AVX-512 F/BW/VL and VPOPCNTDQ). Population counts use VPOPCNTQ.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_* placeholders
// (GCC bug 105593, fixed in GCC 13); the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels.h"

namespace rai::ternary {
namespace {

struct V {
    using T = __m512i;
    static constexpr std::size_t kWords = 8;
    static T load(const u64 *p) { return _mm512_load_si512(p); }
    static void store(u64 *p, T v) { _mm512_store_si512(p, v); }
    static T loadu(const u64 *p) { return _mm512_loadu_si512(p); }
    static void storeu(u64 *p, T v) { _mm512_storeu_si512(p, v); }
    static T shr(T a, unsigned n) { return _mm512_srl_epi64(a, _mm_cvtsi32_si128(static_cast<int>(n))); }
    static T shl(T a, unsigned n) { return _mm512_sll_epi64(a, _mm_cvtsi32_si128(static_cast<int>(n))); }
    static T and_(T a, T b) { return _mm512_and_si512(a, b); }
    static T or_(T a, T b) { return _mm512_or_si512(a, b); }
    static T xor_(T a, T b) { return _mm512_xor_si512(a, b); }
    static T andnot(T a, T b) { return _mm512_andnot_si512(a, b); }
    static T zero() { return _mm512_setzero_si512(); }
    static T ones() { return _mm512_set1_epi64(-1); }
};

struct Pop {
    __m512i acc = _mm512_setzero_si512();
    void add(__m512i v) { acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v)); }
    uint64_t total() const { return static_cast<uint64_t>(_mm512_reduce_add_epi64(acc)); }
};

#include "kernel_impl.h"

}  // namespace

const Kernels kAvx512Kernels = make_kernels<V, Pop>("avx512");

}  // namespace rai::ternary
