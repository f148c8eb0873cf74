"""The one place for wrapping arrays and tensors for rai's C calls: numpy in and out, host
integer arrays for pointer APIs, tensors for input, optional and output arguments, outputs
allocated on a context's device, and the default CPU context.

Everything here reuses the foundation (as_tensor, Buffer, check); nothing is copied behind the
caller's back except where a function documents it (Python lists and scalars become arrays).
Params structs, enums, strings and bytes are in _c_out.
"""

import threading

from ._backend import ffi
from ._c_out import invalid
from ._context import Buffer, Context
from ._errors import DTypeMismatchError, ShapeMismatchError, Status
from ._tensor import Tensor, as_tensor, dtype_itemsize, resolve_dtype


def numpy():
    """The numpy module; these capability modules need it (numpy in, numpy out)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency of these modules
        raise ImportError("rai: this function needs numpy (pip install numpy)") from None
    return np


def shape_of(values):
    return tuple(int(d) for d in values)


# ------------------------------------------------------------------ host arrays for pointer APIs


def int_array(obj, dtype, what, ndim=None):
    """A C-contiguous numpy array of integer `dtype` from `obj` (an array or a sequence). A float
    or bool array is DTypeMismatchError; an integer that does not fit `dtype` is
    InvalidArgumentError naming the element (never a silent wrap-around)."""
    np = numpy()
    arr = np.asarray(obj)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise DTypeMismatchError(Status.DTYPE_MISMATCH,
                                 f"{what}: a {arr.dtype} array was given, {np.dtype(dtype)} integers are needed")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeMismatchError(Status.SHAPE_MISMATCH,
                                 f"{what}: a {arr.ndim}-D array was given, {ndim}-D is needed")
    target = np.dtype(dtype)
    if arr.dtype != target and arr.size:
        info = np.iinfo(target)
        bad = np.flatnonzero((arr < info.min) | (arr > info.max)) if arr.dtype.kind == "i" or \
            target.kind == "i" else np.flatnonzero(arr > info.max)
        if bad.size:
            i = int(bad[0])
            raise invalid(f"{what}[{i}] is {arr.reshape(-1)[i]}, which does not fit {target}")
    return np.ascontiguousarray(arr, dtype=target)


def trit_array(obj, what, ndim=None):
    """int8 trits from an integer array or sequence. Values outside {-1, 0, 1} are
    InvalidArgumentError naming the element (librai checks int8 input itself, with the same
    wording; wider integers are checked here so they cannot wrap)."""
    np = numpy()
    arr = int_array(obj, np.int8, what, ndim)
    bad = np.flatnonzero((arr < -1) | (arr > 1))
    if bad.size:
        i = int(bad[0])
        raise invalid(f"{what}[{i}] is {int(arr.reshape(-1)[i])}, a trit must be -1, 0 or 1")
    return arr


def pointer(arr, ctype):
    """A `ctype *` to the data of a C-contiguous numpy array (kept alive by the caller)."""
    if arr.size == 0:
        return ffi.NULL
    return ffi.cast(ctype + " *", ffi.from_buffer(arr))


# ------------------------------------------------------------------ tensors and contexts

_default_lock = threading.Lock()
_default_ctx = None


def default_context():
    """A process-wide CPU Context, made on first use, for functions called with ctx=None."""
    global _default_ctx
    with _default_lock:
        if _default_ctx is None or _default_ctx.closed:
            _default_ctx = Context("cpu", ignore_env=True)
        return _default_ctx


def context(ctx):
    if ctx is None:
        return default_context()
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a rai.Context or None, got {type(ctx).__name__}")
    ctx._handle()
    return ctx


def _is_tensor_like(obj):
    return isinstance(obj, (Tensor, Buffer)) or hasattr(obj, "__array_interface__") or \
        hasattr(obj, "__dlpack__") or hasattr(obj, "__cuda_array_interface__")


def tensor_in(obj, what, ctx=None, dtype=None, default_dtype=None):
    """A Tensor for an input argument (keep it in a variable while its .cdata is in use: the
    descriptor's shape array belongs to the Tensor). Arrays, DLPack and CUDA-array-interface objects and rai
    Tensors are described without a copy (as_tensor); Python lists and scalars become numpy
    arrays of `default_dtype` first. `dtype` reinterprets same-size elements (e.g. "bf16")."""
    if obj is None:
        raise invalid(f"{what} must not be None")
    if not _is_tensor_like(obj):
        np = numpy()
        obj = np.asarray(obj, dtype=default_dtype)
    stream = ctx.stream if ctx is not None and ctx.is_cuda else None
    return as_tensor(obj, dtype=dtype, stream=stream, what=what)


def optional_in(obj, what, ctx=None, dtype=None, default_dtype=None):
    return None if obj is None else tensor_in(obj, what, ctx, dtype, default_dtype)


def cdata(tensor):
    return ffi.NULL if tensor is None else tensor.cdata


_NUMPY_NAMES = {"f32": "float32", "f16": "float16", "f64": "float64", "i8": "int8", "u8": "uint8",
                "i32": "int32", "i64": "int64", "u32": "uint32", "u64": "uint64"}


def numpy_dtype(rai_dtype, what):
    """The numpy dtype of a new host output of rai dtype `rai_dtype`. numpy has no bf16: that
    needs ml_dtypes (TypeError naming `what` without it)."""
    np = numpy()
    if rai_dtype in _NUMPY_NAMES:
        return np.dtype(_NUMPY_NAMES[rai_dtype])
    if rai_dtype == "bf16":
        try:
            import ml_dtypes
        except ImportError:
            raise TypeError(f"{what}: a bf16 result needs an out= array (numpy has no bf16; "
                            f"install ml_dtypes or pass a preallocated output)") from None
        return np.dtype(ml_dtypes.bfloat16)
    raise TypeError(f"{what}: no numpy dtype for rai dtype {rai_dtype}")


def allocate(ctx, dtype, shape):
    """A new output on ctx's device: a numpy array for a host context, else a rai Tensor over a
    new Buffer (it exports __cuda_array_interface__ and keeps the Buffer alive). bf16 host
    outputs are uint16 numpy arrays holding the bf16 bit patterns."""
    name = resolve_dtype(dtype)
    shape = shape_of(shape)
    if not ctx.is_cuda:
        np = numpy()
        return np.empty(shape, dtype=np.uint16 if name == "bf16" else _NUMPY_NAMES[name])
    count = 1
    for d in shape:
        count *= d
    buf = Buffer(ctx, max(count * dtype_itemsize(name), 1))
    return buf.tensor(name, shape)


def _writable(tensor, what):
    if tensor.readonly:
        raise invalid(f"{what} is read-only")
    return tensor


def tensor_out(obj, what, ctx=None, dtype=None):
    """A Tensor for an output argument: like tensor_in, but it must be writable."""
    return _writable(tensor_in(obj, what, ctx, dtype), what)


def out_or_new(out, ctx, dtype, shape, what="out"):
    """(the object to return, its Tensor): `out` when given (checked writable), else a new
    allocation of `dtype` and `shape` on ctx's device. bf16 outputs are reinterpreted."""
    if out is None:
        out = allocate(ctx, dtype, shape)
    name = resolve_dtype(dtype) if dtype is not None else None
    return out, tensor_out(out, what, ctx, dtype="bf16" if name == "bf16" else None)


def output(out, shape, rai_dtype, what):
    """(result object, its Tensor) for a host output of exactly `shape`: `out` described with
    as_tensor (checked writable and of `shape`), or a new numpy array of `shape` and
    `rai_dtype` (see numpy_dtype)."""
    shape = shape_of(shape)
    if out is None:
        out = numpy().empty(shape, dtype=numpy_dtype(rai_dtype, what))
    tensor = _writable(as_tensor(out, what=what), what)
    if tensor.shape != shape:
        raise ShapeMismatchError(Status.SHAPE_MISMATCH,
                                 f"{what} has shape {list(tensor.shape)}, expected {list(shape)}")
    return out, tensor
