// The C ABI boundary: runs the body, maps rai::Error to its status and any other exception to
// OUT_OF_MEMORY / INTERNAL, and records the message for rai_last_error_message(). No exception
// ever crosses into the caller.
#pragma once
#include <new>
#include <string>

#include "../core/error.h"
#include "rai.h"

namespace rai::abi {

template <class F>
rai_status guarded(F &&body) noexcept {
    try {
        clear_last_error();
        body();
        return RAI_OK;
    } catch (const Error &e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory (host allocation failed)");
        return RAI_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_last_error(std::string("internal error: ") + e.what());
        return RAI_ERROR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return RAI_ERROR_INTERNAL;
    }
}

// Resolves a context argument, throwing INVALID_ARGUMENT for NULL.
template <class C>
C &deref(C *p, const char *name) {
    require_not_null(p, name);
    return *p;
}

}  // namespace rai::abi
