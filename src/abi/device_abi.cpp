// C ABI: CUDA device queries, plugin state, CPU features, system description.
#include <cstdlib>
#include <cstring>

#include "../core/cpu_features.h"
#include "../core/cuda_plugin.h"
#include "../core/params.h"
#include "../core/system_info.h"
#include "guard.h"

using rai::abi::guarded;

extern "C" {

rai_status rai_cuda_device_count(int32_t *count) {
    return guarded([&] {
        rai::require_not_null(count, "count");
        *count = rai::cuda::device_count();
    });
}

rai_status rai_device_info_init_sized(rai_device_info *info, size_t struct_size) {
    return guarded([&] { rai::init_params(info, struct_size, sizeof(rai_device_info), "info"); });
}

rai_status rai_cuda_device_info(int32_t ordinal, rai_device_info *info) {
    return guarded([&] {
        rai::require_struct_size(info, sizeof(rai_device_info), "info", "rai_device_info_init");
        const int32_t n = rai::cuda::device_count();
        rai::require(ordinal >= 0 && ordinal < n, RAI_ERROR_NO_DEVICE,
                     "CUDA device " + std::to_string(ordinal) + " requested but " + std::to_string(n) + " available");
        rai_device_info tmp{};
        tmp.struct_size = sizeof tmp;
        const raicuda_backend &be = rai::cuda::require_plugin();
        rai::cuda::check([&](raicuda_err *e) { return be.device_info(ordinal, &tmp, e); });
        rai::write_out_struct(info, tmp);
    });
}

int32_t rai_cuda_plugin_loaded(void) { return rai::cuda::plugin() != nullptr ? 1 : 0; }
const char *rai_cuda_plugin_status(void) { return rai::cuda::status(); }

uint64_t rai_cpu_features_detected(void) { return rai::cpu::detected(); }
uint64_t rai_cpu_features(void) { return rai::cpu::usable(); }
void rai_cpu_set_feature_mask(uint64_t mask) { rai::cpu::set_mask(mask); }
const char *rai_cpu_dispatch_level(void) { return rai::cpu::level_name(rai::cpu::usable()); }
const char *rai_cpu_feature_name(uint64_t feature_bit) { return rai::cpu::feature_name(feature_bit); }

rai_status rai_system_info_json(char **out_json) {
    return guarded([&] {
        rai::require_not_null(out_json, "out_json");
        *out_json = nullptr;
        const std::string j = rai::system_info_json();
        char *p = static_cast<char *>(std::malloc(j.size() + 1));
        rai::require(p != nullptr, RAI_ERROR_OUT_OF_MEMORY, "could not allocate the JSON text");
        std::memcpy(p, j.c_str(), j.size() + 1);
        *out_json = p;
    });
}

}  // extern "C"
