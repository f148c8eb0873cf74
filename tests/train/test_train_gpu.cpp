// GPU suite for optimizers and the hybrid trainer: CUDA results equal the CPU reference within
// a stated tolerance (nvcc contracts a*b+c into FMAs and sums in another order), snapshot
// rollback is bitwise on the device, and state blobs move between devices. Skips without CUDA.
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../unit/test_helpers.h"

namespace {

// |gpu - cpu| <= kAbs + kRel * |cpu| after a few steps.
constexpr float kRel = 2e-5f, kAbs = 2e-6f;

// A float array mirrored on the host and (for the GPU side) in a device buffer.
struct Mirror {
    std::vector<float> host;
    rai_buffer *buf = nullptr;
    rai_context *ctx = nullptr;
    int64_t shape[2] = {0, 0};
    int32_t ndim = 1;
    Mirror(rai_context *c, std::vector<int64_t> s) : ctx(c) {
        ndim = static_cast<int32_t>(s.size());
        int64_t n = 1;
        for (int i = 0; i < ndim; ++i) {
            shape[i] = s[i];
            n *= s[i];
        }
        host.assign(static_cast<size_t>(n), 0.0f);
        if (ctx) { EXPECT_EQ(rai_buffer_create(ctx, host.size() * 4, &buf), RAI_OK) << rai_last_error_message(); }
    }
    ~Mirror() { rai_buffer_destroy(buf); }
    void push() {
        if (buf) { ASSERT_EQ(rai_buffer_write(ctx, buf, 0, host.data(), host.size() * 4), RAI_OK); }
    }
    void pull() {
        if (buf) { ASSERT_EQ(rai_buffer_read(ctx, buf, 0, host.data(), host.size() * 4), RAI_OK); }
    }
    rai_tensor tensor() {
        rai_tensor t{};
        t.data = buf ? rai_buffer_data(buf) : host.data();
        t.device = buf ? rai_device{RAI_DEVICE_CUDA, 0} : rai_device{RAI_DEVICE_CPU, 0};
        t.ndim = ndim;
        t.dtype = kF32;
        t.shape = shape;
        return t;
    }
};

// One side (CPU or GPU) of a comparison: parameters and gradients of the given shapes.
struct Side {
    rai_context *ctx;
    bool gpu;
    std::vector<std::unique_ptr<Mirror>> p, g;
    Side(rai_context *c, bool on_gpu, const std::vector<std::vector<int64_t>> &shapes) : ctx(c), gpu(on_gpu) {
        for (auto &s : shapes) {
            p.push_back(std::make_unique<Mirror>(gpu ? ctx : nullptr, s));
            g.push_back(std::make_unique<Mirror>(gpu ? ctx : nullptr, s));
        }
    }
    void set_params(const std::vector<std::vector<float>> &v) {
        for (size_t i = 0; i < p.size(); ++i) {
            p[i]->host = v[i];
            p[i]->push();
        }
    }
    void set_grads(const std::vector<std::vector<float>> &v) {
        for (size_t i = 0; i < g.size(); ++i) {
            g[i]->host = v[i];
            g[i]->push();
        }
    }
    std::vector<std::vector<float>> params() {
        std::vector<std::vector<float>> out;
        for (auto &m : p) {
            m->pull();
            out.push_back(m->host);
        }
        return out;
    }
};

std::vector<std::vector<float>> random_like(const std::vector<std::vector<int64_t>> &shapes, std::mt19937 &rng,
                                            float scale) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<std::vector<float>> out;
    for (auto &s : shapes) {
        int64_t n = 1;
        for (int64_t d : s) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (float &x : v) x = nd(rng);
        out.push_back(v);
    }
    return out;
}

void expect_close(const std::vector<std::vector<float>> &gpu, const std::vector<std::vector<float>> &cpu,
                  const char *what) {
    for (size_t t = 0; t < cpu.size(); ++t)
        for (size_t i = 0; i < cpu[t].size(); ++i)
            ASSERT_NEAR(gpu[t][i], cpu[t][i], kAbs + kRel * std::fabs(cpu[t][i])) << what << " tensor " << t << " [" << i << "]";
}

class TrainGpu : public ::testing::Test {
protected:
    void SetUp() override {
        if (cuda_devices() == 0) GTEST_SKIP() << "no CUDA device: " << rai_cuda_plugin_status();
        gctx = make_cuda_context();
        cctx = make_cpu_context();
    }
    void TearDown() override {
        rai_context_destroy(gctx);
        rai_context_destroy(cctx);
    }
    rai_context *gctx = nullptr, *cctx = nullptr;
};

rai_optimizer *make_opt(rai_context *ctx, const rai_optimizer_params &p, Side &s) {
    rai_optimizer *o = nullptr;
    EXPECT_EQ(rai_optimizer_create(ctx, &p, &o), RAI_OK) << rai_last_error_message();
    for (size_t i = 0; i < s.p.size(); ++i) {
        rai_tensor tp = s.p[i]->tensor(), tg = s.g[i]->tensor();
        EXPECT_EQ(rai_optimizer_add_param(o, nullptr, &tp, &tg, nullptr), RAI_OK) << rai_last_error_message();
    }
    return o;
}

const std::vector<std::vector<int64_t>> kShapes = {{1}, {31}, {33}, {257, 255}, {65537}};

}  // namespace

TEST_F(TrainGpu, OptimizersMatchTheCpuReference) {
    struct Case {
        int32_t kind;
        float lr, momentum, wd, max_norm;
        int32_t nesterov;
    };
    const Case cases[] = {
        {RAI_OPTIMIZER_SGD, 0.1f, 0, 0.01f, 0, 0},
        {RAI_OPTIMIZER_MOMENTUM, 0.05f, 0.9f, 0.001f, 0, 0},
        {RAI_OPTIMIZER_MOMENTUM, 0.05f, 0.9f, 0, 0, 1},
        {RAI_OPTIMIZER_ADAMW, 1e-3f, 0, 0.1f, 0, 0},
        {RAI_OPTIMIZER_ADAMW, 1e-3f, 0, 0, 1.0f, 0},
    };
    for (const Case &c : cases) {
        std::mt19937 rng(42);
        Side cpu(cctx, false, kShapes), gpu(gctx, true, kShapes);
        const auto p0 = random_like(kShapes, rng, 1.0f);
        cpu.set_params(p0);
        gpu.set_params(p0);
        rai_optimizer_params op;
        rai_optimizer_params_init(&op);
        op.kind = c.kind;
        op.lr = c.lr;
        op.momentum = c.momentum;
        op.weight_decay = c.wd;
        op.max_grad_norm = c.max_norm;
        op.nesterov = c.nesterov;
        rai_optimizer *oc = make_opt(cctx, op, cpu), *og = make_opt(gctx, op, gpu);
        for (int s = 0; s < 5; ++s) {
            const auto g = random_like(kShapes, rng, 0.1f);
            cpu.set_grads(g);
            gpu.set_grads(g);
            float nc = 0, ng = 0;
            ASSERT_EQ(rai_optimizer_step(oc, &nc), RAI_OK) << rai_last_error_message();
            ASSERT_EQ(rai_optimizer_step(og, &ng), RAI_OK) << rai_last_error_message();
            EXPECT_NEAR(ng, nc, 1e-6f * nc);
        }
        expect_close(gpu.params(), cpu.params(), "optimizer");
        // Optimizer state blobs are device-independent: GPU state loads into a CPU optimizer.
        size_t need = 0, w = 0;
        ASSERT_EQ(rai_optimizer_state_size(og, &need), RAI_OK);
        std::vector<uint8_t> blob(need);
        ASSERT_EQ(rai_optimizer_state_save(og, blob.data(), need, &w), RAI_OK);
        ASSERT_EQ(rai_optimizer_state_load(oc, blob.data(), need), RAI_OK) << rai_last_error_message();
        rai_optimizer_destroy(oc);
        rai_optimizer_destroy(og);
    }
}

TEST_F(TrainGpu, ClipGradNormAndNormMatchTheCpu) {
    std::mt19937 rng(7);
    Side cpu(cctx, false, kShapes), gpu(gctx, true, kShapes);
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    rai_optimizer *oc = make_opt(cctx, op, cpu), *og = make_opt(gctx, op, gpu);
    const auto g = random_like(kShapes, rng, 1.0f);
    cpu.set_grads(g);
    gpu.set_grads(g);
    float nc = 0, ng = 0;
    ASSERT_EQ(rai_optimizer_clip_grad_norm(oc, 1.0f, &nc), RAI_OK);
    ASSERT_EQ(rai_optimizer_clip_grad_norm(og, 1.0f, &ng), RAI_OK);
    EXPECT_NEAR(ng, nc, 1e-6f * nc);
    for (size_t t = 0; t < g.size(); ++t) {
        gpu.g[t]->pull();
        for (size_t i = 0; i < g[t].size(); ++i)
            ASSERT_NEAR(gpu.g[t]->host[i], cpu.g[t]->host[i], 1e-7f + 1e-6f * std::fabs(cpu.g[t]->host[i]));
    }
    rai_optimizer_destroy(oc);
    rai_optimizer_destroy(og);
}

namespace {

// A least-squares problem on the host: loss = 0.5 mean |A x - y|^2 over a fresh minibatch per
// step, for parameters of kShapes flattened. Gradients go to both sides.
struct HostProblem {
    float loss_and_grad(uint64_t step, const std::vector<std::vector<float>> &p, std::vector<std::vector<float>> *g) {
        double loss = 0;
        if (g) {
            g->clear();
            for (auto &t : p) g->push_back(std::vector<float>(t.size(), 0.0f));
        }
        // Each element has its own 1-D target, noisy per step: x_i* = sin(i), y = x* + noise.
        for (size_t t = 0; t < p.size(); ++t)
            for (size_t i = 0; i < p[t].size(); ++i) {
                const float target = std::sin(static_cast<float>(i + 7 * t)) +
                                     0.05f * std::cos(static_cast<float>(step * 131 + i));
                const float e = p[t][i] - target;
                loss += 0.5 * e * e;
                if (g) (*g)[t][i] = e;
            }
        return static_cast<float>(loss / 1000.0);
    }
};

}  // namespace

TEST_F(TrainGpu, HybridRunsMatchTheCpuReferenceForEveryPredictor) {
    const std::vector<std::vector<int64_t>> shapes = {{33}, {64, 48}, {1000}};
    for (int32_t pred : {RAI_HYBRID_PREDICTOR_SKIP, RAI_HYBRID_PREDICTOR_HOLD, RAI_HYBRID_PREDICTOR_MOMENTUM_COAST,
                         RAI_HYBRID_PREDICTOR_EMA, RAI_HYBRID_PREDICTOR_WLS_LINEAR,
                         RAI_HYBRID_PREDICTOR_LOW_RANK_TREND}) {
        Side cpu(cctx, false, shapes), gpu(gctx, true, shapes);
        std::mt19937 rng(3);
        const auto p0 = random_like(shapes, rng, 1.0f);
        cpu.set_params(p0);
        gpu.set_params(p0);
        rai_hybrid_params hp;
        rai_hybrid_params_init(&hp);
        hp.predictor = pred;
        hp.flags = RAI_HYBRID_NO_GUARD;  // identical decisions even if losses differ in the last bit
        rai_optimizer_params op;
        rai_optimizer_params_init(&op);
        op.kind = RAI_OPTIMIZER_ADAMW;
        op.lr = 0.01f;
        rai_hybrid *hc = nullptr, *hg = nullptr;
        ASSERT_EQ(rai_hybrid_create(cctx, &hp, &hc), RAI_OK);
        ASSERT_EQ(rai_hybrid_create(gctx, &hp, &hg), RAI_OK) << rai_last_error_message();
        for (size_t i = 0; i < shapes.size(); ++i) {
            rai_tensor a = cpu.p[i]->tensor(), b = cpu.g[i]->tensor(), c = gpu.p[i]->tensor(), d = gpu.g[i]->tensor();
            ASSERT_EQ(rai_hybrid_add_param(hc, nullptr, &a, &b, nullptr), RAI_OK);
            ASSERT_EQ(rai_hybrid_add_param(hg, nullptr, &c, &d, nullptr), RAI_OK) << rai_last_error_message();
        }
        rai_optimizer *oc = make_opt(cctx, op, cpu), *og = make_opt(gctx, op, gpu);
        ASSERT_EQ(rai_hybrid_set_optimizer(hc, oc), RAI_OK);
        ASSERT_EQ(rai_hybrid_set_optimizer(hg, og), RAI_OK);
        HostProblem prob;
        for (int step = 0; step < 70; ++step) {
            for (Side *s : {&cpu, &gpu}) {
                rai_hybrid *h = s == &cpu ? hc : hg;
                rai_hybrid_step_info info;
                rai_hybrid_step_info_init(&info);
                ASSERT_EQ(rai_hybrid_begin_step(h, &info), RAI_OK) << rai_last_error_message();
                if (info.needs_backward) {
                    std::vector<std::vector<float>> g;
                    const float loss = prob.loss_and_grad(info.step, s->params(), &g);
                    s->set_grads(g);
                    ASSERT_EQ(rai_hybrid_record_gradients(h, loss), RAI_OK) << rai_last_error_message();
                } else {
                    ASSERT_EQ(rai_hybrid_apply_predicted(h), RAI_OK) << rai_last_error_message();
                    ASSERT_EQ(rai_hybrid_report_loss(h, prob.loss_and_grad(info.step, s->params(), nullptr)), RAI_OK);
                }
                ASSERT_EQ(rai_hybrid_end_step(h, nullptr), RAI_OK) << rai_last_error_message();
            }
        }
        expect_close(gpu.params(), cpu.params(), "hybrid");
        rai_hybrid_stats sc, sg;
        rai_hybrid_stats_init(&sc);
        rai_hybrid_stats_init(&sg);
        ASSERT_EQ(rai_hybrid_get_stats(hc, &sc), RAI_OK);
        ASSERT_EQ(rai_hybrid_get_stats(hg, &sg), RAI_OK);
        EXPECT_EQ(sc.backward_passes, sg.backward_passes);
        EXPECT_EQ(sc.predicted_steps, sg.predicted_steps);
        EXPECT_NEAR(sg.update_cosine_mean, sc.update_cosine_mean, 1e-4);
        // The GPU state blob resumes on the CPU.
        size_t need = 0, w = 0;
        const uint32_t flags = RAI_HYBRID_STATE_PARAMS | RAI_HYBRID_STATE_OPTIMIZER;
        ASSERT_EQ(rai_hybrid_state_size(hg, flags, &need), RAI_OK);
        std::vector<uint8_t> blob(need);
        ASSERT_EQ(rai_hybrid_state_save(hg, flags, blob.data(), need, &w), RAI_OK);
        ASSERT_EQ(rai_hybrid_state_load(hc, blob.data(), need), RAI_OK) << rai_last_error_message();
        const auto pc = cpu.params(), pg = gpu.params();
        for (size_t t = 0; t < pc.size(); ++t) EXPECT_EQ(std::memcmp(pc[t].data(), pg[t].data(), pc[t].size() * 4), 0);
        rai_hybrid_destroy(hc);
        rai_hybrid_destroy(hg);
        rai_optimizer_destroy(oc);
        rai_optimizer_destroy(og);
    }
}

TEST_F(TrainGpu, RollbackOnTheDeviceIsBitwise) {
    const std::vector<std::vector<int64_t>> shapes = {{65537}, {31}};
    Side gpu(gctx, true, shapes);
    std::mt19937 rng(11);
    gpu.set_params(random_like(shapes, rng, 1.0f));
    rai_hybrid_params hp;
    rai_hybrid_params_init(&hp);
    hp.warmup_steps = 5;
    hp.full_steps = 20;
    rai_hybrid *h = nullptr;
    ASSERT_EQ(rai_hybrid_create(gctx, &hp, &h), RAI_OK);
    for (size_t i = 0; i < shapes.size(); ++i) {
        rai_tensor a = gpu.p[i]->tensor(), b = gpu.g[i]->tensor();
        ASSERT_EQ(rai_hybrid_add_param(h, nullptr, &a, &b, nullptr), RAI_OK);
    }
    rai_optimizer_params op;
    rai_optimizer_params_init(&op);
    op.kind = RAI_OPTIMIZER_ADAMW;
    op.lr = 0.01f;
    rai_optimizer *o = make_opt(gctx, op, gpu);
    ASSERT_EQ(rai_hybrid_set_optimizer(h, o), RAI_OK);
    HostProblem prob;
    std::vector<std::vector<float>> at_entry;
    bool rolled = false;
    for (int step = 0; step < 200 && !rolled; ++step) {
        rai_hybrid_step_info info;
        rai_hybrid_step_info_init(&info);
        ASSERT_EQ(rai_hybrid_begin_step(h, &info), RAI_OK);
        if (info.needs_backward) {
            std::vector<std::vector<float>> g;
            const float loss = prob.loss_and_grad(info.step, gpu.params(), &g);
            gpu.set_grads(g);
            ASSERT_EQ(rai_hybrid_record_gradients(h, loss), RAI_OK);
        } else {
            if (info.phase_changed) at_entry = gpu.params();
            ASSERT_EQ(rai_hybrid_apply_predicted(h), RAI_OK);
            const float loss = info.phase_step == 2 ? 1e7f : prob.loss_and_grad(info.step, gpu.params(), nullptr);
            ASSERT_EQ(rai_hybrid_report_loss(h, loss), RAI_OK);
        }
        rai_hybrid_step_result res;
        rai_hybrid_step_result_init(&res);
        ASSERT_EQ(rai_hybrid_end_step(h, &res), RAI_OK);
        rolled = (res.events & RAI_HYBRID_EVENT_ROLLED_BACK) != 0;
    }
    ASSERT_TRUE(rolled);
    const auto now = gpu.params();
    for (size_t t = 0; t < now.size(); ++t)
        EXPECT_EQ(std::memcmp(now[t].data(), at_entry[t].data(), now[t].size() * 4), 0) << "tensor " << t;
    rai_hybrid_destroy(h);
    rai_optimizer_destroy(o);
}

TEST_F(TrainGpu, HostTensorsAreRefusedOnACudaContext) {
    float p[4], g[4];
    int64_t s[1] = {4};
    rai_tensor tp = make_tensor(p, kF32, s, 1), tg = make_tensor(g, kF32, s, 1);
    rai_optimizer *o = nullptr;
    ASSERT_EQ(rai_optimizer_create(gctx, nullptr, &o), RAI_OK);
    EXPECT_EQ(rai_optimizer_add_param(o, nullptr, &tp, &tg, nullptr), RAI_ERROR_DEVICE_MISMATCH);
    rai_optimizer_destroy(o);
}
