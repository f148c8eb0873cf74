// The registry of capability function tables in the plugin (see raicuda_backend.capability).
#pragma once

namespace raicuda {
const void *find_capability(const char *name);
}
