"""Small helpers shared by the capability modules (adapters, compress, train) for the recurring
shapes of rai's C calls: JSON text that rai allocates, byte blobs behind a size query, params
structs filled from keyword arguments, and numpy outputs allocated for a result."""

import enum
import json
import operator

from ._backend import ffi, lib
from ._errors import InvalidArgumentError, ShapeMismatchError, Status, check
from ._tensor import as_tensor


def c_enum(c_name, prefix, py_name, doc):
    """A rai.<py_name> IntEnum with the members of C enum `c_name`, `prefix` stripped."""
    members = {name[len(prefix):]: value
               for value, name in sorted(ffi.typeof(c_name).elements.items())}
    cls = enum.IntEnum(py_name, members, module="rai", qualname=py_name)
    cls.__module__ = "rai"
    cls.__doc__ = doc
    return cls


def enum_arg(cls, value, what):
    """An IntEnum member from a member, an int, or a (case-insensitive) name; otherwise an
    InvalidArgumentError naming `what` and the choices."""
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_")
        if key in cls.__members__:
            return cls[key]
    else:
        try:
            return cls(operator.index(value))
        except (TypeError, ValueError):
            pass
    choices = ", ".join(name.lower() for name in cls.__members__)
    raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what}={value!r} is not one of {choices}")


def take_string(call):
    """Runs call(char **out) and returns the text rai allocated, released with rai_free."""
    out = ffi.new("char **")
    check(call(out))
    try:
        return ffi.string(out[0]).decode("utf-8")
    finally:
        lib.rai_free(out[0])


def take_json(call):
    """take_string, parsed as JSON."""
    return json.loads(take_string(call))


def sized_bytes(call):
    """Runs call(void *out, size_t capacity, size_t *written) twice: first as the size query
    (out NULL, capacity 0), then into a buffer of that size. Returns bytes."""
    written = ffi.new("size_t *")
    check(call(ffi.NULL, 0, written))
    size = int(written[0])
    buf = ffi.new("char[]", max(size, 1))
    check(call(buf, size, written))
    return ffi.unpack(buf, int(written[0]))


def byte_view(data, what):
    """(cffi char pointer, length) over a bytes-like object, without a copy."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"{what} must be bytes-like, got {type(data).__name__}") from None
    if not view.c_contiguous:
        raise TypeError(f"{what} must be C-contiguous")
    return ffi.from_buffer(view), view.nbytes


def encode_name(name, what, allow_none=False):
    """A Python str as a NUL-terminated cffi char array (ffi.NULL for None when allowed)."""
    if name is None and allow_none:
        return ffi.NULL
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    return ffi.new("char[]", name.encode("utf-8"))


def name_array(names, what):
    """(const char *const * array, keep-alive list) for a sequence of str."""
    if isinstance(names, str):
        raise TypeError(f"{what} must be a sequence of str, not a single str")
    encoded = [encode_name(n, f"{what}[{i}]") for i, n in enumerate(names)]
    array = ffi.new("const char *[]", encoded) if encoded else ffi.NULL
    return array, encoded


def fill_struct(struct, values, what):
    """Sets the fields of a params struct from {field: value}, skipping None values."""
    for field, value in values.items():
        if value is None:
            continue
        try:
            setattr(struct, field, value)
        except (TypeError, OverflowError) as exc:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                       f"{what}: {field}={value!r} is not valid ({exc})") from None


def numpy_dtype(rai_dtype, what):
    """The numpy dtype for a rai dtype name, for allocating outputs."""
    import numpy as np

    table = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i8": np.int8,
             "u8": np.uint8, "i32": np.int32, "i64": np.int64, "u32": np.uint32, "u64": np.uint64}
    if rai_dtype in table:
        return np.dtype(table[rai_dtype])
    if rai_dtype == "bf16":
        try:
            import ml_dtypes
        except ImportError:
            raise TypeError(f"{what}: a bf16 result needs an out= array (numpy has no bf16; "
                            f"install ml_dtypes or pass a preallocated output)") from None
        return np.dtype(ml_dtypes.bfloat16)
    raise TypeError(f"{what}: no numpy dtype for rai dtype {rai_dtype}")


def output(out, shape, rai_dtype, what):
    """(result object, its Tensor): `out` described with as_tensor (checked writable and of
    `shape`), or a new host numpy array of `shape` and `rai_dtype`."""
    import numpy as np

    shape = tuple(operator.index(d) for d in shape)
    if out is None:
        out = np.empty(shape, dtype=numpy_dtype(rai_dtype, what))
    tensor = as_tensor(out, what=what)
    if tensor.readonly:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} is read-only")
    if tensor.shape != shape:
        raise ShapeMismatchError(Status.SHAPE_MISMATCH,
                                 f"{what} has shape {list(tensor.shape)}, expected {list(shape)}")
    return out, tensor


def optional_tensor(obj, what):
    """as_tensor(obj), or None for None (see cdata_or_null)."""
    return None if obj is None else as_tensor(obj, what=what)


def cdata_or_null(tensor):
    return ffi.NULL if tensor is None else tensor.cdata
