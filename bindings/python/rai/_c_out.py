"""The one place for the recurring shapes of rai's C calls that are not tensors (those are in
_arrays): params structs, enum and integer arguments, strings and byte blobs in and out.

It depends only on the cffi backend and the error mapping, so _context, _tensor and every
capability module can use it."""

import enum
import json
import operator

from ._backend import ffi, lib
from ._errors import InvalidArgumentError, Status, check


def invalid(message):
    """The InvalidArgumentError for a bad argument (the message names it)."""
    return InvalidArgumentError(Status.INVALID_ARGUMENT, message)


# ------------------------------------------------------------------ params structs


def new_params(ctype, **fields):
    """A `ctype *` filled by the exported rai_<ctype>_init_sized (the header's static-inline
    *_init helpers are not visible to cffi), then the given fields set (see fill_struct)."""
    params = ffi.new(ctype + " *")
    check(getattr(lib, ctype + "_init_sized")(params, ffi.sizeof(ctype)))
    fill_struct(params, fields, ctype)
    return params


def fill_struct(struct, values, what):
    """Sets the fields of a params struct from {field: value}, skipping None values; a value the
    field cannot hold is InvalidArgumentError naming `what` and the field."""
    for field, value in values.items():
        if value is None:
            continue
        try:
            setattr(struct, field, value)
        except (TypeError, OverflowError) as exc:
            raise invalid(f"{what}: {field}={value!r} is not valid ({exc})") from None


# ------------------------------------------------------------------ enums and integers


def c_enum(c_name, prefix, py_name, doc):
    """A rai.<py_name> IntEnum with the members of C enum `c_name`, `prefix` stripped."""
    members = {name[len(prefix):]: value
               for value, name in sorted(ffi.typeof(c_name).elements.items())}
    cls = enum.IntEnum(py_name, members, module="rai", qualname=py_name)
    cls.__module__ = "rai"
    cls.__doc__ = doc
    return cls


def _pick(value, what, by_name, by_number, choices):
    """The value found by_name(stripped str) or by_number(int), else InvalidArgumentError."""
    found = None
    if isinstance(value, str):
        found = by_name(value.strip())
    else:
        try:
            found = by_number(operator.index(value))
        except TypeError:
            pass
    if found is None:
        raise invalid(f"{what}={value!r} is not one of {choices}")
    return found


def enum_arg(cls, value, what):
    """An IntEnum member from a member, an int, or a (case-insensitive) name; otherwise an
    InvalidArgumentError naming `what` and the choices."""
    return _pick(value, what,
                 lambda name: cls.__members__.get(name.upper().replace("-", "_")),
                 lambda number: cls._value2member_map_.get(number),
                 ", ".join(name.lower() for name in cls.__members__))


def choice(value, table, what):
    """An enum argument as an int: a name of `table` ({name: int}, case-insensitive) or one of
    its ints."""
    return _pick(value, what,
                 lambda name: table.get(name.lower()),
                 lambda number: number if number in table.values() else None,
                 ", ".join(repr(k) for k in table))


def index_arg(value, what, minimum=0):
    """An int >= minimum (TypeError for a non-integer, InvalidArgumentError below minimum)."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
    if value < minimum:
        raise invalid(f"{what} must be >= {minimum}, got {value}")
    return value


# ------------------------------------------------------------------ strings and bytes


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


def contiguous_view(data, what, writable=False):
    """A memoryview of a C-contiguous bytes-like object (TypeError naming `what` otherwise):
    rai reads and writes raw bytes and never copies a strided object silently."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"{what} must support the buffer protocol (bytes, bytearray, numpy array, ...), "
                        f"got {type(data).__name__}") from None
    if not view.c_contiguous:
        raise TypeError(f"{what} is not C-contiguous; rai reads and writes raw bytes and does not "
                        f"copy it silently (pass a contiguous copy)")
    if writable and view.readonly:
        raise TypeError(f"{what} is read-only")
    return view


def byte_view(data, what):
    """(cffi char pointer, length) over a bytes-like object, without a copy."""
    view = contiguous_view(data, what)
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
