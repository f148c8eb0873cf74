// Maps "name/version" to a capability's function table. A capability adds one entry here and
// defines its getter in cuda/<cap>/.
#include <cstring>

#include "capabilities.h"

namespace raicuda {

const void *train_capability();  // cuda/train/train_kernels.cu

namespace {
struct Entry {
    const char *name;
    const void *(*get)();
};
// One entry per capability; each getter is defined in cuda/<cap>/. Ends with a null entry.
const Entry kEntries[] = {
    {"train/1", train_capability},
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
