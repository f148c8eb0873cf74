package rai

import (
	"runtime"
	"sync"

	"rai.invalid/rai/native"
)

// Buffer is a rai_buffer: bytes on the device of the context it was made on (256-byte
// aligned). Close it when done; a finalizer closes it otherwise.
type Buffer struct {
	mu   sync.RWMutex
	ctx  *Context
	h    native.Struct_SS_rai_buffer // nil once closed
	size int
}

// NewBuffer allocates n bytes on ctx's device.
func NewBuffer(ctx *Context, n int) (*Buffer, error) {
	if n < 0 {
		return nil, newError(StatusInvalidArgument, "bytes must be > 0, got %d", n)
	}
	var b *Buffer
	err := ctx.use(func(h native.Struct_SS_rai_context) error {
		out := native.New_rai_buffer_pp()
		defer native.Delete_rai_buffer_pp(out)
		if err := call(func() native.Enum_SS_rai_status { return native.Rai_buffer_create(h, int64(n), out) }); err != nil {
			return err
		}
		b = &Buffer{ctx: ctx, h: native.Rai_buffer_pp_value(out), size: n}
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(b, (*Buffer).finalize)
	return b, nil
}

func (b *Buffer) finalize() { _ = b.Close() }

// Close releases the buffer. Closing again does nothing.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h != nil {
		native.Rai_buffer_destroy(b.h)
		b.h = nil
		runtime.SetFinalizer(b, nil)
	}
	return nil
}

// Size is the size of the buffer in bytes.
func (b *Buffer) Size() int { return b.size }

// Context is the context the buffer was made on.
func (b *Buffer) Context() *Context { return b.ctx }

func (b *Buffer) use(f func(h native.Struct_SS_rai_buffer) error) error {
	if b == nil {
		return newError(StatusInvalidArgument, "buffer is nil")
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.h == nil {
		return ErrClosed
	}
	return f(b.h)
}

// Device is the device the buffer lives on.
func (b *Buffer) Device() (DeviceSpec, error) {
	var spec DeviceSpec
	err := b.use(func(h native.Struct_SS_rai_buffer) error {
		d := native.NewRai_device()
		defer native.DeleteRai_device(d)
		if err := call(func() native.Enum_SS_rai_status { return native.Rai_buffer_device(h, d) }); err != nil {
			return err
		}
		spec = DeviceSpec{Type: DeviceType(d.GetDevice_type()), ID: d.GetDevice_id()}
		return nil
	})
	return spec, err
}

// Pointer is the device pointer of the buffer (a host pointer on the CPU), for handing to other
// libraries; 0 once closed. It stays valid until Close.
func (b *Buffer) Pointer() uintptr {
	var p uintptr
	_ = b.use(func(h native.Struct_SS_rai_buffer) error {
		p = native.Rai_buffer_data(h)
		return nil
	})
	return p
}

// Write copies src into the buffer at offset, synchronously and without an intermediate copy.
// A range outside the buffer fails with StatusOutOfRange and copies nothing.
func (b *Buffer) Write(offset int, src []byte) error {
	if offset < 0 {
		return newError(StatusOutOfRange, "offset must be >= 0, got %d", offset)
	}
	return b.use(func(h native.Struct_SS_rai_buffer) error {
		return b.ctx.use(func(ch native.Struct_SS_rai_context) error {
			return call(func() native.Enum_SS_rai_status {
				return native.Rai_buffer_write(ch, h, int64(offset), src)
			})
		})
	})
}

// Read copies len(dst) bytes from the buffer at offset into dst, synchronously. A range outside
// the buffer fails with StatusOutOfRange and copies nothing.
func (b *Buffer) Read(offset int, dst []byte) error {
	if offset < 0 {
		return newError(StatusOutOfRange, "offset must be >= 0, got %d", offset)
	}
	return b.use(func(h native.Struct_SS_rai_buffer) error {
		return b.ctx.use(func(ch native.Struct_SS_rai_context) error {
			return call(func() native.Enum_SS_rai_status {
				return native.Rai_buffer_read(ch, h, int64(offset), dst)
			})
		})
	})
}
