// GPU section of compress_bench (issue 6, item 8c): compress, decompress and the fused in-place
// apply of a 4096 x 4096 f32 gradient on a CUDA context, in GB/s of gradient. Messages are host
// memory (rai.h), so compress includes the device-to-host copy of the message and decompress the
// host-to-device copy; every call synchronises, so host-clock medians time them. Anchors in the
// same run: a device-to-device copy of the gradient, and the device-to-host copy of the raw
// gradient (what an uncompressed host-staged exchange moves).
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "bench_util.h"
#include "rai_bench.h"
#include "rai.h"

namespace {

using bench::must;

rai_gc_params method(int32_t m, float ratio = 0.0f, uint32_t rank = 0) {
    rai_gc_params p;
    rai_gc_params_init(&p);
    p.method = m;
    p.seed = 1;
    if (ratio > 0) p.ratio = ratio;
    if (rank > 0) p.rank = rank;
    return p;
}

}  // namespace

void compress_gpu_section() {
    rai_context *g = bench::cuda_context_or_skip();
    if (!g) return;
    rai_device_info info;
    rai_device_info_init(&info);
    must(rai_cuda_device_info(0, &info), "rai_cuda_device_info");
    const int64_t R = 4096, C = 4096, n = R * C;
    const int64_t shape[2] = {R, C};
    const double gb = 4.0 * n / 1e9;
    std::vector<float> host(static_cast<size_t>(n));
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    for (float &v : host) v = nd(rng);
    rai_buffer *gbuf = nullptr, *wbuf = nullptr;
    must(rai_buffer_create(g, static_cast<size_t>(n) * 4, &gbuf), "buffer");
    must(rai_buffer_create(g, static_cast<size_t>(n) * 4, &wbuf), "buffer");
    must(rai_buffer_write(g, gbuf, 0, host.data(), host.size() * 4), "write");
    const rai_device dev{RAI_DEVICE_CUDA, 0};
    rai_tensor tg{rai_buffer_data(gbuf), dev, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
    rai_tensor tw{rai_buffer_data(wbuf), dev, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
    const double t_copy = bench::median_seconds([&] {
        must(rai_tensor_copy(g, &tg, &tw), "copy");
        must(rai_context_synchronize(g), "sync");
    }, 9);
    const double t_d2h = bench::median_seconds([&] { must(rai_buffer_read(g, gbuf, 0, host.data(), host.size() * 4), "read"); }, 9);
    std::printf("\nGPU compression, %s: 4096 x 4096 f32 gradient (%.0f MiB), GB/s of gradient, host-clock medians; "
                "anchors: device copy %.0f GB/s, device-to-host copy of the raw gradient %.1f GB/s\n",
                info.name, 4.0 * n / (1 << 20), gb / t_copy, gb / t_d2h);
    std::printf("| method | bits/param | compress (incl. D2H message) | decompress (incl. H2D) | apply (in place) | "
                "c+d vs raw D2H |\n|---|---|---|---|---|---|\n");
    struct Case {
        const char *name;
        rai_gc_params p;
    };
    const Case cases[] = {{"NONE (raw)", method(RAI_GC_NONE)},
                          {"EF-TOPK 1%", method(RAI_GC_TOPK, 0.01f)},
                          {"EF-TOPK 0.1%", method(RAI_GC_TOPK, 0.001f)},
                          {"EF-SIGN", method(RAI_GC_SIGN)},
                          {"EF-TERNARY", method(RAI_GC_TERNARY)},
                          {"TERNARY_STOCH", method(RAI_GC_TERNARY_STOCH)},
                          {"QSGD levels 7", method(RAI_GC_QSGD)},
                          {"EF-POWERSGD rank 1", method(RAI_GC_POWERSGD, 0, 1)},
                          {"EF-POWERSGD rank 4", method(RAI_GC_POWERSGD, 0, 4)}};
    for (const Case &c : cases) {
        rai_gc *gc = nullptr;
        if (rai_gc_create(g, &c.p, &gc) != RAI_OK) {
            std::printf("| %s | unsupported on CUDA: %s |\n", c.name, rai_last_error_message());
            continue;
        }
        uint32_t id = 0;
        must(rai_gc_add_tensor(gc, "g", &tw, &id), "add_tensor");
        size_t cap = 0, len = 0;
        must(rai_gc_max_message_size(gc, id, &cap), "max_message_size");
        std::vector<uint8_t> msg(cap);
        const double tc = bench::median_seconds([&] { must(rai_gc_compress(gc, id, &tg, msg.data(), cap, &len), "compress"); }, 9);
        const double td = bench::median_seconds([&] { must(rai_gc_decompress(gc, id, msg.data(), len, &tw), "decompress"); }, 9);
        const double ta = bench::median_seconds([&] {
            must(rai_gc_apply(gc, id, &tw), "apply");
            must(rai_context_synchronize(g), "sync");
        }, 9);
        rai_gc_stats st;
        rai_gc_stats_init(&st);
        must(rai_gc_get_stats(gc, id, &st), "stats");
        std::printf("| %s | %.3f | %.1f | %.1f | %.1f | %.2fx |\n", c.name, st.bits_per_param, gb / tc, gb / td, gb / ta,
                    t_d2h / (tc + td));
        std::fflush(stdout);
        rai_gc_destroy(gc);
    }
    rai_buffer_destroy(gbuf);
    rai_buffer_destroy(wbuf);
    rai_context_destroy(g);
}
