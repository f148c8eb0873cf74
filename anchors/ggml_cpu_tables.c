/* The lookup tables ggml-cpu.c defines and fills in ggml_cpu_init(), for benchmarks that link
 * only ggml-cpu's quant kernels (anchors/meson.build). Call rai_anchor_ggml_cpu_init() once
 * before using them. The e8m0/ue4m3 tables serve MXFP4/NVFP4 only and stay zero. */
#include "ggml.h"

float ggml_table_f32_f16[1 << 16];
float ggml_table_f32_e8m0_half[1 << 8];
float ggml_table_f32_ue4m3[1 << 8];

void rai_anchor_ggml_cpu_init(void) {
    for (int i = 0; i < (1 << 16); ++i) {
        ggml_fp16_t h;
        unsigned short bits = (unsigned short)i;
        __builtin_memcpy(&h, &bits, sizeof h);
        ggml_table_f32_f16[i] = ggml_fp16_to_fp32(h);
    }
}
