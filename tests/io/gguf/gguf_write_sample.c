/* Writes a GGUF file with rai's C API (C11), for tests/io/gguf/check_with_gguf.py to load with
 * gguf-py's GGUFReader. The values come from a 64-bit LCG that the checker reproduces:
 *   state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64); next = state >> 33
 * Usage: gguf_write_sample OUT.gguf */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rai.h"

static uint64_t state = 1;
static uint32_t next(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(state >> 33);
}

static int8_t trit(void) { return (int8_t)((int32_t)(next() % 3u) - 1); }
static float scale(void) { return (float)(1u + next() % 1000u) / 4096.0f; }
static float value(void) { return (float)((int32_t)(next() % 20001u) - 10000) / 1000.0f; }

#define CHECK(call)                                                                       \
    do {                                                                                  \
        rai_status st_ = (call);                                                          \
        if (st_ != RAI_OK) {                                                              \
            fprintf(stderr, "%s failed: %s: %s\n", #call, rai_status_string(st_),         \
                    rai_last_error_message());                                            \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static rai_tensor host(void *data, uint8_t code, uint8_t bits, const int64_t *shape, int32_t ndim) {
    rai_tensor t = {0};
    t.data = data;
    t.device.device_type = RAI_DEVICE_CPU;
    t.ndim = ndim;
    t.dtype.code = code;
    t.dtype.bits = bits;
    t.dtype.lanes = 1;
    t.shape = shape;
    return t;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.gguf\n", argv[0]);
        return 2;
    }
    rai_gguf_writer *w = NULL;
    CHECK(rai_gguf_writer_create(&w));
    CHECK(rai_gguf_writer_add_kv_string(w, "general.architecture", "rai-sample"));
    CHECK(rai_gguf_writer_add_kv_string(w, "general.name", "rai GGUF writer sample"));
    const uint32_t align = 64;
    CHECK(rai_gguf_writer_add_kv(w, "general.alignment", RAI_GGUF_TYPE_UINT32, &align));
    const uint32_t u = 7;
    CHECK(rai_gguf_writer_add_kv(w, "rai.u32", RAI_GGUF_TYPE_UINT32, &u));
    const float f = 0.5f;
    CHECK(rai_gguf_writer_add_kv(w, "rai.f32", RAI_GGUF_TYPE_FLOAT32, &f));
    const uint8_t b = 1;
    CHECK(rai_gguf_writer_add_kv(w, "rai.bool", RAI_GGUF_TYPE_BOOL, &b));
    const int64_t i64 = -1234567890123LL;
    CHECK(rai_gguf_writer_add_kv(w, "rai.i64", RAI_GGUF_TYPE_INT64, &i64));
    const int32_t arr[3] = {1, 2, 3};
    CHECK(rai_gguf_writer_add_kv_array(w, "rai.arr", RAI_GGUF_TYPE_INT32, arr, 3));
    const char *strs[2] = {"x", "yz"};
    CHECK(rai_gguf_writer_add_kv_string_array(w, "rai.strs", strs, 2));

    /* 1. ternary, row scales, TQ2_0 [3, 512] */
    static int8_t t1[3 * 512];
    static float s1[3];
    for (int i = 0; i < 3 * 512; ++i) t1[i] = trit();
    for (int r = 0; r < 3; ++r) s1[r] = scale();
    const int64_t sh1[2] = {3, 512}, ss1[1] = {3};
    rai_tensor tt1 = host(t1, RAI_DTYPE_INT, 8, sh1, 2), ts1 = host(s1, RAI_DTYPE_FLOAT, 32, ss1, 1);
    CHECK(rai_gguf_writer_add_ternary(w, "tern.row", RAI_GGML_TYPE_TQ2_0, &tt1, &ts1, RAI_GGUF_EXACT_SCALES));

    /* 2. ternary, groups of 256, TQ1_0 [2, 768] */
    static int8_t t2[2 * 768];
    static float s2[2 * 3];
    for (int i = 0; i < 2 * 768; ++i) t2[i] = trit();
    for (int i = 0; i < 6; ++i) s2[i] = scale();
    const int64_t sh2[2] = {2, 768}, ss2[2] = {2, 3};
    rai_tensor tt2 = host(t2, RAI_DTYPE_INT, 8, sh2, 2), ts2 = host(s2, RAI_DTYPE_FLOAT, 32, ss2, 2);
    CHECK(rai_gguf_writer_add_ternary(w, "tern.g256", RAI_GGML_TYPE_TQ1_0, &tt2, &ts2, 0));

    /* 3. ternary, one tensor scale, TQ2_0 1-D [256] */
    static int8_t t3[256];
    for (int i = 0; i < 256; ++i) t3[i] = trit();
    float s3 = 0.25f;
    const int64_t sh3[1] = {256}, ss3[1] = {1};
    rai_tensor tt3 = host(t3, RAI_DTYPE_INT, 8, sh3, 1), ts3 = host(&s3, RAI_DTYPE_FLOAT, 32, ss3, 1);
    CHECK(rai_gguf_writer_add_ternary(w, "tern.tensor", RAI_GGML_TYPE_TQ2_0, &tt3, &ts3, 0));

    /* 4. floats quantized by rai's port of llama.cpp's reference quantizer */
    static float v4[2 * 512];
    for (int i = 0; i < 2 * 512; ++i) v4[i] = value();
    const int64_t sh4[2] = {2, 512};
    rai_tensor tv4 = host(v4, RAI_DTYPE_FLOAT, 32, sh4, 2);
    CHECK(rai_gguf_writer_add_tensor(w, "quant.tq1", &tv4, RAI_GGML_TYPE_TQ1_0));
    CHECK(rai_gguf_writer_add_tensor(w, "quant.tq2", &tv4, RAI_GGML_TYPE_TQ2_0));

    /* 5. plain tensors */
    static float v5[12];
    for (int i = 0; i < 12; ++i) v5[i] = value();
    const int64_t sh5[2] = {3, 4};
    rai_tensor tv5 = host(v5, RAI_DTYPE_FLOAT, 32, sh5, 2);
    CHECK(rai_gguf_writer_add_tensor(w, "f32.x", &tv5, RAI_GGML_TYPE_F32));
    CHECK(rai_gguf_writer_add_tensor(w, "f16.x", &tv5, RAI_GGML_TYPE_F16));
    CHECK(rai_gguf_writer_add_tensor(w, "bf16.x", &tv5, RAI_GGML_TYPE_BF16));
    int8_t i8v[5] = {-128, -1, 0, 1, 127};
    const int64_t sh6[1] = {5};
    rai_tensor ti8 = host(i8v, RAI_DTYPE_INT, 8, sh6, 1);
    CHECK(rai_gguf_writer_add_tensor(w, "i8.x", &ti8, RAI_GGML_TYPE_I8));
    int32_t i32v[4] = {-2147483647 - 1, -1, 0, 2147483647};
    const int64_t sh7[2] = {2, 2};
    rai_tensor ti32 = host(i32v, RAI_DTYPE_INT, 32, sh7, 2);
    CHECK(rai_gguf_writer_add_tensor(w, "i32.x", &ti32, RAI_GGML_TYPE_I32));

    CHECK(rai_gguf_writer_write(w, argv[1]));
    rai_gguf_writer_destroy(w);
    printf("wrote %s\n", argv[1]);
    return 0;
}
