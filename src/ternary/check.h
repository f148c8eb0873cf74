// RAI_CHECK(cond, status, message): the lazy form of rai::require used throughout src/ternary.
// The message expression is evaluated only when the check fails, so checks on hot paths (every
// call, every element) cost a comparison, not a string construction.
#pragma once
#include "error.h"

#define RAI_CHECK(cond, status, message)                                    \
    do {                                                                    \
        if (!(cond)) throw ::rai::Error((status), (message));               \
    } while (0)
