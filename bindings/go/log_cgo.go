package rai

// The C half of the log trampoline. It lives apart from log.go because a Go file with an
// //export directive may only declare, not define, C functions in its preamble.

/*
#include <stdint.h>
#include "rai.h"

extern void raiGoLogTrampoline(int32_t level, char *message, void *user_data);

static void raigo_install_log_trampoline(int enable) {
	rai_set_log_callback(enable ? (rai_log_callback)raiGoLogTrampoline : NULL, NULL);
}
*/
import "C"

func raigoInstallLogTrampoline(enable C.int) { C.raigo_install_log_trampoline(enable) }
