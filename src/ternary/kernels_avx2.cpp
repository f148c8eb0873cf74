// AVX2 kernels (compiled with -mavx2; called only through kernels() when the CPU has AVX2).
// Population counts use the nibble lookup table with VPSHUFB and VPSADBW (W. Mula).
#include <immintrin.h>

#include "kernels.h"

namespace rai::ternary {
namespace {

struct V {
    using T = __m256i;
    static constexpr std::size_t kWords = 4;
    static T load(const u64 *p) { return _mm256_load_si256(reinterpret_cast<const __m256i *>(p)); }
    static void store(u64 *p, T v) { _mm256_store_si256(reinterpret_cast<__m256i *>(p), v); }
    static T loadu(const u64 *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }
    static void storeu(u64 *p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), v); }
    static T shr(T a, unsigned n) { return _mm256_srl_epi64(a, _mm_cvtsi32_si128(static_cast<int>(n))); }
    static T shl(T a, unsigned n) { return _mm256_sll_epi64(a, _mm_cvtsi32_si128(static_cast<int>(n))); }
    static T and_(T a, T b) { return _mm256_and_si256(a, b); }
    static T or_(T a, T b) { return _mm256_or_si256(a, b); }
    static T xor_(T a, T b) { return _mm256_xor_si256(a, b); }
    static T andnot(T a, T b) { return _mm256_andnot_si256(a, b); }
    static T zero() { return _mm256_setzero_si256(); }
    static T ones() { return _mm256_set1_epi32(-1); }
};

struct Pop {
    __m256i acc = _mm256_setzero_si256();
    void add(__m256i v) {
        const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                             0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        const __m256i low = _mm256_set1_epi8(0x0f);
        const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
        const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256()));
    }
    uint64_t total() const {
        alignas(32) uint64_t lanes[4];
        _mm256_store_si256(reinterpret_cast<__m256i *>(lanes), acc);
        return lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
};

#include "kernel_impl.h"

}  // namespace

const Kernels kAvx2Kernels = make_kernels<V, Pop>("avx2");

}  // namespace rai::ternary
