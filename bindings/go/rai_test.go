package rai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"rai.invalid/rai/native"
)

func TestMain(m *testing.M) {
	// Device choice must come from the tests, not from the caller's environment (the log child
	// process keeps its own settings).
	if os.Getenv("RAI_GO_LOG_CHILD") == "" {
		os.Unsetenv("RAI_DEVICE")
	}
	os.Exit(m.Run())
}

func cudaCount(t *testing.T) int {
	t.Helper()
	n, err := CudaDeviceCount()
	if err != nil {
		t.Fatalf("CudaDeviceCount: %v", err)
	}
	return n
}

// wantError checks that err is an *Error with status want whose message contains every one of
// fragments.
func wantError(t *testing.T, err error, want Status, fragments ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *rai.Error", err, err)
	}
	if e.Status != want {
		t.Fatalf("status %d (%v), want %d (%v); message %q", e.Status, e.Status, want, want, e.Msg)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Msg, f) {
			t.Fatalf("message %q does not mention %q", e.Msg, f)
		}
	}
	if !errors.Is(err, &Error{Status: want}) {
		t.Fatalf("errors.Is(err, &Error{Status: %v}) is false", want)
	}
	if StatusOf(err) != want {
		t.Fatalf("StatusOf = %v, want %v", StatusOf(err), want)
	}
	return e
}

func cpuContext(t *testing.T) *Context {
	t.Helper()
	ctx, err := NewContext(Device("cpu"))
	if err != nil {
		t.Fatalf("NewContext(cpu): %v", err)
	}
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func TestVersion(t *testing.T) {
	parts := strconv.Itoa(native.RAI_VERSION_MAJOR) + "." + strconv.Itoa(native.RAI_VERSION_MINOR) + "." +
		strconv.Itoa(native.RAI_VERSION_PATCH)
	if got := Version(); got != "0.1.0" {
		t.Fatalf("Version() = %q, want 0.1.0", got)
	}
	if Version() != HeaderVersion || HeaderVersion != parts {
		t.Fatalf("Version() = %q, header %q, header parts %q", Version(), HeaderVersion, parts)
	}
	want := uint32(native.RAI_VERSION_MAJOR*10000 + native.RAI_VERSION_MINOR*100 + native.RAI_VERSION_PATCH)
	if got := VersionNumber(); got != 100 {
		t.Fatalf("VersionNumber() = %d, want 100", got)
	}
	if VersionNumber() != want || want != HeaderVersionNumber {
		t.Fatalf("VersionNumber() = %d, header parts %d, header %d", VersionNumber(), want, HeaderVersionNumber)
	}
	if err := CheckVersion(); err != nil {
		t.Fatalf("CheckVersion: %v", err)
	}
	info := BuildInfo()
	if !strings.Contains(info, "rai 0.1.0") || !strings.Contains(info, "CUDA plugin") {
		t.Fatalf("BuildInfo() = %q", info)
	}
}

func TestStatusValues(t *testing.T) {
	pairs := []struct {
		ours   Status
		theirs native.Enum_SS_rai_status
		name   string
	}{
		{StatusOK, native.RAI_OK, "ok"},
		{StatusInvalidArgument, native.RAI_ERROR_INVALID_ARGUMENT, "invalid argument"},
		{StatusOutOfMemory, native.RAI_ERROR_OUT_OF_MEMORY, "out of memory"},
		{StatusNoDevice, native.RAI_ERROR_NO_DEVICE, "no device"},
		{StatusBackend, native.RAI_ERROR_BACKEND, "backend error"},
		{StatusUnsupported, native.RAI_ERROR_UNSUPPORTED, "unsupported"},
		{StatusBufferTooSmall, native.RAI_ERROR_BUFFER_TOO_SMALL, "buffer too small"},
		{StatusCancelled, native.RAI_ERROR_CANCELLED, "cancelled"},
		{StatusInternal, native.RAI_ERROR_INTERNAL, "internal error"},
		{StatusShapeMismatch, native.RAI_ERROR_SHAPE_MISMATCH, "shape mismatch"},
		{StatusDTypeMismatch, native.RAI_ERROR_DTYPE_MISMATCH, "dtype mismatch"},
		{StatusDeviceMismatch, native.RAI_ERROR_DEVICE_MISMATCH, "device mismatch"},
		{StatusLayout, native.RAI_ERROR_LAYOUT, "unsupported layout"},
		{StatusStructSize, native.RAI_ERROR_STRUCT_SIZE, "bad struct_size"},
		{StatusIO, native.RAI_ERROR_IO, "I/O error"},
		{StatusFormat, native.RAI_ERROR_FORMAT, "malformed data"},
		{StatusOutOfRange, native.RAI_ERROR_OUT_OF_RANGE, "out of range"},
	}
	for _, p := range pairs {
		if int(p.ours) != int(p.theirs) {
			t.Errorf("%s: Go %d, rai.h %d", p.name, p.ours, p.theirs)
		}
		if p.ours.String() != p.name {
			t.Errorf("Status(%d).String() = %q, want %q", p.ours, p.ours.String(), p.name)
		}
	}
	e := &Error{Status: StatusNoDevice, Msg: "CUDA device 3 requested"}
	if e.Error() != "rai: no device: CUDA device 3 requested" {
		t.Errorf("Error() = %q", e.Error())
	}
	if StatusOf(nil) != StatusOK || StatusOf(errors.New("x")) != StatusInternal {
		t.Errorf("StatusOf of nil / foreign errors")
	}
}

func TestStructDefaults(t *testing.T) {
	// The %extend constructors call *_init_sized with the wrapper's sizeof (LP64 layouts).
	p := native.NewRai_context_params()
	defer native.DeleteRai_context_params(p)
	if p.GetStruct_size() != 24 || p.GetDevice_type() != 0 || p.GetDevice_id() != 0 || p.GetFlags() != 0 ||
		p.GetStream() != 0 {
		t.Fatalf("context params defaults: size %d type %d id %d flags %d stream %d", p.GetStruct_size(),
			p.GetDevice_type(), p.GetDevice_id(), p.GetFlags(), p.GetStream())
	}
	info := native.NewRai_device_info()
	defer native.DeleteRai_device_info(info)
	if info.GetStruct_size() != 304 || info.GetName() != "" || info.GetTotal_memory_bytes() != 0 {
		t.Fatalf("device info defaults: size %d name %q", info.GetStruct_size(), info.GetName())
	}
	// A struct_size below the first released layout is refused, naming the argument.
	err := call(func() native.Enum_SS_rai_status { return native.Rai_context_params_init_sized(p, 4) })
	wantError(t, err, StatusStructSize, "params")
}

func TestErrorsCarryStatusAndMessage(t *testing.T) {
	ctx := cpuContext(t)

	_, err := NewBuffer(ctx, 0)
	wantError(t, err, StatusInvalidArgument, "bytes")
	_, err = NewBuffer(ctx, -5)
	wantError(t, err, StatusInvalidArgument, "bytes")

	buf, err := NewBuffer(ctx, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	err = buf.Read(60, make([]byte, 8))
	wantError(t, err, StatusOutOfRange, "[60, +8)", "64 bytes")
	err = buf.Write(65, nil)
	wantError(t, err, StatusOutOfRange, "64 bytes")
	err = buf.Write(-1, []byte{1})
	wantError(t, err, StatusOutOfRange, "offset")

	_, err = NewContext(Device("gpu"))
	wantError(t, err, StatusInvalidArgument, `"gpu"`)
	_, err = NewContext(Device("cuda:x"))
	wantError(t, err, StatusInvalidArgument, "cuda:N")

	if err := SetLogLevel(LogLevel(9)); err == nil {
		t.Fatal("SetLogLevel(9) succeeded")
	} else {
		wantError(t, err, StatusInvalidArgument, "level 9")
	}
	if CurrentLogLevel() != LogWarn {
		t.Fatalf("log level changed to %v by a failed call", CurrentLogLevel())
	}
}

func TestStrictCudaWithoutGPU(t *testing.T) {
	if cudaCount(t) > 0 {
		t.Skip("a CUDA device is present")
	}
	_, err := NewContext(Device("cuda"), Strict())
	wantError(t, err, StatusNoDevice, "CUDA device 0")
	_, err = CudaDeviceInfo(0)
	wantError(t, err, StatusNoDevice)

	// Without Strict the context falls back to the CPU.
	ctx, err := NewContext(Device("cuda"))
	if err != nil {
		t.Fatalf("non-strict cuda context: %v", err)
	}
	defer ctx.Close()
	if d, err := ctx.Device(); err != nil || d != (DeviceSpec{Type: DeviceCPU}) {
		t.Fatalf("fallback device %v, %v", d, err)
	}
}

func TestEnvironmentOverride(t *testing.T) {
	t.Setenv("RAI_DEVICE", "bogus")
	_, err := NewContext(Device("cpu"))
	wantError(t, err, StatusInvalidArgument, "RAI_DEVICE", "bogus")

	// IgnoreEnv keeps the params.
	ctx, err := NewContext(Device("cpu"), IgnoreEnv())
	if err != nil {
		t.Fatalf("IgnoreEnv: %v", err)
	}
	ctx.Close()

	t.Setenv("RAI_DEVICE", "cpu")
	ctx, err = NewContext(Device("cuda"), Strict())
	if err != nil {
		t.Fatalf("RAI_DEVICE=cpu over a strict cuda request: %v", err)
	}
	defer ctx.Close()
	if d, _ := ctx.Device(); d.Type != DeviceCPU {
		t.Fatalf("RAI_DEVICE=cpu gave %v", d)
	}
}

func TestParseDevice(t *testing.T) {
	cases := map[string]DeviceSpec{
		"cpu":     {Type: DeviceCPU},
		"auto":    {Type: DeviceAuto},
		"cuda":    {Type: DeviceCUDA},
		"cuda:3":  {Type: DeviceCUDA, ID: 3},
		"cuda:12": {Type: DeviceCUDA, ID: 12},
	}
	for s, want := range cases {
		got, err := ParseDevice(s)
		if err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if (DeviceSpec{Type: DeviceCUDA, ID: 2}).String() != "cuda:2" || (DeviceSpec{Type: DeviceCPU}).String() != "cpu" {
		t.Errorf("DeviceSpec.String")
	}
	for _, bad := range []string{"", "CPU", "cuda:", "cuda:-1", "cuda:1x", "gpu"} {
		if _, err := ParseDevice(bad); StatusOf(err) != StatusInvalidArgument {
			t.Errorf("ParseDevice(%q): %v", bad, err)
		}
	}
}

func roundTrip(t *testing.T, ctx *Context, want DeviceSpec) {
	t.Helper()
	const size = 1000
	buf, err := NewBuffer(ctx, size)
	if err != nil {
		t.Fatalf("NewBuffer: %v", err)
	}
	defer buf.Close()
	if buf.Size() != size || buf.Context() != ctx {
		t.Fatalf("Size() = %d", buf.Size())
	}
	if d, err := buf.Device(); err != nil || d != want {
		t.Fatalf("buffer device %v, %v; want %v", d, err, want)
	}
	if buf.Pointer() == 0 || buf.Pointer()%256 != 0 {
		t.Fatalf("buffer pointer %#x is not 256-byte aligned", buf.Pointer())
	}
	src := make([]byte, 333)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	if err := buf.Write(17, src); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := buf.Write(size, nil); err != nil {
		t.Fatalf("empty write at the end: %v", err)
	}
	if err := ctx.Synchronize(); err != nil {
		t.Fatalf("Synchronize: %v", err)
	}
	dst := make([]byte, len(src))
	if err := buf.Read(17, dst); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !bytes.Equal(src, dst) {
		t.Fatalf("round trip differs: wrote % x..., read % x...", src[:8], dst[:8])
	}
	// A sub-range at an odd offset, the last byte, and a rejected write that must leave the
	// contents alone.
	part := make([]byte, 5)
	if err := buf.Read(17+100, part); err != nil || !bytes.Equal(part, src[100:105]) {
		t.Fatalf("partial read % x, %v; want % x", part, err, src[100:105])
	}
	if err := buf.Write(size-1, []byte{0xAB}); err != nil {
		t.Fatal(err)
	}
	if err := buf.Write(size-1, []byte{1, 2}); StatusOf(err) != StatusOutOfRange {
		t.Fatalf("write past the end: %v", err)
	}
	last := make([]byte, 1)
	if err := buf.Read(size-1, last); err != nil || last[0] != 0xAB {
		t.Fatalf("last byte %#x, %v", last[0], err)
	}
}

func TestBufferRoundTripCPU(t *testing.T) {
	ctx := cpuContext(t)
	if d, err := ctx.Device(); err != nil || d != (DeviceSpec{Type: DeviceCPU}) {
		t.Fatalf("Device() = %v, %v", d, err)
	}
	if s, err := ctx.Stream(); err != nil || s != 0 {
		t.Fatalf("CPU stream %#x, %v", s, err)
	}
	wantError(t, ctx.SetStream(0), StatusUnsupported, "CPU")
	roundTrip(t, ctx, DeviceSpec{Type: DeviceCPU})
}

func TestBufferRoundTripCUDA(t *testing.T) {
	n := cudaCount(t)
	if n == 0 {
		t.Skip("no CUDA device")
	}
	ctx, err := NewContext(Device("cuda"), Strict())
	if err != nil {
		t.Fatalf("strict cuda context with %d devices: %v", n, err)
	}
	defer ctx.Close()
	if s, err := ctx.Stream(); err != nil || s == 0 {
		t.Fatalf("CUDA stream %#x, %v", s, err)
	}
	roundTrip(t, ctx, DeviceSpec{Type: DeviceCUDA})

	info, err := CudaDeviceInfo(0)
	if err != nil {
		t.Fatalf("CudaDeviceInfo(0): %v", err)
	}
	if info.Name == "" || info.ComputeCapabilityMajor < 3 || info.MultiprocessorCount <= 0 ||
		info.TotalMemoryBytes == 0 || info.FreeMemoryBytes > info.TotalMemoryBytes {
		t.Fatalf("implausible device info %+v", info)
	}
	_, err = CudaDeviceInfo(n)
	wantError(t, err, StatusNoDevice)
	_, err = NewContext(Device("cuda:"+strconv.Itoa(n)), Strict())
	wantError(t, err, StatusNoDevice, "requested")
	if !CudaPluginLoaded() {
		t.Fatalf("devices without a loaded plugin: %s", CudaPluginStatus())
	}
}

func TestAutoContext(t *testing.T) {
	ctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	d, err := ctx.Device()
	if err != nil {
		t.Fatal(err)
	}
	want := DeviceCPU
	if cudaCount(t) > 0 {
		want = DeviceCUDA
	}
	if d.Type != want || d.ID != 0 {
		t.Fatalf("auto context runs on %v, want %v", d, want)
	}
	if err := ctx.Synchronize(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	ctx, err := NewContext(Device("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	buf, err := NewBuffer(ctx, 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := ctx.Device(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Device after Close: %v", err)
	}
	if _, err := NewBuffer(ctx, 8); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewBuffer on a closed context: %v", err)
	}
	if err := buf.Write(0, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write through a closed context: %v", err)
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	if err := buf.Close(); err != nil {
		t.Fatalf("second buffer Close: %v", err)
	}
	if err := buf.Read(0, make([]byte, 1)); !errors.Is(err, ErrClosed) || StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("Read after Close: %v", err)
	}
	if buf.Pointer() != 0 {
		t.Fatal("closed buffer has a pointer")
	}
	var nilCtx *Context
	if _, err := NewBuffer(nilCtx, 8); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("NewBuffer(nil): %v", err)
	}
}

func TestFinalizersRelease(t *testing.T) {
	// Handles dropped without Close are released by their finalizers; this must neither crash
	// nor double free (the buffer's finalizer runs before its context's).
	for i := 0; i < 200; i++ {
		ctx, err := NewContext(Device("cpu"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewBuffer(ctx, 4096); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
}

func TestConcurrentErrorMessages(t *testing.T) {
	// Goroutines migrate between OS threads; every failed call must still report its own
	// thread-local message.
	ctx := cpuContext(t)
	var wg sync.WaitGroup
	failures := make(chan string, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf, err := NewBuffer(ctx, 32+g)
			if err != nil {
				failures <- err.Error()
				return
			}
			defer buf.Close()
			for i := 0; i < 300; i++ {
				if i%2 == 0 {
					err := buf.Read(40, make([]byte, 1))
					var e *Error
					if !errors.As(err, &e) || e.Status != StatusOutOfRange || !strings.Contains(e.Msg, "[40, +1)") {
						failures <- "read: " + err.Error()
						return
					}
				} else {
					_, err := NewBuffer(ctx, 0)
					var e *Error
					if !errors.As(err, &e) || e.Status != StatusInvalidArgument || !strings.Contains(e.Msg, "bytes") {
						failures <- "create: " + err.Error()
						return
					}
				}
				runtime.Gosched()
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

func TestCPUFeatureMask(t *testing.T) {
	detected := CPUFeaturesDetected()
	orig := CPUFeatures()
	defer SetCPUFeatureMask(orig)
	if orig&^detected != 0 {
		t.Fatalf("usable %v not within detected %v", orig, detected)
	}

	SetCPUFeatureMask(0)
	if CPUFeatures() != 0 || CPUDispatchLevel() != "scalar" {
		t.Fatalf("mask 0: features %v, level %q", CPUFeatures(), CPUDispatchLevel())
	}
	SetCPUFeatureMask(CPUPopcnt | CPUAVX2)
	if got := CPUFeatures(); got != detected&(CPUPopcnt|CPUAVX2) {
		t.Fatalf("mask popcnt|avx2: %v (detected %v)", got, detected)
	}
	SetCPUFeatureMask(orig)
	if CPUFeatures() != orig {
		t.Fatalf("restored mask: %v, want %v", CPUFeatures(), orig)
	}
	if detected.Has(CPUAVX2|CPUFMA) && CPUDispatchLevel() == "scalar" {
		t.Fatalf("AVX2+FMA usable but level %q", CPUDispatchLevel())
	}

	if got := (CPUAVX2 | CPUPopcnt).Names(); len(got) != 2 || got[0] != "popcnt" || got[1] != "avx2" {
		t.Fatalf("Names() = %v", got)
	}
	if CPUFeatureSet(0).String() != "none" || CPUAVX512F.String() != "avx512f" {
		t.Fatalf("String(): %q %q", CPUFeatureSet(0).String(), CPUAVX512F.String())
	}
	if got := CPUFeatureSet(1 << 40).Names(); len(got) != 1 || got[0] != "0x10000000000" {
		t.Fatalf("unknown bit: %v", got)
	}
	for _, name := range detected.Names() {
		if strings.HasPrefix(name, "0x") {
			t.Fatalf("detected bit without a name: %v", detected.Names())
		}
	}
}

func TestSystemInfoJSON(t *testing.T) {
	text, err := SystemInfoJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string `json:"version"`
		BuildInfo string `json:"build_info"`
		CPU       struct {
			Usable        []string `json:"usable"`
			DispatchLevel string   `json:"dispatch_level"`
		} `json:"cpu"`
		CudaDevices []json.RawMessage `json:"cuda_devices"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	if doc.Version != Version() || doc.BuildInfo != BuildInfo() || doc.CPU.DispatchLevel != CPUDispatchLevel() {
		t.Fatalf("JSON disagrees with the API: %s", text)
	}
	if len(doc.CudaDevices) != cudaCount(t) {
		t.Fatalf("%d devices in JSON, %d from CudaDeviceCount", len(doc.CudaDevices), cudaCount(t))
	}
}

func TestLogLevel(t *testing.T) {
	defer SetLogLevel(LogWarn)
	for _, l := range []LogLevel{LogDebug, LogInfo, LogError, LogOff, LogWarn} {
		if err := SetLogLevel(l); err != nil {
			t.Fatalf("SetLogLevel(%v): %v", l, err)
		}
		if CurrentLogLevel() != l {
			t.Fatalf("CurrentLogLevel() = %v, want %v", CurrentLogLevel(), l)
		}
	}
	if LogWarn.String() != "warn" || LogLevel(7).String() != "log_level(7)" {
		t.Fatal("LogLevel.String")
	}
}

// TestLogHandler runs TestLogHandlerChild in a fresh process: librai logs its CPU-fallback
// warning and the plugin load only once per process, so the check needs a process of its own.
func TestLogHandler(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogHandlerChild$", "-test.v")
	cmd.Env = append(os.Environ(), "RAI_GO_LOG_CHILD=1", "RAI_DEVICE=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLogHandlerChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestLogHandlerChild(t *testing.T) {
	if os.Getenv("RAI_GO_LOG_CHILD") == "" {
		t.Skip("runs in the child process of TestLogHandler")
	}
	type record struct {
		level LogLevel
		msg   string
	}
	var mu sync.Mutex
	var records []record
	SetLogHandler(func(level LogLevel, msg string) {
		mu.Lock()
		records = append(records, record{level, msg})
		mu.Unlock()
	})
	if err := SetLogLevel(LogDebug); err != nil {
		t.Fatal(err)
	}
	// Loads the CUDA plugin (a DEBUG record), then falls back to the CPU with a WARN record or,
	// on a GPU machine, reports the CUDA device at INFO.
	ctx, err := NewContext(Device("cuda"))
	if err != nil {
		t.Fatal(err)
	}
	ctx.Close()
	SetLogHandler(nil)
	n := len(records)
	// After removal nothing is delivered.
	ctx, _ = NewContext(Device("cuda"))
	ctx.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(records) != n {
		t.Fatalf("records after SetLogHandler(nil): %v", records[n:])
	}
	var sawPlugin, sawDevice bool
	for _, r := range records {
		t.Logf("[%v] %s", r.level, r.msg)
		if r.level == LogDebug && strings.Contains(r.msg, "CUDA plugin") {
			sawPlugin = true
		}
		if (r.level == LogWarn && strings.Contains(r.msg, "running on the CPU")) ||
			(r.level == LogInfo && strings.Contains(r.msg, "using CUDA device 0")) {
			sawDevice = true
		}
	}
	if !sawPlugin || !sawDevice {
		t.Fatalf("missing records (plugin %v, device %v): %v", sawPlugin, sawDevice, records)
	}
}
