package rai

// #include <stdint.h>
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"

	"rai.invalid/rai/native"
)

// LogLevel is a rai_log_level.
type LogLevel int32

// The rai_log_level values of rai.h.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2 // the default
	LogError LogLevel = 3
	LogOff   LogLevel = 4
)

func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	case LogOff:
		return "off"
	}
	return "log_level(" + strconv.Itoa(int(l)) + ")"
}

// SetLogLevel sets the global level: records below it are dropped. Out-of-range levels fail
// with StatusInvalidArgument.
func SetLogLevel(level LogLevel) error {
	return call(func() native.Enum_SS_rai_status { return native.Rai_set_log_level(int(level)) })
}

// CurrentLogLevel is the global log level.
func CurrentLogLevel() LogLevel { return LogLevel(native.Rai_get_log_level()) }

// LogHandler receives librai's log records at or above the log level. It may run on any
// thread, concurrently with other Go code, and must not call into rai (including
// SetLogHandler).
type LogHandler func(level LogLevel, message string)

// StderrLogHandler writes each record to standard error as "rai[level] message".
func StderrLogHandler(level LogLevel, message string) {
	fmt.Fprintf(os.Stderr, "rai[%s] %s\n", level, message)
}

var (
	logMu      sync.RWMutex
	logHandler LogHandler
)

// SetLogHandler routes librai's log to h; nil removes the handler, after which librai prints
// nothing. When SetLogHandler(nil) returns, no call of the old handler is still running.
// Global and thread-safe.
func SetLogHandler(h LogHandler) {
	logMu.Lock()
	logHandler = h
	logMu.Unlock()
	enable := C.int(0)
	if h != nil {
		enable = 1
	}
	raigoInstallLogTrampoline(enable)
}

//export raiGoLogTrampoline
func raiGoLogTrampoline(level C.int32_t, message *C.char, userData unsafe.Pointer) {
	logMu.RLock()
	h := logHandler
	logMu.RUnlock()
	if h == nil {
		return
	}
	// A panic must not unwind into librai's C++ frames: drop it.
	defer func() { _ = recover() }()
	h(LogLevel(level), C.GoString(message))
}
