"""bitsandbytes-compatible NF4 / FP4 4-bit weights (docs/quant.md), in the spirit of
bitsandbytes.functional.quantize_4bit / dequantize_4bit:

    from rai import quant4
    state = quant4.quantize_4bit(w, quant_type="nf4", blocksize=64, compress_statistics=True)
    state.codes                      # u8 [(n + 1) // 2, 1], bitsandbytes' layout
    state.absmax, state.quant_map    # numpy arrays (u8 absmax with double quantisation)
    state.nested                     # NestedState(absmax, quant_map, blocksize, offset) or None
    w2 = quant4.dequantize_4bit(state, dtype="float16")
    y = quant4.linear_4bit(x, state, bias)           # x [..., K] . W^T, GEMV for M <= 4
    dx = quant4.linear_4bit_grad_input(dy, state)    # through the frozen weight (QLoRA)

Quantisation is bit-exact with bitsandbytes' CUDA kernels on every backend. A QuantState lives on
one Context's device (ctx=None: the process-wide CPU context) and keeps the Context alive; bf16
arrays on the host are uint16 numpy arrays holding bf16 bit patterns (pass dtype="bf16" to
reinterpret a uint16 input), or any DLPack bf16 tensor.
"""

import collections
import dataclasses

from ._arrays import allocate, cdata, context, numpy, optional_in, out_or_new, tensor_in, tensor_out
from ._c_out import choice, index_arg, invalid, new_params
from ._backend import ffi, lib
from ._context import Device, _device_from_c
from ._errors import check
from ._handle import Handle
from ._tensor import DTYPES, resolve_dtype

QUANT_TYPES = {"nf4": lib.RAI_Q4_NF4, "fp4": lib.RAI_Q4_FP4}
_TYPE_NAMES = {v: k for k, v in QUANT_TYPES.items()}
_FIELDS = {"absmax": lib.RAI_Q4_FIELD_ABSMAX, "quant_map": lib.RAI_Q4_FIELD_QUANT_MAP,
           "nested_absmax": lib.RAI_Q4_FIELD_NESTED_ABSMAX,
           "nested_quant_map": lib.RAI_Q4_FIELD_NESTED_QUANT_MAP,
           "absmax_decoded": lib.RAI_Q4_FIELD_ABSMAX_DECODED}
_FLOAT_DTYPES = ("f32", "f16", "bf16")

NestedState = collections.namedtuple("NestedState", "absmax quant_map blocksize offset")
NestedState.__doc__ = ("The double-quantisation statistics (bitsandbytes' state2): f32 nested absmax, "
                       "the f32 [256] dynamic map, the nested block size and the offset (mean absmax).")


def codebook(quant_type="nf4"):
    """The 16 dequantisation values in code order (FP4: bit-pattern order, code 8 is -0)."""
    np = numpy()
    out = np.empty(16, dtype=np.float32)
    check(lib.rai_q4_codebook(choice(quant_type, QUANT_TYPES, "quant_type"),
                              ffi.cast("float *", ffi.from_buffer(out))))
    return out


def codes_size(n):
    """Bytes of packed codes for n elements: (n + 1) // 2."""
    out = ffi.new("uint64_t *")
    check(lib.rai_q4_codes_size(index_arg(n, "n"), out))
    return int(out[0])


def _dtype_name(c_dtype):
    name = lib.rai_dtype_name(c_dtype)
    return None if name == ffi.NULL else ffi.string(name).decode()


@dataclasses.dataclass(frozen=True)
class QuantStateInfo:
    """rai_q4_state_info."""
    quant_type: str
    blocksize: int
    double_quant: bool
    nested_blocksize: int
    shape: tuple
    dtype: str
    offset: float
    numel: int
    blocks: int
    nested_blocks: int
    codes_bytes: int
    state_bytes: int
    device: Device


class QuantState(Handle):
    """A 4-bit weight's statistics (rai_q4_state) plus, where known, its packed `codes`.

    Made by quantize_4bit, QuantState.from_arrays (e.g. from a bitsandbytes QuantState) or
    SafetensorsFile.load_4bit. The codes are a caller array (u8 [(n + 1) // 2, 1] as bitsandbytes
    stores them, or any dtype of the same bytes); functions taking a state use `state.codes`
    unless given others."""

    _KIND = "rai.quant4.QuantState"

    def _init(self, raw, ctx, codes):
        self._own(raw, lib.rai_q4_state_destroy, keep=(ctx,))
        self._ctx = ctx
        self.codes = codes

    @classmethod
    def _adopt(cls, raw, ctx, codes=None):
        obj = cls.__new__(cls)
        obj._init(raw, ctx, codes)
        return obj

    @classmethod
    def from_arrays(cls, absmax, shape, quant_type="nf4", blocksize=64, dtype="float32", codes=None,
                    nested_absmax=None, nested_quant_map=None, offset=0.0, nested_blocksize=256, ctx=None):
        """A state from its arrays: absmax f32 [blocks]; with double quantisation absmax u8
        [blocks] plus nested_absmax f32 [nested_blocks], nested_quant_map f32 [256] (None: the
        standard dynamic map) and offset. The arrays are copied; `codes` is kept as given."""
        ctx = context(ctx)
        shape = tuple(index_arg(d, "shape[]") for d in shape)
        if not 1 <= len(shape) <= lib.RAI_Q4_MAX_DIMS:
            raise invalid(f"shape has {len(shape)} dimensions, 1..{lib.RAI_Q4_MAX_DIMS} are allowed")
        params = new_params("rai_q4_state_params", type=choice(quant_type, QUANT_TYPES, "quant_type"),
                            blocksize=index_arg(blocksize, "blocksize"), ndim=len(shape), offset=float(offset),
                            nested_blocksize=index_arg(nested_blocksize, "nested_blocksize"))
        for i, d in enumerate(shape):
            params.shape[i] = d
        params.dtype.code, params.dtype.bits = DTYPES[resolve_dtype(dtype)]
        params.dtype.lanes = 1
        ta = tensor_in(absmax, "absmax", ctx)
        tn = optional_in(nested_absmax, "nested_absmax", ctx, default_dtype="float32")
        tm = optional_in(nested_quant_map, "nested_quant_map", ctx, default_dtype="float32")
        out = ffi.new("rai_q4_state **")
        check(lib.rai_q4_state_create(ctx._handle(), params, ta.cdata, cdata(tn), cdata(tm), out))
        return cls._adopt(out[0], ctx, codes)

    @property
    def context(self):
        return self._ctx

    def info(self):
        c = new_params("rai_q4_state_info")
        check(lib.rai_q4_state_get_info(self._handle(), c))
        return QuantStateInfo(
            quant_type=_TYPE_NAMES.get(int(c.type), int(c.type)), blocksize=int(c.blocksize),
            double_quant=bool(c.double_quant), nested_blocksize=int(c.nested_blocksize),
            shape=tuple(int(c.shape[i]) for i in range(int(c.ndim))), dtype=_dtype_name(ffi.addressof(c, "dtype")),
            offset=float(c.offset), numel=int(c.numel), blocks=int(c.blocks), nested_blocks=int(c.nested_blocks),
            codes_bytes=int(c.codes_bytes), state_bytes=int(c.state_bytes), device=_device_from_c(c.device))

    # bitsandbytes QuantState's attribute names
    @property
    def quant_type(self):
        return self.info().quant_type

    @property
    def blocksize(self):
        return self.info().blocksize

    @property
    def shape(self):
        return self.info().shape

    @property
    def dtype(self):
        """The rai dtype name of the weight before quantisation ("f32", "f16", "bf16")."""
        return self.info().dtype

    @property
    def offset(self):
        return self.info().offset

    def read(self, field):
        """One array of the state: "absmax" (as stored), "quant_map", "nested_absmax",
        "nested_quant_map" or "absmax_decoded" (the f32 scales dequantisation applies)."""
        code = choice(field, _FIELDS, "field")
        i = self.info()
        size = {lib.RAI_Q4_FIELD_ABSMAX: i.blocks, lib.RAI_Q4_FIELD_QUANT_MAP: 16,
                lib.RAI_Q4_FIELD_NESTED_ABSMAX: i.nested_blocks, lib.RAI_Q4_FIELD_NESTED_QUANT_MAP: 256,
                lib.RAI_Q4_FIELD_ABSMAX_DECODED: i.blocks}[code]
        dtype = "u8" if code == lib.RAI_Q4_FIELD_ABSMAX and i.double_quant else "f32"
        out = allocate(self._ctx, dtype, (size,))
        to = tensor_out(out, "dst", self._ctx)
        check(lib.rai_q4_state_read(self._ctx._handle(), self._handle(), code, to.cdata))
        return out

    @property
    def absmax(self):
        return self.read("absmax")

    @property
    def quant_map(self):
        return self.read("quant_map")

    @property
    def nested(self):
        """NestedState for a double-quantised state, else None."""
        i = self.info()
        if not i.double_quant:
            return None
        return NestedState(self.read("nested_absmax"), self.read("nested_quant_map"), i.nested_blocksize, i.offset)

    def copy(self, ctx=None):
        """A copy of the state on another context's device (host <-> CUDA); codes are shared."""
        ctx = context(ctx)
        out = ffi.new("rai_q4_state **")
        check(lib.rai_q4_state_copy(ctx._handle(), self._handle(), out))
        return QuantState._adopt(out[0], ctx, self.codes)

    def _codes(self, codes):
        codes = self.codes if codes is None else codes
        if codes is None:
            raise invalid("codes: this QuantState has no codes; pass codes=")
        return tensor_in(codes, "codes", self._ctx)

    def __repr__(self):
        if self.closed:
            return "<rai.quant4.QuantState closed>"
        i = self.info()
        dq = " double-quant" if i.double_quant else ""
        return (f"<rai.quant4.QuantState {i.quant_type} blocksize={i.blocksize}{dq} shape={list(i.shape)} "
                f"dtype={i.dtype} on {i.device}>")


for _cls in (QuantStateInfo, QuantState, NestedState):
    _cls.__module__ = "rai.quant4"


def quantize_4bit(x, quant_type="nf4", blocksize=64, compress_statistics=False, dtype=None, ctx=None):
    """Quantises x (f32, f16 or bf16; contiguous; any shape) into a QuantState whose .codes are
    u8 [(n + 1) // 2, 1]. compress_statistics: double quantisation (8-bit absmax). `dtype`
    reinterprets x's elements (e.g. "bf16" for a uint16 array of bf16 bit patterns)."""
    ctx = context(ctx)
    params = new_params("rai_q4_params", type=choice(quant_type, QUANT_TYPES, "quant_type"),
                        blocksize=index_arg(blocksize, "blocksize"), double_quant=1 if compress_statistics else 0)
    tx = tensor_in(x, "x", ctx, dtype=dtype, default_dtype="float32")
    n = 1
    for d in tx.shape:
        n *= d
    codes = allocate(ctx, "u8", ((n + 1) // 2, 1))
    out = ffi.new("rai_q4_state **")
    tc = tensor_out(codes, "codes", ctx)
    check(lib.rai_q4_quantize(ctx._handle(), params, tx.cdata, tc.cdata, out))
    return QuantState._adopt(out[0], ctx, codes)


def _float_dtype(dtype, default):
    name = default if dtype is None else resolve_dtype(dtype)
    if name not in _FLOAT_DTYPES:
        raise invalid(f"dtype={dtype!r}: 4-bit weights dequantise to float32, float16 or bfloat16")
    return name


def dequantize_4bit(state, dtype=None, codes=None, out=None):
    """code[q] * absmax as `dtype` (default: the state's original dtype) in the state's shape;
    bf16 on the host is a uint16 array of bit patterns."""
    _state(state)
    name = _float_dtype(dtype, state.dtype if state.dtype in _FLOAT_DTYPES else "f32")
    out, to = out_or_new(out, state._ctx, name, state.shape)
    tc = state._codes(codes)
    check(lib.rai_q4_dequantize(state._ctx._handle(), state._handle(), tc.cdata, to.cdata))
    return out


def linear_4bit(x, state, bias=None, codes=None, dtype=None, out=None):
    """y[..., N] = x[..., K] . W^T (+ bias[N]) with W the 2-D 4-bit weight [N, K]: x f32, f16 or
    bf16 (dtype="bf16" reinterprets uint16), y and bias the same dtype, fp32 accumulation. M <= 4
    rows take the fused GEMV; larger M dequantise then GEMM."""
    _state(state)
    ctx = state._ctx
    tx = tensor_in(x, "x", ctx, dtype=dtype, default_dtype="float32")
    tb = optional_in(bias, "bias", ctx, dtype=dtype, default_dtype="float32")
    shape = state.shape
    if len(shape) != 2:
        raise invalid(f"state: linear_4bit needs a 2-D weight [N, K], the state has shape {list(shape)}")
    out, to = out_or_new(out, ctx, tx.dtype, tuple(tx.shape[:-1]) + (shape[0],))
    tc = state._codes(codes)
    check(lib.rai_q4_linear_forward(ctx._handle(), state._handle(), tc.cdata, tx.cdata, cdata(tb), to.cdata))
    return out


def linear_4bit_grad_input(dy, state, codes=None, dtype=None, out=None):
    """dx[..., K] = dy[..., N] . W: the input gradient through the frozen 4-bit weight."""
    _state(state)
    ctx = state._ctx
    tdy = tensor_in(dy, "dy", ctx, dtype=dtype, default_dtype="float32")
    shape = state.shape
    if len(shape) != 2:
        raise invalid(f"state: linear_4bit_grad_input needs a 2-D weight [N, K], the state has shape {list(shape)}")
    out, to = out_or_new(out, ctx, tdy.dtype, tuple(tdy.shape[:-1]) + (shape[1],))
    tc = state._codes(codes)
    check(lib.rai_q4_linear_backward_input(ctx._handle(), state._handle(), tc.cdata, tdy.cdata, to.cdata))
    return out


def _state(state):
    if not isinstance(state, QuantState):
        raise TypeError(f"state must be a rai.quant4.QuantState, got {type(state).__name__}")
    state._handle()


__all__ = ["QuantState", "QuantStateInfo", "NestedState", "codebook", "codes_size", "quantize_4bit",
           "dequantize_4bit", "linear_4bit", "linear_4bit_grad_input", "QUANT_TYPES"]
