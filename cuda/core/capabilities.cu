// Maps "name/version" to a capability's function table. A capability adds one entry here and
// defines its getter in cuda/<cap>/.
#include <cstring>

#include "capabilities.h"
#include "quant/bitnet/cuda_bitnet_abi.h"

namespace raicuda {

// Getters defined in cuda/<cap>/.
namespace ternary {
const void *ternary_capability_v1();  // cuda/ternary/table.cu
}
const void *quant_capability();  // cuda/quant/
const void *compress_capability();  // cuda/compress/compress_kernels.cu
const void *train_capability();  // cuda/train/train_kernels.cu
const void *quant_capability();
const void *adapters_capability();
const void *adapter_ops_capability();  // cuda/adapters/model_ops.cu

namespace {
struct Entry {
    const char *name;
    const void *(*get)();
};
// One entry per capability; each getter is defined in cuda/<cap>/. Ends with a null entry.
const Entry kEntries[] = {
    {"ternary/1", ternary::ternary_capability_v1},
    {"quant/1", quant_capability},
    {"compress/1", compress_capability},
    {"train/1", train_capability},
    {RAICUDA_BITNET_CAPABILITY, raicuda_bitnet_table},
    {"adapters/1", adapters_capability},
    {"adapter_ops/1", adapter_ops_capability},
    {nullptr, nullptr},
};
}  // namespace

const void *find_capability(const char *name) {
    if (name == nullptr) return nullptr;
    for (const Entry *e = kEntries; e->name != nullptr; ++e)
        if (std::strcmp(e->name, name) == 0) return e->get();
    return nullptr;
}

}  // namespace raicuda
