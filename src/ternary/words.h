// Storage of packed trit vectors: 64-byte aligned, zero-initialised u64 words, and the layout
// every packed kernel works on.
//
// Layout of one packed row of dimension `dim`: two bit-planes of `wpad` u64 words each, the plus
// plane first, then the minus plane. Trit i sits at bit i % 64 of word i / 64 (little-endian bit
// order, as in trit-vsa). wpad is ceil(dim / 64) rounded up to a multiple of kBlockWords, so SIMD
// kernels never need a tail; every bit at or beyond `dim` (the padding) is always zero.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rai::ternary {

using u64 = uint64_t;

// Words per SIMD block: 512 bits, one AVX-512 register, two AVX2 registers.
constexpr std::size_t kBlockWords = 8;

// u64 words holding `dim` trits in one plane (no block padding).
constexpr std::size_t words_for(std::size_t dim) { return dim / 64 + (dim % 64 != 0 ? 1 : 0); }
// u64 words per plane including the block padding.
constexpr std::size_t padded_words(std::size_t dim) {
    return (words_for(dim) + kBlockWords - 1) / kBlockWords * kBlockWords;
}
// Mask of the valid bits of plane word `w` of a vector of dimension `dim` (all ones for full words).
constexpr u64 valid_mask(std::size_t dim, std::size_t w) {
    return (w + 1) * 64 <= dim ? ~u64{0} : (w * 64 >= dim ? u64{0} : (u64{1} << (dim % 64)) - 1);
}

// An owned, zeroed, 64-byte aligned array of u64 words. Move-only.
class Words {
public:
    Words() = default;
    // Throws rai::Error(OUT_OF_MEMORY) when the allocation fails or `count` overflows.
    explicit Words(std::size_t count);
    ~Words();
    Words(Words &&other) noexcept;
    Words &operator=(Words &&other) noexcept;
    Words(const Words &) = delete;
    Words &operator=(const Words &) = delete;

    u64 *data() { return p_; }
    const u64 *data() const { return p_; }
    std::size_t size() const { return n_; }
    Words clone() const;

private:
    u64 *p_ = nullptr;
    std::size_t n_ = 0;
};

// rows * 2 * wpad with an overflow check (OUT_OF_MEMORY names `what`).
std::size_t row_block_words(std::size_t rows, std::size_t wpad, const char *what);

}  // namespace rai::ternary
