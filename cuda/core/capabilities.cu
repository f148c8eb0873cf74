// Maps "name/version" to a capability's function table. A capability adds one entry here and
// defines its getter in cuda/<cap>/.
#include <cstring>

#include "capabilities.h"

namespace raicuda {

// Getters defined in cuda/<cap>/.
const void *quant_capability();
const void *adapters_capability();

namespace {
struct Entry {
    const char *name;
    const void *(*get)();
};
// One entry per capability; each getter is defined in cuda/<cap>/. Ends with a null entry.
const Entry kEntries[] = {
    {"quant/1", quant_capability},
    {"adapters/1", adapters_capability},
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
