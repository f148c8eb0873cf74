"""Global functions: version, build, CPU features, CUDA devices, system info, logging."""

import atexit
import dataclasses
import enum
import json
import sys
import threading
import traceback

from . import _backend
from ._backend import ffi, lib
from ._c_out import new_params
from ._errors import InvalidArgumentError, Status, check


def _text(char_ptr):
    return "" if char_ptr == ffi.NULL else ffi.string(char_ptr).decode("utf-8", "replace")


# ------------------------------------------------------------------ version

def version():
    """Version string of the librai actually loaded, e.g. "0.1.0"."""
    return _text(lib.rai_version_string())


def version_number():
    """MAJOR*10000 + MINOR*100 + PATCH of the librai actually loaded."""
    return int(lib.rai_version_number())


def version_info():
    """(major, minor, patch) of the librai actually loaded."""
    n = version_number()
    return (n // 10000, n // 100 % 100, n % 100)


def build_info():
    """Compiler, build type, CUDA plugin state and CPU kernel levels of the loaded librai."""
    return _text(lib.rai_build_info())


def binding_mode():
    """"api" when the compiled extension rai._rai_api is in use, "abi" for ffi.dlopen."""
    return _backend.MODE


# ------------------------------------------------------------------ CPU features

def _prefixed_constants(prefix):
    """{name without prefix: value} of the header's `#define <prefix>X <int>` constants."""
    found = {}
    for name in dir(lib):
        if name.startswith(prefix):
            value = getattr(lib, name)
            if isinstance(value, int):
                found[name[len(prefix):]] = value
    return dict(sorted(found.items(), key=lambda item: item[1]))


CpuFeature = enum.IntFlag("CpuFeature", _prefixed_constants("RAI_CPU_"), module=__name__,
                          qualname="CpuFeature")
CpuFeature.__module__ = "rai"
CpuFeature.__doc__ = "RAI_CPU_* bits: CPU features rai's kernels can use."


def cpu_features():
    """Features kernels may use now (detected & mask), as a CpuFeature flag."""
    return CpuFeature(int(lib.rai_cpu_features()))


def cpu_features_detected():
    """Features this CPU and OS support, as a CpuFeature flag."""
    return CpuFeature(int(lib.rai_cpu_features_detected()))


def cpu_feature_names(features=None):
    """Names ("avx2", ...) of the bits set in `features` (default: cpu_features())."""
    mask = int(cpu_features() if features is None else _feature_mask(features))
    names = []
    bit = 1
    while bit <= mask:
        if mask & bit:
            name = lib.rai_cpu_feature_name(bit)
            if name != ffi.NULL:
                names.append(_text(name))
        bit <<= 1
    return names


def _feature_mask(mask):
    if isinstance(mask, str):
        mask = [mask]
    if isinstance(mask, int):
        value = int(mask)
    else:
        value = 0
        by_name = {member.name.lower(): int(member) for member in CpuFeature}
        for item in mask:
            if isinstance(item, int):
                value |= int(item)
                continue
            key = str(item).lower()
            if key not in by_name:
                raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                           f"mask: unknown CPU feature {item!r}; known: "
                                           + ", ".join(sorted(by_name)))
            value |= by_name[key]
    if not 0 <= value < 1 << 64:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"mask {value:#x} does not fit 64 bits")
    return value


def set_cpu_feature_mask(mask):
    """Restricts the features kernels may use to detected & mask (0 = scalar reference).

    mask: an int / CpuFeature, or an iterable of feature names or bits. Global and thread-safe.
    """
    lib.rai_cpu_set_feature_mask(_feature_mask(mask))


def cpu_dispatch_level():
    """The widest kernel level the current features select: "scalar", "avx2" or "avx512"."""
    return _text(lib.rai_cpu_dispatch_level())


# ------------------------------------------------------------------ CUDA devices

@dataclasses.dataclass(frozen=True)
class CudaDeviceInfo:
    """What rai_cuda_device_info reports about one CUDA device."""

    ordinal: int
    name: str
    compute_capability: tuple
    multiprocessor_count: int
    total_memory_bytes: int
    free_memory_bytes: int
    l2_cache_bytes: int


CudaDeviceInfo.__module__ = "rai"


def cuda_device_count():
    """Number of usable CUDA devices; 0 without the plugin, a driver or a GPU. Loads the plugin."""
    count = ffi.new("int32_t *")
    check(lib.rai_cuda_device_count(count))
    return int(count[0])


def cuda_device_info(ordinal):
    """A CudaDeviceInfo for CUDA device `ordinal`; NoDeviceError when it does not exist."""
    info = new_params("rai_device_info")
    check(lib.rai_cuda_device_info(int(ordinal), info))
    return CudaDeviceInfo(
        ordinal=int(ordinal),
        name=_text(info.name),
        compute_capability=(int(info.compute_capability_major), int(info.compute_capability_minor)),
        multiprocessor_count=int(info.multiprocessor_count),
        total_memory_bytes=int(info.total_memory_bytes),
        free_memory_bytes=int(info.free_memory_bytes),
        l2_cache_bytes=int(info.l2_cache_bytes),
    )


def cuda_devices():
    """CudaDeviceInfo of every usable CUDA device."""
    return [cuda_device_info(i) for i in range(cuda_device_count())]


def cuda_plugin_loaded():
    """True if the CUDA plugin (librai_cuda.so) loaded and found a driver. Triggers the load."""
    return bool(lib.rai_cuda_plugin_loaded())


def cuda_plugin_status():
    """Where the CUDA plugin came from, or why it did not load."""
    return _text(lib.rai_cuda_plugin_status())


# ------------------------------------------------------------------ system info

def system_info():
    """rai_system_info_json() parsed into a dict: version, build, CPU, CUDA plugin and devices."""
    out = ffi.new("char **")
    check(lib.rai_system_info_json(out))
    try:
        text = ffi.string(out[0]).decode("utf-8")
    finally:
        lib.rai_free(out[0])
    return json.loads(text)


# ------------------------------------------------------------------ logging

class LogLevel(enum.IntEnum):
    """rai_log_level."""

    DEBUG = lib.RAI_LOG_DEBUG
    INFO = lib.RAI_LOG_INFO
    WARN = lib.RAI_LOG_WARN
    ERROR = lib.RAI_LOG_ERROR
    OFF = lib.RAI_LOG_OFF


LogLevel.__module__ = "rai"

_LEVEL_NAMES = {"debug": LogLevel.DEBUG, "info": LogLevel.INFO, "warn": LogLevel.WARN,
                "warning": LogLevel.WARN, "error": LogLevel.ERROR, "off": LogLevel.OFF}


def set_log_level(level):
    """Records below `level` are dropped. level: a LogLevel, its int, or "debug"/"info"/"warn"/
    "error"/"off". Default WARN. Global and thread-safe."""
    if isinstance(level, str):
        key = level.strip().lower()
        if key not in _LEVEL_NAMES:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                       f"level {level!r} is not one of debug, info, warn, error, off")
        level = _LEVEL_NAMES[key]
    check(lib.rai_set_log_level(int(level)))


def get_log_level():
    """The current LogLevel."""
    value = int(lib.rai_get_log_level())
    try:
        return LogLevel(value)
    except ValueError:
        return value


# The Python callback receiving records, or None. C calls one fixed trampoline, which forwards
# to it; the trampoline is never freed, so a record in flight on another thread while the
# callback changes never reaches freed memory.
_log_fn = None
_log_lock = threading.Lock()
_abi_trampoline = None  # the ffi.callback object of ABI mode, kept alive for the process


def _deliver(level, message):
    fn = _log_fn
    if fn is None:
        return
    try:
        try:
            lvl = LogLevel(level)
        except ValueError:
            lvl = level
        fn(lvl, _text(message))
    except BaseException:  # an exception must not unwind into C
        sys.stderr.write("Exception ignored in the rai log callback:\n")
        traceback.print_exc()


def _c_trampoline():
    """The C function pointer handed to rai_set_log_callback.

    API mode: an `extern "Python"` function compiled into rai._rai_api and bound with
    ffi.def_extern (no run-time generated machine code). ABI mode: an ffi.callback created on
    first use and kept alive for the rest of the process.
    """
    global _abi_trampoline
    if _backend.MODE == "api":
        return lib.rai_py_log_trampoline
    if _abi_trampoline is None:
        _abi_trampoline = ffi.callback("rai_log_callback", _abi_entry)
    return _abi_trampoline


def _abi_entry(level, message, user_data):
    _deliver(level, message)


if _backend.MODE == "api":
    @ffi.def_extern(name="rai_py_log_trampoline")
    def _api_entry(level, message, user_data):
        _deliver(level, message)


def set_log_callback(fn):
    """Sends every log record at or above the log level to fn(level: LogLevel, message: str).

    fn=None removes the callback; rai then prints nothing at all. Returns the previous callback.
    fn may run on any thread (with the GIL held), is called while rai holds its log lock, and
    must not call into rai. Exceptions it raises are printed to stderr and otherwise ignored.
    """
    global _log_fn
    if fn is not None and not callable(fn):
        raise TypeError(f"fn must be callable or None, got {type(fn).__name__}")
    with _log_lock:
        previous = _log_fn
        if fn is None:
            lib.rai_set_log_callback(ffi.NULL, ffi.NULL)
            _log_fn = None
        else:
            _log_fn = fn
            lib.rai_set_log_callback(_c_trampoline(), ffi.NULL)
        return previous


def get_log_callback():
    """The Python log callback in use, or None."""
    return _log_fn


def log_to_python(logger=None):
    """Forwards rai's log records to the `logging` module (logger "rai" by default).

    Returns the previous callback. The rai log level still filters first (see set_log_level).
    """
    import logging

    target = logger if logger is not None else logging.getLogger("rai")
    levels = {LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO,
              LogLevel.WARN: logging.WARNING, LogLevel.ERROR: logging.ERROR}

    def forward(level, message):
        target.log(levels.get(level, logging.ERROR), "%s", message)

    return set_log_callback(forward)


@atexit.register
def _remove_log_callback_at_exit():
    # No record may reach Python while the interpreter is being torn down.
    if _log_fn is not None:
        lib.rai_set_log_callback(ffi.NULL, ffi.NULL)
