#include "plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace rai::plugin {

namespace {

std::string directory_of_librai() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void *>(&directory_of_librai), &info) == 0 || info.dli_fname == nullptr)
        return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

void append(std::string &reasons, const std::string &why) { reasons += (reasons.empty() ? "" : "; ") + why; }

}  // namespace

Loaded load(const char *env_var, const char *file_name, const char *entry_symbol,
            const std::function<std::string(void *entry)> &accept) {
    std::vector<std::string> candidates;
    if (const char *env = std::getenv(env_var); env != nullptr && *env != '\0') candidates.push_back(env);
    const std::string dir = directory_of_librai();
    if (!dir.empty()) candidates.push_back(dir + "/" + file_name);
    candidates.push_back(file_name);
    // The same file named twice would only repeat its failure in the reasons.
    for (std::size_t i = candidates.size(); i-- > 1;)
        if (std::find(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(i), candidates[i]) !=
            candidates.begin() + static_cast<std::ptrdiff_t>(i))
            candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(i));

    Loaded out;
    for (const std::string &path : candidates) {
        void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char *why = dlerror();
            append(out.reasons, why ? std::string(why) : path + ": dlopen failed");
            continue;
        }
        void *entry = dlsym(handle, entry_symbol);
        const std::string refused = entry ? accept(entry) : std::string("no entry point ") + entry_symbol;
        if (!refused.empty()) {
            append(out.reasons, path + ": " + refused);
            dlclose(handle);
            continue;
        }
        out.entry = entry;
        out.path = path;
        return out;
    }
    return out;
}

}  // namespace rai::plugin
