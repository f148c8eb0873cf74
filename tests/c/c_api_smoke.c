/* A plain C program against librai.so: context, buffer round trip, strided tensor copy, and the
 * error path, exactly as a C user would write it. */
#include <stdio.h>
#include <string.h>

#include "rai.h"

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, \
                    #cond, rai_last_error_message());                           \
            return 1;                                                           \
        }                                                                       \
    } while (0)

int main(void) {
    rai_context_params params;
    rai_context *ctx = NULL;
    rai_buffer *buf = NULL;
    float in[6] = {1, 2, 3, 4, 5, 6}, out[6] = {0};
    int64_t shape[2] = {2, 3};
    int64_t tstrides[2] = {1, 2};
    rai_tensor src, dst;
    rai_status st;

    CHECK(rai_version_number() / 100 == RAI_VERSION_NUMBER / 100);
    CHECK(rai_context_params_init(&params) == RAI_OK);
    params.device_type = RAI_DEVICE_CPU;
    params.flags = RAI_CONTEXT_IGNORE_ENV;
    CHECK(rai_context_create(&params, &ctx) == RAI_OK);

    CHECK(rai_buffer_create(ctx, sizeof in, &buf) == RAI_OK);
    CHECK(rai_buffer_write(ctx, buf, 0, in, sizeof in) == RAI_OK);
    CHECK(rai_buffer_read(ctx, buf, 0, out, sizeof out) == RAI_OK);
    CHECK(memcmp(in, out, sizeof in) == 0);

    memset(&src, 0, sizeof src);
    src.data = in;
    src.device.device_type = RAI_DEVICE_CPU;
    src.ndim = 2;
    src.dtype.code = RAI_DTYPE_FLOAT;
    src.dtype.bits = 32;
    src.dtype.lanes = 1;
    src.shape = shape;
    dst = src;
    dst.data = out;
    dst.strides = tstrides; /* column-major: out holds the transpose */
    CHECK(rai_tensor_copy(ctx, &src, &dst) == RAI_OK);
    CHECK(out[0] == 1 && out[1] == 4 && out[2] == 2 && out[3] == 5 && out[4] == 3 && out[5] == 6);

    st = rai_buffer_read(ctx, buf, 20, out, 8);
    CHECK(st == RAI_ERROR_OUT_OF_RANGE);
    CHECK(strstr(rai_last_error_message(), "outside the buffer") != NULL);

    rai_buffer_destroy(buf);
    rai_context_destroy(ctx);
    printf("c api smoke: ok (%s)\n", rai_version_string());
    return 0;
}
