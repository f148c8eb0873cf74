// Package rai is the Go binding of librai, the rai C library.
//
// It is a thin, idiomatic layer over the SWIG-generated package rai.invalid/rai/native:
// handles become types with Close methods (plus a finalizer as a safety net), status codes
// become *Error values that work with errors.As and errors.Is, and byte ranges are Go slices
// passed to C without a copy.
//
// Every call that can fail runs with its goroutine locked to the OS thread, so the thread-local
// message of librai (rai_last_error_message) is read on the thread that produced it.
package rai

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"rai.invalid/rai/native"
)

// Status is a rai_status code. The values are those of rai.h and never change.
type Status int32

// The rai_status values of rai.h.
const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusOutOfMemory     Status = 2
	StatusNoDevice        Status = 3
	StatusBackend         Status = 4
	StatusUnsupported     Status = 5
	StatusBufferTooSmall  Status = 6
	StatusCancelled       Status = 7
	StatusInternal        Status = 8
	StatusShapeMismatch   Status = 9
	StatusDTypeMismatch   Status = 10
	StatusDeviceMismatch  Status = 11
	StatusLayout          Status = 12
	StatusStructSize      Status = 13
	StatusIO              Status = 14
	StatusFormat          Status = 15
	StatusOutOfRange      Status = 16
)

// String returns librai's English name of the status ("invalid argument").
func (s Status) String() string {
	return native.Rai_status_string(native.Enum_SS_rai_status(s))
}

// Error is a failed rai call: its status and librai's message, which names the argument at
// fault. Use errors.As(err, &e) to inspect it, or errors.Is(err, &rai.Error{Status: s}) to test
// for a status.
type Error struct {
	Status Status
	Msg    string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return "rai: " + e.Status.String()
	}
	return "rai: " + e.Status.String() + ": " + e.Msg
}

// Is reports whether target is an *Error with the same status and either no message or the
// same message, so errors.Is(err, &rai.Error{Status: rai.StatusNoDevice}) matches any
// NO_DEVICE error.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) || t == nil {
		return false
	}
	return t.Status == e.Status && (t.Msg == "" || t.Msg == e.Msg)
}

// ErrClosed is returned by methods called on a Context or Buffer after Close.
var ErrClosed = &Error{Status: StatusInvalidArgument, Msg: "use of a closed rai handle"}

// StatusOf returns the status carried by err: StatusOK for nil, the Status of an *Error in its
// chain, and StatusInternal for any other error.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return StatusInternal
}

func newError(s Status, format string, args ...interface{}) *Error {
	return &Error{Status: s, Msg: fmt.Sprintf(format, args...)}
}

// call runs f, which makes one fallible call into librai, with the goroutine locked to its OS
// thread, and turns a failure into an *Error carrying the thread-local message of that call.
func call(f func() native.Enum_SS_rai_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == 0 {
		return nil
	}
	return &Error{Status: Status(st), Msg: native.Rai_last_error_message()}
}

// ------------------------------------------------------------------ version

// HeaderVersion and HeaderVersionNumber are RAI_VERSION_STRING and RAI_VERSION_NUMBER of the
// rai.h this binding was generated from.
const (
	HeaderVersion       = native.RAI_VERSION_STRING
	HeaderVersionNumber = uint32(native.RAI_VERSION_NUMBER)
)

// Version is the version of the librai actually loaded ("0.1.0").
func Version() string { return native.Rai_version_string() }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH of the librai actually loaded.
func VersionNumber() uint32 { return uint32(native.Rai_version_number()) }

// CheckVersion fails with StatusUnsupported when the loaded librai has another ABI version
// (major and, during 0.x, minor) than the header this binding was generated from.
func CheckVersion() error {
	if got := VersionNumber(); got/100 != HeaderVersionNumber/100 {
		return newError(StatusUnsupported, "librai %s is loaded but this binding was built for %s",
			Version(), HeaderVersion)
	}
	return nil
}

// BuildInfo describes how librai was built: compiler, CUDA plugin, SASS architectures, CPU
// kernels.
func BuildInfo() string { return native.Rai_build_info() }

// SystemInfoJSON returns librai's JSON description of version, build, CPU and CUDA devices.
func SystemInfoJSON() (string, error) {
	pp := native.New_char_pp()
	defer native.Delete_char_pp(pp)
	if err := call(func() native.Enum_SS_rai_status { return native.Rai_system_info_json(pp) }); err != nil {
		return "", err
	}
	text := native.Char_pp_value(pp)
	native.Rai_free(native.Void_pp_value(native.Char_pp_as_void_pp(pp)))
	return text, nil
}

// ------------------------------------------------------------------ devices

// DeviceInfo describes one CUDA device.
type DeviceInfo struct {
	Ordinal                int
	Name                   string
	ComputeCapabilityMajor int
	ComputeCapabilityMinor int
	MultiprocessorCount    int
	TotalMemoryBytes       uint64
	FreeMemoryBytes        uint64
	L2CacheBytes           uint64
}

// CudaDeviceCount is the number of usable CUDA devices: 0 (and no error) when the CUDA plugin,
// the driver or a GPU is missing. It loads the CUDA plugin on first use.
func CudaDeviceCount() (int, error) {
	var n int32 // the SWIGGO typemaps give int32_t * its exact Go type
	if err := call(func() native.Enum_SS_rai_status { return native.Rai_cuda_device_count(&n) }); err != nil {
		return 0, err
	}
	return int(n), nil
}

// CudaDeviceInfo describes CUDA device ordinal; StatusNoDevice when it does not exist.
func CudaDeviceInfo(ordinal int) (DeviceInfo, error) {
	if ordinal < 0 || ordinal > 1<<30 {
		return DeviceInfo{}, newError(StatusInvalidArgument, "ordinal must be in [0, 2^30], got %d", ordinal)
	}
	info := native.NewRai_device_info()
	defer native.DeleteRai_device_info(info)
	if err := call(func() native.Enum_SS_rai_status { return native.Rai_cuda_device_info(ordinal, info) }); err != nil {
		return DeviceInfo{}, err
	}
	return DeviceInfo{
		Ordinal:                ordinal,
		Name:                   info.GetName(),
		ComputeCapabilityMajor: info.GetCompute_capability_major(),
		ComputeCapabilityMinor: info.GetCompute_capability_minor(),
		MultiprocessorCount:    info.GetMultiprocessor_count(),
		TotalMemoryBytes:       info.GetTotal_memory_bytes(),
		FreeMemoryBytes:        info.GetFree_memory_bytes(),
		L2CacheBytes:           info.GetL2_cache_bytes(),
	}, nil
}

// CudaPluginLoaded reports whether the CUDA plugin (librai_cuda.so) is loaded and found a
// driver; it triggers the load.
func CudaPluginLoaded() bool { return native.Rai_cuda_plugin_loaded() != 0 }

// CudaPluginStatus says where the CUDA plugin came from or why it did not load.
func CudaPluginStatus() string { return native.Rai_cuda_plugin_status() }

// ------------------------------------------------------------- CPU features

// CPUFeatureSet is a set of RAI_CPU_* bits.
type CPUFeatureSet uint64

// The RAI_CPU_* bits of rai.h.
const (
	CPUPopcnt          CPUFeatureSet = 0x1
	CPUAVX2            CPUFeatureSet = 0x2
	CPUFMA             CPUFeatureSet = 0x4
	CPUF16C            CPUFeatureSet = 0x8
	CPUAVX512F         CPUFeatureSet = 0x10
	CPUAVX512BW        CPUFeatureSet = 0x20
	CPUAVX512VL        CPUFeatureSet = 0x40
	CPUAVX512VNNI      CPUFeatureSet = 0x80
	CPUAVX512VPOPCNTDQ CPUFeatureSet = 0x100
	CPUAVXVNNI         CPUFeatureSet = 0x200
	CPUAVX512BF16      CPUFeatureSet = 0x400
)

// Has reports whether every bit of f is in s.
func (s CPUFeatureSet) Has(f CPUFeatureSet) bool { return s&f == f }

// Names lists librai's names of the bits in s ("popcnt", "avx2", ...), lowest bit first. Bits
// librai does not know are written as hex.
func (s CPUFeatureSet) Names() []string {
	names := []string{}
	for bit := uint(0); bit < 64; bit++ {
		f := uint64(1) << bit
		if uint64(s)&f == 0 {
			continue
		}
		name := native.Rai_cpu_feature_name(f)
		if name == "" {
			name = fmt.Sprintf("0x%x", f)
		}
		names = append(names, name)
	}
	return names
}

// String joins Names with spaces, or returns "none".
func (s CPUFeatureSet) String() string {
	if s == 0 {
		return "none"
	}
	return strings.Join(s.Names(), " ")
}

// CPUFeaturesDetected is what this CPU and OS support.
func CPUFeaturesDetected() CPUFeatureSet { return CPUFeatureSet(native.Rai_cpu_features_detected()) }

// CPUFeatures is what CPU kernels may use: detected & mask.
func CPUFeatures() CPUFeatureSet { return CPUFeatureSet(native.Rai_cpu_features()) }

// SetCPUFeatureMask restricts the CPU kernels to detected & mask (0 selects the scalar
// reference kernels). Global and thread-safe.
func SetCPUFeatureMask(mask CPUFeatureSet) { native.Rai_cpu_set_feature_mask(uint64(mask)) }

// CPUDispatchLevel names the widest kernel level the current features select: "scalar",
// "avx2" or "avx512".
func CPUDispatchLevel() string { return native.Rai_cpu_dispatch_level() }
