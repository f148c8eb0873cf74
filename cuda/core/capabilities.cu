// Maps "name/version" to a capability's function table. A capability adds one entry here and
// defines its getter in cuda/<cap>/.
#include <cstring>

#include "capabilities.h"
#include "quant/bitnet/cuda_bitnet_abi.h"

namespace raicuda {

namespace {
struct Entry {
    const char *name;
    const void *(*get)();
};
// One entry per capability; each getter is defined in cuda/<cap>/. Ends with a null entry.
const Entry kEntries[] = {
    {RAICUDA_BITNET_CAPABILITY, raicuda_bitnet_table},
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
