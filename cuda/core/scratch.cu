// rai's scratch memory pools (scratch.cuh): one per device, created on first use.
#include <cstdint>
#include <mutex>

#include "scratch.cuh"

namespace raicuda {

namespace {
constexpr int kMaxDevices = 64;
std::mutex g_mutex;
cudaMemPool_t g_pools[kMaxDevices] = {};
}  // namespace

cudaError_t scratch_pool(cudaMemPool_t *out) {
    int dev = 0;
    cudaError_t st = cudaGetDevice(&dev);
    if (st != cudaSuccess) return st;
    if (dev < 0 || dev >= kMaxDevices) return cudaErrorInvalidDevice;
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_pools[dev]) {
        cudaMemPoolProps props = {};
        props.allocType = cudaMemAllocationTypePinned;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = dev;
        cudaMemPool_t pool;
        st = cudaMemPoolCreate(&pool, &props);
        if (st != cudaSuccess) return st;
        // Keep what was freed (the default threshold, 0, hands memory back to the driver at
        // every synchronisation, and the next call maps it again).
        uint64_t keep = UINT64_MAX;
        st = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
        if (st != cudaSuccess) {
            cudaMemPoolDestroy(pool);
            return st;
        }
        g_pools[dev] = pool;
    }
    *out = g_pools[dev];
    return cudaSuccess;
}

}  // namespace raicuda
