/* Loads a GGUF file written through rai's C API (gguf_write_sample.c) with llama.cpp's own C
 * reader, gguf_init_from_file from ggml's gguf.cpp (sources fetched by scripts/fetch_ggml.sh),
 * and checks what llama.cpp would see: every tensor's type, shape (ne order) and data offset
 * (gguf.cpp's rule: running size padded to the alignment), its values decoded by ggml's own
 * to_float, TQ1_0/TQ2_0 bytes against ggml_quantize_chunk (llama.cpp's quantizer) and every
 * metadata value. Expected values are regenerated here from the writer's LCG, with ggml's f16/bf16
 * conversions, so nothing of rai is used to judge rai.
 *
 * Usage: check_with_ggml WRITER OUT.gguf   (runs WRITER OUT.gguf first)
 *        check_with_ggml --decode IN.gguf OUT.f32
 *   The second form loads any GGUF file the same way and writes every tensor decoded by ggml to
 *   OUT.f32 (float32, in file order), printing one line per tensor: name, ggml type name and
 *   ne[0..3]. tests/cli/test_gguf_py.py uses it on the files `rai quantize` writes. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "gguf.h"

static int failures = 0;

static void check(bool ok, const char *what, const char *name) {
    if (!ok) {
        ++failures;
        printf("FAIL: %s%s%s\n", name ? name : "", name ? ": " : "", what);
    }
}

/* The writer's generator: state = state * A + C (mod 2^64); next = state >> 33. */
static uint64_t state = 1;
static uint32_t next(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(state >> 33);
}
static float trit(void) { return (float)((int32_t)(next() % 3u) - 1); }
static float scale(void) { return (float)(1u + next() % 1000u) / 4096.0f; }
static float value(void) { return (float)((int32_t)(next() % 20001u) - 10000) / 1000.0f; }
static float f16r(float x) { return ggml_fp16_to_fp32(ggml_fp32_to_fp16(x)); }
static float bf16r(float x) { return ggml_bf16_to_fp32(ggml_fp32_to_bf16(x)); }

/* ggml's decoding of one tensor to floats: ggml's to_float, F32 as is and integers converted
 * (ggml has no to_float for those). */
static bool decode_tensor(const struct ggml_tensor *t, float *out) {
    const int64_t n = ggml_nelements(t);
#define AS_FLOATS(ctype)                                                  \
    for (int64_t i = 0; i < n; ++i) out[i] = (float)((const ctype *)t->data)[i]; \
    return true
    switch (t->type) {
    case GGML_TYPE_F32: memcpy(out, t->data, (size_t)n * sizeof(float)); return true;
    case GGML_TYPE_I8: AS_FLOATS(int8_t);
    case GGML_TYPE_I16: AS_FLOATS(int16_t);
    case GGML_TYPE_I32: AS_FLOATS(int32_t);
    case GGML_TYPE_I64: AS_FLOATS(int64_t);
    default: break;
    }
#undef AS_FLOATS
    const struct ggml_type_traits *tr = ggml_get_type_traits(t->type);
    if (!tr->to_float) return false;
    tr->to_float(t->data, out, n);
    return true;
}

struct expect {
    const char *name;
    enum ggml_type type;
    int64_t ne[2]; /* ggml order: ne[0] is the row length */
    int n_dims;
    const float *values;   /* decoded values, row-major */
    const void *raw_bytes; /* when set: the exact bytes llama.cpp's quantizer gives */
};

static void check_tensor(struct gguf_context *g, struct ggml_context *ctx, const struct expect *e,
                         int64_t index, size_t *running) {
    const int64_t id = gguf_find_tensor(g, e->name);
    check(id == index, "missing or out of order", e->name);
    if (id < 0) return;
    check(gguf_get_tensor_type(g, id) == e->type, "type differs", e->name);
    const struct ggml_tensor *t = ggml_get_tensor(ctx, e->name);
    check(t != NULL, "not in the ggml context", e->name);
    if (!t || t->type != e->type) return;
    check(ggml_n_dims(t) == e->n_dims, "number of dimensions differs", e->name);
    check(t->ne[0] == e->ne[0] && t->ne[1] == e->ne[1] && t->ne[2] == 1 && t->ne[3] == 1,
          "shape differs", e->name);
    const size_t align = gguf_get_alignment(g);
    check(gguf_get_tensor_offset(g, id) == *running, "data offset differs from gguf.cpp's rule",
          e->name);
    check(gguf_get_tensor_size(g, id) == ggml_nbytes(t), "size differs", e->name);
    *running += (ggml_nbytes(t) + align - 1) / align * align;

    const int64_t n = ggml_nelements(t);
    float *got = malloc((size_t)n * sizeof(float));
    check(decode_tensor(t, got), "ggml has no decoder", e->name);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += got[i] != e->values[i];
    if (bad) printf("  %s: %lld of %lld values differ\n", e->name, (long long)bad, (long long)n);
    check(bad == 0, "decoded values differ", e->name);
    free(got);
    if (e->raw_bytes)
        check(memcmp(t->data, e->raw_bytes, ggml_nbytes(t)) == 0,
              "bytes differ from what llama.cpp writes", e->name);
}

static int decode_file(const char *in_path, const char *out_path) {
    struct ggml_context *ctx = NULL;
    struct gguf_init_params params = {.no_alloc = false, .ctx = &ctx};
    struct gguf_context *g = gguf_init_from_file(in_path, params);
    if (!g) {
        fprintf(stderr, "llama.cpp's gguf_init_from_file refused %s\n", in_path);
        return 1;
    }
    FILE *out = fopen(out_path, "wb");
    int rc = out ? 0 : 1;
    for (int64_t id = 0; rc == 0 && id < gguf_get_n_tensors(g); ++id) {
        const struct ggml_tensor *t = ggml_get_tensor(ctx, gguf_get_tensor_name(g, id));
        float *values = malloc((size_t)ggml_nelements(t) * sizeof(float));
        if (!decode_tensor(t, values)) {
            fprintf(stderr, "%s: ggml has no decoder for %s\n", t->name, ggml_type_name(t->type));
            rc = 1;
        } else if (fwrite(values, sizeof(float), (size_t)ggml_nelements(t), out) !=
                   (size_t)ggml_nelements(t)) {
            rc = 1;
        }
        free(values);
        printf("%s %s %lld %lld %lld %lld\n", t->name, ggml_type_name(t->type), (long long)t->ne[0],
               (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    }
    if (out && fclose(out) != 0) rc = 1;
    gguf_free(g);
    ggml_free(ctx);
    return rc;
}

static int64_t key(struct gguf_context *g, const char *name, enum gguf_type type) {
    const int64_t id = gguf_find_key(g, name);
    check(id >= 0, "metadata key missing", name);
    if (id >= 0) check(gguf_get_kv_type(g, id) == type, "metadata type differs", name);
    return id >= 0 && gguf_get_kv_type(g, id) == type ? id : -1;
}

static void check_metadata(struct gguf_context *g) {
    int64_t id;
    if ((id = key(g, "general.architecture", GGUF_TYPE_STRING)) >= 0)
        check(strcmp(gguf_get_val_str(g, id), "rai-sample") == 0, "value", "general.architecture");
    if ((id = key(g, "general.name", GGUF_TYPE_STRING)) >= 0)
        check(strcmp(gguf_get_val_str(g, id), "rai GGUF writer sample") == 0, "value", "general.name");
    if ((id = key(g, "general.alignment", GGUF_TYPE_UINT32)) >= 0)
        check(gguf_get_val_u32(g, id) == 64, "value", "general.alignment");
    if ((id = key(g, "rai.u32", GGUF_TYPE_UINT32)) >= 0)
        check(gguf_get_val_u32(g, id) == 7, "value", "rai.u32");
    if ((id = key(g, "rai.f32", GGUF_TYPE_FLOAT32)) >= 0)
        check(gguf_get_val_f32(g, id) == 0.5f, "value", "rai.f32");
    if ((id = key(g, "rai.bool", GGUF_TYPE_BOOL)) >= 0)
        check(gguf_get_val_bool(g, id), "value", "rai.bool");
    if ((id = key(g, "rai.i64", GGUF_TYPE_INT64)) >= 0)
        check(gguf_get_val_i64(g, id) == -1234567890123LL, "value", "rai.i64");
    if ((id = key(g, "rai.arr", GGUF_TYPE_ARRAY)) >= 0) {
        check(gguf_get_arr_type(g, id) == GGUF_TYPE_INT32 && gguf_get_arr_n(g, id) == 3,
              "array type or length", "rai.arr");
        if (gguf_get_arr_type(g, id) == GGUF_TYPE_INT32 && gguf_get_arr_n(g, id) == 3) {
            const int32_t *a = gguf_get_arr_data(g, id);
            check(a[0] == 1 && a[1] == 2 && a[2] == 3, "array values", "rai.arr");
        }
    }
    if ((id = key(g, "rai.strs", GGUF_TYPE_ARRAY)) >= 0) {
        const bool shape_ok = gguf_get_arr_type(g, id) == GGUF_TYPE_STRING && gguf_get_arr_n(g, id) == 2;
        check(shape_ok, "array type or length", "rai.strs");
        if (shape_ok)
            check(strcmp(gguf_get_arr_str(g, id, 0), "x") == 0 && strcmp(gguf_get_arr_str(g, id, 1), "yz") == 0,
                  "array values", "rai.strs");
    }
    check(gguf_get_n_kv(g) == 9, "number of metadata keys differs from 9", NULL);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--decode") == 0) return decode_file(argv[2], argv[3]);
    if (argc != 3) {
        fprintf(stderr, "usage: %s WRITER OUT.gguf | --decode IN.gguf OUT.f32\n", argv[0]);
        return 2;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s'", argv[1], argv[2]);
    if (system(cmd) != 0) {
        fprintf(stderr, "the writer failed: %s\n", cmd);
        return 1;
    }

    /* The writer's values, in its order. */
    static float t1[3 * 512], t2[2 * 768], t3[256], v4[2 * 512], v5[12];
    float s1[3], s2[6];
    for (int i = 0; i < 3 * 512; ++i) t1[i] = trit();
    for (int r = 0; r < 3; ++r) s1[r] = scale();
    for (int i = 0; i < 2 * 768; ++i) t2[i] = trit();
    for (int i = 0; i < 6; ++i) s2[i] = scale();
    for (int i = 0; i < 256; ++i) t3[i] = trit();
    for (int i = 0; i < 2 * 512; ++i) v4[i] = value();
    for (int i = 0; i < 12; ++i) v5[i] = value();

    static float e1[3 * 512], e2[2 * 768], e3[256], e4_tq1[1024], e4_tq2[1024];
    static float e5_f16[12], e5_bf16[12];
    for (int i = 0; i < 3 * 512; ++i) e1[i] = t1[i] * f16r(s1[i / 512]);
    for (int i = 0; i < 2 * 768; ++i) e2[i] = t2[i] * f16r(s2[(i / 768) * 3 + (i % 768) / 256]);
    for (int i = 0; i < 256; ++i) e3[i] = t3[i] * f16r(0.25f);
    for (int i = 0; i < 12; ++i) e5_f16[i] = f16r(v5[i]), e5_bf16[i] = bf16r(v5[i]);

    /* llama.cpp's own quantizer gives the bytes rai must have written for quant.tq1 / quant.tq2. */
    static uint8_t q_tq1[4096], q_tq2[4096];
    const size_t n_tq1 = ggml_quantize_chunk(GGML_TYPE_TQ1_0, v4, q_tq1, 0, 2, 512, NULL);
    const size_t n_tq2 = ggml_quantize_chunk(GGML_TYPE_TQ2_0, v4, q_tq2, 0, 2, 512, NULL);
    check(n_tq1 == 2 * 2 * 54 && n_tq2 == 2 * 2 * 66, "ggml_quantize_chunk sizes", NULL);
    ggml_get_type_traits(GGML_TYPE_TQ1_0)->to_float(q_tq1, e4_tq1, 1024);
    ggml_get_type_traits(GGML_TYPE_TQ2_0)->to_float(q_tq2, e4_tq2, 1024);
    static const float e_i8[5] = {-128, -1, 0, 1, 127};
    static const float e_i32[4] = {-2147483648.0f, -1, 0, 2147483647.0f};
    static const int8_t r_i8[5] = {-128, -1, 0, 1, 127}; /* the float values above round i32 */
    static const int32_t r_i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
    /* bf16 bytes: ggml's rounding of the same floats */
    static ggml_bf16_t q_bf16[12];
    for (int i = 0; i < 12; ++i) q_bf16[i] = ggml_fp32_to_bf16(v5[i]);

    const struct expect expected[] = {
        {"tern.row", GGML_TYPE_TQ2_0, {512, 3}, 2, e1, NULL},
        {"tern.g256", GGML_TYPE_TQ1_0, {768, 2}, 2, e2, NULL},
        {"tern.tensor", GGML_TYPE_TQ2_0, {256, 1}, 1, e3, NULL},
        {"quant.tq1", GGML_TYPE_TQ1_0, {512, 2}, 2, e4_tq1, q_tq1},
        {"quant.tq2", GGML_TYPE_TQ2_0, {512, 2}, 2, e4_tq2, q_tq2},
        {"f32.x", GGML_TYPE_F32, {4, 3}, 2, v5, NULL},
        {"f16.x", GGML_TYPE_F16, {4, 3}, 2, e5_f16, NULL},
        {"bf16.x", GGML_TYPE_BF16, {4, 3}, 2, e5_bf16, q_bf16},
        {"i8.x", GGML_TYPE_I8, {5, 1}, 1, e_i8, r_i8},
        {"i32.x", GGML_TYPE_I32, {2, 2}, 2, e_i32, r_i32},
    };
    const int64_t n_expected = (int64_t)(sizeof expected / sizeof expected[0]);

    struct ggml_context *ctx = NULL;
    struct gguf_init_params params = {.no_alloc = false, .ctx = &ctx};
    struct gguf_context *g = gguf_init_from_file(argv[2], params);
    if (!g) {
        printf("FAIL: llama.cpp's gguf_init_from_file refused %s\n", argv[2]);
        return 1;
    }
    check(gguf_get_version(g) == 3, "GGUF version is not 3", NULL);
    check(gguf_get_alignment(g) == 64, "alignment is not 64", NULL);
    check(gguf_get_n_tensors(g) == n_expected, "number of tensors", NULL);
    size_t running = 0;
    for (int64_t i = 0; i < n_expected; ++i) check_tensor(g, ctx, &expected[i], i, &running);
    check_metadata(g);

    printf("llama.cpp ggml gguf reader: %lld tensors, %lld metadata keys checked, %d failures\n",
           (long long)gguf_get_n_tensors(g), (long long)gguf_get_n_kv(g), failures);
    gguf_free(g);
    ggml_free(ctx);
    return failures ? 1 : 0;
}
