"""BitNet b1.58: ternary weights times a scale, int8 activations, the packed layouts others read,
and ternary GEMM / BitLinear (docs/bitnet.md).

    from rai import bitnet
    trits, scales = bitnet.quantize_weights(w)                    # group 64 absmean (Rust parity)
    q, s = bitnet.quantize_activations(x)                         # per-token absmax int8
    packed = bitnet.pack(trits, "tq2_0", scales=row_scales)       # llama.cpp TQ2_0 bytes
    with bitnet.BitLinear(w, bias) as layer:
        y = layer(x, mode="w2a8")                                 # or "wfp", "fakeq"

Functions take numpy arrays, DLPack tensors (PyTorch, ...) or rai Tensors and return numpy arrays
on a CPU context; `ctx=None` uses a process-wide CPU context. On a CUDA context (activation
quantization, STE, GEMM, BitLinear) outputs are rai Tensors over device Buffers unless `out=`
is given. Scales are always the dequantization multiplier (w ~= trit * scale); their shape says
the granularity: [1] tensor, [out] row, [out, in / group_size] group.
"""

import dataclasses

from ._arrays import allocate, cdata, context, numpy, optional_in, out_or_new, tensor_in, tensor_out
from ._c_out import choice, index_arg, invalid, new_params
from ._backend import ffi, lib
from ._context import Device, _device_from_c
from ._errors import ShapeMismatchError, Status, check
from ._handle import Handle

GRANULARITIES = {"group": lib.RAI_BITNET_GRANULARITY_GROUP, "row": lib.RAI_BITNET_GRANULARITY_ROW,
                 "tensor": lib.RAI_BITNET_GRANULARITY_TENSOR}
EPS_MODES = {"rust": lib.RAI_BITNET_EPS_RUST, "clamp": lib.RAI_BITNET_EPS_CLAMP}
ROUND_MODES = {"half_away": lib.RAI_BITNET_ROUND_HALF_AWAY, "half_even": lib.RAI_BITNET_ROUND_HALF_EVEN}
ACT_SCALE_MODES = {"rust": lib.RAI_BITNET_ACT_RUST, "official": lib.RAI_BITNET_ACT_OFFICIAL}
LAYOUTS = {"planes": lib.RAI_TERNARY_LAYOUT_PLANES, "byte2": lib.RAI_TERNARY_LAYOUT_BYTE2,
           "u32_16": lib.RAI_TERNARY_LAYOUT_U32_16, "i2_s": lib.RAI_TERNARY_LAYOUT_I2_S,
           "tq1_0": lib.RAI_TERNARY_LAYOUT_TQ1_0, "tq2_0": lib.RAI_TERNARY_LAYOUT_TQ2_0}
MODES = {"wfp": lib.RAI_BITLINEAR_WFP, "fakeq": lib.RAI_BITLINEAR_FAKEQ, "w2a8": lib.RAI_BITLINEAR_W2A8}

# ------------------------------------------------------------------ params


def weight_params(granularity="group", group_size=64, eps_mode="rust", round_mode="half_away", eps=0.0):
    """A rai_bitnet_weight_params * (defaults: group 64, Rust eps and rounding)."""
    return new_params("rai_bitnet_weight_params",
                      granularity=choice(granularity, GRANULARITIES, "granularity"),
                      group_size=index_arg(group_size, "group_size"),
                      eps_mode=choice(eps_mode, EPS_MODES, "eps_mode"),
                      round_mode=choice(round_mode, ROUND_MODES, "round_mode"), eps=float(eps))


def act_params(bits=8, scale_mode="rust", round_mode="half_away", per_tensor=False, eps=0.0):
    """A rai_bitnet_act_params * (defaults: 8 bits, per token, Rust scale convention: the stored
    scale is the multiplier absmax / Qmax; "official" stores the divisor Qmax / absmax)."""
    return new_params("rai_bitnet_act_params", bits=index_arg(bits, "bits"),
                      scale_mode=choice(scale_mode, ACT_SCALE_MODES, "scale_mode"),
                      round_mode=choice(round_mode, ROUND_MODES, "round_mode"),
                      per_tensor=1 if per_tensor else 0, eps=float(eps))


def _act(act):
    """The act keyword dict (or None for defaults) as params."""
    return act_params(**(act or {}))


def weight_scale_shape(out_features, in_features, granularity="group", group_size=64):
    """The scale tensor shape of a weight [out, in] at a granularity."""
    g = choice(granularity, GRANULARITIES, "granularity")
    if g == lib.RAI_BITNET_GRANULARITY_TENSOR:
        return (1,)
    if g == lib.RAI_BITNET_GRANULARITY_ROW:
        return (out_features,)
    group_size = index_arg(group_size, "group_size") or 64
    return (out_features, in_features // group_size if in_features % group_size == 0 else 0)


def _token_scale_shape(shape, per_tensor):
    if per_tensor or len(shape) <= 1:
        return (1,)
    return tuple(shape[:-1])


# ------------------------------------------------------------------ weights


def quantize_weights(w, granularity="group", group_size=64, eps_mode="rust", round_mode="half_away", eps=0.0,
                     ctx=None):
    """Absmean ternarization of w (f32, bf16 or f16 [out, in]; CPU contexts) -> (trits int8
    [out, in], scales f32 in the granularity's shape). A group that does not divide `in` is
    InvalidArgumentError; a non-finite weight too."""
    ctx = context(ctx)
    params = weight_params(granularity, group_size, eps_mode, round_mode, eps)
    tw = tensor_in(w, "w", ctx, default_dtype="float32")
    if tw.ndim != 2:
        raise ShapeMismatchError(Status.SHAPE_MISMATCH, f"w must be 2-D [out, in], got shape {list(tw.shape)}")
    rows, cols = tw.shape
    sshape = weight_scale_shape(rows, cols, granularity, params.group_size)
    trits = allocate(ctx, "i8", (rows, cols))
    scales = allocate(ctx, "f32", sshape)
    tt, ts = tensor_out(trits, "trits", ctx), tensor_out(scales, "scales", ctx)
    check(lib.rai_bitnet_quantize_weights(ctx._handle(), params, tw.cdata, tt.cdata, ts.cdata))
    return trits, scales


def dequantize_weights(trits, scales, ctx=None, out=None):
    """w = trit * scale, f32 [out, in] (CPU contexts)."""
    ctx = context(ctx)
    tt = tensor_in(trits, "trits", ctx, default_dtype="int8")
    ts = tensor_in(scales, "scales", ctx, default_dtype="float32")
    out, to = out_or_new(out, ctx, "f32", tt.shape)
    check(lib.rai_bitnet_dequantize_weights(ctx._handle(), tt.cdata, ts.cdata, to.cdata))
    return out


# ------------------------------------------------------------------ activations


def quantize_activations(x, bits=8, scale_mode="rust", round_mode="half_away", per_tensor=False, eps=0.0,
                         ctx=None):
    """Absmax quantization per token (each row of x's flattened [tokens, hidden]) -> (q int8 of
    x's shape, scales f32 of x's leading shape, or [1] with per_tensor or a 1-D x)."""
    ctx = context(ctx)
    params = act_params(bits, scale_mode, round_mode, per_tensor, eps)
    tx = tensor_in(x, "x", ctx, default_dtype="float32")
    q = allocate(ctx, "i8", tx.shape)
    scales = allocate(ctx, "f32", _token_scale_shape(tx.shape, per_tensor))
    tq, ts = tensor_out(q, "q", ctx), tensor_out(scales, "scales", ctx)
    check(lib.rai_bitnet_quantize_activations(ctx._handle(), params, tx.cdata, tq.cdata, ts.cdata))
    return q, scales


def dequantize_activations(q, scales, bits=8, scale_mode="rust", round_mode="half_away", per_tensor=False,
                           eps=0.0, ctx=None, out=None):
    """x = q * scale (rust) or q / s (official), f32 of q's shape."""
    ctx = context(ctx)
    params = act_params(bits, scale_mode, round_mode, per_tensor, eps)
    tq = tensor_in(q, "q", ctx, default_dtype="int8")
    ts = tensor_in(scales, "scales", ctx, default_dtype="float32")
    out, to = out_or_new(out, ctx, "f32", tq.shape)
    check(lib.rai_bitnet_dequantize_activations(ctx._handle(), params, tq.cdata, ts.cdata, to.cdata))
    return out


def rmsnorm_quantize(x, gamma=None, norm_eps=0.0, bits=8, scale_mode="rust", round_mode="half_away",
                     per_tensor=False, eps=0.0, ctx=None):
    """SubLN then activation quantization: y = x / sqrt(mean(x^2) + norm_eps) * gamma (gamma None
    = ones; norm_eps <= 0 means 1e-6) -> (q, scales) as quantize_activations gives them."""
    ctx = context(ctx)
    params = act_params(bits, scale_mode, round_mode, per_tensor, eps)
    tx = tensor_in(x, "x", ctx, default_dtype="float32")
    tg = optional_in(gamma, "gamma", ctx, default_dtype="float32")
    q = allocate(ctx, "i8", tx.shape)
    scales = allocate(ctx, "f32", _token_scale_shape(tx.shape, per_tensor))
    tq, ts = tensor_out(q, "q", ctx), tensor_out(scales, "scales", ctx)
    check(lib.rai_bitnet_rmsnorm_quantize(ctx._handle(), params, tx.cdata, cdata(tg), float(norm_eps),
                                          tq.cdata, ts.cdata))
    return q, scales


def ste_forward(x, scale=1.0, lo=-1.0, hi=1.0, round_mode="half_away", ctx=None, out=None):
    """Straight-through estimator forward: clamp(round(x / scale), lo, hi) * scale (f32). Ternary:
    lo, hi = -1, 1 (the default); int8: -127, 127."""
    ctx = context(ctx)
    tx = tensor_in(x, "x", ctx, default_dtype="float32")
    out, to = out_or_new(out, ctx, "f32", tx.shape)
    check(lib.rai_bitnet_ste_forward(ctx._handle(), tx.cdata, float(scale), float(lo), float(hi),
                                     choice(round_mode, ROUND_MODES, "round_mode"), to.cdata))
    return out


def ste_backward(grad_y, ctx=None, out=None):
    """Straight-through estimator backward: grad_x = grad_y (f32)."""
    ctx = context(ctx)
    tg = tensor_in(grad_y, "grad_y", ctx, default_dtype="float32")
    out, to = out_or_new(out, ctx, "f32", tg.shape)
    check(lib.rai_bitnet_ste_backward(ctx._handle(), tg.cdata, to.cdata))
    return out


# ------------------------------------------------------------------ packed layouts (host memory)


def packed_size(layout, rows, cols):
    """Bytes a [rows, cols] trit matrix takes in `layout` ("planes", "byte2", "u32_16", "i2_s",
    "tq1_0", "tq2_0"); ShapeMismatchError naming the block size when it cannot hold the shape."""
    out = ffi.new("size_t *")
    check(lib.rai_ternary_packed_size(choice(layout, LAYOUTS, "layout"), index_arg(rows, "rows"),
                                      index_arg(cols, "cols"), out))
    return int(out[0])


def pack(trits, layout, scales=None, out=None):
    """int8 trits [rows, cols] -> u8 bytes in `layout`. scales: None for planes / byte2 / u32_16;
    one value for i2_s; for tq1_0 / tq2_0 any BitNet scale shape constant within every
    256-column block (stored as f16)."""
    np = numpy()
    tt = tensor_in(trits, "trits", default_dtype="int8")
    if tt.ndim != 2:
        raise invalid(f"trits must be 2-D [rows, cols], got {tt.ndim}-D")
    code = choice(layout, LAYOUTS, "layout")
    ts = optional_in(scales, "scales", default_dtype="float32")
    if out is None:
        out = np.zeros(packed_size(code, *tt.shape), dtype=np.uint8)
    to = tensor_out(out, "packed")
    check(lib.rai_ternary_pack(code, tt.cdata, cdata(ts), to.cdata))
    return out


_SCALED = {lib.RAI_TERNARY_LAYOUT_I2_S, lib.RAI_TERNARY_LAYOUT_TQ1_0, lib.RAI_TERNARY_LAYOUT_TQ2_0}


def unpack(packed, layout, shape, with_scales=False):
    """u8 bytes (exactly packed_size) -> int8 trits of `shape` (rows, cols); with with_scales
    (i2_s: f32 [1]; tq1_0 / tq2_0: f32 [rows, cols / 256]) -> (trits, scales). Invalid codes are
    FormatError."""
    np = numpy()
    code = choice(layout, LAYOUTS, "layout")
    rows, cols = (index_arg(d, "shape[]") for d in shape)
    tp = tensor_in(packed, "packed", default_dtype="uint8")
    trits = np.empty((rows, cols), dtype=np.int8)
    scales = None
    if with_scales:
        if code not in _SCALED:
            raise invalid(f"layout {layout!r} holds no scales; call unpack without with_scales")
        scales = np.empty((1,) if code == lib.RAI_TERNARY_LAYOUT_I2_S else (rows, cols // 256), dtype=np.float32)
    tt = tensor_out(trits, "trits")
    ts = None if scales is None else tensor_out(scales, "scales")
    check(lib.rai_ternary_unpack(code, tp.cdata, tt.cdata, cdata(ts)))
    return (trits, scales) if with_scales else trits


def quantize_tq(x, layout="tq2_0"):
    """llama.cpp's reference TQ quantizer, bit for bit: x f32 [rows, cols], cols % 256 == 0 ->
    TQ1_0 / TQ2_0 bytes (u8)."""
    np = numpy()
    code = choice(layout, LAYOUTS, "layout")
    tx = tensor_in(x, "x", default_dtype="float32")
    if tx.ndim != 2:
        raise invalid(f"x must be 2-D [rows, cols], got {tx.ndim}-D")
    out = np.zeros(packed_size(code, *tx.shape), dtype=np.uint8)
    to = tensor_out(out, "packed")
    check(lib.rai_ternary_quantize_tq(code, tx.cdata, to.cdata))
    return out


# ------------------------------------------------------------------ prepared weights


@dataclasses.dataclass(frozen=True)
class TernaryWeightInfo:
    """rai_ternary_weight_info."""
    granularity: str
    out_features: int
    in_features: int
    group_size: int
    scale_count: int
    packed_bytes: int
    nonzero: int
    sparsity: float
    compression_ratio: float
    device: Device


_GRANULARITY_NAMES = {v: k for k, v in GRANULARITIES.items()}


class TernaryWeight(Handle):
    """A ternary weight prepared for the fast kernels of ctx's device (rai_ternary_weight):
    TernaryWeight(trits int8 [out, in], scales, ctx=None). The host data is copied."""

    _KIND = "rai.bitnet.TernaryWeight"

    def __init__(self, trits, scales, ctx=None):
        ctx = context(ctx)
        tt = tensor_in(trits, "trits", default_dtype="int8")
        ts = tensor_in(scales, "scales", default_dtype="float32")
        out = ffi.new("rai_ternary_weight **")
        check(lib.rai_ternary_weight_create(ctx._handle(), tt.cdata, ts.cdata, out))
        self._own(out[0], lib.rai_ternary_weight_destroy, keep=(ctx,))
        self._ctx = ctx

    @classmethod
    def from_float(cls, w, granularity="group", group_size=64, eps_mode="rust", round_mode="half_away",
                   eps=0.0, ctx=None):
        """Quantizes w on the host (quantize_weights), then prepares it for ctx's device."""
        trits, scales = quantize_weights(w, granularity, group_size, eps_mode, round_mode, eps)
        return cls(trits, scales, ctx)

    @classmethod
    def _borrowed(cls, raw, owner, ctx):
        """A view of a weight owned by `owner` (a BitLinear): never destroyed by this object."""
        obj = cls.__new__(cls)
        obj._borrow(raw, keep=(owner, ctx))
        obj._ctx = ctx
        return obj

    @property
    def context(self):
        return self._ctx

    def info(self):
        c = new_params("rai_ternary_weight_info")
        check(lib.rai_ternary_weight_get_info(self._handle(), c))
        return TernaryWeightInfo(
            granularity=_GRANULARITY_NAMES.get(int(c.granularity), int(c.granularity)),
            out_features=int(c.out_features), in_features=int(c.in_features), group_size=int(c.group_size),
            scale_count=int(c.scale_count), packed_bytes=int(c.packed_bytes), nonzero=int(c.nonzero),
            sparsity=float(c.sparsity), compression_ratio=float(c.compression_ratio),
            device=_device_from_c(c.device))

    @property
    def shape(self):
        i = self.info()
        return i.out_features, i.in_features

    @property
    def sparsity(self):
        return self.info().sparsity

    @property
    def compression_ratio(self):
        return self.info().compression_ratio

    def _scale_shape(self, i):
        if i.granularity == "tensor":
            return (1,)
        if i.granularity == "row":
            return (i.out_features,)
        return (i.out_features, i.scale_count // max(i.out_features, 1))

    def unpack(self):
        """(trits int8 [out, in], scales f32) back on the host."""
        np = numpy()
        i = self.info()
        trits = np.empty((i.out_features, i.in_features), dtype=np.int8)
        scales = np.empty(self._scale_shape(i), dtype=np.float32)
        tt, ts = tensor_out(trits, "trits"), tensor_out(scales, "scales")
        check(lib.rai_ternary_weight_unpack(self._ctx._handle(), self._handle(), tt.cdata, ts.cdata))
        return trits, scales

    def gemm(self, x, x_scales=None, bias=None, act=None, out=None, out_dtype=None):
        """y[..., out] = x[..., in] . dequant(W)^T (+ bias).
          x f32/bf16: float GEMM, y f32.
          x int8 with x_scales (f32 [tokens] or [1]; act={"scale_mode": ...} says multiplier or
            divisor): the W2A8 path with exact int32 sums, y f32.
          x int8 without x_scales: the raw integer dot, y int32 (out_dtype defaults to "i32")."""
        ctx = self._ctx
        tx = tensor_in(x, "x", ctx, default_dtype="float32")
        txs = optional_in(x_scales, "x_scales", ctx, default_dtype="float32")
        tb = optional_in(bias, "bias", ctx, default_dtype="float32")
        if out_dtype is None:
            out_dtype = "i32" if tx.dtype == "i8" and txs is None else "f32"
        out, to = out_or_new(out, ctx, out_dtype, tuple(tx.shape[:-1]) + (self.shape[0],))
        params = ffi.NULL if act is None else _act(act)
        check(lib.rai_ternary_gemm(ctx._handle(), self._handle(), tx.cdata, cdata(txs), params, cdata(tb),
                                   to.cdata))
        return out

    def __repr__(self):
        if self.closed:
            return "<rai.bitnet.TernaryWeight closed>"
        i = self.info()
        return f"<rai.bitnet.TernaryWeight [{i.out_features}, {i.in_features}] {i.granularity} on {i.device}>"


class BitLinear(Handle):
    """BitLinear(weight, bias=None, ctx=None, granularity="group", group_size=64, ..., act=None):
    quantizes a host weight (f32/bf16/f16 [out, in]) and keeps a copy of bias (f32 [out]) on ctx's
    device. `act` is a dict of activation settings (bits, scale_mode, round_mode, per_tensor,
    eps) used by the "fakeq" and "w2a8" modes. layer(x, mode="wfp") runs forward."""

    _KIND = "rai.bitnet.BitLinear"

    def __init__(self, weight, bias=None, ctx=None, granularity="group", group_size=64, eps_mode="rust",
                 round_mode="half_away", eps=0.0, act=None):
        ctx = context(ctx)
        wparams = weight_params(granularity, group_size, eps_mode, round_mode, eps)
        tw = tensor_in(weight, "weight", default_dtype="float32")
        tb = optional_in(bias, "bias", default_dtype="float32")
        out = ffi.new("rai_bitlinear **")
        check(lib.rai_bitlinear_create(ctx._handle(), wparams, _act(act), tw.cdata, cdata(tb), out))
        self._own(out[0], lib.rai_bitlinear_destroy, keep=(ctx,))
        self._ctx = ctx

    @classmethod
    def from_trits(cls, trits, scales, bias=None, ctx=None, act=None):
        """From already ternary weights (int8 [out, in]) and scales, in host memory."""
        ctx = context(ctx)
        tt = tensor_in(trits, "trits", default_dtype="int8")
        ts = tensor_in(scales, "scales", default_dtype="float32")
        tb = optional_in(bias, "bias", default_dtype="float32")
        out = ffi.new("rai_bitlinear **")
        check(lib.rai_bitlinear_create_from_trits(ctx._handle(), _act(act), tt.cdata, ts.cdata, cdata(tb), out))
        obj = cls.__new__(cls)
        obj._own(out[0], lib.rai_bitlinear_destroy, keep=(ctx,))
        obj._ctx = ctx
        return obj

    @property
    def context(self):
        return self._ctx

    @property
    def weight(self):
        """The layer's TernaryWeight (borrowed: it keeps this layer alive, and closing it does not
        free the layer's weight)."""
        out = ffi.new("rai_ternary_weight **")
        check(lib.rai_bitlinear_weight(self._handle(), ffi.cast("const rai_ternary_weight **", out)))
        return TernaryWeight._borrowed(out[0], self, self._ctx)

    @property
    def in_features(self):
        return self.weight.shape[1]

    @property
    def out_features(self):
        return self.weight.shape[0]

    def forward(self, x, mode="wfp", out=None):
        """x f32/bf16 [..., in] -> y f32 [..., out]. mode "wfp" (full-precision activations),
        "fakeq" (quantize-dequantize activations, float matmul) or "w2a8" (int8 activations,
        int32 sums)."""
        ctx = self._ctx
        tx = tensor_in(x, "x", ctx, default_dtype="float32")
        out, to = out_or_new(out, ctx, "f32", tuple(tx.shape[:-1]) + (self.out_features,))
        check(lib.rai_bitlinear_forward(ctx._handle(), self._handle(), choice(mode, MODES, "mode"), tx.cdata,
                                        to.cdata))
        return out

    __call__ = forward

    def __repr__(self):
        if self.closed:
            return "<rai.bitnet.BitLinear closed>"
        return f"<rai.bitnet.BitLinear in={self.in_features} out={self.out_features} on {self._ctx.device}>"


for _cls in (TernaryWeightInfo, TernaryWeight, BitLinear):
    _cls.__module__ = "rai.bitnet"

__all__ = ["weight_params", "act_params", "weight_scale_shape", "quantize_weights", "dequantize_weights",
           "quantize_activations", "dequantize_activations", "rmsnorm_quantize", "ste_forward", "ste_backward",
           "packed_size", "pack", "unpack", "quantize_tq", "TernaryWeight", "TernaryWeightInfo", "BitLinear",
           "GRANULARITIES", "EPS_MODES", "ROUND_MODES", "ACT_SCALE_MODES", "LAYOUTS", "MODES"]
