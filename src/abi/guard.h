// The C ABI boundary: runs the body, maps rai::Error to its status and any other exception to
// OUT_OF_MEMORY / INTERNAL, and records the message for rai_last_error_message(). No exception
// ever crosses into the caller.
#pragma once
#include <mutex>
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

// Resolves a handle (context, optimizer, hybrid...) and runs body(handle) under its mutex: the
// shape of every call that uses one object for its whole duration.
template <class H, class F>
rai_status locked(H *handle, const char *name, F &&body) noexcept {
    return guarded([&] {
        H &h = deref(handle, name);
        std::lock_guard<std::mutex> lock(h.mutex);
        body(h);
    });
}

// The create shape on a context: *out is NULL unless it succeeds; make(ctx) runs under the
// context's lock and returns the new object.
template <class Context, class T, class F>
rai_status create_locked(Context *ctx, T **out, F &&make) noexcept {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        Context &c = deref(ctx, "ctx");
        require_not_null(out, "out");
        std::lock_guard<std::mutex> lock(c.mutex);
        *out = make(c);
    });
}

}  // namespace rai::abi
