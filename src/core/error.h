// Internal error path: code below the C ABI throws rai::Error; src/abi/guard.h turns it into a
// rai_status plus the thread-local message. This is the only error mechanism in librai.
#pragma once
#include <stdexcept>
#include <string>

#include "rai.h"

namespace rai {

class Error : public std::runtime_error {
public:
    Error(rai_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    rai_status status() const noexcept { return status_; }

private:
    rai_status status_;
};

// RAI_CHECK(cond, status, message): throws Error(status, message) when cond is false. The
// message expression is evaluated only on failure, so checks on hot paths cost a comparison, not
// a string construction. The message names the offending argument.
#define RAI_CHECK(cond, status, message)                      \
    do {                                                      \
        if (!(cond)) throw ::rai::Error((status), (message)); \
    } while (0)

// Function form for cold paths (creation, parsing), where building the message is harmless.
inline void require(bool ok, rai_status status, const std::string &message) {
    if (!ok) throw Error(status, message);
}

// Throws INVALID_ARGUMENT "<name> must not be NULL" for a NULL pointer argument.
inline void require_not_null(const void *p, const char *name) {
    if (p == nullptr) throw Error(RAI_ERROR_INVALID_ARGUMENT, std::string(name) + " must not be NULL");
}

// The thread-local detail message behind rai_last_error_message().
void set_last_error(const std::string &message);
void clear_last_error();
const char *last_error();

}  // namespace rai
