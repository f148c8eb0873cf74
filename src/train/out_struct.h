// Output structs with struct_size (rai_hybrid_step_info, _step_result, _stats): the caller sets
// struct_size with the *_init function; rai writes the fields that fit and keeps struct_size.
#pragma once
#include <cstddef>
#include <cstring>
#include <string>

#include "../core/error.h"

namespace rai::train {

template <class T>
void write_out(T *out, T value, std::size_t first_release_size, const char *name) {
    require_not_null(out, name);
    const std::size_t n = out->struct_size;
    require(n >= first_release_size, RAI_ERROR_STRUCT_SIZE,
            std::string(name) + "->struct_size is " + std::to_string(n) + ", expected at least " +
                std::to_string(first_release_size) + " (use the _init function)");
    value.struct_size = static_cast<uint32_t>(n);
    std::memcpy(static_cast<void *>(out), &value, n < sizeof(T) ? n : sizeof(T));
}

}  // namespace rai::train

namespace rai::train {

// Validates an output struct before a call changes any state.
template <class T>
void check_out(const T *out, std::size_t first_release_size, const char *name) {
    require_not_null(out, name);
    require(out->struct_size >= first_release_size, RAI_ERROR_STRUCT_SIZE,
            std::string(name) + "->struct_size is " + std::to_string(out->struct_size) + ", expected at least " +
                std::to_string(first_release_size) + " (use the _init function)");
}

}  // namespace rai::train
