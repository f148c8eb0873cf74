// Task T2's data protocol as train_bench --task t2 uses it, for the other benchmarks (the
// counterpart of t1_stream.h): training batches are fresh corpus windows of a per-seed stream,
// the held-out loss is the mean over 128 fixed windows of another stream, evaluated in chunks of
// 32. The same constants and chunking as train_bench's T2, so losses are comparable across the
// two programs.
#pragma once
#include <cstdint>
#include <vector>

#include "char_lm.h"

namespace char_lm {

constexpr int kHeldOutWindows = 128, kHeldOutChunk = 32;
constexpr uint64_t kHeldOutStream = 0xE7A2;
constexpr uint64_t kTrainStreamBase = 0x5EED0000ull;

// Windows first .. first + n - 1 of `stream`, [n][kContext + 1] tokens.
inline void load_windows(const Corpus &corpus, uint64_t stream, uint64_t first, int n, std::vector<uint8_t> &tokens) {
    tokens.resize(static_cast<size_t>(n) * (kContext + 1));
    for (int b = 0; b < n; ++b)
        corpus.window(stream, first + static_cast<uint64_t>(b), tokens.data() + static_cast<size_t>(b) * (kContext + 1));
}

// The training batch of step `step` for data stream `seed`.
inline void load_batch(const Corpus &corpus, uint64_t seed, uint64_t step, int batch, std::vector<uint8_t> &tokens) {
    load_windows(corpus, kTrainStreamBase + seed, step * static_cast<uint64_t>(batch), batch, tokens);
}

// Mean next-character cross-entropy (nats) over the held-out windows; `tokens` is scratch.
inline double heldout_loss(Gru<float> &g, const Corpus &corpus, std::vector<uint8_t> &tokens) {
    double sum = 0;
    for (int start = 0; start < kHeldOutWindows; start += kHeldOutChunk) {
        load_windows(corpus, kHeldOutStream, static_cast<uint64_t>(start), kHeldOutChunk, tokens);
        sum += g.run(tokens.data(), kHeldOutChunk, false) * kHeldOutChunk;
    }
    return sum / kHeldOutWindows;
}

}  // namespace char_lm
