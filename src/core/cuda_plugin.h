// Lazy loading of librai_cuda.so and C++ access to its function table.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
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

// Device blocks that a handle keeps between its calls instead of a cudaMalloc and a cudaFree
// per call (cudaFree synchronises the whole device). Only for a handle on one device whose every
// call ends synchronised with its stream, so that a block given back is idle when it is taken
// again; the handle serialises its calls, so the pool needs no lock. It must outlive its blocks.
class DevicePool {
public:
    // A block on loan: given back to its pool when destroyed or assigned over. Empty by default.
    class Block {
    public:
        Block() = default;
        Block(Block &&o) noexcept { *this = std::move(o); }
        Block &operator=(Block &&o) noexcept;
        ~Block() { give_back(); }
        void *get() const { return mem_ ? mem_->get() : nullptr; }
        explicit operator bool() const { return static_cast<bool>(mem_); }

    private:
        friend class DevicePool;
        void give_back() noexcept;
        DevicePool *pool_ = nullptr;
        std::unique_ptr<DeviceMemory> mem_;
        std::size_t bytes_ = 0;
    };

    // At least `bytes` (>= 1): a kept block of up to twice that size, or a new one.
    Block take(int32_t ordinal, std::size_t bytes);

private:
    std::multimap<std::size_t, std::unique_ptr<DeviceMemory>> free_;
};

}  // namespace rai::cuda
