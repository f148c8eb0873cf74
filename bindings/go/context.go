package rai

import (
	"runtime"
	"strconv"
	"strings"
	"sync"

	"rai.invalid/rai/native"
)

// DeviceType is a rai_device_type (DLPack's DLDeviceType values).
type DeviceType int32

// The rai_device_type values of rai.h.
const (
	DeviceAuto     DeviceType = 0 // only when creating a context: CUDA when usable, else CPU
	DeviceCPU      DeviceType = 1
	DeviceCUDA     DeviceType = 2
	DeviceCUDAHost DeviceType = 3 // pinned host memory
)

func (t DeviceType) String() string {
	switch t {
	case DeviceAuto:
		return "auto"
	case DeviceCPU:
		return "cpu"
	case DeviceCUDA:
		return "cuda"
	case DeviceCUDAHost:
		return "cuda_host"
	}
	return "device_type(" + strconv.Itoa(int(t)) + ")"
}

// DeviceSpec is a device type and ordinal, as in rai_device.
type DeviceSpec struct {
	Type DeviceType
	ID   int
}

// String writes the spec the way Device and RAI_DEVICE take it: "cpu", "cuda:1", "auto".
func (d DeviceSpec) String() string {
	switch d.Type {
	case DeviceCPU, DeviceCUDAHost:
		return d.Type.String()
	case DeviceAuto:
		if d.ID == 0 {
			return "auto"
		}
	}
	return d.Type.String() + ":" + strconv.Itoa(d.ID)
}

// ParseDevice reads "cpu", "cuda", "cuda:N" or "auto" (the syntax of RAI_DEVICE).
func ParseDevice(s string) (DeviceSpec, error) {
	switch s {
	case "cpu":
		return DeviceSpec{Type: DeviceCPU}, nil
	case "auto":
		return DeviceSpec{Type: DeviceAuto}, nil
	case "cuda":
		return DeviceSpec{Type: DeviceCUDA}, nil
	}
	if rest := strings.TrimPrefix(s, "cuda:"); rest != s && rest != "" && strings.Trim(rest, "0123456789") == "" {
		if n, err := strconv.Atoi(rest); err == nil && n <= 1<<30 {
			return DeviceSpec{Type: DeviceCUDA, ID: n}, nil
		}
	}
	return DeviceSpec{}, newError(StatusInvalidArgument, "device %q is not one of cpu, cuda, cuda:N, auto", s)
}

// ---------------------------------------------------------------- options

type contextConfig struct {
	device DeviceSpec
	flags  uint32
	err    error
}

// Option configures NewContext.
type Option func(*contextConfig)

// Device selects the device: "cpu", "cuda", "cuda:N" or "auto" (the default: CUDA device 0
// when usable, else the CPU). The environment variable RAI_DEVICE overrides it unless
// IgnoreEnv is given.
func Device(spec string) Option {
	return func(c *contextConfig) {
		d, err := ParseDevice(spec)
		if err != nil && c.err == nil {
			c.err = err
		}
		c.device = d
	}
}

// Strict makes NewContext fail with StatusNoDevice instead of falling back to the CPU when the
// requested CUDA device cannot be used.
func Strict() Option { return func(c *contextConfig) { c.flags |= uint32(native.RAI_CONTEXT_STRICT) } }

// IgnoreEnv keeps the environment variable RAI_DEVICE from overriding the device.
func IgnoreEnv() Option {
	return func(c *contextConfig) { c.flags |= uint32(native.RAI_CONTEXT_IGNORE_ENV) }
}

// ---------------------------------------------------------------- context

// Context is a rai_context: a device and the stream work is queued on. Calls on one Context are
// serialised by librai; different contexts run in parallel. Close it when done; a finalizer
// closes it otherwise.
type Context struct {
	mu sync.RWMutex
	h  native.Struct_SS_rai_context // nil once closed
}

// NewContext creates a context.
func NewContext(opts ...Option) (*Context, error) {
	cfg := contextConfig{device: DeviceSpec{Type: DeviceAuto}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	params := native.NewRai_context_params()
	defer native.DeleteRai_context_params(params)
	params.SetDevice_type(int(cfg.device.Type))
	params.SetDevice_id(cfg.device.ID)
	params.SetFlags(uint(cfg.flags))

	out := native.New_rai_context_pp()
	defer native.Delete_rai_context_pp(out)
	if err := call(func() native.Enum_SS_rai_status { return native.Rai_context_create(params, out) }); err != nil {
		return nil, err
	}
	c := &Context{h: native.Rai_context_pp_value(out)}
	runtime.SetFinalizer(c, (*Context).finalize)
	return c, nil
}

func (c *Context) finalize() { _ = c.Close() }

// Close destroys the context. Closing again does nothing. Buffers made on a CUDA context must
// be closed before their device is given up, not necessarily before the context.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		native.Rai_context_destroy(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// use runs f with the live handle, holding the context open for the duration.
func (c *Context) use(f func(h native.Struct_SS_rai_context) error) error {
	if c == nil {
		return newError(StatusInvalidArgument, "ctx is nil")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return ErrClosed
	}
	return f(c.h)
}

// Device is the device the context runs on (never DeviceAuto).
func (c *Context) Device() (DeviceSpec, error) {
	var spec DeviceSpec
	err := c.use(func(h native.Struct_SS_rai_context) error {
		d := native.NewRai_device()
		defer native.DeleteRai_device(d)
		if err := call(func() native.Enum_SS_rai_status { return native.Rai_context_device(h, d) }); err != nil {
			return err
		}
		spec = DeviceSpec{Type: DeviceType(d.GetDevice_type()), ID: d.GetDevice_id()}
		return nil
	})
	return spec, err
}

// Synchronize waits for all work queued on the context's stream.
func (c *Context) Synchronize() error {
	return c.use(func(h native.Struct_SS_rai_context) error {
		return call(func() native.Enum_SS_rai_status { return native.Rai_context_synchronize(h) })
	})
}

// Stream is the cudaStream_t work is queued on (0 on the CPU).
func (c *Context) Stream() (uintptr, error) {
	var stream uintptr
	err := c.use(func(h native.Struct_SS_rai_context) error {
		p := native.New_void_pp()
		defer native.Delete_void_pp(p)
		if err := call(func() native.Enum_SS_rai_status { return native.Rai_context_stream(h, p) }); err != nil {
			return err
		}
		stream = native.Void_pp_value(p)
		return nil
	})
	return stream, err
}

// SetStream adopts a caller's cudaStream_t (borrowed: it must outlive its use by the context),
// or with 0 returns to the context's own stream. StatusUnsupported on a CPU context.
func (c *Context) SetStream(stream uintptr) error {
	return c.use(func(h native.Struct_SS_rai_context) error {
		return call(func() native.Enum_SS_rai_status { return native.Rai_context_set_stream(h, stream) })
	})
}
