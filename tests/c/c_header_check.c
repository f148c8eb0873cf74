/* Compiled as C11 with -pedantic -Werror: the public header must stay plain C. */
#include "rai.h"

int main(void) {
    rai_context_params p;
    rai_device_info info;
    rai_tensor t = {0};
    (void)t;
    if (rai_context_params_init(&p) != RAI_OK) return 1;
    if (rai_device_info_init(&info) != RAI_OK) return 1;
    return rai_version_number() / 100 == RAI_VERSION_NUMBER / 100 ? 0 : 1;
}
