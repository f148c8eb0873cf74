package rai

// C halves of the adapter calls that take NULL-able strings (an adapter name, or the PEFT JSON
// fields of rai_adapter_params): a Go string cannot be NULL, and "" means unset here (SWIG's
// setters, which rai.i makes keep their copy, would pass "" as an empty string).

/*
#include <stdint.h>
#include <stdlib.h>
#include "rai.h"

static rai_status raigo_adapter_add(uintptr_t model, const char *name, uintptr_t params, const char *targets,
                                    const char *exclude, const char *rank_pattern, const char *alpha_pattern,
                                    const char *feedforward) {
	rai_adapter_params *p = (rai_adapter_params *)params;
	p->target_modules = targets;
	p->exclude_modules = exclude;
	p->rank_pattern = rank_pattern;
	p->alpha_pattern = alpha_pattern;
	p->feedforward_modules = feedforward;
	rai_status st = rai_adapter_add((rai_adapter_model *)model, name, p);
	p->target_modules = p->exclude_modules = p->rank_pattern = p->alpha_pattern = p->feedforward_modules = NULL;
	return st;
}

static rai_status raigo_adapter_clip(uintptr_t model, const char *adapter, float max_norm, float *out_norm) {
	return rai_adapter_clip_grad_norm((rai_adapter_model *)model, adapter, max_norm, out_norm);
}

static rai_status raigo_adapter_zero_grad(uintptr_t model, const char *adapter) {
	return rai_adapter_zero_grad((rai_adapter_model *)model, adapter);
}

static rai_status raigo_adalora_update(uintptr_t model, const char *adapter, int64_t step, int64_t *budget) {
	return rai_adapter_adalora_update((rai_adapter_model *)model, adapter, step, budget);
}

static rai_status raigo_adalora_orth_reg(uintptr_t model, const char *adapter, int32_t accumulate, float *loss) {
	return rai_adapter_adalora_orth_reg((rai_adapter_model *)model, adapter, accumulate, loss);
}
*/
import "C"

import "unsafe"

// cStringOrNull is a C copy of s, or NULL for ""; free with cFree.
func cStringOrNull(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func adapterAdd(model uintptr, name string, params uintptr, targets, exclude, rankPattern, alphaPattern, feedforward string) status {
	cs := []*C.char{C.CString(name), cStringOrNull(targets), cStringOrNull(exclude), cStringOrNull(rankPattern),
		cStringOrNull(alphaPattern), cStringOrNull(feedforward)}
	defer func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}()
	return status(C.raigo_adapter_add(C.uintptr_t(model), cs[0], C.uintptr_t(params), cs[1], cs[2], cs[3], cs[4], cs[5]))
}

func adapterClip(model uintptr, adapter string, maxNorm float32, norm *float32) status {
	c := cStringOrNull(adapter)
	defer C.free(unsafe.Pointer(c))
	return status(C.raigo_adapter_clip(C.uintptr_t(model), c, C.float(maxNorm), (*C.float)(unsafe.Pointer(norm))))
}

func adaloraUpdate(model uintptr, adapter string, step int64, budget *int64) status {
	c := cStringOrNull(adapter)
	defer C.free(unsafe.Pointer(c))
	return status(C.raigo_adalora_update(C.uintptr_t(model), c, C.int64_t(step), (*C.int64_t)(unsafe.Pointer(budget))))
}

func adaloraOrthReg(model uintptr, adapter string, accumulate bool, loss *float32) status {
	c := cStringOrNull(adapter)
	defer C.free(unsafe.Pointer(c))
	acc := C.int32_t(0)
	if accumulate {
		acc = 1
	}
	return status(C.raigo_adalora_orth_reg(C.uintptr_t(model), c, acc, (*C.float)(unsafe.Pointer(loss))))
}

func adapterZeroGrad(model uintptr, adapter string) status {
	c := cStringOrNull(adapter)
	defer C.free(unsafe.Pointer(c))
	return status(C.raigo_adapter_zero_grad(C.uintptr_t(model), c))
}
