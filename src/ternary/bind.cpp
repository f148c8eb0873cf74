// bind / unbind mode handling (the element-wise work is the `binary` kernel).
#include <string>

#include "error.h"
#include "kernels.h"
#include "vsa.h"
#include "error.h"

namespace rai::ternary {

void check_bind_mode(int32_t mode, const char *name) {
    RAI_CHECK(mode == kBindMod3 || mode == kBindMul, RAI_ERROR_INVALID_ARGUMENT,
            std::string(name) + " " + std::to_string(mode) + " is not a rai_vsa_bind_mode");
}

int bind_op(int32_t mode, bool unbind) {
    if (mode == kBindMul) return kOpMul;
    return unbind ? kOpUnbind : kOpBind;
}

}  // namespace rai::ternary
