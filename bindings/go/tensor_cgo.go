package rai

// The C half of the tensor views (tensor.go). It lives apart because a Go file with an //export
// directive may only declare, not define, C functions in its preamble.

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rai.h"

extern void raiGoPinnedCall(uintptr_t token);

// A rai_tensor and its shape in one C allocation: C memory, so rai may read it freely and no Go
// pointer is ever stored in it outside raigo_pin.
static uintptr_t raigo_tensor_new(int32_t ndim, const int64_t *shape, uint8_t code, uint8_t bits) {
	rai_tensor *t = (rai_tensor *)calloc(1, sizeof(rai_tensor) + (size_t)ndim * sizeof(int64_t));
	if (t == NULL) return 0;
	int64_t *dims = (int64_t *)(t + 1);
	if (ndim > 0) memcpy(dims, shape, (size_t)ndim * sizeof(int64_t));
	t->device.device_type = RAI_DEVICE_CPU;
	t->ndim = ndim;
	t->dtype.code = code;
	t->dtype.bits = bits;
	t->dtype.lanes = 1;
	t->shape = dims;
	return (uintptr_t)t;
}

// Points a descriptor at device (or CPU) memory of a rai_buffer: C memory, kept by the buffer.
static void raigo_tensor_place(uintptr_t tensor, uintptr_t data, int32_t device_type, int32_t device_id) {
	rai_tensor *t = (rai_tensor *)tensor;
	t->data = (void *)data;
	t->device.device_type = device_type;
	t->device.device_id = device_id;
}

static void raigo_tensor_free(uintptr_t t) { free((void *)t); }

// Points the tensor at data (a Go pointer, kept alive and in place by cgo for the duration of
// this call), runs the Go continuation, and forgets the pointer before returning: cgo allows C
// to hold a Go pointer in C memory only while the call that received it is running.
static void raigo_pin(uintptr_t tensor, void *data, uintptr_t token) {
	rai_tensor *t = (rai_tensor *)tensor;
	t->data = data;
	raiGoPinnedCall(token);
	t->data = NULL;
}
*/
import "C"

import "unsafe"

func cTensorNew(shape []int64, code, bits uint8) uintptr {
	var p *C.int64_t
	if len(shape) > 0 {
		p = (*C.int64_t)(unsafe.Pointer(&shape[0]))
	}
	return uintptr(C.raigo_tensor_new(C.int32_t(len(shape)), p, C.uint8_t(code), C.uint8_t(bits)))
}

func cTensorPlace(t, data uintptr, dev DeviceSpec) {
	C.raigo_tensor_place(C.uintptr_t(t), C.uintptr_t(data), C.int32_t(dev.Type), C.int32_t(dev.ID))
}

func cTensorFree(t uintptr) { C.raigo_tensor_free(C.uintptr_t(t)) }

func cPin(tensor uintptr, data unsafe.Pointer, token uintptr) {
	C.raigo_pin(C.uintptr_t(tensor), data, C.uintptr_t(token))
}
