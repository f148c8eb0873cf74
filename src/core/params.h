// The struct_size convention for params structs, in one place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "error.h"

namespace rai {

// Writes defaults (all zero, then struct_size) into the caller's struct of `caller_size` bytes.
// `first_release_size` is the size of the struct in the first release that had it.
template <class T>
void init_params(T *p, std::size_t caller_size, std::size_t first_release_size, const char *name) {
    require_not_null(p, name);
    require(caller_size >= first_release_size && caller_size <= (1u << 16), RAI_ERROR_STRUCT_SIZE,
            std::string(name) + ": struct_size " + std::to_string(caller_size) + " is not a released size (>= " +
                std::to_string(first_release_size) + ")");
    // A newer caller's struct is larger than ours: its extra fields get zero, their default.
    std::memset(static_cast<void *>(p), 0, caller_size);
    T defaults{};
    std::memcpy(static_cast<void *>(p), &defaults, caller_size < sizeof(T) ? caller_size : sizeof(T));
    p->struct_size = static_cast<uint32_t>(caller_size);
}

// Reads a caller's params struct: NULL means defaults; fields the caller's (older) struct lacks
// keep their defaults; a struct_size below the first release is refused.
template <class T>
T read_params(const T *p, std::size_t first_release_size, const char *name) {
    T out{};
    out.struct_size = sizeof(T);
    if (p == nullptr) return out;
    const std::size_t n = p->struct_size;
    require(n >= first_release_size, RAI_ERROR_STRUCT_SIZE,
            std::string(name) + "->struct_size is " + std::to_string(n) + ", expected at least " +
                std::to_string(first_release_size) + " (use the _params_init function)");
    std::memcpy(static_cast<void *>(&out), p, n < sizeof(T) ? n : sizeof(T));
    out.struct_size = sizeof(T);
    return out;
}

// Checks a struct the caller passes for the library to fill in (an "info" out-struct) or to read
// in place (callbacks): not NULL, and a struct_size of at least the first release's size.
// `init` names the function that sets struct_size, for the message (NULL: none).
template <class T>
void require_struct_size(const T *p, std::size_t first_release_size, const char *name, const char *init) {
    require_not_null(p, name);
    require(p->struct_size >= first_release_size, RAI_ERROR_STRUCT_SIZE,
            std::string(name) + "->struct_size is " + std::to_string(p->struct_size) + ", expected at least " +
                std::to_string(first_release_size) + (init ? std::string(" (use ") + init + ")" : std::string()));
}

// Fills a caller's out-struct (checked with require_struct_size) from `full`: the fields its
// struct_size covers (an older, smaller struct gets only its own), keeping the caller's struct_size.
template <class T>
void write_out_struct(T *p, const T &full) {
    const uint32_t caller_size = p->struct_size;
    std::memcpy(static_cast<void *>(p), &full, caller_size < sizeof(T) ? caller_size : sizeof(T));
    p->struct_size = caller_size;
}

}  // namespace rai
