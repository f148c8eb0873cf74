// Task T2 of the hybrid-training protocol (reference: compression-and-hybrid-training.md,
// section 5): a tiny character-level language model, a 2-layer GRU with d = 128 over a 64-char
// context and a 32-symbol vocabulary, trained on a generated English-like grammar corpus.
//
// Everything is deterministic and self-contained: the corpus is a seeded probabilistic grammar
// (no download, no file), a training window is a pure function of (stream, index), so every arm
// of the benchmark sees identical data, and a held-out stream uses its own seed. The model runs
// forward and backward by hand on the CPU; the backward is verified against finite differences
// by bench/tasks/char_lm_gradcheck.cpp (suite bench-check).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace char_lm {

constexpr int kVocab = 32;    // symbols in the alphabet (the reference asks for < 100)
constexpr int kDim = 128;     // embedding width and GRU state width d
constexpr int kContext = 64;  // characters per training window (truncated BPTT length)
constexpr int kLayers = 2;
constexpr int kGate = 3 * kDim;  // r, z, n gates side by side (PyTorch's order)

// The generated corpus: sentences of a small probabilistic grammar with number agreement
// ("the cat sees" / "the cats see"), "a"/"an" before vowels, prepositional phrases, compound
// sentences and questions, so a model has short- and long-range structure to learn.
class Corpus {
public:
    // Token ids of kContext + 1 consecutive characters (inputs are [0, kContext), targets
    // [1, kContext]) of window `index` of stream `stream`; each window starts at a random
    // offset inside freshly generated text, so windows do not all begin on a sentence.
    void window(uint64_t stream, uint64_t index, uint8_t *tokens) const;
    // At least `min_chars` characters of the text behind window `index` (for inspection).
    std::string text(uint64_t stream, uint64_t index, size_t min_chars) const;
    // The alphabet: symbol(token) for token in [0, kVocab); token(c) is -1 outside it.
    static char symbol(int token);
    static int token(char c);
};

// One parameter tensor and its gradient, as flat float buffers that never move (rai's optimizer
// and hybrid borrow their addresses). Matrices are stored [in, out] ("transposed" relative to
// PyTorch's [out, in]) so the inner loops run over the output width.
template <class Scalar>
struct Param {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<Scalar> value, grad;
};

// Embedding [V, d] -> GRU layer 0 -> GRU layer 1 -> linear [d, V]; the state starts at zero in
// every window. Scalar is float for training; double lets the gradient check use finite
// differences without float round-off drowning the comparison.
template <class Scalar>
class Gru {
public:
    Gru();
    // PyTorch's defaults: embedding N(0, 1); GRU and linear weights and biases
    // U(-1/sqrt(d), 1/sqrt(d)).
    void init(uint64_t seed);
    // tokens: [batch][kContext + 1] as written by Corpus::window. Returns the mean next-character
    // cross-entropy in nats over batch * kContext predictions; with `grad`, overwrites every
    // parameter's gradient with the gradient of that mean.
    double run(const uint8_t *tokens, int batch, bool grad);
    // In a fixed order: emb, then per layer wi, wh, bi, bh, then out_w, out_b.
    std::vector<Param<Scalar>> &params() { return params_; }
    size_t parameter_count() const;

private:
    void forward_layer(int layer, const Scalar *x, int batch);
    void backward_layer(int layer, const Scalar *x, int batch, Scalar *dx);
    Param<Scalar> &p(int i) { return params_[static_cast<size_t>(i)]; }

    std::vector<Param<Scalar>> params_;
    int batch_ = 0;
    // Activations, time-major ([t][b][...]) for the recurrence.
    std::vector<Scalar> x0_;                    // embedded inputs [T*B, d]
    std::vector<Scalar> gi_[kLayers];           // input projections [T*B, 3d]
    std::vector<Scalar> h_[kLayers];            // states [(T+1)*B, d], slot 0 = zeros
    std::vector<Scalar> r_[kLayers], z_[kLayers], n_[kLayers], ghn_[kLayers];  // [T*B, d]
    std::vector<Scalar> logits_;                // [T*B, V]
    // Backward scratch.
    std::vector<Scalar> dh_, dx_, dgi_, dgh_, carry_, wt_;
};

}  // namespace char_lm
