/* The adapters' function table in the CUDA plugin ("adapters/1"), fetched with
 * rai::cuda::require_capability. Plain C so that librai and the plugin agree on layout.
 * Every pointer is device memory unless its comment says host. Work is queued on `stream`.
 * Each function returns 0 or a rai_status and fills `err`. */
#ifndef RAI_CUDA_ADAPTERS_ABI_H
#define RAI_CUDA_ADAPTERS_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_ADAPTERS_CAPABILITY "adapters/1"

/* Element types of the arguments below. */
typedef enum raicuda_fp { RAICUDA_F32 = 0, RAICUDA_BF16 = 1, RAICUDA_F16 = 2 } raicuda_fp;

/* One LoRA / DoRA linear layer, row-major contiguous tensors:
 * x [M,K], w [N,K], bias [N] (or NULL), a [r,K], b [N,r], magnitude [N] (or NULL), y [M,N];
 * backward: dy [M,N] in, dx [M,K] (act type), da [r,K], db [N,r], dmagnitude [N] (fp32) out,
 * each may be NULL. */
typedef struct raicuda_lora_args {
    int64_t M, N, K, r;
    int32_t act_type;   /* raicuda_fp of x, w, bias, y, dy, dx */
    int32_t param_type; /* raicuda_fp of a, b, magnitude */
    const void *x, *w, *bias, *a, *b, *magnitude;
    void *y;
    const void *dy;
    void *dx;
    float *da, *db, *dmagnitude;
    float scaling, dropout;
    uint32_t flags; /* RAI_LORA_TRAINING, RAI_LORA_ACCUMULATE */
    uint64_t dropout_key; /* rai::adapters::dropout_key(seed, step): same masks as the CPU path */
} raicuda_lora_args;

/* Mixed batch: rows grouped into segments on the host. perm_host[M] lists the rows segment by
 * segment; segment s covers perm_host[seg_start_host[s] .. seg_start_host[s+1]) and uses
 * adapter seg_adapter_host[s] (-1 = base only). a_host/b_host: n_adapters device pointers
 * (host arrays), ranks_host/scaling_host: per adapter (host). */
typedef struct raicuda_lora_mixed_args {
    int64_t M, N, K;
    int32_t act_type, param_type;
    const void *x, *w, *bias;
    void *y;
    int32_t n_adapters, n_segments;
    const void *const *a_host;
    const void *const *b_host;
    const int32_t *ranks_host;
    const float *scaling_host;
    const int64_t *perm_host;
    const int64_t *seg_start_host;
    const int32_t *seg_adapter_host;
} raicuda_lora_mixed_args;

typedef struct raicuda_adapters {
    uint32_t struct_size;
    int (*lora_forward)(int32_t ordinal, void *stream, const raicuda_lora_args *args, raicuda_err *err);
    int (*lora_backward)(int32_t ordinal, void *stream, const raicuda_lora_args *args, raicuda_err *err);
    int (*lora_forward_mixed)(int32_t ordinal, void *stream, const raicuda_lora_mixed_args *args, raicuda_err *err);
} raicuda_adapters;

#ifdef __cplusplus
}
#endif

#endif
