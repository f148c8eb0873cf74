"""Declarations the binding adds to the generated cdef (not part of rai.h).

DLPACK_CDEF: DLPack's DLManagedTensor and DLManagedTensorVersioned, spelt with rai's own
rai_tensor in place of DLTensor (rai_tensor mirrors DLTensor field for field), so a capsule from
__dlpack__ can be read with cffi. The text is both a cffi cdef and valid C: build_rai_api.py
pastes it into the API-mode extension's C source as well, where the compiler checks it.

API_CALLBACK_CDEF: the log trampoline, an `extern "Python"` function that exists only in the
API-mode extension (rai._rai_api). ABI mode uses ffi.callback instead.
"""

DLPACK_CDEF = """
typedef struct rai_py_dlpack_version {
    uint32_t major;
    uint32_t minor;
} rai_py_dlpack_version;

typedef struct rai_py_dlmanaged_tensor {
    rai_tensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct rai_py_dlmanaged_tensor *self);
} rai_py_dlmanaged_tensor;

typedef struct rai_py_dlmanaged_tensor_versioned {
    rai_py_dlpack_version version;
    void *manager_ctx;
    void (*deleter)(struct rai_py_dlmanaged_tensor_versioned *self);
    uint64_t flags;
    rai_tensor dl_tensor;
} rai_py_dlmanaged_tensor_versioned;
"""

API_CALLBACK_CDEF = """
extern "Python" void rai_py_log_trampoline(int32_t level, const char *message, void *user_data);
"""

# DLManagedTensorVersioned.flags bits (dlpack.h).
DLPACK_FLAG_READ_ONLY = 1 << 0
DLPACK_FLAG_IS_COPIED = 1 << 1
