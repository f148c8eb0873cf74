#include "cuda_plugin.h"

#include <string>

#include "error.h"
#include "log.h"
#include "plugin_loader.h"

namespace rai::cuda {

namespace {

struct PluginState {
    const raicuda_backend *table = nullptr;
    std::string status = "not loaded";
    int32_t devices = 0;
};

PluginState load() {
    PluginState s;
    const plugin::Loaded found =
        plugin::load("RAI_CUDA_PLUGIN", "librai_cuda.so", RAICUDA_ENTRY_SYMBOL, [](void *entry) -> std::string {
            const raicuda_backend *table = reinterpret_cast<raicuda_backend_entry_fn>(entry)();
            if (table == nullptr || table->abi_version != RAICUDA_BACKEND_ABI ||
                table->struct_size < sizeof(raicuda_backend))
                return "not a compatible rai CUDA plugin";
            return {};
        });
    if (found.entry == nullptr) {
        s.status = "not loaded: " + found.reasons;
        log::debug("rai: CUDA plugin " + s.status);
        return s;
    }
    const raicuda_backend *table = reinterpret_cast<raicuda_backend_entry_fn>(found.entry)();
    s.table = table;
    raicuda_err err{};
    int32_t count = 0;
    if (table->device_count(&count, &err) != 0) {
        s.status = "loaded " + found.path + "; no usable CUDA device: " + err.message;
    } else {
        s.devices = count;
        s.status = "loaded " + found.path + "; " + std::to_string(count) + " CUDA device(s)";
    }
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

DevicePool::Block &DevicePool::Block::operator=(Block &&o) noexcept {
    if (this != &o) {
        give_back();
        pool_ = o.pool_;
        mem_ = std::move(o.mem_);
        bytes_ = o.bytes_;
        o.pool_ = nullptr;
        o.bytes_ = 0;
    }
    return *this;
}

void DevicePool::Block::give_back() noexcept {
    if (pool_ && mem_) {
        try {
            pool_->free_.emplace(bytes_, std::move(mem_));
        } catch (...) {  // out of host memory for the list: free the block instead
        }
    }
    mem_.reset();
    pool_ = nullptr;
    bytes_ = 0;
}

DevicePool::Block DevicePool::take(int32_t ordinal, std::size_t bytes) {
    bytes = bytes ? bytes : 1;
    Block b;
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first / 2 <= bytes) {
        b.bytes_ = it->first;
        b.mem_ = std::move(it->second);
        free_.erase(it);
    } else {
        b.bytes_ = bytes;
        b.mem_ = std::make_unique<DeviceMemory>(ordinal, bytes);
    }
    b.pool_ = this;
    return b;
}

}  // namespace rai::cuda
