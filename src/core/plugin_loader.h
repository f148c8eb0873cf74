// The one way librai finds and opens its optional plugins (librai_cuda.so, librai_mpi.so): each
// keeps a heavy dependency (CUDA, MPI) out of librai's NEEDED list, so librai loads everywhere
// and a capability reports why it is unavailable instead of the program failing to start.
#pragma once
#include <functional>
#include <string>

namespace rai::plugin {

struct Loaded {
    void *entry = nullptr;  // the entry symbol's address; nullptr when nothing loaded
    std::string path;       // the file that was loaded
    std::string reasons;    // why each candidate was refused ("; "-separated)
};

// Tries, in order: the file named by $env_var, `file_name` in librai's own directory, then
// `file_name` on the loader's default path. `accept(entry)` returns "" to take a candidate or
// the reason to refuse it (the candidate is then closed). A taken plugin stays loaded for the
// life of the process.
Loaded load(const char *env_var, const char *file_name, const char *entry_symbol,
            const std::function<std::string(void *entry)> &accept);

}  // namespace rai::plugin
