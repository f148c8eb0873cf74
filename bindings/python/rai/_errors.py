"""rai_status as a Python enum, and the exceptions every failing call raises."""

import enum

from ._backend import ffi, lib


def _enum_members(c_enum, prefixes):
    """{short name: value} of a C enum of the header, e.g. RAI_ERROR_NO_DEVICE -> NO_DEVICE."""
    members = {}
    for value, name in sorted(ffi.typeof(c_enum).elements.items()):
        short = name
        for prefix in prefixes:
            if name.startswith(prefix):
                short = name[len(prefix):]
                break
        members[short] = value
    return members


# Status mirrors rai_status (taken from the header through the cdef, so it never falls behind).
Status = enum.IntEnum("Status", _enum_members("rai_status", ("RAI_ERROR_", "RAI_")),
                      module=__name__, qualname="Status")
Status.__module__ = "rai"
Status.__doc__ = "rai_status: the result of every fallible rai call (OK == 0)."


def status_string(status):
    """The library's English name of a status ("invalid argument"); "unknown status" otherwise."""
    return ffi.string(lib.rai_status_string(int(status))).decode("utf-8", "replace")


def _as_status(status):
    try:
        return Status(int(status))
    except ValueError:
        return int(status)


class RaiError(Exception):
    """A rai call failed.

    status   -- a Status (a plain int for a status newer than this binding)
    message  -- the detail from rai_last_error_message(), which names the offending argument

    Every error the binding raises is an instance of the subclass that matches its status
    (see error_from_status), so `except rai.NoDeviceError` and `except rai.RaiError` both work.
    """

    def __init__(self, status, message=""):
        self.status = _as_status(status)
        self.message = message
        super().__init__(self.status, message)

    @property
    def status_string(self):
        return status_string(self.status)

    def __str__(self):
        text = self.status_string
        return f"{text}: {self.message}" if self.message else text

    def __repr__(self):
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        return f"{type(self).__name__}(Status.{name}, {self.message!r})"


# One subclass per status. Where a builtin exception means the same thing, the subclass also
# derives from it, so `except ValueError` catches a bad argument from rai as well.
class InvalidArgumentError(RaiError, ValueError):
    """RAI_ERROR_INVALID_ARGUMENT: NULL where a value is needed, value out of range."""


class OutOfMemoryError(RaiError, MemoryError):
    """RAI_ERROR_OUT_OF_MEMORY: host or device allocation failed."""


class NoDeviceError(RaiError):
    """RAI_ERROR_NO_DEVICE: the requested device does not exist or cannot be used."""


class BackendError(RaiError):
    """RAI_ERROR_BACKEND: CUDA / cuBLASLt / the driver reported an error."""


class UnsupportedError(RaiError):
    """RAI_ERROR_UNSUPPORTED: a valid request this build or device cannot do."""


class BufferTooSmallError(RaiError):
    """RAI_ERROR_BUFFER_TOO_SMALL: output capacity too small."""


class CancelledError(RaiError):
    """RAI_ERROR_CANCELLED."""


class InternalError(RaiError):
    """RAI_ERROR_INTERNAL: a bug in rai; please report it."""


class ShapeMismatchError(RaiError, ValueError):
    """RAI_ERROR_SHAPE_MISMATCH: tensor shapes disagree with each other or the operation."""


class DTypeMismatchError(RaiError, TypeError):
    """RAI_ERROR_DTYPE_MISMATCH: a tensor dtype is not the one the operation takes."""


class DeviceMismatchError(RaiError, ValueError):
    """RAI_ERROR_DEVICE_MISMATCH: a tensor lives on another device than the context."""


class LayoutError(RaiError, ValueError):
    """RAI_ERROR_LAYOUT: strides or alignment the operation cannot take."""


class StructSizeError(RaiError):
    """RAI_ERROR_STRUCT_SIZE: a params struct_size smaller than any released layout."""


class InputOutputError(RaiError):
    """RAI_ERROR_IO: a file could not be opened, read or written."""


class FormatError(RaiError, ValueError):
    """RAI_ERROR_FORMAT: file or message contents are malformed."""


class OutOfRangeError(RaiError, ValueError):
    """RAI_ERROR_OUT_OF_RANGE: a value (or byte range) does not fit the target."""


_ERROR_CLASSES = {
    "INVALID_ARGUMENT": InvalidArgumentError,
    "OUT_OF_MEMORY": OutOfMemoryError,
    "NO_DEVICE": NoDeviceError,
    "BACKEND": BackendError,
    "UNSUPPORTED": UnsupportedError,
    "BUFFER_TOO_SMALL": BufferTooSmallError,
    "CANCELLED": CancelledError,
    "INTERNAL": InternalError,
    "SHAPE_MISMATCH": ShapeMismatchError,
    "DTYPE_MISMATCH": DTypeMismatchError,
    "DEVICE_MISMATCH": DeviceMismatchError,
    "LAYOUT": LayoutError,
    "STRUCT_SIZE": StructSizeError,
    "IO": InputOutputError,
    "FORMAT": FormatError,
    "OUT_OF_RANGE": OutOfRangeError,
}

for _cls in (RaiError, *_ERROR_CLASSES.values()):
    _cls.__module__ = "rai"


def error_class(status):
    """The exception class raised for a status (RaiError for a status without its own class)."""
    status = _as_status(status)
    if isinstance(status, Status):
        return _ERROR_CLASSES.get(status.name, RaiError)
    return RaiError


def error_from_status(status, message=""):
    """An exception instance of the right class for `status`."""
    return error_class(status)(status, message)


def last_error_message():
    """rai_last_error_message() of the calling thread, as str ("" if none)."""
    return ffi.string(lib.rai_last_error_message()).decode("utf-8", "replace")


def check(status):
    """Raises the matching RaiError when a rai call did not return RAI_OK.

    Must be called right after the C call, on the same thread, so that the thread-local
    rai_last_error_message() still belongs to that call.
    """
    if status != 0:
        raise error_from_status(status, last_error_message())
