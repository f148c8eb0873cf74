// Task T1 of compression-and-hybrid-training.md section 5, for benchmarks other than
// train_bench: the streamed 10-class generator (fresh samples every step, a fixed held-out set of
// 2048 samples) and the 32-128-128-10 ReLU MLP with its hand-written backward pass. Shared by
// train_bench (hybrid training) and compress_bench (compression acceptance), so both train on
// the same task.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "rai.h"
#include "random.h"

namespace t1 {

using bench_task::gauss;
using bench_task::key;
using bench_task::mix;
using bench_task::unit;

// A borrowed CPU f32 tensor over a flat buffer (what the optimizer, the hybrid and the
// compressors register).
inline rai_tensor cpu_f32(float *data, const int64_t *shape, int32_t ndim) {
    rai_tensor r{};
    r.data = data;
    r.device = rai_device{RAI_DEVICE_CPU, 0};
    r.ndim = ndim;
    r.dtype = rai_dtype{RAI_DTYPE_FLOAT, 32, 1};
    r.shape = shape;
    return r;
}

// ------------------------------------------------------------------ the task

constexpr int kIn = 32, kH = 128, kOut = 10;

// Class centres: N(0, I) * 0.4 in 32 dimensions; a sample is centre + N(0, I), then
// x = tanh(x) + 0.1 x^2. The centres are fixed (the task); seeds vary the stream and the init.
struct Task {
    float centre[kOut][kIn];
    Task() {
        for (int c = 0; c < kOut; ++c)
            for (int i = 0; i < kIn; ++i) centre[c][i] = 0.4f * gauss(key(77, 1, c, i));
    }
    void sample(uint64_t stream, uint64_t index, float *x, int *y) const {
        const int c = static_cast<int>(mix(key(stream, index, 0, 0)) % kOut);
        *y = c;
        for (int i = 0; i < kIn; ++i) {
            const float v = centre[c][i] + gauss(key(stream, index, 1, i));
            x[i] = std::tanh(v) + 0.1f * v * v;
        }
    }
};

// ------------------------------------------------------------------ the model

// Dense layer with weights stored transposed, Wt [in, out], so every inner loop is an axpy over a
// compile-time extent (vectorised at -O2 without reassociation).
template <int In, int Out>
struct Dense {
    std::vector<float> wt = std::vector<float>(In * Out), b = std::vector<float>(Out);
    std::vector<float> gwt = std::vector<float>(In * Out), gb = std::vector<float>(Out);
    std::vector<float> w = std::vector<float>(In * Out);  // W [out, in] for the input gradient
    int64_t wshape[2] = {In, Out}, bshape[1] = {Out};

    void init(uint64_t seed, int layer) {  // PyTorch nn.Linear default: U(-1/sqrt(in), 1/sqrt(in))
        const float bound = 1.0f / std::sqrt(static_cast<float>(In));
        for (int i = 0; i < In * Out; ++i) wt[i] = bound * static_cast<float>(2.0 * unit(key(seed, layer, 0, i)) - 1.0);
        for (int o = 0; o < Out; ++o) b[o] = bound * static_cast<float>(2.0 * unit(key(seed, layer, 1, o)) - 1.0);
    }
    void forward(const float *__restrict in, float *__restrict out, int batch, bool relu) const {
        for (int s = 0; s < batch; ++s) {
            float *__restrict o = out + s * Out;
            for (int j = 0; j < Out; ++j) o[j] = b[j];
            for (int i = 0; i < In; ++i) {
                const float a = in[s * In + i];
                if (a == 0.0f) continue;
                const float *__restrict wr = wt.data() + i * Out;
                for (int j = 0; j < Out; ++j) o[j] += a * wr[j];
            }
            if (relu)
                for (int j = 0; j < Out; ++j) o[j] = o[j] > 0.0f ? o[j] : 0.0f;
        }
    }
    // dout: [batch, Out]; accumulates gwt, gb; writes din (if not null) [batch, In].
    void backward(const float *__restrict in, const float *__restrict dout, float *__restrict din, int batch) {
        std::fill(gwt.begin(), gwt.end(), 0.0f);
        std::fill(gb.begin(), gb.end(), 0.0f);
        for (int s = 0; s < batch; ++s) {
            const float *__restrict d = dout + s * Out;
            for (int j = 0; j < Out; ++j) gb[j] += d[j];
            for (int i = 0; i < In; ++i) {
                const float a = in[s * In + i];
                if (a == 0.0f) continue;
                float *__restrict g = gwt.data() + i * Out;
                for (int j = 0; j < Out; ++j) g[j] += a * d[j];
            }
        }
        if (din == nullptr) return;
        for (int i = 0; i < In; ++i)
            for (int j = 0; j < Out; ++j) w[j * In + i] = wt[i * Out + j];
        for (int s = 0; s < batch; ++s) {
            float *__restrict r = din + s * In;
            for (int i = 0; i < In; ++i) r[i] = 0.0f;
            for (int j = 0; j < Out; ++j) {
                const float a = dout[s * Out + j];
                if (a == 0.0f) continue;
                const float *__restrict wr = w.data() + j * In;
                for (int i = 0; i < In; ++i) r[i] += a * wr[i];
            }
        }
    }
};

struct Mlp {
    Dense<kIn, kH> l1;
    Dense<kH, kH> l2;
    Dense<kH, kOut> l3;
    std::vector<float> x, h1, h2, logits, d3, d2, d1;
    std::vector<int> y;

    void init(uint64_t seed) {
        l1.init(seed, 1);
        l2.init(seed, 2);
        l3.init(seed, 3);
    }
    void reserve(int batch) {
        x.resize(static_cast<size_t>(batch) * kIn);
        y.resize(static_cast<size_t>(batch));
        h1.resize(static_cast<size_t>(batch) * kH);
        h2.resize(h1.size());
        d2.resize(h1.size());
        d1.resize(h1.size());
        logits.resize(static_cast<size_t>(batch) * kOut);
        d3.resize(logits.size());
    }
    // Mean cross-entropy of the batch in x, y; with `grad`, the gradients of every parameter.
    float run(int batch, bool grad) {
        l1.forward(x.data(), h1.data(), batch, true);
        l2.forward(h1.data(), h2.data(), batch, true);
        l3.forward(h2.data(), logits.data(), batch, false);
        double loss = 0;
        for (int s = 0; s < batch; ++s) {
            const float *z = logits.data() + s * kOut;
            float mx = z[0];
            for (int j = 1; j < kOut; ++j) mx = std::max(mx, z[j]);
            double sum = 0;
            for (int j = 0; j < kOut; ++j) sum += std::exp(static_cast<double>(z[j] - mx));
            loss += std::log(sum) + mx - z[y[s]];
            if (grad)
                for (int j = 0; j < kOut; ++j)
                    d3[s * kOut + j] =
                        static_cast<float>((std::exp(static_cast<double>(z[j] - mx)) / sum - (j == y[s] ? 1.0 : 0.0)) / batch);
        }
        if (grad) {
            l3.backward(h2.data(), d3.data(), d2.data(), batch);
            for (size_t i = 0; i < d2.size() && i < static_cast<size_t>(batch) * kH; ++i)
                if (h2[i] <= 0.0f) d2[i] = 0.0f;
            l2.backward(h1.data(), d2.data(), d1.data(), batch);
            for (size_t i = 0; i < static_cast<size_t>(batch) * kH; ++i)
                if (h1[i] <= 0.0f) d1[i] = 0.0f;
            l1.backward(x.data(), d1.data(), nullptr, batch);
        }
        return static_cast<float>(loss / batch);
    }
    // (param, grad) tensors in a fixed order: W1, b1, W2, b2, W3, b3.
    template <class F>
    void each_tensor(F &&f) {
        const auto t = cpu_f32;
        f("W1", t(l1.wt.data(), l1.wshape, 2), t(l1.gwt.data(), l1.wshape, 2));
        f("b1", t(l1.b.data(), l1.bshape, 1), t(l1.gb.data(), l1.bshape, 1));
        f("W2", t(l2.wt.data(), l2.wshape, 2), t(l2.gwt.data(), l2.wshape, 2));
        f("b2", t(l2.b.data(), l2.bshape, 1), t(l2.gb.data(), l2.bshape, 1));
        f("W3", t(l3.wt.data(), l3.wshape, 2), t(l3.gwt.data(), l3.wshape, 2));
        f("b3", t(l3.b.data(), l3.bshape, 1), t(l3.gb.data(), l3.bshape, 1));
    }
};

constexpr int kHeldOut = 2048;
constexpr uint64_t kHeldOutStream = 0xE7A1;

inline double heldout_loss(Mlp &m, const Task &task) {
    constexpr int kChunk = 256;
    m.reserve(kChunk);
    double sum = 0;
    for (int start = 0; start < kHeldOut; start += kChunk) {
        for (int s = 0; s < kChunk; ++s) task.sample(kHeldOutStream, static_cast<uint64_t>(start + s), &m.x[s * kIn], &m.y[s]);
        sum += static_cast<double>(m.run(kChunk, false)) * kChunk;
    }
    return sum / kHeldOut;
}

inline void load_batch(Mlp &m, const Task &task, uint64_t seed, uint64_t step, int batch) {
    for (int s = 0; s < batch; ++s)
        task.sample(0x5EED0000ull + seed, step * static_cast<uint64_t>(batch) + s, &m.x[s * kIn], &m.y[s]);
}

}  // namespace t1
