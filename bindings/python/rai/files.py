"""safetensors and GGUF files (include/rai.h, "files: safetensors, GGUF"; docs/quant.md,
docs/bitnet.md).

    from rai import files
    with files.SafetensorsFile("model.safetensors") as f:
        for name in f:                       # file order
            info = f.info(name)              # name, dtype_name, shape, nbytes, ...
            arr = f[name]                    # a numpy copy (bf16 as uint16, BOOL as bool, ...)
        f.metadata                           # {"format": "pt", ...}
        state = f.load_4bit("model.layers.0.mlp.down_proj")   # bitsandbytes Linear4bit keys

    with files.SafetensorsWriter() as w:
        w.add("a", np.arange(4, dtype=np.float32)); w.metadata["format"] = "pt"
        w.add_4bit("layer", state); w.save("out.safetensors")   # atomic

    with files.GGUFWriter() as g:
        g.add_kv("general.name", "demo"); g.add_tensor("w", w_f32, "tq2_0")
        g.add_ternary("t", trits, row_scales, "tq1_0"); g.write("out.gguf")
    with files.GGUFReader("out.gguf") as r:
        r.kv["general.name"]; r.tensors; r.read_tensor("w"); r.read_ternary("t")

Handles are freed by close(), `with`, or the garbage collector. Views returned by
SafetensorsFile.view() point into the file's memory and are valid until the file is closed.
"""

import collections
import dataclasses
import os

from ._arrays import context, numpy, pointer, tensor_in
from ._c_out import choice, index_arg, invalid, new_params
from ._backend import ffi, lib
from ._errors import BufferTooSmallError, check
from ._handle import Handle
from ._tensor import Tensor
from . import quant4 as _quant4


def _path(path, what="path"):
    try:
        return os.fsencode(path)
    except TypeError:
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(path).__name__}") from None


def _name(value, what):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value.encode("utf-8")


def _string(c_char_p):
    return None if c_char_p == ffi.NULL else ffi.string(c_char_p).decode("utf-8", "replace")


# ------------------------------------------------------------------ safetensors

# numpy dtypes of safetensors dtype names (the ones without a rai dtype are read as raw data).
_ST_NUMPY = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "uint16", "I64": "int64",
             "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
             "U8": "uint8", "BOOL": "bool", "F8_E4M3": "uint8", "F8_E5M2": "uint8"}


@dataclasses.dataclass(frozen=True)
class SafetensorsTensorInfo:
    """One tensor of a safetensors file. dtype is the rai dtype name, None when rai has none."""
    index: int
    name: str
    dtype_name: str
    shape: tuple
    nbytes: int
    data_offset: int
    dtype: object


class SafetensorsFile(Handle):
    """A safetensors file, validated on open (FormatError naming the tensor and field for
    malformed input, InputOutputError for an unreadable file). Immutable; a mapping of tensor
    names (file order) to numpy copies."""

    _KIND = "rai.files.SafetensorsFile"

    def __init__(self, path):
        out = ffi.new("rai_safetensors **")
        check(lib.rai_safetensors_open(_path(path), out))
        self._own(out[0], lib.rai_safetensors_destroy)

    @classmethod
    def from_bytes(cls, data):
        """From bytes in memory (copied)."""
        view = memoryview(data).cast("B")
        out = ffi.new("rai_safetensors **")
        check(lib.rai_safetensors_open_memory(ffi.from_buffer(view), view.nbytes, out))
        obj = cls.__new__(cls)
        obj._own(out[0], lib.rai_safetensors_destroy)
        return obj

    def __len__(self):
        out = ffi.new("size_t *")
        check(lib.rai_safetensors_count(self._handle(), out))
        return int(out[0])

    def _index(self, key):
        if isinstance(key, str):
            out = ffi.new("int64_t *")
            check(lib.rai_safetensors_find(self._handle(), key.encode("utf-8"), out))
            if out[0] < 0:
                raise KeyError(key)
            return int(out[0])
        index = index_arg(key, "index")
        if index >= len(self):
            raise IndexError(f"tensor index {index} is out of range for {len(self)} tensors")
        return index

    def _c_info(self, index):
        c = new_params("rai_safetensors_tensor_info")
        check(lib.rai_safetensors_get_info(self._handle(), index, c))
        return c

    def info(self, key):
        """SafetensorsTensorInfo of a tensor name or index."""
        index = self._index(key)
        c = self._c_info(index)
        dtype = _string(lib.rai_dtype_name(ffi.addressof(c, "dtype"))) if c.dtype.bits else None
        return SafetensorsTensorInfo(index=index, name=_string(c.name), dtype_name=_string(c.dtype_name),
                                     shape=tuple(int(c.shape[i]) for i in range(int(c.ndim))),
                                     nbytes=int(c.nbytes), data_offset=int(c.data_offset), dtype=dtype)

    def names(self):
        return [_string(self._c_info(i).name) for i in range(len(self))]

    keys = names

    def __iter__(self):
        return iter(self.names())

    def __contains__(self, name):
        try:
            self._index(name)
        except KeyError:
            return False
        return True

    def __getitem__(self, key):
        """A numpy copy of a tensor: bf16 as uint16 bit patterns, BOOL as bool, F8_* as uint8."""
        np = numpy()
        c = self._c_info(self._index(key))
        dtype_name = _string(c.dtype_name)
        np_dtype = np.dtype(_ST_NUMPY.get(dtype_name, "uint8"))
        shape = tuple(int(c.shape[i]) for i in range(int(c.ndim)))
        raw = bytes(ffi.buffer(c.data, int(c.nbytes))) if c.nbytes else b""
        return np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()

    def items(self):
        for name in self.names():
            yield name, self[name]

    def view(self, key):
        """A rai Tensor over the file's bytes (no copy; valid until close()). DTypeMismatchError
        for dtypes rai has no rai_dtype for."""
        index = self._index(key)
        desc = ffi.new("rai_tensor *")
        check(lib.rai_safetensors_tensor_view(self._handle(), index, desc))
        shape = [int(desc.shape[i]) for i in range(int(desc.ndim))]
        strides = None if desc.strides == ffi.NULL else [int(desc.strides[i]) for i in range(int(desc.ndim))]
        name = _string(lib.rai_dtype_name(ffi.addressof(desc, "dtype")))
        return Tensor(data=desc.data, dtype=name, shape=shape, strides=strides, device="cpu",
                      byte_offset=int(desc.byte_offset), owner=self, readonly=True)

    @property
    def metadata(self):
        """The "__metadata__" entries, in file order, as a dict."""
        count = ffi.new("size_t *")
        check(lib.rai_safetensors_metadata_count(self._handle(), count))
        key, value = ffi.new("const char **"), ffi.new("const char **")
        out = collections.OrderedDict()
        for i in range(int(count[0])):
            check(lib.rai_safetensors_metadata_get(self._handle(), i, key, value))
            out[_string(key[0])] = _string(value[0])
        return dict(out)

    def metadata_get(self, key, default=None):
        value = ffi.new("const char **")
        check(lib.rai_safetensors_metadata_find(self._handle(), _name(key, "key"), value))
        return default if value[0] == ffi.NULL else _string(value[0])

    def load_4bit(self, prefix, ctx=None):
        """The bitsandbytes Linear4bit state of module `prefix` (keys prefix.weight,
        prefix.weight.absmax, ...) as a QuantState on ctx's device, with a copy of its codes.
        FormatError naming a missing or inconsistent key."""
        ctx = context(ctx)
        out = ffi.new("rai_q4_state **")
        check(lib.rai_q4_state_load_bnb(ctx._handle(), self._handle(), _name(prefix, "prefix"), out))
        state = _quant4.QuantState._adopt(out[0], ctx)
        codes = self[prefix + ".weight"]
        if ctx.is_cuda:
            from ._arrays import allocate
            from ._tensor import tensor_copy
            device_codes = allocate(ctx, str(codes.dtype) if codes.dtype.kind != "V" else "u8", codes.shape)
            tensor_copy(ctx, codes, device_codes)
            codes = device_codes
        state.codes = codes
        return state

    def __repr__(self):
        if self.closed:
            return "<rai.files.SafetensorsFile closed>"
        return f"<rai.files.SafetensorsFile {len(self)} tensors>"


class SafetensorsWriter(Handle):
    """Collects tensors (copied when added) and metadata, then serialises (to_bytes) or writes
    atomically (save). Tensors are laid out largest element size first, then in the order added.
    `metadata` is a dict written as "__metadata__"."""

    _KIND = "rai.files.SafetensorsWriter"

    def __init__(self):
        out = ffi.new("rai_safetensors_writer **")
        check(lib.rai_safetensors_writer_create(out))
        self._own(out[0], lib.rai_safetensors_writer_destroy)
        self.metadata = {}

    def add(self, name, array, dtype=None):
        """A host tensor (numpy, DLPack, rai Tensor; any strides). dtype reinterprets same-size
        elements, e.g. "bf16" for a uint16 array of bf16 bit patterns."""
        t = tensor_in(array, "tensor", dtype=dtype)
        check(lib.rai_safetensors_writer_add(self._handle(), _name(name, "name"), t.cdata))

    def add_raw(self, name, dtype_name, shape, data):
        """Raw little-endian bytes with a safetensors dtype name ("BOOL", "F8_E4M3", "I16", ...)."""
        shape_arr = ffi.new("int64_t[]", [index_arg(d, "shape[]") for d in shape] or [0])
        view = memoryview(data).cast("B")
        check(lib.rai_safetensors_writer_add_raw(self._handle(), _name(name, "name"), _name(dtype_name, "dtype_name"),
                                                 len(shape), shape_arr, ffi.from_buffer(view), view.nbytes))

    def add_4bit(self, prefix, state, codes=None):
        """The bitsandbytes Linear4bit keys of module `prefix` for a QuantState (and its codes)."""
        if not isinstance(state, _quant4.QuantState):
            raise TypeError(f"state must be a rai.quant4.QuantState, got {type(state).__name__}")
        tc = state._codes(codes)
        check(lib.rai_q4_state_save_bnb(state._ctx._handle(), self._handle(), _name(prefix, "prefix"),
                                        state._handle(), tc.cdata))

    def _flush_metadata(self):
        for key, value in self.metadata.items():
            if not isinstance(value, str):
                raise TypeError(f"metadata[{key!r}] must be a str, got {type(value).__name__}")
            check(lib.rai_safetensors_writer_set_metadata(self._handle(), _name(key, "metadata key"),
                                                          value.encode("utf-8")))

    def to_bytes(self):
        """The file's bytes."""
        self._flush_metadata()
        size = ffi.new("size_t *")
        try:
            check(lib.rai_safetensors_writer_serialize(self._handle(), ffi.NULL, 0, size))
        except BufferTooSmallError:
            pass
        buf = bytearray(int(size[0]))
        check(lib.rai_safetensors_writer_serialize(self._handle(), ffi.from_buffer(buf), len(buf), size))
        return bytes(buf[:int(size[0])])

    def save(self, path):
        """Writes the file through a temporary file renamed over `path` (nothing left on error)."""
        self._flush_metadata()
        check(lib.rai_safetensors_writer_save(self._handle(), _path(path)))


def load_safetensors(path):
    """{name: numpy copy} of every tensor of a file, in file order."""
    with SafetensorsFile(path) as f:
        return dict(f.items())


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (and string metadata) atomically."""
    with SafetensorsWriter() as w:
        for name, array in tensors.items():
            w.add(name, array)
        w.metadata.update(metadata or {})
        w.save(path)


for _cls in (SafetensorsTensorInfo, SafetensorsFile, SafetensorsWriter):
    _cls.__module__ = "rai.files"

# ------------------------------------------------------------------ GGUF

GGUF_TYPES = {"uint8": 0, "int8": 1, "uint16": 2, "int16": 3, "uint32": 4, "int32": 5, "float32": 6, "bool": 7,
              "string": 8, "array": 9, "uint64": 10, "int64": 11, "float64": 12}
_GGUF_TYPE_NAMES = {v: k for k, v in GGUF_TYPES.items()}
_GGUF_C = {"uint8": "uint8_t", "int8": "int8_t", "uint16": "uint16_t", "int16": "int16_t", "uint32": "uint32_t",
           "int32": "int32_t", "float32": "float", "bool": "uint8_t", "uint64": "uint64_t", "int64": "int64_t",
           "float64": "double"}
_GGUF_NUMPY = {"uint8": "uint8", "int8": "int8", "uint16": "uint16", "int16": "int16", "uint32": "uint32",
               "int32": "int32", "float32": "float32", "bool": "bool", "uint64": "uint64", "int64": "int64",
               "float64": "float64"}
GGML_TYPES = {"f32": lib.RAI_GGML_TYPE_F32, "f16": lib.RAI_GGML_TYPE_F16, "i8": lib.RAI_GGML_TYPE_I8,
              "i16": lib.RAI_GGML_TYPE_I16, "i32": lib.RAI_GGML_TYPE_I32, "i64": lib.RAI_GGML_TYPE_I64,
              "f64": lib.RAI_GGML_TYPE_F64, "bf16": lib.RAI_GGML_TYPE_BF16, "tq1_0": lib.RAI_GGML_TYPE_TQ1_0,
              "tq2_0": lib.RAI_GGML_TYPE_TQ2_0}
_GGML_NAMES = {v: k for k, v in GGML_TYPES.items()}
_DEFAULT_GGML = {"f32": "f32", "f16": "f16", "bf16": "bf16", "i8": "i8", "i32": "i32", "i64": "i64", "f64": "f64"}


def _infer_kv_type(value):
    np = numpy()
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (float, np.floating)):
        return "float32" if not isinstance(value, np.float64) else "float64"
    if isinstance(value, (int, np.integer)):
        if isinstance(value, np.integer):
            return np.dtype(type(value)).name
        value = int(value)
        if 0 <= value < 2**32:
            return "uint32"
        if -2**31 <= value < 0:
            return "int32"
        return "int64" if value < 2**63 else "uint64"
    raise TypeError(f"cannot infer a GGUF type for a {type(value).__name__}; pass type=")


class GGUFWriter(Handle):
    """Collects metadata and tensors (copies), then writes a GGUF v3 file in one go, atomically."""

    _KIND = "rai.files.GGUFWriter"

    def __init__(self):
        out = ffi.new("rai_gguf_writer **")
        check(lib.rai_gguf_writer_create(out))
        self._own(out[0], lib.rai_gguf_writer_destroy)

    def add_kv(self, key, value, type=None):
        """A metadata value. type: "uint8", ..., "float64", "bool", "string", or None to infer
        (str -> string, bool -> bool, float -> float32, int -> uint32 / int32 / int64 / uint64,
        numpy scalars their own type). Lists / numpy arrays become arrays (strings: a string
        array; numbers: `type` names the element type, else the array's dtype)."""
        np = numpy()
        k = _name(key, "key")
        if isinstance(value, (list, tuple, np.ndarray)):
            return self._add_array(k, value, type)
        kind = type if type is not None else _infer_kv_type(value)
        code = choice(kind, GGUF_TYPES, "type")
        kind = _GGUF_TYPE_NAMES[code]
        if kind == "string":
            if not isinstance(value, str):
                raise TypeError(f"{key}: a string value is needed, got {value.__class__.__name__}")
            check(lib.rai_gguf_writer_add_kv_string(self._handle(), k, value.encode("utf-8")))
        elif kind == "array":
            raise invalid("type='array': pass a list or numpy array as the value")
        else:
            try:
                arr = np.asarray([value], dtype=_GGUF_NUMPY[kind])
            except (OverflowError, ValueError, TypeError):
                raise invalid(f"{key}: {value!r} does not fit {kind}") from None
            if kind != "bool" and arr[0] != value:
                raise invalid(f"{key}: {value!r} does not fit {kind}")
            if kind == "bool":
                arr = arr.astype(np.uint8)
            check(lib.rai_gguf_writer_add_kv(self._handle(), k, code, ffi.from_buffer(arr)))

    def _add_array(self, k, values, type):
        np = numpy()
        if len(values) and all(isinstance(v, str) for v in values):
            keep = [ffi.new("char[]", v.encode("utf-8")) for v in values]
            check(lib.rai_gguf_writer_add_kv_string_array(self._handle(), k, ffi.new("const char *[]", keep),
                                                          len(keep)))
            return
        if type is None:
            arr = np.asarray(values)
            if arr.dtype.kind == "f" and arr.dtype.itemsize == 8 and not isinstance(values, np.ndarray):
                arr = arr.astype(np.float32)  # Python floats: GGUF's usual float32
            kind = "bool" if arr.dtype == np.bool_ else arr.dtype.name
        else:
            kind = _GGUF_TYPE_NAMES[choice(type, GGUF_TYPES, "type")]
            try:
                arr = np.asarray(values, dtype=_GGUF_NUMPY.get(kind, "float32"))
            except (OverflowError, ValueError, TypeError):
                raise invalid(f"{k.decode()}: the values do not fit {kind}") from None
        if kind not in _GGUF_C:
            raise invalid(f"array element type {kind!r} is not a GGUF numeric type")
        arr = np.ascontiguousarray(arr.astype(np.uint8) if kind == "bool" else arr)
        check(lib.rai_gguf_writer_add_kv_array(self._handle(), k, GGUF_TYPES[kind],
                                               ffi.from_buffer(arr) if arr.size else ffi.NULL, arr.size))

    def add_tensor(self, name, array, ggml_type=None, dtype=None):
        """A host tensor (1..4 dimensions) stored as ggml_type ("f32", "f16", "bf16", "i8", "i32",
        "i64", "f64", or "tq1_0" / "tq2_0": llama.cpp's lossy reference quantizer on f32 with the
        last dimension % 256 == 0). Default: the array's own type."""
        t = tensor_in(array, "tensor", dtype=dtype)
        if ggml_type is None:
            ggml_type = _DEFAULT_GGML.get(t.dtype)
            if ggml_type is None:
                raise invalid(f"tensor: no default GGML type for {t.dtype}; pass ggml_type=")
        check(lib.rai_gguf_writer_add_tensor(self._handle(), _name(name, "name"), t.cdata,
                                             choice(ggml_type, GGML_TYPES, "ggml_type")))

    def add_ternary(self, name, trits, scales, ggml_type="tq2_0", exact_scales=False):
        """A ternary weight, losslessly: trits int8 [rows, cols] and BitNet scales (constant within
        each 256-column block) as TQ1_0 / TQ2_0; exact_scales refuses a scale that is not exactly
        an f16 (OutOfRangeError) instead of rounding it."""
        tt = tensor_in(trits, "trits", default_dtype="int8")
        ts = tensor_in(scales, "scales", default_dtype="float32")
        check(lib.rai_gguf_writer_add_ternary(self._handle(), _name(name, "name"),
                                              choice(ggml_type, GGML_TYPES, "ggml_type"), tt.cdata, ts.cdata,
                                              lib.RAI_GGUF_EXACT_SCALES if exact_scales else 0))

    def write(self, path):
        """Writes the file atomically; InputOutputError names the path and the reason."""
        check(lib.rai_gguf_writer_write(self._handle(), _path(path)))



@dataclasses.dataclass(frozen=True)
class GGUFFileInfo:
    version: int
    kv_count: int
    tensor_count: int
    alignment: int
    data_offset: int
    file_size: int


@dataclasses.dataclass(frozen=True)
class GGUFTensorInfo:
    """ggml_type is the GGML type number; type_name its name ("tq2_0", ...) or None when rai does
    not convert it. shape is row-major (outermost first)."""
    index: int
    name: str
    ggml_type: int
    type_name: object
    shape: tuple
    offset: int
    nbytes: int


class GGUFReader(Handle):
    """A GGUF file (v2 / v3), its header validated on open; tensor data read on demand."""

    _KIND = "rai.files.GGUFReader"

    def __init__(self, path):
        out = ffi.new("rai_gguf_reader **")
        check(lib.rai_gguf_reader_open(_path(path), out))
        self._own(out[0], lib.rai_gguf_reader_destroy)

    @property
    def info(self):
        c = new_params("rai_gguf_file_info")
        check(lib.rai_gguf_reader_get_info(self._handle(), c))
        return GGUFFileInfo(int(c.version), int(c.kv_count), int(c.tensor_count), int(c.alignment),
                            int(c.data_offset), int(c.file_size))

    # -- metadata
    def _kv_info(self, index):
        c = new_params("rai_gguf_kv_info")
        check(lib.rai_gguf_reader_kv(self._handle(), index, c))
        return c

    def _kv_string(self, index, element):
        value, length = ffi.new("const char **"), ffi.new("size_t *")
        check(lib.rai_gguf_reader_kv_string(self._handle(), index, element, value, length))
        return ffi.unpack(value[0], int(length[0])).decode("utf-8", "replace")

    def _kv_value(self, index, c):
        np = numpy()
        kind = _GGUF_TYPE_NAMES.get(int(c.type))
        if kind == "string":
            return self._kv_string(index, 0)
        if kind == "array":
            element = _GGUF_TYPE_NAMES.get(int(c.array_type))
            if element == "string":
                return [self._kv_string(index, i) for i in range(int(c.count))]
            dtype = np.dtype(_GGUF_NUMPY[element])
            raw = ffi.buffer(c.data, int(c.count) * dtype.itemsize) if c.count else b""
            return np.frombuffer(bytes(raw), dtype=dtype).copy()
        dtype = np.dtype(_GGUF_NUMPY[kind])
        value = np.frombuffer(bytes(ffi.buffer(c.data, dtype.itemsize)), dtype=dtype)[0]
        return bool(value) if kind == "bool" else value.item()

    @property
    def kv(self):
        """{key: value} in file order: str, int, float, bool, a list of str, or a numpy array."""
        out = {}
        for i in range(self.info.kv_count):
            c = self._kv_info(i)
            out[_string(c.key)] = self._kv_value(i, c)
        return out

    def kv_type(self, key):
        """(type name, element type name or None) of a metadata entry."""
        c = self._kv_info(self._find(lib.rai_gguf_reader_find_kv, key))
        element = _GGUF_TYPE_NAMES.get(int(c.array_type)) if int(c.type) == GGUF_TYPES["array"] else None
        return _GGUF_TYPE_NAMES.get(int(c.type)), element

    def _find(self, fn, key):
        if not isinstance(key, str):
            return index_arg(key, "index")
        out = ffi.new("int64_t *")
        check(fn(self._handle(), key.encode("utf-8"), out))
        if out[0] < 0:
            raise KeyError(key)
        return int(out[0])

    # -- tensors
    def tensor_info(self, key):
        index = self._find(lib.rai_gguf_reader_find_tensor, key)
        c = new_params("rai_gguf_tensor_info")
        check(lib.rai_gguf_reader_tensor(self._handle(), index, c))
        return GGUFTensorInfo(index=index, name=_string(c.name), ggml_type=int(c.ggml_type),
                              type_name=_GGML_NAMES.get(int(c.ggml_type)),
                              shape=tuple(int(c.shape[i]) for i in range(int(c.ndim))), offset=int(c.offset),
                              nbytes=int(c.nbytes))

    @property
    def tensors(self):
        """GGUFTensorInfo of every tensor, in file order."""
        return [self.tensor_info(i) for i in range(self.info.tensor_count)]

    def read_raw(self, key):
        """The stored bytes of a tensor, as a uint8 numpy array."""
        np = numpy()
        index = self._find(lib.rai_gguf_reader_find_tensor, key)
        needed = ffi.new("size_t *")
        try:
            check(lib.rai_gguf_reader_read_raw(self._handle(), index, ffi.NULL, 0, needed))
        except BufferTooSmallError:
            pass
        out = np.empty(int(needed[0]), dtype=np.uint8)
        check(lib.rai_gguf_reader_read_raw(self._handle(), index, pointer(out, "uint8_t"), out.size, needed))
        return out

    def read_tensor(self, key, dtype="f32"):
        """The tensor decoded to `dtype`: f32 from F32, F16, BF16, TQ1_0, TQ2_0 (as llama.cpp
        dequantizes), or the stored values for a matching dtype (f16, bf16 as uint16, i8, i32,
        i64, f64)."""
        from ._arrays import allocate
        info = self.tensor_info(key)
        out = allocate(_HOST, dtype, info.shape)
        t = tensor_in(out, "dst", dtype="bf16" if dtype in ("bf16", "bfloat16") else None)
        check(lib.rai_gguf_reader_read_tensor(self._handle(), info.index, t.cdata))
        return out

    def read_ternary(self, key, with_scales=True):
        """A TQ1_0 / TQ2_0 tensor as lossless trits int8 [rows, cols] and its block scales f32
        [rows, cols / 256] -> (trits, scales), or trits alone without with_scales."""
        np = numpy()
        info = self.tensor_info(key)
        cols = info.shape[-1] if info.shape else 0
        rows = 1
        for d in info.shape[:-1]:
            rows *= d
        trits = np.empty((rows, cols), dtype=np.int8)
        scales = np.empty((rows, cols // 256), dtype=np.float32) if with_scales else None
        ts = tensor_in(scales, "scales") if with_scales else None
        tt = tensor_in(trits, "trits")
        check(lib.rai_gguf_reader_read_ternary(self._handle(), info.index, tt.cdata,
                                               ts.cdata if ts is not None else ffi.NULL))
        return (trits, scales) if with_scales else trits

    def __repr__(self):
        if self.closed:
            return "<rai.files.GGUFReader closed>"
        i = self.info
        return f"<rai.files.GGUFReader v{i.version} {i.kv_count} kv {i.tensor_count} tensors>"


class _HostOnly:
    """Stands in for a CPU context where only host allocation is needed."""
    is_cuda = False


_HOST = _HostOnly()

for _cls in (GGUFWriter, GGUFReader, GGUFFileInfo, GGUFTensorInfo):
    _cls.__module__ = "rai.files"

__all__ = ["SafetensorsFile", "SafetensorsWriter", "SafetensorsTensorInfo", "load_safetensors", "save_safetensors",
           "GGUFWriter", "GGUFReader", "GGUFFileInfo", "GGUFTensorInfo", "GGUF_TYPES", "GGML_TYPES"]
