// Checks task T2 (char_lm.h) before any benchmark number is trusted:
//  * the hand-written GRU backward against central finite differences, in double precision, on
//    entries of every parameter tensor (including the recurrent weights, whose gradient only
//    exists through time);
//  * the float instantiation against the double one (same code, so the training path is the
//    checked path);
//  * the corpus: deterministic windows, every token inside the alphabet, train and held-out
//    streams differ, the grammar's rules ("an" before vowels, agreement in questions) hold.
// Exit status 0 = all good; every failure is printed. Registered as a test (suite bench-check).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "tasks/char_lm.h"
#include "tasks/random.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string &what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

std::vector<uint8_t> windows(const char_lm::Corpus &c, uint64_t stream, int batch) {
    std::vector<uint8_t> t(static_cast<size_t>(batch) * (char_lm::kContext + 1));
    for (int b = 0; b < batch; ++b) c.window(stream, static_cast<uint64_t>(b), t.data() + static_cast<size_t>(b) * (char_lm::kContext + 1));
    return t;
}

void check_corpus(const char_lm::Corpus &c) {
    const auto a = windows(c, 11, 64), b = windows(c, 11, 64), other = windows(c, 12, 64);
    expect(a == b, "corpus windows are deterministic");
    expect(a != other, "different streams give different windows");
    std::set<int> used;
    bool in_range = true;
    for (uint8_t t : a) {
        in_range = in_range && t < char_lm::kVocab;
        used.insert(t);
    }
    expect(in_range, "every token is inside the alphabet");
    expect(used.size() >= 20, "the corpus uses at least 20 symbols (used " + std::to_string(used.size()) + ")");
    for (int t = 0; t < char_lm::kVocab; ++t)
        expect(char_lm::Corpus::token(char_lm::Corpus::symbol(t)) == t, "alphabet round trip " + std::to_string(t));
    expect(char_lm::Corpus::token('Q') == -1 && char_lm::Corpus::token('\0') == -1, "symbols outside the alphabet map to -1");
    const std::string text = c.text(5, 0, 20000);
    expect(text.find(" a a") == std::string::npos && text.find(" a e") == std::string::npos &&
               text.find(" a i") == std::string::npos && text.find(" a o") == std::string::npos,
           "'an' before vowels");
    expect(text.find(" an ") != std::string::npos, "the corpus contains 'an'");
    expect(text.find("does the cats") == std::string::npos && text.find("do the cat ") == std::string::npos,
           "questions agree in number");
    expect(text.find("the cats sees") == std::string::npos && text.find("the cat see ") == std::string::npos,
           "verbs agree with the subject");
    for (char ch : text) expect(char_lm::Corpus::token(ch) >= 0, std::string("generated symbol outside the alphabet: ") + ch);
}

// Central differences in double on `per_tensor` entries of every tensor.
void check_gradient() {
    const char_lm::Corpus corpus;
    constexpr int kBatch = 3;  // awkward on purpose
    const auto tokens = windows(corpus, 0xC0FFEE, kBatch);
    char_lm::Gru<double> m;
    m.init(7);
    const double loss = m.run(tokens.data(), kBatch, true);
    expect(std::fabs(loss - std::log(static_cast<double>(char_lm::kVocab))) < 1.0,
           "initial loss near ln(V): " + std::to_string(loss));
    std::vector<std::vector<double>> analytic;
    for (auto &q : m.params()) analytic.push_back(q.grad);

    constexpr double kEps = 1e-5;
    int checked = 0;
    double worst = 0;
    for (size_t t = 0; t < m.params().size(); ++t) {
        auto &q = m.params()[t];
        double tensor_norm = 0;
        for (int k = 0; k < 6; ++k) {
            size_t i = static_cast<size_t>(bench_task::mix(bench_task::key(99, t, k, 0)) % q.value.size());
            if (t == 0) {  // embedding: pick rows of tokens that occur, or the gradient is 0 by construction
                const size_t row = tokens[static_cast<size_t>(k) % tokens.size()];
                i = row * char_lm::kDim + i % char_lm::kDim;
            }
            const double keep = q.value[i];
            q.value[i] = keep + kEps;
            const double up = m.run(tokens.data(), kBatch, false);
            q.value[i] = keep - kEps;
            const double down = m.run(tokens.data(), kBatch, false);
            q.value[i] = keep;
            const double fd = (up - down) / (2 * kEps), an = analytic[t][i];
            const double err = std::fabs(fd - an) / (1e-7 + std::max(std::fabs(fd), std::fabs(an)));
            worst = std::max(worst, err);
            tensor_norm += an * an;
            ++checked;
            expect(std::fabs(fd - an) <= 1e-8 + 1e-5 * std::max(std::fabs(fd), std::fabs(an)),
                   q.name + "[" + std::to_string(i) + "]: analytic " + std::to_string(an) + " vs finite difference " +
                       std::to_string(fd));
        }
        expect(tensor_norm > 1e-20, q.name + ": the checked gradient entries are not all zero");
    }
    std::printf("gradient check: %d entries in %zu tensors, worst relative error %.3g\n", checked, m.params().size(), worst);

    // The float model (the one trained) against the double model from the same init.
    char_lm::Gru<float> f;
    f.init(7);
    const double floss = f.run(tokens.data(), kBatch, true);
    expect(std::fabs(floss - loss) < 1e-5 * loss, "float loss matches double loss");
    double num = 0, den = 0;
    for (size_t t = 0; t < f.params().size(); ++t)
        for (size_t i = 0; i < f.params()[t].grad.size(); ++i) {
            const double d = static_cast<double>(f.params()[t].grad[i]) - analytic[t][i];
            num += d * d;
            den += analytic[t][i] * analytic[t][i];
        }
    expect(std::sqrt(num / den) < 1e-4, "float gradient matches double gradient (relative L2 " +
                                            std::to_string(std::sqrt(num / den)) + ")");
    // Same seed, same result, bit for bit.
    char_lm::Gru<float> g;
    g.init(7);
    expect(g.run(tokens.data(), kBatch, true) == floss, "float run is deterministic");
    bool same = true;
    for (size_t t = 0; t < g.params().size(); ++t) same = same && g.params()[t].grad == f.params()[t].grad;
    expect(same, "float gradients are deterministic");
}

}  // namespace

int main() {
    check_corpus(char_lm::Corpus());
    check_gradient();
    std::printf("%s (%d failure%s)\n", failures ? "FAILED" : "OK", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
