// Global, thread-safe logging through the caller's callback. With no callback rai prints nothing.
#pragma once
#include <string>

#include "rai.h"

namespace rai::log {

void set_callback(rai_log_callback callback, void *user_data);
void set_level(int32_t level);
int32_t level();
bool enabled(int32_t level);
void write(int32_t level, const std::string &message);

inline void debug(const std::string &m) { write(RAI_LOG_DEBUG, m); }
inline void info(const std::string &m) { write(RAI_LOG_INFO, m); }
inline void warn(const std::string &m) { write(RAI_LOG_WARN, m); }

}  // namespace rai::log
