// Lazy loading of librai_cuda.so and C++ access to its function table.
#pragma once
#include <cstddef>
#include <string>

#include "cuda_backend_abi.h"

namespace rai::cuda {

// Loads the plugin once (thread-safe). Returns the table, or nullptr when no plugin could be
// loaded; status() then says why.
const raicuda_backend *plugin();
// The table, or throws NO_DEVICE naming why CUDA is unavailable.
const raicuda_backend &require_plugin();
const char *status();

// A capability's function table from the plugin (e.g. "ternary/1"), or throws NO_DEVICE /
// UNSUPPORTED. Requires a usable device.
const void *require_capability(const char *name);

// Number of usable devices (0 when the plugin or the driver is missing).
int32_t device_count();

[[noreturn]] void throw_error(int status, const raicuda_err &err);

// Calls a backend function that reports through raicuda_err, throwing rai::Error on failure.
template <class F>
void check(F &&call) {
    raicuda_err err{};
    const int st = call(&err);
    if (st != 0) throw_error(st, err);
}

}  // namespace rai::cuda

namespace rai::cuda {

// Device memory owned for the duration of a scope (scratch space, staging).
class DeviceMemory {
public:
    DeviceMemory(int32_t ordinal, std::size_t bytes);
    ~DeviceMemory();
    DeviceMemory(const DeviceMemory &) = delete;
    DeviceMemory &operator=(const DeviceMemory &) = delete;
    void *get() const { return ptr_; }

private:
    int32_t ordinal_;
    void *ptr_ = nullptr;
};

}  // namespace rai::cuda
