#include "system_info.h"

#include <cstdio>
#include <string>

#include "build_config.h"
#include "cpu_features.h"
#include "cuda_plugin.h"
#include "rai.h"

namespace rai {

namespace {

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

std::string feature_list(uint64_t features) {
    std::string out = "[";
    bool first = true;
    for (uint64_t bit = 1; bit != 0 && bit <= RAI_CPU_AVX512BF16; bit <<= 1) {
        if ((features & bit) == 0) continue;
        if (const char *name = cpu::feature_name(bit)) {
            out += (first ? "" : ", ") + json_string(name);
            first = false;
        }
    }
    return out + "]";
}

}  // namespace

const char *build_info() {
    static const std::string info =
        std::string("rai ") + RAI_VERSION_STRING + "; compiler " + RAI_BUILD_COMPILER + "; build " + RAI_BUILD_TYPE +
        "; CUDA plugin " +
        (RAI_BUILD_CUDA_PLUGIN ? std::string("built (CUDA ") + RAI_BUILD_CUDA_VERSION + ", sm_" + RAI_BUILD_GPU_ARCHS + ")"
                               : std::string("not built")) +
        "; CPU kernels: scalar, avx2, avx512 (run-time dispatch)";
    return info.c_str();
}

std::string system_info_json() {
    std::string j = "{\n";
    j += "  \"version\": " + json_string(RAI_VERSION_STRING) + ",\n";
    j += "  \"build_info\": " + json_string(build_info()) + ",\n";
    j += "  \"cpu\": {\"detected\": " + feature_list(cpu::detected()) + ", \"usable\": " + feature_list(cpu::usable()) +
         ", \"dispatch_level\": " + json_string(cpu::level_name(cpu::usable())) + "},\n";
    const raicuda_backend *be = cuda::plugin();
    j += "  \"cuda_plugin\": {\"loaded\": " + std::string(be ? "true" : "false") +
         ", \"status\": " + json_string(cuda::status()) + "},\n";
    j += "  \"cuda_devices\": [";
    const int32_t n = cuda::device_count();
    for (int32_t i = 0; i < n; ++i) {
        rai_device_info info{};
        info.struct_size = sizeof info;
        raicuda_err err{};
        if (be->device_info(i, &info, &err) != 0) continue;
        char buf[640];
        std::snprintf(buf, sizeof buf,
                      "%s\n    {\"ordinal\": %d, \"name\": %s, \"compute_capability\": \"%d.%d\", "
                      "\"multiprocessors\": %d, \"total_memory_bytes\": %llu, \"free_memory_bytes\": %llu, "
                      "\"l2_cache_bytes\": %llu}",
                      i ? "," : "", i, json_string(info.name).c_str(), info.compute_capability_major,
                      info.compute_capability_minor, info.multiprocessor_count,
                      static_cast<unsigned long long>(info.total_memory_bytes),
                      static_cast<unsigned long long>(info.free_memory_bytes),
                      static_cast<unsigned long long>(info.l2_cache_bytes));
        j += buf;
    }
    j += n ? "\n  ]\n}\n" : "]\n}\n";
    return j;
}

}  // namespace rai
