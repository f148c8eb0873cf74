package rai

// C memory for what rai keeps or reads through pointer arrays: cgo forbids handing C a Go
// pointer it keeps after the call (borrowed parameter buffers) or a Go array of Go pointers
// (string and message arrays), so those live in C memory, allocated and freed here.

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rai.h"

static void *raigo_calloc(size_t n) { return calloc(n == 0 ? 1 : n, 1); }

// Copies n bytes from C memory that rai handed out as an address (file views, metadata values).
static void raigo_copy(void *dst, uintptr_t src, size_t n) {
	if (n > 0) memcpy(dst, (const void *)src, n);
}

// An array of count C strings copied from one Go buffer of NUL-terminated strings (so the
// Go side passes a single []byte, which holds no Go pointers).
static char **raigo_strings(const char *packed, const size_t *offsets, size_t count, size_t total) {
	char **arr = (char **)calloc(count == 0 ? 1 : count, sizeof(char *));
	char *text = (char *)malloc(total == 0 ? 1 : total);
	if (arr == NULL || text == NULL) { free(arr); free(text); return NULL; }
	memcpy(text, packed, total);
	for (size_t i = 0; i < count; i++) arr[i] = text + offsets[i];
	return arr;
}

static void raigo_strings_free(char **arr) {
	if (arr != NULL) { free(arr[0]); free(arr); }
}

// rai_gc_message_reduce over count messages packed end to end in one buffer: the array of
// pointers into it is C memory that lives for this call only.
static rai_status raigo_gc_reduce(uintptr_t gc, uint32_t id, const uint8_t *packed, const size_t *lengths,
                                  size_t count, void *out, size_t capacity, size_t *written) {
	const void **ptrs = (const void **)calloc(count == 0 ? 1 : count, sizeof(void *));
	if (ptrs == NULL) return RAI_ERROR_OUT_OF_MEMORY;
	size_t off = 0;
	for (size_t i = 0; i < count; i++) { ptrs[i] = packed + off; off += lengths[i]; }
	rai_status st = rai_gc_message_reduce((rai_gc *)gc, id, ptrs, lengths, count, out, capacity, written);
	free(ptrs);
	return st;
}
*/
import "C"

import (
	"unsafe"

	"rai.invalid/rai/native"
)

// cAlloc is n zeroed bytes of C memory (at least 1), nil when out of memory.
func cAlloc(n int) unsafe.Pointer { return C.raigo_calloc(C.size_t(n)) }

func cFree(p unsafe.Pointer) { C.free(p) }

// copyFromC is a Go copy of n bytes of C memory at address src (0 gives nil).
func copyFromC(src uintptr, n int) []byte {
	if src == 0 {
		return nil
	}
	b := make([]byte, n)
	if n > 0 {
		C.raigo_copy(unsafe.Pointer(&b[0]), C.uintptr_t(src), C.size_t(n))
	}
	return b
}

// cellPointer reads the C pointer stored in an out-parameter cell made by SWIG's pointer
// functions (new_const_char_pp, ...), without interpreting it.
func cellPointer(cell *string) uintptr { return *(*uintptr)(unsafe.Pointer(cell)) }

// cBytesCopy is a C copy of b (for values rai reads through a const void * it does not size).
func cBytesCopy(b []byte) (unsafe.Pointer, error) {
	p := cAlloc(len(b))
	if p == nil {
		return nil, newError(StatusOutOfMemory, "cannot copy %d bytes", len(b))
	}
	if len(b) > 0 {
		C.memcpy(p, unsafe.Pointer(&b[0]), C.size_t(len(b)))
	}
	return p, nil
}

// cStrings is a C array of copies of ss (nil for an empty list); free it with cStringsFree.
func cStrings(ss []string) (unsafe.Pointer, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	var packed []byte
	offsets := make([]C.size_t, len(ss))
	for i, s := range ss {
		offsets[i] = C.size_t(len(packed))
		packed = append(packed, s...)
		packed = append(packed, 0)
	}
	p := C.raigo_strings((*C.char)(unsafe.Pointer(&packed[0])), &offsets[0], C.size_t(len(ss)), C.size_t(len(packed)))
	if p == nil {
		return nil, newError(StatusOutOfMemory, "cannot copy %d names", len(ss))
	}
	return unsafe.Pointer(p), nil
}

func cStringsFree(p unsafe.Pointer) {
	if p != nil {
		C.raigo_strings_free((**C.char)(p))
	}
}

// gcReduce calls rai_gc_message_reduce with msgs; out nil is the size query.
func gcReduce(gc uintptr, id uint32, msgs [][]byte, out []byte, written *int64) status {
	var packed []byte
	lengths := make([]C.size_t, len(msgs)+1)
	for i, m := range msgs {
		lengths[i] = C.size_t(len(m))
		packed = append(packed, m...)
	}
	packed = append(packed, 0) // never empty, so &packed[0] exists
	var o unsafe.Pointer
	if len(out) > 0 {
		o = unsafe.Pointer(&out[0])
	}
	var w C.size_t
	st := C.raigo_gc_reduce(C.uintptr_t(gc), C.uint32_t(id), (*C.uint8_t)(unsafe.Pointer(&packed[0])), &lengths[0],
		C.size_t(len(msgs)), o, C.size_t(len(out)), &w)
	*written = int64(w)
	return status(st)
}

// takeCString runs f, which stores a string rai allocated in *pp, and returns a Go copy of it
// after releasing the C string with rai_free.
func takeCString(f func(pp *string) status) (string, error) {
	pp := native.New_char_pp()
	defer native.Delete_char_pp(pp)
	if err := call(func() status { return f(pp) }); err != nil {
		return "", err
	}
	text := native.Char_pp_value(pp)
	native.Rai_free(native.Void_pp_value(native.Char_pp_as_void_pp(pp)))
	return text, nil
}
