// Writes T2's corpus windows to a file, for benchmarks that train in another framework on the
// same data (bench/torch_tasks.py): the windows train_bench and compress_bench use, byte for
// byte, so losses stay comparable.
//   t2_corpus_dump train SEED FIRST COUNT OUT   windows FIRST.. of seed SEED's training stream
//   t2_corpus_dump heldout OUT                  the 128 held-out windows
// OUT holds COUNT x 65 token bytes (uint8, row-major: inputs [0, 64), targets [1, 64]).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "char_lm_stream.h"

int main(int argc, char **argv) {
    const bool train = argc == 6 && std::strcmp(argv[1], "train") == 0;
    const bool heldout = argc == 3 && std::strcmp(argv[1], "heldout") == 0;
    if (!train && !heldout) {
        std::fprintf(stderr, "usage: %s train SEED FIRST COUNT OUT | heldout OUT\n", argv[0]);
        return 2;
    }
    const char_lm::Corpus corpus;
    std::vector<uint8_t> tokens;
    const char *out = argv[argc - 1];
    if (train) {
        const uint64_t seed = std::strtoull(argv[2], nullptr, 10), first = std::strtoull(argv[3], nullptr, 10);
        const long count = std::strtol(argv[4], nullptr, 10);
        if (count <= 0) {
            std::fprintf(stderr, "COUNT must be positive, got '%s'\n", argv[4]);
            return 2;
        }
        char_lm::load_windows(corpus, char_lm::kTrainStreamBase + seed, first, static_cast<int>(count), tokens);
    } else {
        char_lm::load_windows(corpus, char_lm::kHeldOutStream, 0, char_lm::kHeldOutWindows, tokens);
    }
    FILE *f = std::fopen(out, "wb");
    if (!f || std::fwrite(tokens.data(), 1, tokens.size(), f) != tokens.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "cannot write %s\n", out);
        return 1;
    }
    return 0;
}
