/* The table of functions the CUDA plugin (librai_cuda.so) gives librai. Plain C so that the
 * plugin and librai agree on layout whatever compiler builds them. librai and the plugin are
 * built together; a different RAICUDA_BACKEND_ABI is refused at load time.
 *
 * Every function returns 0 or a rai_status, and on failure writes a message into `err`. The
 * entry point is deliberately not prefixed rai_ so the version script never exports it. */
#ifndef RAI_CUDA_BACKEND_ABI_H
#define RAI_CUDA_BACKEND_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "rai.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_BACKEND_ABI 1
#define RAICUDA_MAX_DIMS 32

typedef struct raicuda_err {
    char message[512];
} raicuda_err;

typedef enum raicuda_copy_kind {
    RAICUDA_HOST_TO_DEVICE = 1,
    RAICUDA_DEVICE_TO_HOST = 2,
    RAICUDA_DEVICE_TO_DEVICE = 3
} raicuda_copy_kind;

/* A strided view for device-side copies (strides in elements). */
typedef struct raicuda_view {
    void *data;
    int32_t ndim;
    int64_t shape[RAICUDA_MAX_DIMS];
    int64_t strides[RAICUDA_MAX_DIMS];
} raicuda_view;

typedef struct raicuda_backend {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *(*build_info)(void);

    int (*device_count)(int32_t *count, raicuda_err *err);
    int (*device_info)(int32_t ordinal, rai_device_info *info, raicuda_err *err);

    int (*stream_create)(int32_t ordinal, void **stream, raicuda_err *err);
    void (*stream_destroy)(int32_t ordinal, void *stream);
    int (*stream_synchronize)(int32_t ordinal, void *stream, raicuda_err *err);

    int (*malloc_device)(int32_t ordinal, size_t bytes, void **ptr, raicuda_err *err);
    void (*free_device)(int32_t ordinal, void *ptr);
    /* Copies and waits for the copy to finish. */
    int (*memcpy_sync)(int32_t ordinal, void *dst, const void *src, size_t bytes, int32_t kind,
                       void *stream, raicuda_err *err);
    /* dst[i] = src[i] over the shape, both views on the device; element size in bytes. Queued. */
    int (*copy_strided)(int32_t ordinal, const raicuda_view *dst, const raicuda_view *src,
                        size_t elem_bytes, void *stream, raicuda_err *err);

    /* Function tables of the capabilities (ternary, quant, ...), by name and version, e.g.
     * "ternary/1". Each capability defines its table's struct in its own header under src/<cap>/
     * and registers it in cuda/core/capabilities.cu. NULL when this plugin lacks it. */
    const void *(*capability)(const char *name);

    /* `waiter` waits (on the device) for the work queued so far on `producer`. */
    int (*stream_wait)(int32_t ordinal, void *waiter, void *producer, raicuda_err *err);
} raicuda_backend;

typedef const raicuda_backend *(*raicuda_backend_entry_fn)(void);
#define RAICUDA_ENTRY_SYMBOL "raicuda_backend_entry"

#ifdef __cplusplus
}
#endif

#endif
