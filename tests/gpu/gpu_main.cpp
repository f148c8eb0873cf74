// Entry point of GPU test binaries: without a usable CUDA device the whole binary reports
// "skipped" to Meson (exit status 77), so the test summary counts it as skipped, not passed.
#include <gtest/gtest.h>

#include <cstdio>

#include "rai.h"

int main(int argc, char **argv) {
    int32_t n = 0;
    if (rai_cuda_device_count(&n) != RAI_OK || n == 0) {
        std::printf("no CUDA device (%s): GPU tests skipped\n", rai_cuda_plugin_status());
        return 77;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
