// rai info: what this build and this machine offer.
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "rai.h"

namespace {

void log_to_stderr(int32_t level, const char *message, void *) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "%s: %s\n", level >= 0 && level < 4 ? names[level] : "log", message);
}

void print_features(const char *label, uint64_t features) {
    std::printf("%-16s", label);
    bool any = false;
    for (uint64_t bit = 1; bit != 0; bit <<= 1) {
        if ((features & bit) == 0) continue;
        if (const char *name = rai_cpu_feature_name(bit)) {
            std::printf(" %s", name);
            any = true;
        }
    }
    std::printf("%s\n", any ? "" : " (none)");
}

}  // namespace

int cmd_info(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (std::strcmp(argv[i], "-v") == 0 || std::strcmp(argv[i], "--verbose") == 0) {
            rai_set_log_level(RAI_LOG_DEBUG);
        } else {
            std::fprintf(stderr, "rai info: unknown option '%s' (options: --json, --verbose)\n", argv[i]);
            return 2;
        }
    }
    rai_set_log_callback(log_to_stderr, nullptr);
    if (json) {
        char *text = nullptr;
        const rai_status st = rai_system_info_json(&text);
        if (st != RAI_OK) {
            std::fprintf(stderr, "rai info: %s: %s\n", rai_status_string(st), rai_last_error_message());
            return 1;
        }
        std::fputs(text, stdout);
        rai_free(text);
        return 0;
    }

    std::printf("rai %s\n", rai_version_string());
    std::printf("build            %s\n", rai_build_info());
    print_features("cpu detected", rai_cpu_features_detected());
    print_features("cpu usable", rai_cpu_features());
    std::printf("cpu kernels      %s\n", rai_cpu_dispatch_level());
    int32_t n = 0;
    rai_cuda_device_count(&n);
    std::printf("cuda plugin      %s\n", rai_cuda_plugin_loaded() ? "loaded" : "not loaded");
    std::printf("cuda status      %s\n", rai_cuda_plugin_status());
    std::printf("cuda devices     %d\n", n);
    for (int32_t i = 0; i < n; ++i) {
        rai_device_info info;
        rai_device_info_init(&info);
        if (rai_cuda_device_info(i, &info) != RAI_OK) {
            std::printf("  [%d] error: %s\n", i, rai_last_error_message());
            continue;
        }
        std::printf("  [%d] %s, sm_%d%d, %d SMs, %.1f GiB total, %.1f GiB free, L2 %.1f MiB\n", i, info.name,
                    info.compute_capability_major, info.compute_capability_minor, info.multiprocessor_count,
                    info.total_memory_bytes / 1073741824.0, info.free_memory_bytes / 1073741824.0,
                    info.l2_cache_bytes / 1048576.0);
    }
    rai_context *ctx = nullptr;
    if (rai_context_create(nullptr, &ctx) == RAI_OK) {
        rai_device dev;
        rai_context_device(ctx, &dev);
        std::printf("default device   %s:%d\n", dev.device_type == RAI_DEVICE_CUDA ? "cuda" : "cpu", dev.device_id);
        rai_context_destroy(ctx);
    } else {
        std::printf("default device   error: %s\n", rai_last_error_message());
    }
    return 0;
}
