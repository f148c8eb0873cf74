/* rai from C: version, build, devices, and one buffer round trip on the default device.
 * Build against the installed library:
 *   cc -std=c11 example.c $(pkg-config --cflags --libs rai) -o example */
#include <stdio.h>
#include <string.h>

#include <rai.h>

static int fail(const char *what, rai_status st) {
    fprintf(stderr, "%s failed: %s: %s\n", what, rai_status_string(st), rai_last_error_message());
    return 1;
}

static void print_log(int32_t level, const char *message, void *user_data) {
    (void)user_data;
    fprintf(stderr, "[rai %s] %s\n", level >= RAI_LOG_WARN ? "warning" : "info", message);
}

int main(void) {
    rai_context *ctx = NULL;
    rai_buffer *buf = NULL;
    rai_device dev;
    rai_status st;
    int32_t ndev = 0, i;
    char msg[] = "hello from rai: a buffer round trip";
    char back[sizeof msg];

    if (rai_version_number() / 100 != RAI_VERSION_NUMBER / 100) {
        fprintf(stderr, "librai %s does not match the header %s\n", rai_version_string(), RAI_VERSION_STRING);
        return 1;
    }
    rai_set_log_callback(print_log, NULL);
    printf("rai %s\n%s\n", rai_version_string(), rai_build_info());
    printf("CPU kernels: %s\n", rai_cpu_dispatch_level());
    if ((st = rai_cuda_device_count(&ndev)) != RAI_OK) return fail("rai_cuda_device_count", st);
    printf("CUDA devices: %d (%s)\n", ndev, rai_cuda_plugin_status());
    for (i = 0; i < ndev; ++i) {
        rai_device_info info;
        rai_device_info_init(&info);
        if (rai_cuda_device_info(i, &info) == RAI_OK)
            printf("  [%d] %s sm_%d%d\n", i, info.name, info.compute_capability_major, info.compute_capability_minor);
    }

    if ((st = rai_context_create(NULL, &ctx)) != RAI_OK) return fail("rai_context_create", st);
    rai_context_device(ctx, &dev);
    printf("context on %s:%d\n", dev.device_type == RAI_DEVICE_CUDA ? "cuda" : "cpu", dev.device_id);
    if ((st = rai_buffer_create(ctx, sizeof msg, &buf)) != RAI_OK) return fail("rai_buffer_create", st);
    if ((st = rai_buffer_write(ctx, buf, 0, msg, sizeof msg)) != RAI_OK) return fail("rai_buffer_write", st);
    memset(back, 0, sizeof back);
    if ((st = rai_buffer_read(ctx, buf, 0, back, sizeof back)) != RAI_OK) return fail("rai_buffer_read", st);
    if (memcmp(msg, back, sizeof msg) != 0) {
        fprintf(stderr, "round trip mismatch\n");
        return 1;
    }
    printf("buffer round trip ok: \"%s\"\n", back);
    rai_buffer_destroy(buf);
    rai_context_destroy(ctx);
    return 0;
}
