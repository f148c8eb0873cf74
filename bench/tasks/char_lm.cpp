// T2: the generated grammar corpus and the hand-written 2-layer GRU (see char_lm.h).
#include "tasks/char_lm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tasks/random.h"

namespace char_lm {
namespace {

// ------------------------------------------------------------------ the corpus

constexpr char kAlphabet[kVocab + 1] = " .,?!\nabcdefghijklmnopqrstuvwxyz";

struct Word2 {  // singular / plural (nouns) or third person singular / base (verbs)
    const char *one, *many;
};
constexpr Word2 kNouns[] = {{"cat", "cats"},         {"dog", "dogs"},       {"bird", "birds"},
                            {"child", "children"},   {"fox", "foxes"},      {"teacher", "teachers"},
                            {"river", "rivers"},     {"house", "houses"},   {"box", "boxes"},
                            {"mouse", "mice"},       {"apple", "apples"},   {"owl", "owls"},
                            {"farmer", "farmers"},   {"idea", "ideas"},     {"engine", "engines"},
                            {"island", "islands"}};
constexpr Word2 kTransitive[] = {{"sees", "see"},       {"likes", "like"},     {"finds", "find"},
                                 {"watches", "watch"}, {"follows", "follow"}, {"carries", "carry"},
                                 {"chases", "chase"},   {"helps", "help"},     {"knows", "know"}};
constexpr Word2 kIntransitive[] = {{"sleeps", "sleep"}, {"runs", "run"},   {"waits", "wait"},
                                   {"sings", "sing"},   {"falls", "fall"}, {"stays", "stay"}};
constexpr const char *kAdjectives[] = {"old",    "small", "quick", "green", "quiet",  "happy",
                                       "heavy",  "bright", "lazy", "clever", "empty", "red", "odd"};
constexpr const char *kAdverbs[] = {"quickly", "slowly", "today", "again", "quietly", "often"};
constexpr const char *kPrepositions[] = {"near", "under", "behind", "with", "above"};
constexpr const char *kDetOne[] = {"the", "a", "every", "this", "one"};
constexpr const char *kDetMany[] = {"the", "some", "many", "these", "two"};
constexpr const char *kConjunctions[] = {"and", "but", "so"};

template <class T, size_t N>
constexpr size_t count(const T (&)[N]) { return N; }

// A counter-based generator: draw i is mix(seed, i), so a window is a pure function of its key.
class Draw {
public:
    explicit Draw(uint64_t seed) : seed_(seed) {}
    uint64_t next() { return bench_task::mix(seed_ ^ bench_task::mix(++i_)); }
    size_t pick(size_t n) { return static_cast<size_t>(next() % n); }
    bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
    template <class T, size_t N>
    const T &one_of(const T (&a)[N]) { return a[pick(N)]; }

private:
    uint64_t seed_, i_ = 0;
};

bool starts_with_vowel(const char *w) { return std::strchr("aeiou", w[0]) != nullptr; }

// Appends words separated by single spaces; "a" becomes "an" before a vowel.
struct Sentence {
    std::string &out;
    bool pending_a = false;
    void word(const char *w) {
        if (pending_a) {
            out += starts_with_vowel(w) ? "an " : "a ";
            pending_a = false;
        }
        if (std::strcmp(w, "a") == 0) {
            pending_a = true;
            return;
        }
        out += w;
        out += ' ';
    }
    void end(char mark) {
        if (!out.empty() && out.back() == ' ') out.pop_back();
        out += mark;
    }
};

void noun_phrase(Draw &d, Sentence &s, bool many, int depth) {
    s.word(many ? d.one_of(kDetMany) : d.one_of(kDetOne));
    if (d.chance(0.4)) s.word(d.one_of(kAdjectives));
    const Word2 &n = d.one_of(kNouns);
    s.word(many ? n.many : n.one);
    if (depth == 0 && d.chance(0.2)) {
        s.word(d.one_of(kPrepositions));
        noun_phrase(d, s, d.chance(0.4), depth + 1);
    }
}

void clause(Draw &d, Sentence &s) {
    const bool many = d.chance(0.4);
    noun_phrase(d, s, many, 0);
    if (d.chance(0.65)) {
        const Word2 &v = d.one_of(kTransitive);
        s.word(many ? v.many : v.one);
        noun_phrase(d, s, d.chance(0.4), 0);
        if (d.chance(0.3)) s.word(d.one_of(kAdverbs));
    } else {
        const Word2 &v = d.one_of(kIntransitive);
        s.word(many ? v.many : v.one);
        if (d.chance(0.5)) s.word(d.one_of(kAdverbs));
    }
}

void sentence(Draw &d, std::string &out) {
    Sentence s{out};
    const double kind = static_cast<double>(d.next() >> 11) * 0x1.0p-53;
    if (kind < 0.6) {
        clause(d, s);
        s.end('.');
    } else if (kind < 0.8) {
        clause(d, s);
        s.end(',');
        out += ' ';
        s.word(d.one_of(kConjunctions));
        clause(d, s);
        s.end('.');
    } else if (kind < 0.92) {  // question: the auxiliary agrees with the subject, the verb is bare
        const bool many = d.chance(0.4);
        s.word(many ? "do" : "does");
        noun_phrase(d, s, many, 0);
        s.word(d.one_of(kTransitive).many);
        noun_phrase(d, s, d.chance(0.4), 0);
        s.end('?');
    } else {
        s.word("what");
        s.word("a");
        s.word(d.one_of(kAdjectives));
        s.word(d.one_of(kNouns).one);
        s.end('!');
    }
    out += d.chance(0.2) ? '\n' : ' ';
}

constexpr size_t kMaxOffset = 48;

// ------------------------------------------------------------------ dense kernels

// C[M, N] += sum_k A(i, k) B[k, N] with A(i, k) = A[i * sa_i + k * sa_k], register-blocked:
// a 4 x 8 tile of C stays in registers over the whole k loop (a plain i-k-j loop reloads C for
// every k and runs at memory speed). N is a compile-time extent so the tile loops vectorise at
// -O2; the summation order is fixed, so results are deterministic.
template <int N, class S>
void gemm_kernel(int M, int K, const S *__restrict A, size_t sa_i, size_t sa_k, const S *__restrict B,
                 S *__restrict C) {
    static_assert(N % 8 == 0, "the output width must be a multiple of the tile width");
    constexpr int R = 4, W = 8;
    int i0 = 0;
    for (; i0 + R <= M; i0 += R)
        for (int j0 = 0; j0 < N; j0 += W) {
            S acc[R][W];
            for (int r = 0; r < R; ++r)
                for (int j = 0; j < W; ++j) acc[r][j] = C[static_cast<size_t>(i0 + r) * N + j0 + j];
            for (int k = 0; k < K; ++k) {
                const S *__restrict b = B + static_cast<size_t>(k) * N + j0;
                for (int r = 0; r < R; ++r) {
                    const S a = A[static_cast<size_t>(i0 + r) * sa_i + static_cast<size_t>(k) * sa_k];
                    for (int j = 0; j < W; ++j) acc[r][j] += a * b[j];
                }
            }
            for (int r = 0; r < R; ++r)
                for (int j = 0; j < W; ++j) C[static_cast<size_t>(i0 + r) * N + j0 + j] = acc[r][j];
        }
    for (; i0 < M; ++i0)  // the last M % 4 rows
        for (int k = 0; k < K; ++k) {
            const S a = A[static_cast<size_t>(i0) * sa_i + static_cast<size_t>(k) * sa_k];
            const S *__restrict b = B + static_cast<size_t>(k) * N;
            S *__restrict c = C + static_cast<size_t>(i0) * N;
            for (int j = 0; j < N; ++j) c[j] += a * b[j];
        }
}

// C[M, N] += A[M, K] B[K, N].
template <int N, class S>
void gemm_acc(int M, int K, const S *A, const S *B, S *C) {
    gemm_kernel<N>(M, K, A, static_cast<size_t>(K), 1, B, C);
}

// W[K, N] += A[M, K]^T D[M, N] (a weight gradient).
template <int N, class S>
void gemm_tn_acc(int M, int K, const S *A, const S *D, S *W) {
    gemm_kernel<N>(K, M, A, 1, static_cast<size_t>(K), D, W);
}

// out[N, K] = in[K, N]^T.
template <class S>
void transpose(int K, int N, const S *in, std::vector<S> &out) {
    out.resize(static_cast<size_t>(K) * N);
    for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) out[static_cast<size_t>(n) * K + k] = in[static_cast<size_t>(k) * N + n];
}

// Row-wise bias: rows[M, N] = bias (broadcast) / bias_grad[N] += column sums of rows[M, N].
template <int N, class S>
void broadcast_rows(int M, const S *bias, S *rows) {
    for (int i = 0; i < M; ++i) std::memcpy(rows + static_cast<size_t>(i) * N, bias, sizeof(S) * N);
}
template <int N, class S>
void sum_rows(int M, const S *rows, S *bias_grad) {
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) bias_grad[j] += rows[static_cast<size_t>(i) * N + j];
}

template <class S>
S sigmoid(S x) { return S(1) / (S(1) + std::exp(-x)); }

// Parameter indices (the order of params()).
constexpr int kEmb = 0, kOutW = 1 + 4 * kLayers, kOutB = kOutW + 1;
constexpr int wi(int l) { return 1 + 4 * l; }
constexpr int wh(int l) { return 2 + 4 * l; }
constexpr int bi(int l) { return 3 + 4 * l; }
constexpr int bh(int l) { return 4 + 4 * l; }

}  // namespace

// ------------------------------------------------------------------ Corpus

char Corpus::symbol(int token) { return token >= 0 && token < kVocab ? kAlphabet[token] : '\0'; }

int Corpus::token(char c) {
    const char *at = c == '\0' ? nullptr : std::strchr(kAlphabet, c);
    return at ? static_cast<int>(at - kAlphabet) : -1;
}

std::string Corpus::text(uint64_t stream, uint64_t index, size_t min_chars) const {
    Draw d(bench_task::key(stream, index, 0x7E47, 0));
    std::string out;
    while (out.size() < min_chars) sentence(d, out);
    return out;
}

void Corpus::window(uint64_t stream, uint64_t index, uint8_t *tokens) const {
    const size_t offset = static_cast<size_t>(bench_task::mix(bench_task::key(stream, index, 0x0FF5, 0)) % kMaxOffset);
    const std::string t = text(stream, index, offset + kContext + 1);
    for (int i = 0; i <= kContext; ++i) tokens[i] = static_cast<uint8_t>(token(t[offset + static_cast<size_t>(i)]));
}

// ------------------------------------------------------------------ Gru

template <class S>
Gru<S>::Gru() {
    auto add = [&](std::string name, std::vector<int64_t> shape) {
        Param<S> q;
        q.name = std::move(name);
        q.shape = std::move(shape);
        size_t n = 1;
        for (int64_t e : q.shape) n *= static_cast<size_t>(e);
        q.value.assign(n, S(0));
        q.grad.assign(n, S(0));
        params_.push_back(std::move(q));
    };
    add("emb", {kVocab, kDim});
    for (int l = 0; l < kLayers; ++l) {
        const std::string s = std::to_string(l);
        add("gru" + s + ".wi", {kDim, kGate});
        add("gru" + s + ".wh", {kDim, kGate});
        add("gru" + s + ".bi", {kGate});
        add("gru" + s + ".bh", {kGate});
    }
    add("out.w", {kDim, kVocab});
    add("out.b", {kVocab});
}

template <class S>
size_t Gru<S>::parameter_count() const {
    size_t n = 0;
    for (const Param<S> &q : params_) n += q.value.size();
    return n;
}

template <class S>
void Gru<S>::init(uint64_t seed) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(kDim));
    for (size_t t = 0; t < params_.size(); ++t) {
        std::vector<S> &v = params_[t].value;
        for (size_t i = 0; i < v.size(); ++i)
            v[i] = t == kEmb ? static_cast<S>(bench_task::gauss(bench_task::key(seed, 0x6E0, t, i)))
                             : static_cast<S>(bound * (2.0 * bench_task::unit(bench_task::key(seed, 0x6E0, t, i)) - 1.0));
    }
}

template <class S>
void Gru<S>::forward_layer(int l, const S *x, int B) {
    const int TB = kContext * B;
    gi_[l].resize(static_cast<size_t>(TB) * kGate);
    broadcast_rows<kGate>(TB, p(bi(l)).value.data(), gi_[l].data());
    gemm_acc<kGate>(TB, kDim, x, p(wi(l)).value.data(), gi_[l].data());
    h_[l].assign(static_cast<size_t>(TB + B) * kDim, S(0));
    for (auto *v : {&r_[l], &z_[l], &n_[l], &ghn_[l]}) v->resize(static_cast<size_t>(TB) * kDim);
    dgh_.resize(static_cast<size_t>(B) * kGate);  // the recurrent projection of one step
    for (int t = 0; t < kContext; ++t) {
        S *gh = dgh_.data();
        broadcast_rows<kGate>(B, p(bh(l)).value.data(), gh);
        const S *hp = h_[l].data() + static_cast<size_t>(t) * B * kDim;
        gemm_acc<kGate>(B, kDim, hp, p(wh(l)).value.data(), gh);
        for (int b = 0; b < B; ++b) {
            const size_t row = static_cast<size_t>(t) * B + b;
            const S *g = gi_[l].data() + row * kGate;
            const S *q = gh + static_cast<size_t>(b) * kGate;
            const S *hprev = hp + static_cast<size_t>(b) * kDim;
            S *h = h_[l].data() + (row + B) * kDim;
            for (int j = 0; j < kDim; ++j) {
                const S r = sigmoid(g[j] + q[j]);
                const S z = sigmoid(g[kDim + j] + q[kDim + j]);
                const S hn = q[2 * kDim + j];
                const S n = std::tanh(g[2 * kDim + j] + r * hn);
                r_[l][row * kDim + j] = r;
                z_[l][row * kDim + j] = z;
                n_[l][row * kDim + j] = n;
                ghn_[l][row * kDim + j] = hn;
                h[j] = (S(1) - z) * n + z * hprev[j];
            }
        }
    }
}

// dh_ holds dLoss/dh_t from above for every step; adds the layer's parameter gradients and writes
// dLoss/dx to dx [T*B, d].
template <class S>
void Gru<S>::backward_layer(int l, const S *x, int B, S *dx) {
    const int TB = kContext * B;
    dgi_.resize(static_cast<size_t>(TB) * kGate);
    std::vector<S> dgh_all(static_cast<size_t>(TB) * kGate);
    carry_.assign(static_cast<size_t>(B) * kDim, S(0));  // dLoss/dh_t through the recurrence
    transpose(kDim, kGate, p(wh(l)).value.data(), wt_);  // Wh^T [3d, d]
    for (int t = kContext - 1; t >= 0; --t) {
        const S *hp = h_[l].data() + static_cast<size_t>(t) * B * kDim;
        for (int b = 0; b < B; ++b) {
            const size_t row = static_cast<size_t>(t) * B + b;
            S *dg = dgi_.data() + row * kGate;
            S *dq = dgh_all.data() + row * kGate;
            S *c = carry_.data() + static_cast<size_t>(b) * kDim;
            const S *hprev = hp + static_cast<size_t>(b) * kDim;
            for (int j = 0; j < kDim; ++j) {
                const size_t e = row * kDim + j;
                const S r = r_[l][e], z = z_[l][e], n = n_[l][e], hn = ghn_[l][e];
                const S dh = dh_[e] + c[j];
                const S dn = dh * (S(1) - z);
                const S dz = dh * (hprev[j] - n);
                const S dan = dn * (S(1) - n * n);
                const S dar = dan * hn * r * (S(1) - r);
                const S daz = dz * z * (S(1) - z);
                dg[j] = dar;
                dg[kDim + j] = daz;
                dg[2 * kDim + j] = dan;
                dq[j] = dar;
                dq[kDim + j] = daz;
                dq[2 * kDim + j] = dan * r;
                c[j] = dh * z;  // the direct path h_{t-1} -> h_t
            }
        }
        // ... plus the path through the recurrent projection: carry += dgh_t Wh^T.
        gemm_acc<kDim>(B, kGate, dgh_all.data() + static_cast<size_t>(t) * B * kGate, wt_.data(), carry_.data());
    }
    // h_[l] rows [0, T*B) are h_{t-1} for every step: one product for the whole window.
    gemm_tn_acc<kGate>(TB, kDim, h_[l].data(), dgh_all.data(), p(wh(l)).grad.data());
    sum_rows<kGate>(TB, dgh_all.data(), p(bh(l)).grad.data());
    gemm_tn_acc<kGate>(TB, kDim, x, dgi_.data(), p(wi(l)).grad.data());
    sum_rows<kGate>(TB, dgi_.data(), p(bi(l)).grad.data());
    transpose(kDim, kGate, p(wi(l)).value.data(), wt_);  // Wi^T [3d, d]
    std::fill(dx, dx + static_cast<size_t>(TB) * kDim, S(0));
    gemm_acc<kDim>(TB, kGate, dgi_.data(), wt_.data(), dx);
}

template <class S>
double Gru<S>::run(const uint8_t *tokens, int B, bool grad) {
    const int TB = kContext * B;
    batch_ = B;
    // Embed: row (t, b) is emb[tokens[b][t]].
    x0_.resize(static_cast<size_t>(TB) * kDim);
    for (int t = 0; t < kContext; ++t)
        for (int b = 0; b < B; ++b)
            std::memcpy(x0_.data() + (static_cast<size_t>(t) * B + b) * kDim,
                        p(kEmb).value.data() + static_cast<size_t>(tokens[static_cast<size_t>(b) * (kContext + 1) + t]) * kDim,
                        sizeof(S) * kDim);
    forward_layer(0, x0_.data(), B);
    forward_layer(1, h_[0].data() + static_cast<size_t>(B) * kDim, B);
    const S *top = h_[kLayers - 1].data() + static_cast<size_t>(B) * kDim;
    logits_.resize(static_cast<size_t>(TB) * kVocab);
    broadcast_rows<kVocab>(TB, p(kOutB).value.data(), logits_.data());
    gemm_acc<kVocab>(TB, kDim, top, p(kOutW).value.data(), logits_.data());

    // Cross-entropy (in double); with grad, logits_ becomes dLoss/dlogits.
    double loss = 0;
    for (int t = 0; t < kContext; ++t)
        for (int b = 0; b < B; ++b) {
            S *zr = logits_.data() + (static_cast<size_t>(t) * B + b) * kVocab;
            const int y = tokens[static_cast<size_t>(b) * (kContext + 1) + t + 1];
            S mx = zr[0];
            for (int j = 1; j < kVocab; ++j) mx = std::max(mx, zr[j]);
            double sum = 0;
            for (int j = 0; j < kVocab; ++j) sum += std::exp(static_cast<double>(zr[j] - mx));
            loss += std::log(sum) + static_cast<double>(mx - zr[y]);
            if (grad)
                for (int j = 0; j < kVocab; ++j)
                    zr[j] = static_cast<S>((std::exp(static_cast<double>(zr[j] - mx)) / sum - (j == y ? 1.0 : 0.0)) / TB);
        }
    loss /= TB;
    if (!grad) return loss;

    for (Param<S> &q : params_) std::fill(q.grad.begin(), q.grad.end(), S(0));
    gemm_tn_acc<kVocab>(TB, kDim, top, logits_.data(), p(kOutW).grad.data());
    sum_rows<kVocab>(TB, logits_.data(), p(kOutB).grad.data());
    transpose(kDim, kVocab, p(kOutW).value.data(), wt_);  // W^T [V, d]
    dh_.assign(static_cast<size_t>(TB) * kDim, S(0));
    gemm_acc<kDim>(TB, kVocab, logits_.data(), wt_.data(), dh_.data());
    dx_.resize(static_cast<size_t>(TB) * kDim);
    backward_layer(1, h_[0].data() + static_cast<size_t>(B) * kDim, B, dx_.data());
    dh_.swap(dx_);
    backward_layer(0, x0_.data(), B, dx_.data());
    for (int t = 0; t < kContext; ++t)
        for (int b = 0; b < B; ++b) {
            S *g = p(kEmb).grad.data() + static_cast<size_t>(tokens[static_cast<size_t>(b) * (kContext + 1) + t]) * kDim;
            const S *d = dx_.data() + (static_cast<size_t>(t) * B + b) * kDim;
            for (int j = 0; j < kDim; ++j) g[j] += d[j];
        }
    return loss;
}

template class Gru<float>;
template class Gru<double>;

}  // namespace char_lm
