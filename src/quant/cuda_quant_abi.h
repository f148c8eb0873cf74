/* The CUDA function table of the 4-bit formats ("quant/1"), defined in cuda/quant/ and fetched
 * with rai::cuda::require_capability(RAICUDA_QUANT_CAPABILITY). Plain C: librai and the plugin
 * agree on its layout whatever compiler builds them. Every function returns 0 or a rai_status and
 * fills `err` on failure; pointers are device memory unless said otherwise; work is queued on
 * `stream` (a cudaStream_t) unless said otherwise. */
#ifndef RAI_CUDA_QUANT_ABI_H
#define RAI_CUDA_QUANT_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RAICUDA_QUANT_CAPABILITY "quant/1"

/* Element types, as rai::q4::Elem. */
#define RAICUDA_ELEM_F32 0
#define RAICUDA_ELEM_F16 1
#define RAICUDA_ELEM_BF16 2

/* A 4-bit weight on the device: codes plus either fp32 absmax or the nested form. */
typedef struct raicuda_q4_weight {
    const uint8_t *codes;   /* (n + 1) / 2 bytes */
    const float *absmax;    /* fp32 [blocks], or NULL when nested */
    const uint8_t *absmax8; /* nested: u8 [blocks] */
    const float *absmax2;   /* nested: fp32 [nested_blocks] */
    const float *code8;     /* nested: fp32 [256] */
    float offset;           /* nested */
    int32_t nested;
    int32_t nested_blocksize;
    int32_t type;           /* 1 FP4, 2 NF4 */
    int32_t blocksize;
    int32_t reserved;
    int64_t n;              /* elements */
} raicuda_q4_weight;

typedef struct raicuda_quant_table {
    uint32_t struct_size;
    /* codes[(n+1)/2], absmax[blocks] from src[n] (elem type). bnb CUDA rules. */
    int (*quantize)(int32_t ordinal, void *stream, const void *src, int32_t elem, int64_t n, int32_t blocksize,
                    int32_t type, uint8_t *codes, float *absmax, raicuda_err *err);
    /* Double quantisation of absmax[nb]: offset = mean (canonical order, see q4_kernels.h), then
     * 8-bit blockwise (blocks of nested_blocksize) of absmax - offset with code8[256]. Writes
     * absmax8[nb] and absmax2[ceil(nb / nested_blocksize)], and the offset to *offset_host:
     * synchronises the stream. */
    int (*double_quant)(int32_t ordinal, void *stream, const float *absmax, int64_t nb, int32_t nested_blocksize,
                        const float *code8, uint8_t *absmax8, float *absmax2, float *offset_host,
                        raicuda_err *err);
    /* out[blocks] = the decoded per-block scales of w. */
    int (*decode_absmax)(int32_t ordinal, void *stream, const raicuda_q4_weight *w, float *out, raicuda_err *err);
    /* dst[n] (elem type) = code[q] * absmax. */
    int (*dequantize)(int32_t ordinal, void *stream, const raicuda_q4_weight *w, void *dst, int32_t elem,
                      raicuda_err *err);
    /* y[M,N] = x[M,K] . W[N,K]^T (+ bias[N]); x, bias, y in elem type. */
    int (*linear_forward)(int32_t ordinal, void *stream, const raicuda_q4_weight *w, int64_t N, int64_t K,
                          const void *x, int64_t M, const void *bias, void *y, int32_t elem, raicuda_err *err);
    /* dx[M,K] = dy[M,N] . W[N,K]. */
    int (*linear_backward_input)(int32_t ordinal, void *stream, const raicuda_q4_weight *w, int64_t N, int64_t K,
                                 const void *dy, int64_t M, void *dx, int32_t elem, raicuda_err *err);
    /* Waits for all work on the device (before a state is copied through another context). */
    int (*device_synchronize)(int32_t ordinal, raicuda_err *err);
} raicuda_quant_table;

#ifdef __cplusplus
}
#endif

#endif
