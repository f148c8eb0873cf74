// A contiguous host tensor that owns its bytes and shape, for the CLI's scratch buffers
// (quantized codes, trits, scales, dequantized values) handed to the C API as rai_tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rai.h"

inline rai_dtype dtype_f32() { return rai_dtype{RAI_DTYPE_FLOAT, 32, 1}; }
inline rai_dtype dtype_i8() { return rai_dtype{RAI_DTYPE_INT, 8, 1}; }
inline rai_dtype dtype_u8() { return rai_dtype{RAI_DTYPE_UINT, 8, 1}; }

struct HostTensor {
    std::vector<int64_t> shape;
    std::vector<unsigned char> bytes;
    rai_tensor t{};

    HostTensor(std::vector<int64_t> dims, rai_dtype dtype) : shape(std::move(dims)) {
        const size_t n = numel();
        // One spare byte so that data() is never NULL, even for an empty tensor.
        bytes.assign(n * (dtype.bits / 8) + 1, 0);
        t.data = bytes.data();
        t.device = {RAI_DEVICE_CPU, 0};
        t.ndim = static_cast<int32_t>(shape.size());
        t.dtype = dtype;
        t.shape = shape.data();
    }
    HostTensor(const HostTensor &) = delete;
    HostTensor &operator=(const HostTensor &) = delete;

    size_t numel() const {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        return n;
    }
    size_t nbytes() const { return numel() * (t.dtype.bits / 8); }
    template <class T>
    T *as() {
        return reinterpret_cast<T *>(bytes.data());
    }
};

// "what: STATUS: detail" for a failed C API call, taking the thread's last error message.
inline std::string api_error(const std::string &what, rai_status st) {
    return what + ": " + rai_status_string(st) + ": " + rai_last_error_message();
}

// The CLI's context: the CPU, whatever RAI_DEVICE says (its work is on host files and buffers).
inline rai_status create_cpu_context(rai_context **out) {
    rai_context_params cp;
    rai_context_params_init(&cp);
    cp.device_type = RAI_DEVICE_CPU;
    cp.flags = RAI_CONTEXT_IGNORE_ENV;
    return rai_context_create(&cp, out);
}
