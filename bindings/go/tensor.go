package rai

// Host tensor views: the one way this package hands Go slices to rai functions that take
// rai_tensor descriptors.
//
// cgo (Go 1.19, no runtime.Pinner) lets C hold a Go pointer only during the call that received
// it, and forbids Go code from storing one in C memory. So the descriptor and its shape live in
// C memory, and each slice's address reaches it as an argument of a C call (raigo_pin) that
// stores it, calls back into Go to run the rai function, and clears it before returning. The
// slice is neither copied nor moved for the duration, and rai never keeps it (the ABI promises
// that buffers are not kept after a call).

// #include <stdint.h>
import "C"

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"rai.invalid/rai/native"
)

// hostTensor is a contiguous row-major view of a Go slice or of a Buffer; nil stands for a
// NULL tensor.
type hostTensor struct {
	name  string // the argument name used in error messages
	data  unsafe.Pointer
	buf   *Buffer // set for buffer tensors (data is then nil: the address is the buffer's)
	code  uint8   // rai_dtype_code
	bits  uint8
	shape []int64
}

// numel is the element count of t's shape.
func (t *hostTensor) numel() int {
	n := 1
	for _, d := range t.shape {
		n *= int(d)
	}
	return n
}

// sliceData is the length of v and the address of its first element (nil when v is empty).
func sliceData[E any](v []E) (int, unsafe.Pointer) {
	if len(v) == 0 {
		return 0, nil
	}
	return len(v), unsafe.Pointer(&v[0])
}

// view describes s as a tensor of the given shape: a slice ([]float32, []float64, []int8,
// []uint8, []int32, []int64, []uint64, Float16, BFloat16; with no shape it is 1-D) or a
// BufferTensor (with no shape, its own). The element count must match: StatusShapeMismatch
// naming the argument otherwise.
func view(name string, s interface{}, shape ...int) (*hostTensor, error) {
	t := &hostTensor{name: name}
	var n int
	switch v := s.(type) {
	case BufferTensor:
		return v.view(name, shape)
	case *BufferTensor:
		if v == nil {
			return nil, newError(StatusInvalidArgument, "%s: nil *BufferTensor", name)
		}
		return v.view(name, shape)
	case Float16:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_FLOAT), 16
	case BFloat16:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_BFLOAT), 16
	case []uint16:
		return nil, newError(StatusDTypeMismatch, "%s: []uint16 is ambiguous: convert it to rai.Float16 or rai.BFloat16", name)
	case []float32:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_FLOAT), 32
	case []float64:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_FLOAT), 64
	case []int8:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_INT), 8
	case []uint8:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_UINT), 8
	case []int32:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_INT), 32
	case []int64:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_INT), 64
	case []uint64:
		n, t.data = sliceData(v)
		t.code, t.bits = uint8(native.RAI_DTYPE_UINT), 64
	default:
		return nil, newError(StatusDTypeMismatch, "%s: unsupported slice type %T", name, s)
	}
	if len(shape) == 0 {
		shape = []int{n}
	}
	return t, t.setShape(n, shape)
}

// setShape checks shape against the n elements of the data and stores it.
func (t *hostTensor) setShape(n int, shape []int) error {
	name := t.name
	if len(shape) > 32 {
		return newError(StatusInvalidArgument, "%s: %d dimensions, at most 32", name, len(shape))
	}
	count := 1
	t.shape = make([]int64, len(shape))
	for i, d := range shape {
		if d < 0 {
			return newError(StatusInvalidArgument, "%s: dimension %d is negative (%d)", name, i, d)
		}
		t.shape[i] = int64(d)
		count *= d
	}
	if count != n {
		return newError(StatusShapeMismatch, "%s has %d elements but shape %v needs %d", name, n, shape, count)
	}
	return nil
}

// views builds several views, stopping at the first error. Each spec is (name, slice, shape).
type tensorSpec struct {
	name  string
	s     interface{}
	shape []int
}

func views(specs ...tensorSpec) ([]*hostTensor, error) {
	out := make([]*hostTensor, len(specs))
	for i, sp := range specs {
		if sp.s == nil {
			continue // NULL tensor
		}
		t, err := view(sp.name, sp.s, sp.shape...)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// spec is shorthand for a tensorSpec.
func spec(name string, s interface{}, shape ...int) tensorSpec {
	return tensorSpec{name: name, s: s, shape: shape}
}

// nullTensor is the rai_tensor * NULL.
var nullTensor native.Rai_tensor = native.SwigcptrRai_tensor(0)

// withTensors makes C descriptors for ts (nil entries give NULL), points them at their Go
// slices for the duration of f only, and returns f's error. f must not keep the descriptors.
func withTensors(ts []*hostTensor, f func(d []native.Rai_tensor) error) error {
	descs := make([]native.Rai_tensor, len(ts))
	raw := make([]uintptr, len(ts))
	defer func() {
		for _, r := range raw {
			if r != 0 {
				cTensorFree(r)
			}
		}
	}()
	for i, t := range ts {
		if t == nil {
			descs[i] = nullTensor
			continue
		}
		raw[i] = cTensorNew(t.shape, t.code, t.bits)
		if raw[i] == 0 {
			return newError(StatusOutOfMemory, "%s: cannot allocate its descriptor", t.name)
		}
		descs[i] = native.SwigcptrRai_tensor(raw[i])
	}
	return holdBuffers(ts, raw, func() error {
		var err error
		pinAll(ts, raw, 0, func() { err = f(descs) })
		return err
	})
}

// pinAll pins ts[i:] one by one (each pin is a C frame that calls back into Go), then runs f
// with all of them pinned.
func pinAll(ts []*hostTensor, raw []uintptr, i int, f func()) {
	for i < len(ts) && (ts[i] == nil || ts[i].data == nil) {
		i++ // NULL tensors and empty slices have no memory to pin
	}
	if i == len(ts) {
		f()
		return
	}
	runPinned(raw[i], ts[i].data, func() { pinAll(ts, raw, i+1, f) })
}

// Continuations waiting for their C frame to call back, by token.
var (
	pinMu     sync.Mutex
	pinNext   uintptr
	pinFuncs  = map[uintptr]func(){}
	pinPanics = map[uintptr]interface{}{}
)

func runPinned(tensor uintptr, data unsafe.Pointer, f func()) {
	pinMu.Lock()
	pinNext++
	token := pinNext
	pinFuncs[token] = f
	pinMu.Unlock()
	cPin(tensor, data, token)
	pinMu.Lock()
	p, panicked := pinPanics[token]
	delete(pinPanics, token)
	delete(pinFuncs, token)
	pinMu.Unlock()
	if panicked {
		panic(p) // re-raised on the Go side, after the C frame has cleared the pointer
	}
}

//export raiGoPinnedCall
func raiGoPinnedCall(token C.uintptr_t) {
	pinMu.Lock()
	f := pinFuncs[uintptr(token)]
	pinMu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			pinMu.Lock()
			pinPanics[uintptr(token)] = p
			pinMu.Unlock()
		}
	}()
	if f == nil {
		panic(fmt.Sprintf("rai: no pinned call for token %d", uintptr(token)))
	}
	f()
}

// unsafeAdd is &p[i] for a C array of int64 returned by SWIG (a fixed-size array field).
func unsafeAdd(p *int64, i int) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(p), i*8)
}

// rowsOf is the number of rows of width values in tensor s (a slice or a BufferTensor).
func rowsOf(name string, s interface{}, width int) (int, error) {
	if s == nil {
		return 0, newError(StatusInvalidArgument, "%s is nil", name)
	}
	t, err := view(name, s)
	if err != nil {
		return 0, err
	}
	if width <= 0 || t.numel()%width != 0 {
		return 0, newError(StatusShapeMismatch, "%s has %d values, not a multiple of %d", name, t.numel(), width)
	}
	return t.numel() / width, nil
}

// optionalT is s, or nil (a NULL tensor) when s is a nil slice of any type.
func optionalT(s interface{}) interface{} {
	if v := reflect.ValueOf(s); s == nil || (v.Kind() == reflect.Slice && v.IsNil()) {
		return nil
	}
	return s
}
