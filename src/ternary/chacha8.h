// RAI_VSA_RNG_TRITTER_CHACHA8: the u32 stream of rand_chacha 0.3's ChaCha8Rng::seed_from_u64(seed)
// and tritter-accel's trit mapping (VsaOps::random / cpu_random). Header-only and host/device so
// the CPU generator (rng.cpp) and the CUDA kernel (cuda/ternary/elementwise.cu) compute the same
// words with the same code. Checked against the real crate: tests/ternary/golden/tritter_chacha.
//
// Seeding (rand_core 0.6 SeedableRng::seed_from_u64): the 32-byte key is eight PCG32 outputs,
// 4 bytes each, little-endian, so key word k is the k-th output:
//   state = state * 6364136223846793005 + 11634580027462260723   (advance first)
//   out = rotr32((u32)(((state >> 18) ^ state) >> 27), state >> 59)
// Block b: ChaCha state {"expand 32-byte k", key[0..8), b low, b high, 0, 0} (64-bit block
// counter from 0, stream id 0), 8 rounds (4 double rounds), plus the input state. next_u32()
// number i is word i % 16 of block i / 16, so any block can be computed on its own.
//
// Trit from word u (tritter: r = (f32)((f64)u / u32::MAX); r < 0.333f -> -1, r < 0.666f -> 0,
// else +1). r is monotone in u, so the mapping is two integer thresholds; the values below are
// where that f32 expression crosses 0.333f and 0.666f (checked in tests/ternary/test_chacha8.cpp).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define RAI_CHACHA_HD __host__ __device__ __forceinline__
#else
#define RAI_CHACHA_HD inline
#endif

namespace rai::ternary::chacha8 {

constexpr uint32_t kMinusBelow = 1430224064u;  // u < this: r < 0.333f -> -1
constexpr uint32_t kZeroBelow = 2860448128u;   // u < this: r < 0.666f -> 0; else +1

struct Key {
    uint32_t w[8];
};

RAI_CHACHA_HD Key key_from_u64(uint64_t state) {
    Key k{};
    for (int i = 0; i < 8; ++i) {
        state = state * 6364136223846793005ULL + 11634580027462260723ULL;
        const uint32_t x = static_cast<uint32_t>(((state >> 18) ^ state) >> 27);
        const uint32_t rot = static_cast<uint32_t>(state >> 59);
        k.w[i] = (x >> rot) | (x << ((32u - rot) & 31u));
    }
    return k;
}

RAI_CHACHA_HD uint32_t rotl(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }

RAI_CHACHA_HD void quarter(uint32_t *x, int a, int b, int c, int d) {
    x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 7);
}

// The 16 output words of block number `counter`.
RAI_CHACHA_HD void block(const Key &key, uint64_t counter, uint32_t out[16]) {
    uint32_t in[16] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u,
                       key.w[0], key.w[1], key.w[2], key.w[3], key.w[4], key.w[5], key.w[6], key.w[7],
                       static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
    for (int i = 0; i < 16; ++i) out[i] = in[i];
    for (int double_round = 0; double_round < 4; ++double_round) {
        quarter(out, 0, 4, 8, 12);
        quarter(out, 1, 5, 9, 13);
        quarter(out, 2, 6, 10, 14);
        quarter(out, 3, 7, 11, 15);
        quarter(out, 0, 5, 10, 15);
        quarter(out, 1, 6, 11, 12);
        quarter(out, 2, 7, 8, 13);
        quarter(out, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; ++i) out[i] += in[i];
}

RAI_CHACHA_HD int trit(uint32_t u) { return u < kMinusBelow ? -1 : (u < kZeroBelow ? 0 : 1); }

// Trits [64 w, 64 w + n) (n <= 64) of the vector for `key`, as plane words: four blocks per
// 64-trit word, so a word is computed on its own.
RAI_CHACHA_HD void planes_word(const Key &key, uint64_t w, int n, uint64_t &plus, uint64_t &minus) {
    uint64_t p = 0, m = 0;
    uint32_t words[16];
    for (int j = 0; j < n; ++j) {
        if (j % 16 == 0) block(key, w * 4 + static_cast<uint64_t>(j / 16), words);
        const int t = trit(words[j % 16]);
        p |= static_cast<uint64_t>(t == 1) << j;
        m |= static_cast<uint64_t>(t == -1) << j;
    }
    plus = p;
    minus = m;
}

}  // namespace rai::ternary::chacha8
