#include "error.h"

namespace rai {

namespace {
thread_local std::string tls_last_error;
}

void set_last_error(const std::string &message) { tls_last_error = message; }
void clear_last_error() { tls_last_error.clear(); }
const char *last_error() { return tls_last_error.c_str(); }

}  // namespace rai
