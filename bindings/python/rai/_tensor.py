"""Tensor descriptors over other people's memory, with zero copies.

rai_tensor mirrors DLPack's DLTensor: data pointer, device, ndim, dtype, shape, strides in
elements (NULL = row-major contiguous) and byte_offset. as_tensor() describes

  * numpy arrays (and ndarray subclasses that are not masked arrays),
  * objects with __dlpack__ (PyTorch, CuPy, JAX, numpy, ...): the DLManagedTensor in the capsule
    is read with cffi (its DLTensor is laid out exactly like rai_tensor) and the capsule is kept
    alive, unconsumed, for as long as the Tensor lives, so the producer frees it afterwards,
  * objects with __cuda_array_interface__ (CUDA device pointer, typestr, shape, byte strides),
  * C-contiguous objects with the buffer protocol (bytes, bytearray, array.array, memoryview),
  * rai Buffers (as a 1-D u8 tensor; Buffer.tensor() gives any other view).

It never copies: whatever it cannot describe exactly (non-native byte order, strides that are not
a multiple of the element size, masked arrays, unsupported dtypes, lanes > 1, ...) raises
TypeError. The Tensor keeps the source object (and its shape/stride arrays) alive.
"""

import ctypes
import operator
import re
import sys

from ._backend import ffi, lib
from ._context import Buffer, Context, Device, DeviceType
from ._errors import InvalidArgumentError, Status, check
from ._extra_cdef import DLPACK_FLAG_IS_COPIED, DLPACK_FLAG_READ_ONLY

_LITTLE = sys.byteorder == "little"

# ------------------------------------------------------------------ dtypes


def _probe_dtypes():
    """{name: (code, bits)} of every dtype librai supports, asked from librai itself."""
    table = {}
    probe = ffi.new("rai_dtype *")
    for code in sorted(ffi.typeof("rai_dtype_code").elements):
        for bits in (8, 16, 32, 64):
            probe.code, probe.bits, probe.lanes = code, bits, 1
            name = lib.rai_dtype_name(probe)
            if name != ffi.NULL:
                table[ffi.string(name).decode()] = (code, bits)
    return table


DTYPES = _probe_dtypes()
_BY_CODE = {value: name for name, value in DTYPES.items()}
_ALIASES = {"float32": "f32", "float16": "f16", "half": "f16", "bfloat16": "bf16", "float64": "f64",
            "double": "f64", "int8": "i8", "uint8": "u8", "int32": "i32", "int64": "i64",
            "uint32": "u32", "uint64": "u64"}


def dtype_itemsize(name):
    return DTYPES[name][1] // 8


def _supported_list():
    return ", ".join(DTYPES)


def _numpy_module():
    return sys.modules.get("numpy")


def _numpy_natural_dtype(dt, what):
    """The rai name of a numpy dtype, None if rai has no such dtype. TypeError for dtypes whose
    bytes must never be reinterpreted (objects, records, non-native byte order)."""
    if dt.hasobject:
        raise TypeError(f"{what}: numpy dtype {dt} holds Python objects; rai cannot describe it")
    if dt.fields is not None or dt.subdtype is not None:
        raise TypeError(f"{what}: structured numpy dtype {dt} cannot be described as a rai tensor")
    if dt.byteorder in "<>":  # numpy spells native order '=' (or '|' for single bytes)
        raise TypeError(f"{what}: numpy dtype {dt} has non-native byte order; rai does not swap "
                        f"bytes and does not copy silently (use .astype(dtype.newbyteorder('=')))")
    if dt.name == "bfloat16":  # ml_dtypes.bfloat16
        return "bf16"
    prefix = {"f": "f", "i": "i", "u": "u"}.get(dt.kind)
    name = f"{prefix}{dt.itemsize * 8}" if prefix else None
    return name if name in DTYPES else None


def resolve_dtype(dtype):
    """The rai dtype name ("f32", "bf16", ...) of a name, alias, numpy dtype or scalar type."""
    if isinstance(dtype, str):
        key = dtype.strip().lower()
        key = _ALIASES.get(key, key)
        if key in DTYPES:
            return key
    np = _numpy_module()
    if np is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt is not None:
            name = _numpy_natural_dtype(dt, "dtype")
            if name is not None:
                return name
    raise TypeError(f"dtype {dtype!r} is not supported by rai (supported: {_supported_list()})")


def _pick_dtype(natural, itemsize, explicit, what, described):
    """The dtype to use: `natural` (the source's own), or an explicit one of the same size."""
    if explicit is None:
        if natural is None:
            raise TypeError(f"{what}: {described} has no rai dtype (supported: {_supported_list()}); "
                            f"pass dtype= to reinterpret elements of the same size")
        return natural
    name = resolve_dtype(explicit)
    if dtype_itemsize(name) != itemsize:
        raise TypeError(f"{what}: dtype={explicit!r} has {dtype_itemsize(name)}-byte elements, "
                        f"{described} has {itemsize}-byte elements; rai does not convert")
    return name


def _elements(strides_bytes, itemsize, what, shape):
    out = []
    empty = any(int(d) == 0 for d in shape)
    for i, s in enumerate(strides_bytes):
        s = int(s)
        if s % itemsize and (empty or int(shape[i]) == 1):
            s = 0  # the stride of a length-1 dimension (or of an empty array) is never used
        if s % itemsize:
            raise TypeError(f"{what}: stride {s} bytes of dimension {i} is not a multiple of the "
                            f"element size {itemsize}; rai strides are in elements")
        out.append(s // itemsize)
    return out


def _row_major(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


def extent_bytes(name, shape, strides=None):
    """Bytes from the first element to the end of the last one, for a view of dtype `name`."""
    if any(d == 0 for d in shape):
        return 0
    strides = _row_major(shape) if strides is None else strides
    last = sum((d - 1) * s for d, s in zip(shape, strides))
    return (last + 1) * dtype_itemsize(name)


# ------------------------------------------------------------------ Tensor


class Tensor:
    """A rai_tensor descriptor of memory owned by someone else. It never copies.

    `cdata` is the `rai_tensor *` to hand to librai. The Tensor owns the shape and stride arrays
    the descriptor points to, and keeps `owner` (the array, capsule or buffer the memory belongs
    to) alive. Build one with as_tensor(), Buffer.tensor(), or directly from an address.
    """

    __slots__ = ("_desc", "_shape", "_strides", "_owner", "_readonly", "__weakref__")

    def __init__(self, *, data, dtype, shape, strides=None, device="cpu", byte_offset=0,
                 owner=None, readonly=False):
        name = resolve_dtype(dtype)
        shape = [operator.index(d) for d in shape]
        if strides is not None:
            strides = [operator.index(s) for s in strides]
            if len(strides) != len(shape):
                raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                           f"strides has {len(strides)} entries, shape has {len(shape)}")
        device = Device.parse(device)
        desc = ffi.new("rai_tensor *")
        self._shape = ffi.new("int64_t[]", shape) if shape else ffi.NULL
        self._strides = ffi.new("int64_t[]", strides) if strides else ffi.NULL
        desc.data = ffi.cast("void *", data if isinstance(data, ffi.CData) else operator.index(data))
        desc.device.device_type = int(device.type)
        desc.device.device_id = device.id
        desc.ndim = len(shape)
        desc.dtype.code, desc.dtype.bits = DTYPES[name]
        desc.dtype.lanes = 1
        desc.shape = self._shape
        desc.strides = self._strides
        desc.byte_offset = operator.index(byte_offset)
        self._desc = desc
        self._owner = owner
        self._readonly = bool(readonly)

    # -- the descriptor
    @property
    def cdata(self):
        """The `rai_tensor *` (valid while this Tensor lives)."""
        return self._desc

    @property
    def owner(self):
        return self._owner

    @property
    def data_ptr(self):
        """The descriptor's data pointer as an int (byte_offset not added)."""
        return int(ffi.cast("uintptr_t", self._desc.data))

    @property
    def byte_offset(self):
        return int(self._desc.byte_offset)

    @property
    def ndim(self):
        return int(self._desc.ndim)

    @property
    def shape(self):
        return tuple(int(self._desc.shape[i]) for i in range(self.ndim))

    @property
    def strides(self):
        """Strides in elements (the row-major ones when the descriptor has none)."""
        if self._desc.strides == ffi.NULL:
            return _row_major(self.shape)
        return tuple(int(self._desc.strides[i]) for i in range(self.ndim))

    @property
    def has_strides(self):
        """False when the descriptor's strides pointer is NULL (row-major contiguous)."""
        return self._desc.strides != ffi.NULL

    @property
    def dtype(self):
        """The rai dtype name: "f32", "bf16", ..."""
        return _BY_CODE[(int(self._desc.dtype.code), int(self._desc.dtype.bits))]

    @property
    def itemsize(self):
        return int(self._desc.dtype.bits) // 8

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def device(self):
        return Device(int(self._desc.device.device_type), int(self._desc.device.device_id))

    @property
    def readonly(self):
        return self._readonly

    def validate(self):
        """rai_tensor_validate: raises RaiError if librai would refuse the descriptor itself."""
        check(lib.rai_tensor_validate(self._desc))
        return self

    # -- export to other libraries (no copy)
    def _typestr(self):
        if self.dtype == "bf16":
            return "|V2"
        kind = self.dtype[0]
        order = "|" if self.itemsize == 1 else ("<" if _LITTLE else ">")
        return f"{order}{kind}{self.itemsize}"

    def _interface(self):
        return {
            "version": 3,
            "shape": self.shape,
            "typestr": self._typestr(),
            "data": (self.data_ptr + self.byte_offset, self._readonly),
            "strides": None if not self.has_strides else tuple(s * self.itemsize for s in self.strides),
        }

    @property
    def __array_interface__(self):
        """numpy's array interface, for tensors in host memory (np.asarray(t) shares memory)."""
        if not self.device.is_host:
            raise AttributeError("__array_interface__: the tensor lives on " + str(self.device))
        return self._interface()

    @property
    def __cuda_array_interface__(self):
        """The CUDA array interface (v3), for tensors in CUDA device memory. rai's copies are
        synchronous, so no stream needs to be waited on."""
        if not self.device.is_cuda:
            raise AttributeError("__cuda_array_interface__: the tensor lives on " + str(self.device))
        interface = self._interface()
        interface["stream"] = None
        return interface

    def __repr__(self):
        strides = f", strides={list(self.strides)}" if self.has_strides else ""
        offset = f", byte_offset={self.byte_offset}" if self.byte_offset else ""
        return (f"<rai.Tensor {self.dtype}{list(self.shape)}{strides}{offset} on {self.device} "
                f"at {self.data_ptr:#x}{' read-only' if self._readonly else ''}>")


Tensor.__module__ = "rai"


def _requested_device(device):
    return None if device is None else Device.parse(device)


def _check_device(derived, requested, what):
    if requested is not None and requested != derived:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"{what}: device={str(requested)!r} was asked for, but the object "
                                   f"lives on {derived}")
    return derived


# ------------------------------------------------------------------ numpy


def _from_numpy(arr, dtype, device, what):
    np = _numpy_module()
    if isinstance(arr, np.ma.MaskedArray):
        raise TypeError(f"{what}: numpy masked arrays cannot be described as a rai tensor "
                        f"(the mask would be ignored); pass arr.data or arr.filled()")
    natural = _numpy_natural_dtype(arr.dtype, what)
    name = _pick_dtype(natural, arr.itemsize, dtype, what, f"numpy dtype {arr.dtype}")
    address, readonly = arr.__array_interface__["data"]
    strides = _elements(arr.strides, arr.itemsize, what, arr.shape)
    if device is not None and device.type not in (DeviceType.CPU, DeviceType.CUDA_HOST):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"{what}: a numpy array is host memory; device must be 'cpu' or "
                                   f"'cuda_host', got {str(device)!r}")
    return Tensor(data=address, dtype=name, shape=arr.shape, strides=strides,
                  device=device or Device(DeviceType.CPU, 0), owner=arr, readonly=readonly)


# ------------------------------------------------------------------ DLPack

_capsule_get_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_get_name.restype = ctypes.c_char_p
_capsule_get_name.argtypes = [ctypes.py_object]
_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = ctypes.c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

_DLPACK_DEVICES = {DeviceType.CPU, DeviceType.CUDA, DeviceType.CUDA_HOST}


def _dlpack_capsule(obj, stream):
    """Calls obj.__dlpack__, asking for a versioned capsule without copy where supported."""
    kwargs = {}
    if stream is not None and hasattr(obj, "__dlpack_device__"):
        device_type = int(obj.__dlpack_device__()[0])
        if device_type in (DeviceType.CUDA, 13):  # 13: kDLCUDAManaged
            kwargs["stream"] = int(stream) or 1  # 0 is ambiguous in DLPack; 1 = legacy default
    try:
        return obj.__dlpack__(max_version=(1, 0), copy=False, **kwargs)
    except TypeError:  # a producer from before DLPack 1.0 (no max_version / copy keywords)
        return obj.__dlpack__(**kwargs)


def from_dlpack_capsule(capsule, dtype=None, device=None, owner=None, what="tensor"):
    """A Tensor over the DLTensor in a "dltensor" or "dltensor_versioned" capsule.

    The capsule is kept alive (and not consumed), so its producer frees the memory when the
    Tensor and the capsule are gone.
    """
    if type(capsule).__name__ != "PyCapsule":
        raise TypeError(f"{what}: __dlpack__ returned {type(capsule).__name__}, not a PyCapsule")
    raw_name = _capsule_get_name(capsule)
    readonly = False
    if raw_name == b"dltensor_versioned":
        managed = ffi.cast("rai_py_dlmanaged_tensor_versioned *", _capsule_get_pointer(capsule, raw_name))
        if managed.version.major != 1:
            raise TypeError(f"{what}: DLPack version {managed.version.major}.{managed.version.minor} "
                            f"is not supported (rai reads 1.x)")
        flags = int(managed.flags)
        if flags & DLPACK_FLAG_IS_COPIED:
            raise TypeError(f"{what}: the DLPack producer copied the data; rai refuses copies")
        readonly = bool(flags & DLPACK_FLAG_READ_ONLY)
    elif raw_name == b"dltensor":
        managed = ffi.cast("rai_py_dlmanaged_tensor *", _capsule_get_pointer(capsule, raw_name))
    elif raw_name is not None and raw_name.startswith(b"used_"):
        raise ValueError(f"{what}: the DLPack capsule has already been consumed")
    else:
        raise TypeError(f"{what}: capsule named {raw_name!r} is not a DLPack tensor")
    dl = managed.dl_tensor

    if int(dl.dtype.lanes) != 1:
        raise TypeError(f"{what}: DLPack dtype with {int(dl.dtype.lanes)} lanes is not supported")
    natural_c = lib.rai_dtype_name(ffi.addressof(dl, "dtype"))
    natural = None if natural_c == ffi.NULL else ffi.string(natural_c).decode()
    bits = int(dl.dtype.bits)
    if bits % 8:
        raise TypeError(f"{what}: DLPack dtype of {bits} bits cannot be described")
    name = _pick_dtype(natural, bits // 8, dtype, what,
                       f"DLPack dtype (code {int(dl.dtype.code)}, bits {bits})")

    kind = int(dl.device.device_type)
    if kind not in {int(d) for d in _DLPACK_DEVICES}:
        raise TypeError(f"{what}: DLPack device type {kind} is not CPU, CUDA or CUDA_HOST")
    derived = Device(kind, int(dl.device.device_id))
    _check_device(derived, device, what)

    ndim = int(dl.ndim)
    shape = [int(dl.shape[i]) for i in range(ndim)]
    strides = None if dl.strides == ffi.NULL else [int(dl.strides[i]) for i in range(ndim)]
    return Tensor(data=dl.data, dtype=name, shape=shape, strides=strides, device=derived,
                  byte_offset=int(dl.byte_offset), owner=(capsule, owner), readonly=readonly)


def _from_dlpack(obj, dtype, device, stream, what):
    return from_dlpack_capsule(_dlpack_capsule(obj, stream), dtype, device, owner=obj, what=what)


# ------------------------------------------------------------------ CUDA array interface

_TYPESTR = re.compile(r"^([<>|=])([a-zA-Z])([0-9]+)$")


def _typestr_dtype(typestr, what):
    """(rai name or None, itemsize) of an array-interface typestr such as '<f4'."""
    m = _TYPESTR.match(str(typestr))
    if not m:
        raise TypeError(f"{what}: typestr {typestr!r} is not understood")
    order, kind, size = m.group(1), m.group(2), int(m.group(3))
    if size > 1 and ((order == ">" and _LITTLE) or (order == "<" and not _LITTLE)):
        raise TypeError(f"{what}: typestr {typestr!r} has non-native byte order; rai does not swap bytes")
    if kind == "O":
        raise TypeError(f"{what}: typestr {typestr!r} holds Python objects")
    prefix = {"f": "f", "i": "i", "u": "u"}.get(kind)
    name = f"{prefix}{size * 8}" if prefix else None
    return (name if name in DTYPES else None), size


def _guess_cuda_ordinal(obj):
    """The CUDA device of an array from its .device (PyTorch: .index, CuPy: .id), else 0."""
    dev = getattr(obj, "device", None)
    for attribute in ("index", "id"):
        value = getattr(dev, attribute, None)
        if isinstance(value, int) and value >= 0:
            return value
    return 0


def _from_cuda_array_interface(obj, dtype, device, what):
    cai = obj.__cuda_array_interface__
    if not isinstance(cai, dict):
        raise TypeError(f"{what}: __cuda_array_interface__ is not a dict")
    if cai.get("mask") is not None:
        raise TypeError(f"{what}: masked CUDA arrays cannot be described as a rai tensor")
    shape = [int(d) for d in cai["shape"]]
    natural, itemsize = _typestr_dtype(cai["typestr"], what)
    name = _pick_dtype(natural, itemsize, dtype, what, f"typestr {cai['typestr']!r}")
    address, readonly = cai["data"]
    byte_strides = cai.get("strides")
    strides = None if byte_strides is None else _elements(byte_strides, itemsize, what, shape)
    if device is None:
        device = Device(DeviceType.CUDA, _guess_cuda_ordinal(obj))
    elif not device.is_cuda:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"{what}: __cuda_array_interface__ describes CUDA memory; device "
                                   f"must be 'cuda:N', got {str(device)!r}")
    return Tensor(data=int(address), dtype=name, shape=shape, strides=strides, device=device,
                  owner=obj, readonly=bool(readonly))


# ------------------------------------------------------------------ buffer protocol

_FORMAT_FIXED = {"f": "f32", "d": "f64", "e": "f16", "b": "i8", "B": "u8"}


def _format_dtype(fmt, itemsize, what):
    order = "@"
    if fmt and fmt[0] in "@=<>!":
        order, fmt = fmt[0], fmt[1:]
    if len(fmt) != 1:
        raise TypeError(f"{what}: buffer format {fmt!r} cannot be described as a rai tensor")
    if itemsize > 1 and ((order in ">!" and _LITTLE) or (order == "<" and not _LITTLE)):
        raise TypeError(f"{what}: buffer format has non-native byte order; rai does not swap bytes")
    if fmt in _FORMAT_FIXED:
        name = _FORMAT_FIXED[fmt]
    elif fmt in "hilqn":
        name = f"i{itemsize * 8}"
    elif fmt in "HILQN":
        name = f"u{itemsize * 8}"
    else:
        name = None
    return name if name in DTYPES else None


def _from_buffer_protocol(obj, dtype, device, what):
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"{what}: cannot describe a {type(obj).__name__} as a rai tensor (it has no "
                        f"__dlpack__, __cuda_array_interface__ or buffer protocol)") from None
    if not view.c_contiguous:
        raise TypeError(f"{what}: a non-contiguous {type(obj).__name__} buffer cannot be described "
                        f"without numpy; pass a numpy array")
    natural = _format_dtype(view.format, view.itemsize, what)
    name = _pick_dtype(natural, view.itemsize, dtype, what, f"buffer format {view.format!r}")
    pointer = ffi.from_buffer(view)  # holds the buffer export while the Tensor lives
    if device is not None and device.type not in (DeviceType.CPU, DeviceType.CUDA_HOST):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"{what}: a Python buffer is host memory; device must be 'cpu' or "
                                   f"'cuda_host', got {str(device)!r}")
    strides = _elements(view.strides, view.itemsize, what, view.shape)
    return Tensor(data=ffi.cast("void *", pointer), dtype=name, shape=view.shape, strides=strides,
                  device=device or Device(DeviceType.CPU, 0), owner=(pointer, view, obj),
                  readonly=view.readonly)


# ------------------------------------------------------------------ public entry points


def as_tensor(obj, dtype=None, *, device=None, stream=None, what="tensor"):
    """Describes `obj` as a rai Tensor without copying (see the module docstring).

    dtype  -- reinterpret the elements as this rai dtype (same element size only), e.g. a uint16
              array as "bf16". Without it the object's own dtype is used.
    device -- for __cuda_array_interface__ objects, which carry no device id: "cuda:N" (default:
              the object's .device, else cuda:0). For host memory, "cuda_host" marks pinned memory.
              Elsewhere it must agree with the object's device.
    stream -- the consumer stream passed to __dlpack__ for CUDA objects (tensor_copy passes the
              context's stream).
    """
    requested = _requested_device(device)
    if isinstance(obj, Tensor):
        if dtype is not None and resolve_dtype(dtype) != obj.dtype:
            raise TypeError(f"{what}: is a {obj.dtype} Tensor, dtype={dtype!r} was asked for")
        _check_device(obj.device, requested, what)
        return obj
    if isinstance(obj, Buffer):
        t = obj.tensor(dtype or "u8", (obj.nbytes // dtype_itemsize(resolve_dtype(dtype or "u8")),))
        _check_device(t.device, requested, what)
        return t
    np = _numpy_module()
    if np is not None and isinstance(obj, np.ndarray):
        return _from_numpy(obj, dtype, requested, what)
    if hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj, dtype, requested, stream, what)
    if hasattr(obj, "__cuda_array_interface__"):
        return _from_cuda_array_interface(obj, dtype, requested, what)
    return _from_buffer_protocol(obj, dtype, requested, what)


def tensor_copy(ctx, src, dst):
    """dst[...] = src[...], element by element, for tensors of the same dtype and shape with any
    strides (rai_tensor_copy). src and dst are anything as_tensor() takes; nothing is copied on the
    way in. CPU contexts take host tensors; a CUDA context also copies host<->device. Synchronous.
    Returns dst."""
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
    handle = ctx._handle()
    stream = ctx.stream if ctx.is_cuda else None
    source = as_tensor(src, stream=stream, what="src")
    target = as_tensor(dst, stream=stream, what="dst")
    if target.readonly:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "dst is read-only")
    check(lib.rai_tensor_copy(handle, source.cdata, target.cdata))
    return dst


def dtype_size(dtype):
    """Bytes per element of a rai dtype (rai_dtype_size)."""
    code, bits = DTYPES[resolve_dtype(dtype)]
    d = ffi.new("rai_dtype *")
    d.code, d.bits, d.lanes = code, bits, 1
    out = ffi.new("size_t *")
    check(lib.rai_dtype_size(d, out))
    return int(out[0])
