"""Devices, contexts and device buffers."""

import dataclasses
import operator
import re

from ._backend import ffi, lib
from ._c_out import c_enum, contiguous_view, new_params
from ._errors import InvalidArgumentError, OutOfRangeError, Status, check
from ._handle import Handle

DeviceType = c_enum("rai_device_type", "RAI_DEVICE_", "DeviceType",
                    "rai_device_type (DLPack's DLDeviceType values).")


@dataclasses.dataclass(frozen=True)
class Device:
    """A device: type (DeviceType) and id. str() gives "cpu", "cuda:0", "cuda_host"."""

    type: DeviceType
    id: int = 0

    def __post_init__(self):
        try:
            kind = DeviceType(int(self.type))
        except ValueError:
            kind = int(self.type)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "id", int(self.id))

    @property
    def is_cuda(self):
        return self.type == DeviceType.CUDA

    @property
    def is_host(self):
        """True for memory the CPU can address (CPU and pinned CUDA host memory)."""
        return self.type in (DeviceType.CPU, DeviceType.CUDA_HOST)

    @classmethod
    def parse(cls, spec):
        """Device from "cpu", "cuda", "cuda:N", "cuda_host", a Device, or a (type, id) pair."""
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls(spec[0], spec[1])
        kind, ordinal = _parse_device_string(spec, allow_auto=False, what="device")
        return cls(kind, ordinal)

    def __str__(self):
        if self.type == DeviceType.CPU:
            return "cpu"
        if self.type == DeviceType.CUDA:
            return f"cuda:{self.id}"
        if self.type == DeviceType.CUDA_HOST:
            return "cuda_host"
        return f"device_type_{int(self.type)}:{self.id}"


Device.__module__ = "rai"

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda_host)(?::([0-9]+))?$")


def _parse_device_string(spec, allow_auto, what):
    if not isinstance(spec, str):
        raise TypeError(f"{what} must be a string such as 'cpu' or 'cuda:0', got {type(spec).__name__}")
    m = _DEVICE_RE.match(spec.strip().lower())
    choices = ("auto, " if allow_auto else "") + "cpu, cuda, cuda:N"
    if not m or (m.group(1) == "auto" and not allow_auto) or (m.group(2) and m.group(1) != "cuda"):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what}={spec!r} is not one of {choices}")
    kind = {"auto": DeviceType.AUTO, "cpu": DeviceType.CPU, "cuda": DeviceType.CUDA,
            "cuda_host": DeviceType.CUDA_HOST}[m.group(1)]
    ordinal = int(m.group(2)) if m.group(2) else 0
    if ordinal >= 1 << 31:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what}={spec!r}: the ordinal is too large")
    return kind, ordinal


def _device_from_c(c_device):
    return Device(int(c_device.device_type), int(c_device.device_id))


def stream_pointer(stream):
    """A cudaStream_t (void *) from None, an int handle, a cffi pointer, or a stream object
    exposing __cuda_stream__() (the CUDA stream protocol), .cuda_stream (PyTorch) or .ptr (CuPy)."""
    if stream is None:
        return ffi.NULL
    if isinstance(stream, ffi.CData):
        return ffi.cast("void *", stream)
    if hasattr(stream, "__cuda_stream__"):
        handle = stream.__cuda_stream__()
        if isinstance(handle, tuple):
            handle = handle[1]
        return ffi.cast("void *", operator.index(handle))
    for attribute in ("cuda_stream", "ptr"):
        if hasattr(stream, attribute):
            return ffi.cast("void *", operator.index(getattr(stream, attribute)))
    try:
        return ffi.cast("void *", operator.index(stream))
    except TypeError:
        raise TypeError(f"stream must be None, an int cudaStream_t or a CUDA stream object, "
                        f"got {type(stream).__name__}") from None


class Context(Handle):
    """A rai context: the device work runs on, and (on CUDA) the stream it is queued on.

    device  -- "auto" (CUDA device 0 when usable, else the CPU, with one warning per process
               through the log), "cpu", "cuda" or "cuda:N"
    strict  -- fail with NoDeviceError instead of falling back to the CPU
    stream  -- a cudaStream_t to adopt (borrowed; the Context keeps the object alive)
    ignore_env -- do not let the environment variable RAI_DEVICE override `device`

    Use it as a context manager or call close(); the garbage collector also frees it. A
    Context serialises the calls made on it; different contexts run in parallel. close() must
    not race with other calls on the same Context.
    """

    _KIND = "rai.Context"

    def __init__(self, device="auto", *, strict=False, stream=None, ignore_env=False):
        kind, ordinal = _parse_device_string(device, allow_auto=True, what="device")
        flags = (lib.RAI_CONTEXT_STRICT if strict else 0) | (lib.RAI_CONTEXT_IGNORE_ENV if ignore_env else 0)
        params = new_params("rai_context_params", device_type=int(kind), device_id=ordinal, flags=flags,
                            stream=stream_pointer(stream))
        out = ffi.new("rai_context **")
        check(lib.rai_context_create(params, out))
        # The adopted stream object is borrowed by the C side: Handle keeps it until close().
        self._own(out[0], lib.rai_context_destroy, keep=(stream,))

    # -- queries
    @property
    def device(self):
        """The Device this context computes on."""
        out = ffi.new("rai_device *")
        check(lib.rai_context_device(self._handle(), out))
        return _device_from_c(out)

    @property
    def is_cuda(self):
        return self.device.is_cuda

    @property
    def stream(self):
        """The cudaStream_t work is queued on, as an int (0 on the CPU)."""
        out = ffi.new("void **")
        check(lib.rai_context_stream(self._handle(), out))
        return int(ffi.cast("uintptr_t", out[0]))

    def set_stream(self, stream):
        """Adopts a caller's CUDA stream (borrowed: kept alive by this Context), or with None
        returns to the context's own stream. Queued work is synchronised first. UnsupportedError
        on a CPU context."""
        check(lib.rai_context_set_stream(self._handle(), stream_pointer(stream)))
        self._keep = (stream,)

    def synchronize(self):
        """Waits for all work queued on the context's stream (a no-op on the CPU)."""
        check(lib.rai_context_synchronize(self._handle()))

    def buffer(self, nbytes):
        """A new Buffer of `nbytes` on this context's device."""
        return Buffer(self, nbytes)

    def __repr__(self):
        if self.closed:
            return "<rai.Context closed>"
        return f"<rai.Context device={self.device}>"


Context.__module__ = "rai"


def _non_negative(value, what):
    value = operator.index(value)
    if value < 0:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} must be >= 0, got {value}")
    return value


class Buffer(Handle):
    """`nbytes` of memory on a context's device (256-byte aligned), freed by close() or the GC.

    The Buffer keeps its Context alive and uses it for reads and writes. A CUDA buffer should be
    closed while its device is still in use.
    """

    _KIND = "rai.Buffer"

    def __init__(self, ctx, nbytes):
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
        nbytes = _non_negative(nbytes, "nbytes")
        out = ffi.new("rai_buffer **")
        check(lib.rai_buffer_create(ctx._handle(), nbytes, out))
        self._own(out[0], lib.rai_buffer_destroy)
        self._ctx = ctx  # reads and writes go through it; it outlives the buffer

    # -- queries
    @property
    def context(self):
        return self._ctx

    @property
    def nbytes(self):
        return int(lib.rai_buffer_size(self._handle()))

    def __len__(self):
        return self.nbytes

    @property
    def data_ptr(self):
        """Address of the memory (a device pointer for a CUDA buffer), as an int."""
        return int(ffi.cast("uintptr_t", lib.rai_buffer_data(self._handle())))

    @property
    def device(self):
        out = ffi.new("rai_device *")
        check(lib.rai_buffer_device(self._handle(), out))
        return _device_from_c(out)

    # -- transfers
    def write(self, data, offset=0):
        """Copies the bytes of `data` (any C-contiguous bytes-like object) to the buffer at
        `offset`. OutOfRangeError, with nothing copied, when the range does not fit."""
        offset = _non_negative(offset, "offset")
        view = contiguous_view(data, "data", writable=False)
        source = ffi.from_buffer(view)
        check(lib.rai_buffer_write(self._ctx._handle(), self._handle(), offset, source, view.nbytes))
        return view.nbytes

    def read(self, nbytes=None, offset=0):
        """Returns `nbytes` bytes (default: to the end) from `offset` as bytes."""
        offset = _non_negative(offset, "offset")
        if nbytes is None:
            nbytes = max(self.nbytes - offset, 0)
        nbytes = _non_negative(nbytes, "nbytes")
        target = ffi.new("char[]", max(nbytes, 1))
        check(lib.rai_buffer_read(self._ctx._handle(), self._handle(), offset, target, nbytes))
        return ffi.unpack(target, nbytes)

    def read_into(self, out, offset=0):
        """Fills `out` (a writable C-contiguous bytes-like object, e.g. a numpy array or a
        bytearray) with its size in bytes from `offset`, without an extra copy. Returns the
        number of bytes read."""
        offset = _non_negative(offset, "offset")
        view = contiguous_view(out, "out", writable=True)
        target = ffi.from_buffer(view, require_writable=True)
        check(lib.rai_buffer_read(self._ctx._handle(), self._handle(), offset, target, view.nbytes))
        return view.nbytes

    def read_array(self, dtype, shape=None, offset=0):
        """A new numpy array of `dtype` and `shape` (default: as many elements as fit after
        `offset`) read from the buffer."""
        import numpy as np

        dtype = np.dtype(dtype)
        if shape is None:
            shape = ((self.nbytes - _non_negative(offset, "offset")) // dtype.itemsize,)
        array = np.empty(shape, dtype=dtype)
        self.read_into(array, offset)
        return array

    def tensor(self, dtype, shape, strides=None, offset=0):
        """A Tensor viewing this buffer's memory: `dtype` ("f32", numpy dtype, ...), `shape`,
        `strides` in elements (default row-major) and a byte `offset`. OutOfRangeError when the
        view does not fit in the buffer. The Tensor keeps the Buffer alive."""
        from ._tensor import Tensor, extent_bytes, resolve_dtype

        offset = _non_negative(offset, "offset")
        name = resolve_dtype(dtype)
        shape = tuple(_non_negative(d, "shape[]") for d in shape)
        if strides is not None:
            strides = tuple(_non_negative(s, "strides[]") for s in strides)
            if len(strides) != len(shape):
                raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                           f"strides has {len(strides)} entries, shape has {len(shape)}")
        needed = extent_bytes(name, shape, strides)
        if offset > self.nbytes or needed > self.nbytes - offset:
            raise OutOfRangeError(Status.OUT_OF_RANGE,
                                  f"a {name} tensor of shape {list(shape)} at offset {offset} needs "
                                  f"{needed} bytes, the buffer has {self.nbytes}")
        return Tensor(data=self.data_ptr, dtype=name, shape=shape, strides=strides,
                      device=self.device, byte_offset=offset, owner=self)

    def __repr__(self):
        if self.closed:
            return "<rai.Buffer closed>"
        return f"<rai.Buffer {self.nbytes} bytes on {self.device}>"


Buffer.__module__ = "rai"
