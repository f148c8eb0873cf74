#include "cuda_plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "error.h"
#include "log.h"

namespace rai::cuda {

namespace {

struct PluginState {
    const raicuda_backend *table = nullptr;
    std::string status = "not loaded";
    int32_t devices = 0;
};

std::string directory_of_librai() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void *>(&directory_of_librai), &info) == 0 || info.dli_fname == nullptr)
        return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

PluginState load() {
    PluginState s;
    std::vector<std::string> candidates;
    if (const char *env = std::getenv("RAI_CUDA_PLUGIN"); env != nullptr && *env != '\0') candidates.push_back(env);
    const std::string dir = directory_of_librai();
    if (!dir.empty()) candidates.push_back(dir + "/librai_cuda.so");
    candidates.push_back("librai_cuda.so");
    // The same file named twice would only repeat its failure in the status.
    for (std::size_t i = candidates.size(); i-- > 1;)
        if (std::find(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(i), candidates[i]) !=
            candidates.begin() + static_cast<std::ptrdiff_t>(i))
            candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(i));

    std::string reasons;
    for (const std::string &path : candidates) {
        void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char *why = dlerror();
            reasons += (reasons.empty() ? "" : "; ") + (why ? std::string(why) : path + ": dlopen failed");
            continue;
        }
        auto entry = reinterpret_cast<raicuda_backend_entry_fn>(dlsym(handle, RAICUDA_ENTRY_SYMBOL));
        const raicuda_backend *table = entry ? entry() : nullptr;
        if (table == nullptr || table->abi_version != RAICUDA_BACKEND_ABI ||
            table->struct_size < sizeof(raicuda_backend)) {
            reasons += (reasons.empty() ? "" : "; ") + path + ": not a compatible rai CUDA plugin";
            dlclose(handle);
            continue;
        }
        // Loaded for the life of the process: kernels may be in flight at exit.
        s.table = table;
        raicuda_err err{};
        int32_t count = 0;
        if (table->device_count(&count, &err) != 0) {
            s.status = "loaded " + path + "; no usable CUDA device: " + err.message;
        } else {
            s.devices = count;
            s.status = "loaded " + path + "; " + std::to_string(count) + " CUDA device(s)";
        }
        log::debug("rai: CUDA plugin " + s.status);
        return s;
    }
    s.status = "not loaded: " + reasons;
    log::debug("rai: CUDA plugin " + s.status);
    return s;
}

const PluginState &state() {
    static const PluginState s = load();  // thread-safe one-time initialisation
    return s;
}

}  // namespace

const raicuda_backend *plugin() { return state().table; }
const char *status() { return state().status.c_str(); }
int32_t device_count() { return state().table ? state().devices : 0; }

const raicuda_backend &require_plugin() {
    const PluginState &s = state();
    if (s.table == nullptr || s.devices == 0)
        throw Error(RAI_ERROR_NO_DEVICE, std::string("CUDA is not available: CUDA plugin ") + s.status);
    return *s.table;
}

const void *require_capability(const char *name) {
    const raicuda_backend &be = require_plugin();
    const void *table = be.capability(name);
    if (table == nullptr)
        throw Error(RAI_ERROR_UNSUPPORTED, std::string("the CUDA plugin has no '") + name + "' kernels");
    return table;
}

void throw_error(int status, const raicuda_err &err) {
    const rai_status st = (status > 0 && status <= RAI_ERROR_OUT_OF_RANGE) ? static_cast<rai_status>(status)
                                                                           : RAI_ERROR_BACKEND;
    throw Error(st, err.message[0] ? err.message : "CUDA backend error");
}

}  // namespace rai::cuda

namespace rai::cuda {

DeviceMemory::DeviceMemory(int32_t ordinal, std::size_t bytes) : ordinal_(ordinal) {
    const raicuda_backend &be = require_plugin();
    check([&](raicuda_err *e) { return be.malloc_device(ordinal, bytes, &ptr_, e); });
}

DeviceMemory::~DeviceMemory() {
    if (ptr_ != nullptr)
        if (const raicuda_backend *be = plugin()) be->free_device(ordinal_, ptr_);
}

}  // namespace rai::cuda
