// C ABI: version, status, errors, logging, rai_free.
#include <cstdlib>

#include "../core/log.h"
#include "../core/system_info.h"
#include "guard.h"

using rai::abi::guarded;

extern "C" {

uint32_t rai_version_number(void) { return RAI_VERSION_NUMBER; }
const char *rai_version_string(void) { return RAI_VERSION_STRING; }
const char *rai_build_info(void) { return rai::build_info(); }

const char *rai_status_string(rai_status status) {
    switch (status) {
    case RAI_OK: return "ok";
    case RAI_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case RAI_ERROR_OUT_OF_MEMORY: return "out of memory";
    case RAI_ERROR_NO_DEVICE: return "no device";
    case RAI_ERROR_BACKEND: return "backend error";
    case RAI_ERROR_UNSUPPORTED: return "unsupported";
    case RAI_ERROR_BUFFER_TOO_SMALL: return "buffer too small";
    case RAI_ERROR_CANCELLED: return "cancelled";
    case RAI_ERROR_INTERNAL: return "internal error";
    case RAI_ERROR_SHAPE_MISMATCH: return "shape mismatch";
    case RAI_ERROR_DTYPE_MISMATCH: return "dtype mismatch";
    case RAI_ERROR_DEVICE_MISMATCH: return "device mismatch";
    case RAI_ERROR_LAYOUT: return "unsupported layout";
    case RAI_ERROR_STRUCT_SIZE: return "bad struct_size";
    case RAI_ERROR_IO: return "I/O error";
    case RAI_ERROR_FORMAT: return "malformed data";
    case RAI_ERROR_OUT_OF_RANGE: return "out of range";
    }
    return "unknown status";
}

const char *rai_last_error_message(void) { return rai::last_error(); }

void rai_free(void *ptr) { std::free(ptr); }

void rai_set_log_callback(rai_log_callback callback, void *user_data) { rai::log::set_callback(callback, user_data); }

rai_status rai_set_log_level(int32_t level) {
    return guarded([&] {
        rai::require(level >= RAI_LOG_DEBUG && level <= RAI_LOG_OFF, RAI_ERROR_INVALID_ARGUMENT,
                     "level " + std::to_string(level) + " is not a rai_log_level");
        rai::log::set_level(level);
    });
}

int32_t rai_get_log_level(void) { return rai::log::level(); }

}  // extern "C"
