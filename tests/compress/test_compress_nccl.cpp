// rai_gc_allreduce_nccl on one GPU with a one-rank NCCL communicator: the result equals what
// the same compressor gives on the CPU for one peer (compress -> reduce of one -> decompress,
// or PowerSGD's two rounds), also with the sum-of-decodes flag and with momentum correction.
// Skips without a CUDA device. Multi-GPU runs use the same code path
// with more ranks.
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../unit/test_helpers.h"

namespace {

class GcNccl : public GpuVsCpu {
protected:
    void SetUp() override {
        GpuVsCpu::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        int dev = 0;
        ASSERT_EQ(ncclCommInitAll(&comm, 1, &dev), ncclSuccess);
    }
    void TearDown() override {
        if (comm) ncclCommDestroy(comm);
        GpuVsCpu::TearDown();
    }
    ncclComm_t comm = nullptr;
};

std::vector<float> values(size_t n, int seed) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::sin(0.37f * i + seed) * std::cos(0.011f * i * seed + 1.0f);
    return v;
}

void run(rai_context *gpu, rai_context *cpu, ncclComm_t comm, int32_t method, float tol, uint32_t flags = 0,
         float momentum = 0.0f) {
    const int64_t shape[2] = {96, 40};
    const size_t n = 96 * 40;
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = method;
    p.ratio = 0.05f;
    p.seed = 3;
    p.warmup_steps = 1;
    p.momentum = momentum;
    rai_gc *g = nullptr, *c = nullptr;
    ASSERT_RAI_OK(rai_gc_create(gpu, &p, &g));
    ASSERT_RAI_OK(rai_gc_create(cpu, &p, &c));
    rai_buffer *buf = nullptr;
    ASSERT_RAI_OK(rai_buffer_create(gpu, 4 * n, &buf));
    std::vector<float> host(n), out(n);
    rai_tensor th = make_tensor(host.data(), kF32, shape, 2);
    rai_tensor td = th;
    td.data = rai_buffer_data(buf);
    td.device = {RAI_DEVICE_CUDA, 0};
    uint32_t id;
    ASSERT_RAI_OK(rai_gc_add_tensor(g, "w", &td, &id));
    ASSERT_RAI_OK(rai_gc_add_tensor(c, "w", &th, &id));
    for (int step = 0; step < 3; ++step) {
        SCOPED_TRACE("method " + std::to_string(method) + " flags " + std::to_string(flags) + " momentum " +
                     std::to_string(momentum) + " step " + std::to_string(step));
        const std::vector<float> fresh = values(n, step + 1);
        std::copy(fresh.begin(), fresh.end(), host.begin());  // th views host's storage: keep it
        ASSERT_RAI_OK(rai_buffer_write(gpu, buf, 0, host.data(), 4 * n));
        ASSERT_RAI_OK(rai_gc_allreduce_nccl(g, id, &td, comm, flags));
        ASSERT_RAI_OK(rai_buffer_read(gpu, buf, 0, out.data(), 4 * n));
        // CPU, one peer
        std::vector<uint8_t> m1(1 << 20), m2(1 << 20);
        size_t w1 = 0, w2 = 0;
        if (method == RAI_GC_POWERSGD) {
            ASSERT_RAI_OK(rai_gc_powersgd_p(c, id, &th, m1.data(), m1.size(), &w1));
            ASSERT_RAI_OK(rai_gc_powersgd_q(c, id, m1.data(), w1, m2.data(), m2.size(), &w2));
            ASSERT_RAI_OK(rai_gc_decompress(c, id, w2 ? m2.data() : m1.data(), w2 ? w2 : w1, &th));
        } else {
            ASSERT_RAI_OK(rai_gc_apply(c, id, &th));
        }
        for (size_t i = 0; i < n; ++i) ASSERT_NEAR(out[i], host[i], tol * (1 + std::fabs(host[i]))) << i;
    }
    rai_buffer_destroy(buf);
    rai_gc_destroy(g);
    rai_gc_destroy(c);
}

}  // namespace

TEST_F(GcNccl, OneRankEqualsTheCpuCompressor) {
    run(gpu, cpu, comm, RAI_GC_NONE, 0.0f);
    run(gpu, cpu, comm, RAI_GC_TOPK, 1e-6f);
    run(gpu, cpu, comm, RAI_GC_SIGN, 1e-5f);
    run(gpu, cpu, comm, RAI_GC_QSGD, 1e-5f);
    run(gpu, cpu, comm, RAI_GC_POWERSGD, 1e-3f);
}

// With one rank the sum of decodes is the rank's own decode, which rai_gc_apply gives on the CPU;
// momentum correction (DGC) runs through the same device kernels as the MPI path.
TEST_F(GcNccl, SumOfDecodesAndMomentumCorrectionEqualTheCpu) {
    run(gpu, cpu, comm, RAI_GC_SIGN, 1e-5f, RAI_GC_ALLREDUCE_SUM_DECODED);
    run(gpu, cpu, comm, RAI_GC_TOPK, 1e-6f, RAI_GC_ALLREDUCE_SUM_DECODED);
    run(gpu, cpu, comm, RAI_GC_TOPK, 1e-6f, 0, 0.9f);
    run(gpu, cpu, comm, RAI_GC_SIGN, 1e-5f, RAI_GC_ALLREDUCE_SUM_DECODED, 0.9f);
    run(gpu, cpu, comm, RAI_GC_POWERSGD, 1e-3f, 0, 0.9f);
}
