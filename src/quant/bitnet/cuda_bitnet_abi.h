/* The BitNet function table of the CUDA plugin, fetched with
 * rai::cuda::require_capability(RAICUDA_BITNET_CAPABILITY). Plain C; every function returns 0 or
 * a rai_status and fills `err` on failure. All pointers are device pointers on device `ordinal`;
 * work is queued on `stream` (a cudaStream_t). */
#ifndef RAI_CUDA_BITNET_ABI_H
#define RAI_CUDA_BITNET_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_BITNET_CAPABILITY "bitnet/1"

enum { RAICUDA_BITNET_F32 = 0, RAICUDA_BITNET_BF16 = 1, RAICUDA_BITNET_I8 = 2, RAICUDA_BITNET_I32 = 3 };

/* Activation quantization of x [rows, cols] (rows = tokens) into q [rows, cols] and scales
 * ([rows], or [1] with per_tensor), optionally after RMSNorm (rmsnorm != 0; gamma NULL = ones). */
typedef struct raicuda_bitnet_act_args {
    const void *x;
    int32_t x_type; /* RAICUDA_BITNET_F32 or _BF16 */
    int32_t bits;
    int32_t qmax;
    int32_t scale_mode; /* rai_bitnet_act_scale_mode */
    int32_t round_mode; /* rai_bitnet_round_mode */
    int32_t per_tensor;
    float eps;
    int32_t rmsnorm;
    float norm_eps;
    int32_t reserved0;
    const float *gamma;
    int64_t rows, cols;
    int8_t *q;
    float *scales;
} raicuda_bitnet_act_args;

/* y = W x over the prepared layout (see src/quant/bitnet/kernels.h). */
typedef struct raicuda_bitnet_gemm_args {
    const uint8_t *w; /* n rows of kp / 4 bytes */
    int64_t n, k, kp;
    const float *ws;
    int32_t scale_kind; /* 0 tensor, 1 row, 2 group */
    int32_t x_type;     /* RAICUDA_BITNET_F32, _BF16 or _I8; x is [m, k] contiguous */
    int64_t group;      /* columns per scale */
    int64_t groups;     /* groups per row */
    int64_t m;
    const void *x;
    const float *xs;    /* int8 x with f32 y: [xs_count] activation scales */
    int64_t xs_count;
    int32_t xs_divide;
    int32_t y_type;     /* RAICUDA_BITNET_F32 or _I32 (raw integer dot, int8 x only) */
    const float *bias;  /* [n] or NULL */
    void *y;            /* [m, n] */
} raicuda_bitnet_gemm_args;

typedef struct raicuda_bitnet_v1 {
    uint32_t struct_size;
    int (*act_quant)(int32_t ordinal, void *stream, const raicuda_bitnet_act_args *a, raicuda_err *err);
    /* out[r, c] = q * scale (scale_mode 0) or q / s (1); per_tensor: one scale. */
    int (*act_dequant)(int32_t ordinal, void *stream, const int8_t *q, const float *scales, int64_t rows,
                       int64_t cols, int32_t per_tensor, int32_t scale_mode, float *out, raicuda_err *err);
    /* y = clamp(round(x / scale), lo, hi) * scale over n f32 values. */
    int (*ste_forward)(int32_t ordinal, void *stream, const float *x, int64_t n, float scale, float lo, float hi,
                       int32_t round_mode, float *y, raicuda_err *err);
    int (*gemm)(int32_t ordinal, void *stream, const raicuda_bitnet_gemm_args *g, raicuda_err *err);
    /* BitLinear FAKEQ (mode 1) or W2A8 (mode 2): quantizes g->x with `act` into stream-ordered
     * scratch, then runs the GEMM (act->x, act->rows, act->cols describe the same x; act->q and
     * act->scales are ignored). */
    int (*bitlinear)(int32_t ordinal, void *stream, int32_t mode, const raicuda_bitnet_act_args *act,
                     const raicuda_bitnet_gemm_args *g, raicuda_err *err);
} raicuda_bitnet_v1;

/* Defined in cuda/quant/bitnet/; registered in cuda/core/capabilities.cu. */
const void *raicuda_bitnet_table(void);

#ifdef __cplusplus
}
#endif

#endif
