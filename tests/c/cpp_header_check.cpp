// The public header also compiles as C++ (-pedantic -Werror), inside a namespace-free TU.
#include "rai.h"

int main() {
    rai_context_params p;
    return rai_context_params_init(&p) == RAI_OK ? 0 : 1;
}
