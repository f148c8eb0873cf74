#include "log.h"

#include <atomic>
#include <mutex>

namespace rai::log {

namespace {
std::mutex g_mutex;  // guards the callback pair and serialises delivery
rai_log_callback g_callback = nullptr;
void *g_user_data = nullptr;
std::atomic<int32_t> g_level{RAI_LOG_WARN};
}  // namespace

void set_callback(rai_log_callback callback, void *user_data) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_callback = callback;
    g_user_data = user_data;
}

void set_level(int32_t level) { g_level.store(level, std::memory_order_relaxed); }
int32_t level() { return g_level.load(std::memory_order_relaxed); }
bool enabled(int32_t lvl) { return lvl >= level() && lvl < RAI_LOG_OFF; }

void write(int32_t lvl, const std::string &message) {
    if (!enabled(lvl)) return;
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_callback != nullptr) g_callback(lvl, message.c_str(), g_user_data);
}

}  // namespace rai::log
