"""Parameter-efficient adapters with HF PEFT semantics and files (rai.h section "adapters: LoRA
family", docs/adapters.md): LoRA (rsLoRA, DoRA), IA3, VeRA, LoHa, LoKr and QLoRA.

Two levels, as in C:

* lora_linear_forward / lora_linear_backward / qlora_linear_* / lora_linear_forward_mixed: one
  LoRA or DoRA linear layer on caller tensors (numpy, or anything with __dlpack__ such as a
  PyTorch tensor), on a CPU or CUDA Context;
* AdapterModel: frozen linear base modules registered by name and named adapters over them
  (PEFT target matching, init, forward/backward, merge/unmerge, several adapters, PEFT
  directories). State in host memory; compute on the context's device.

Adapter options are keyword arguments spelt as PEFT's LoraConfig spells them (r, lora_alpha,
lora_dropout, use_rslora, use_dora, init_lora_weights, fan_in_fan_out, bias, lora_bias,
target_modules, exclude_modules, rank_pattern, alpha_pattern, ...).

    m = rai.AdapterModel(ctx)
    m.add_linear("model.layers.0.self_attn.q_proj", w_q)
    m.add("mine", r=16, lora_alpha=32, target_modules=["q_proj"], use_rslora=True)
    y = m.forward("model.layers.0.self_attn.q_proj", x)
"""

import collections
import enum
import json
import operator

from ._backend import ffi, lib
from ._arrays import cdata, optional_in, output
from ._c_out import c_enum, encode_name, enum_arg, fill_struct, name_array, new_params, take_json, take_string
from ._context import Context
from ._errors import InvalidArgumentError, Status, check
from ._handle import Handle
from ._tensor import as_tensor, resolve_dtype



PeftType = c_enum("rai_peft_type", "RAI_PEFT_", "PeftType", "rai_peft_type: the PEFT tuner.")
AdapterInit = c_enum("rai_adapter_init", "RAI_ADAPTER_INIT_", "AdapterInit",
                      "rai_adapter_init: how new adapter weights start.")
AdapterBias = c_enum("rai_adapter_bias", "RAI_ADAPTER_BIAS_", "AdapterBias",
                      "rai_adapter_bias: which base biases an adapter trains (PEFT bias).")


class Combination(enum.IntEnum):
    """rai_adapter_add_weighted combinations (PEFT add_weighted_adapter's combination_type)."""
    CAT = lib.RAI_ADAPTER_COMBINE_CAT        # exact: ranks concatenated
    LINEAR = lib.RAI_ADAPTER_COMBINE_LINEAR  # equal ranks, factors scaled by sqrt(w*s)


Combination.__module__ = "rai"


def _init_value(value):
    """PEFT's init_lora_weights: True = default, False = random (PEFT's non-identity init),
    "gaussian", or an AdapterInit (NONE: zeros, for loading)."""
    if value is True:
        return AdapterInit.DEFAULT
    if value is False:
        return AdapterInit.RANDOM
    return enum_arg(AdapterInit, value, "init_lora_weights")


def _json_or_none(value, what):
    if value is None:
        return None
    if isinstance(value, (set, frozenset, tuple)):
        value = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    try:
        return json.dumps(value)
    except TypeError:
        raise TypeError(f"{what} must be JSON-serialisable (a list, a str or a dict), "
                        f"got {type(value).__name__}") from None


# PEFT spelling -> rai_adapter_params field, for the plain numeric options.
_ALIASES = {"lora_alpha": "alpha", "alpha": "alpha", "lora_dropout": "dropout",
            "vera_dropout": "dropout", "dropout": "dropout", "r": "r", "init_r": "r", "seed": "seed",
            "d_initial": "vera_d_initial", "vera_d_initial": "vera_d_initial",
            "rank_dropout": "rank_dropout", "module_dropout": "module_dropout",
            "decompose_factor": "decompose_factor"}
_INIT_KEYS = ("init_lora_weights", "init_weights", "init_ia3_weights")
_JSON_KEYS = ("target_modules", "exclude_modules", "rank_pattern", "alpha_pattern",
              "feedforward_modules")
_FLAG_KEYS = {"use_rslora": lib.RAI_ADAPTER_RSLORA, "use_dora": lib.RAI_ADAPTER_DORA,
              "fan_in_fan_out": lib.RAI_ADAPTER_FAN_IN_FAN_OUT, "lora_bias": lib.RAI_ADAPTER_LORA_BIAS}


def adapter_params(peft_type="lora", **options):
    """A filled `rai_adapter_params *` (and the keep-alive list of its strings) from PEFT-style
    keyword arguments. Unknown keywords raise TypeError naming them."""
    params = new_params("rai_adapter_params")
    params.peft_type = int(enum_arg(PeftType, peft_type, "peft_type"))
    keep = []
    numeric, flags = {}, 0
    for key, value in options.items():
        if key in _ALIASES:
            numeric[_ALIASES[key]] = value
        elif key in _INIT_KEYS:
            params.init = int(_init_value(value))
        elif key in _FLAG_KEYS:
            flags |= _FLAG_KEYS[key] if value else 0
        elif key == "bias":
            params.bias = int(enum_arg(AdapterBias, value, "bias"))
        elif key in _JSON_KEYS:
            text = _json_or_none(value, key)
            if text is not None:
                c_text = ffi.new("char[]", text.encode("utf-8"))
                keep.append(c_text)
                setattr(params, key, c_text)
        else:
            raise TypeError(f"adapter option {key!r} is not known (PEFT-style names: r, lora_alpha, "
                            f"init_r, lora_dropout, use_rslora, use_dora, init_lora_weights, fan_in_fan_out, "
                            f"bias, lora_bias, target_modules, exclude_modules, rank_pattern, "
                            f"alpha_pattern, feedforward_modules, d_initial, rank_dropout, "
                            f"module_dropout, decompose_factor, seed)")
    params.flags = flags
    fill_struct(params, numeric, "adapter params")
    return params, keep


def _lora_params(scaling, dropout, training, accumulate, seed, step):
    p = new_params("rai_lora_linear_params")
    fill_struct(p, {"scaling": scaling, "dropout": dropout, "seed": seed, "step": step},
                "lora linear params")
    p.flags = (lib.RAI_LORA_TRAINING if training else 0) | (lib.RAI_LORA_ACCUMULATE if accumulate else 0)
    return p


def _context_handle(ctx):
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
    return ctx._handle()


def _q4_handle(state):
    """The `rai_q4_state *` of a 4-bit state: a cffi pointer, or an object exposing it as
    .cdata (or ._handle())."""
    if hasattr(state, "_handle"):
        state = state._handle()
    elif hasattr(state, "cdata"):
        state = state.cdata
    if not isinstance(state, ffi.CData) or ffi.typeof(state) is not ffi.typeof("rai_q4_state *"):
        raise TypeError(f"state must be a rai_q4_state (a 4-bit state from the quantization "
                        f"binding), got {type(state).__name__}")
    return state


# ------------------------------------------------------------------ functional LoRA layer

LoraGrads = collections.namedtuple("LoraGrads", "dx d_a d_b d_magnitude")
LoraGrads.__doc__ = "Gradients from lora_linear_backward; None for the ones not asked for."


def _lora_output_shape(x, n_out, what):
    if x.ndim != 2:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"x must be 2-D [M, K], got {list(x.shape)}")
    return (x.shape[0], n_out)


def lora_linear_forward(ctx, x, weight, lora_a, lora_b, *, bias=None, magnitude=None, scaling=1.0,
                        dropout=0.0, training=False, seed=0, step=0, out=None):
    """y[M,N] = x·Wᵀ + bias + s·B(A(drop(x))) (DoRA with `magnitude` [N]); rai_lora_linear_forward.

    x [M,K], weight [N,K], lora_a [r,K], lora_b [N,r]. Returns `out` (a new numpy array of x's
    dtype when None; tensors on a CUDA context need out=)."""
    handle = _context_handle(ctx)
    tx, tw = as_tensor(x, what="x"), as_tensor(weight, what="weight")
    ta, tb = as_tensor(lora_a, what="lora_a"), as_tensor(lora_b, what="lora_b")
    tbias, tmag = optional_in(bias, "bias"), optional_in(magnitude, "magnitude")
    y, ty = output(out, _lora_output_shape(tx, tw.shape[0] if tw.ndim == 2 else -1, "y"), tx.dtype, "out")
    params = _lora_params(scaling, dropout, training, False, seed, step)
    check(lib.rai_lora_linear_forward(handle, params, tx.cdata, tw.cdata, cdata(tbias), ta.cdata,
                                      tb.cdata, cdata(tmag), ty.cdata))
    return y


def _grad_outputs(want, given, shape, dtype, what):
    if given is not None:
        return output(given, shape, dtype, what)
    if want:
        return output(None, shape, dtype, what)
    return None, None


def _backward_args(tx, ta, tb, dy, magnitude, accumulate, need_dx, dx, d_a, d_b, d_magnitude):
    """What lora_linear_backward and qlora_linear_backward share: (dy tensor, magnitude tensor or
    None, [(result, tensor)] for dx, d_a, d_b, d_magnitude; (None, None) where not wanted)."""
    tdy, tmag = as_tensor(dy, what="dy"), optional_in(magnitude, "magnitude")
    if accumulate and (d_a is None or d_b is None):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "accumulate=True needs d_a and d_b to add into")
    outs = [_grad_outputs(need_dx, dx, tx.shape, tx.dtype, "dx"),
            _grad_outputs(True, d_a, ta.shape, "f32", "d_a"),
            _grad_outputs(True, d_b, tb.shape, "f32", "d_b"),
            _grad_outputs(tmag is not None, d_magnitude, tmag.shape if tmag is not None else (0,), "f32",
                          "d_magnitude")]
    return tdy, tmag, outs


def lora_linear_backward(ctx, x, weight, lora_a, lora_b, dy, *, magnitude=None, scaling=1.0,
                         dropout=0.0, training=False, seed=0, step=0, accumulate=False,
                         need_dx=True, dx=None, d_a=None, d_b=None, d_magnitude=None):
    """Gradients of lora_linear_forward for upstream dy [M,N] (rai_lora_linear_backward).

    Returns LoraGrads(dx, d_a, d_b, d_magnitude): new numpy arrays (d_* f32, dx in x's dtype)
    unless given; dx is None with need_dx=False, d_magnitude None without DoRA. With
    accumulate=True the gradients are added into the given d_a/d_b/d_magnitude."""
    handle = _context_handle(ctx)
    tx, tw = as_tensor(x, what="x"), as_tensor(weight, what="weight")
    ta, tb = as_tensor(lora_a, what="lora_a"), as_tensor(lora_b, what="lora_b")
    tdy, tmag, outs = _backward_args(tx, ta, tb, dy, magnitude, accumulate, need_dx, dx, d_a, d_b, d_magnitude)
    params = _lora_params(scaling, dropout, training, accumulate, seed, step)
    check(lib.rai_lora_linear_backward(handle, params, tx.cdata, tw.cdata, ta.cdata, tb.cdata,
                                       cdata(tmag), tdy.cdata,
                                       *(cdata(t) for _, t in outs)))
    return LoraGrads(*(o for o, _ in outs))


def qlora_linear_forward(ctx, x, state, codes, lora_a, lora_b, *, out_features, bias=None,
                         magnitude=None, scaling=1.0, dropout=0.0, training=False, seed=0, step=0,
                         out=None):
    """lora_linear_forward over a frozen 4-bit base (rai_qlora_linear_forward): `state` a 2-D
    [N, K] NF4/FP4 state and `codes` its packed codes. out_features = N."""
    handle = _context_handle(ctx)
    tx, tc = as_tensor(x, what="x"), as_tensor(codes, what="codes")
    ta, tb = as_tensor(lora_a, what="lora_a"), as_tensor(lora_b, what="lora_b")
    tbias, tmag = optional_in(bias, "bias"), optional_in(magnitude, "magnitude")
    y, ty = output(out, _lora_output_shape(tx, out_features, "y"), tx.dtype, "out")
    params = _lora_params(scaling, dropout, training, False, seed, step)
    check(lib.rai_qlora_linear_forward(handle, params, tx.cdata, _q4_handle(state), tc.cdata,
                                       cdata(tbias), ta.cdata, tb.cdata, cdata(tmag),
                                       ty.cdata))
    return y


def qlora_linear_backward(ctx, x, state, codes, lora_a, lora_b, dy, *, magnitude=None, scaling=1.0,
                          dropout=0.0, training=False, seed=0, step=0, accumulate=False,
                          need_dx=True, dx=None, d_a=None, d_b=None, d_magnitude=None):
    """lora_linear_backward over a frozen 4-bit base (rai_qlora_linear_backward)."""
    handle = _context_handle(ctx)
    tx, tc = as_tensor(x, what="x"), as_tensor(codes, what="codes")
    ta, tb = as_tensor(lora_a, what="lora_a"), as_tensor(lora_b, what="lora_b")
    tdy, tmag, outs = _backward_args(tx, ta, tb, dy, magnitude, accumulate, need_dx, dx, d_a, d_b, d_magnitude)
    params = _lora_params(scaling, dropout, training, accumulate, seed, step)
    check(lib.rai_qlora_linear_backward(handle, params, tx.cdata, _q4_handle(state), tc.cdata, ta.cdata,
                                        tb.cdata, cdata(tmag), tdy.cdata,
                                        *(cdata(t) for _, t in outs)))
    return LoraGrads(*(o for o, _ in outs))


def _row_indices(rows, m, what):
    """A host int32 [M] array of per-row indices (-1 = base only)."""
    import numpy as np

    idx = np.ascontiguousarray(np.asarray(rows, dtype=np.int64))
    if idx.shape != (m,):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"{what} must have one entry per row of x ({m}), got shape {list(idx.shape)}")
    if idx.size and (idx.min() < -(2 ** 31) or idx.max() >= 2 ** 31):
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} holds values outside int32")
    return idx.astype(np.int32)


def lora_linear_forward_mixed(ctx, x, weight, adapters, row_adapter, *, bias=None, out=None):
    """Mixed batch over one base (rai_lora_linear_forward_mixed, eval only): `adapters` is a
    sequence of (lora_a, lora_b, scaling); row i of x uses adapters[row_adapter[i]], -1 = the
    base only."""
    handle = _context_handle(ctx)
    tx, tw = as_tensor(x, what="x"), as_tensor(weight, what="weight")
    tbias = optional_in(bias, "bias")
    tas, tbs, scales = [], [], []
    for i, entry in enumerate(adapters):
        try:
            a, b, s = entry
        except (TypeError, ValueError):
            raise TypeError(f"adapters[{i}] must be a (lora_a, lora_b, scaling) triple") from None
        tas.append(as_tensor(a, what=f"adapters[{i}].lora_a"))
        tbs.append(as_tensor(b, what=f"adapters[{i}].lora_b"))
        scales.append(float(s))
    rows = _row_indices(row_adapter, tx.shape[0] if tx.ndim else 0, "row_adapter")
    y, ty = output(out, _lora_output_shape(tx, tw.shape[0] if tw.ndim == 2 else -1, "y"), tx.dtype, "out")
    n = len(tas)
    c_a = ffi.new("const rai_tensor *[]", [t.cdata for t in tas]) if n else ffi.NULL
    c_b = ffi.new("const rai_tensor *[]", [t.cdata for t in tbs]) if n else ffi.NULL
    c_s = ffi.new("float[]", scales) if n else ffi.NULL
    check(lib.rai_lora_linear_forward_mixed(handle, tx.cdata, tw.cdata, cdata(tbias), n, c_a, c_b,
                                            c_s, ffi.cast("const int32_t *", ffi.from_buffer(rows)), ty.cdata))
    return y


# ------------------------------------------------------------------ adapter model


def _dtype_arg(dtype, what):
    if dtype is None:
        return ffi.NULL
    from ._tensor import DTYPES

    code, bits = DTYPES[resolve_dtype(dtype)]
    d = ffi.new("rai_dtype *")
    d.code, d.bits, d.lanes = code, bits, 1
    return d


class AdapterModel(Handle):
    """rai_adapter_model: frozen linear modules by name, and named adapters over them.

    Computes on its Context's device (kept alive). The state (weights, adapter tensors,
    gradients) is host memory whatever the device: numpy arrays, or anything as_tensor() takes.
    On a CUDA context forward/forward_mixed/backward take device tensors (a CUDA PyTorch tensor,
    a Buffer's tensor) and need out= / dx= (or need_dx=False); 4-bit modules need a CPU context.
    Use it as a context manager or call close().
    """

    _KIND = "rai.AdapterModel"

    def __init__(self, ctx):
        handle = _context_handle(ctx)
        out = ffi.new("rai_adapter_model **")
        check(lib.rai_adapter_model_create(handle, out))
        self._own(out[0], lib.rai_adapter_model_destroy)
        self._ctx = ctx
        self._modules = {}  # name -> (out, in, dtype), from info() after each registration

    # -- base modules
    def add_linear(self, name, weight, bias=None, *, fan_in_fan_out=False):
        """Registers frozen linear module `name` (its HF name): weight [out, in] ([in, out] with
        fan_in_fan_out, GPT-2 Conv1D), bias [out] or None; f32/bf16/f16. Copied."""
        tw, tb = as_tensor(weight, what="weight"), optional_in(bias, "bias")
        flags = lib.RAI_LINEAR_FAN_IN_FAN_OUT if fan_in_fan_out else 0
        check(lib.rai_adapter_model_add_linear(self._handle(), encode_name(name, "name"), tw.cdata,
                                               cdata(tb), flags))
        self._refresh_modules()

    def add_linear_q4(self, name, state, codes, bias=None):
        """Registers a frozen 4-bit linear module (QLoRA): `state` a 2-D [out, in] NF4/FP4 state on
        the host and `codes` its packed codes (both copied); bias [out] or None."""
        tc, tb = as_tensor(codes, what="codes"), optional_in(bias, "bias")
        check(lib.rai_adapter_model_add_linear_q4(self._handle(), encode_name(name, "name"),
                                                  _q4_handle(state), tc.cdata, cdata(tb)))
        self._refresh_modules()

    def _refresh_modules(self):
        self._modules = {m["name"]: (int(m["out"]), int(m["in"]), m["dtype"])
                         for m in self.info()["modules"]}

    def _module(self, name):
        if not isinstance(name, str):
            raise TypeError(f"module must be a str, got {type(name).__name__}")
        if name not in self._modules:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                       f"module {name!r} is not registered (add_linear it first)")
        return self._modules[name]

    @property
    def modules(self):
        """{name: (out_features, in_features, dtype)} of the registered base modules."""
        return dict(self._modules)

    def get_weight(self, name, out=None, bias_out=None, *, with_bias=False):
        """The module's current weight [out, in] (merges included; a 4-bit weight dequantized), as
        a new f32 numpy array unless `out` is given. With with_bias (or bias_out) returns
        (weight, bias)."""
        n_out, n_in, _ = self._module(name)
        w, tw = output(out, (n_out, n_in), "f32", "out")
        b, tb = (None, None)
        if with_bias or bias_out is not None:
            b, tb = output(bias_out, (n_out,), "f32", "bias_out")
        check(lib.rai_adapter_model_get_weight(self._handle(), encode_name(name, "name"), tw.cdata,
                                               cdata(tb)))
        return (w, b) if tb is not None else w

    def info(self):
        """rai_adapter_model_info_json parsed: {"modules", "adapters", "active" ([{"name",
        "weight"}]), "merged", "enabled", "training"}."""
        handle = self._handle()
        return take_json(lambda out: lib.rai_adapter_model_info_json(handle, out))

    @property
    def training(self):
        return bool(self.info()["training"])

    @training.setter
    def training(self, value):
        check(lib.rai_adapter_model_set_training(self._handle(), 1 if value else 0))

    def train(self, mode=True):
        """Training mode (dropout on) or, with mode=False, eval. Returns self."""
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    # -- adapters
    def add(self, name, peft_type="lora", **options):
        """Creates adapter `name` from PEFT-style options (see adapter_params); it becomes the only
        active adapter when none was active. target_modules is required."""
        params, keep = adapter_params(peft_type, **options)
        check(lib.rai_adapter_add(self._handle(), encode_name(name, "name"), params))
        del keep

    def add_json(self, name, config, seed=0):
        """Creates adapter `name` from a PEFT adapter_config.json (a str of JSON, or a dict)."""
        text = config if isinstance(config, str) else json.dumps(config)
        check(lib.rai_adapter_add_json(self._handle(), encode_name(name, "name"),
                                       encode_name(text, "config"), seed))

    def load(self, directory, name="default"):
        """Loads a HF PEFT directory (adapter_config.json + adapter_model.safetensors) as adapter
        `name`. FormatError naming the module on missing or unexpected tensors."""
        check(lib.rai_adapter_load_peft(self._handle(), encode_name(str(directory), "directory"),
                                        encode_name(name, "name")))

    def save(self, name, directory, dtype=None):
        """Writes adapter `name` as a HF PEFT directory; tensors in `dtype` (None = f32)."""
        check(lib.rai_adapter_save_peft(self._handle(), encode_name(name, "name"),
                                        encode_name(str(directory), "directory"), _dtype_arg(dtype, "dtype")))

    def delete(self, name):
        """Deletes adapter `name` (InvalidArgumentError while it is merged)."""
        check(lib.rai_adapter_delete(self._handle(), encode_name(name, "name")))

    @property
    def adapters(self):
        """Names of the adapters, in creation order."""
        return [a["name"] for a in self.info()["adapters"]]

    def set_active(self, names, weights=None):
        """Activates `names` (a str or a sequence; [] = none) with optional weights:
        y = base + sum(w_i * adapter_i(x)). Switching copies nothing."""
        if isinstance(names, str):
            names = [names]
        names = list(names)
        array, keep = name_array(names, "names")
        c_weights = ffi.NULL
        if weights is not None:
            weights = [float(w) for w in weights]
            if len(weights) != len(names):
                raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                           f"weights has {len(weights)} entries, names has {len(names)}")
            c_weights = ffi.new("float[]", weights) if weights else ffi.NULL
        check(lib.rai_adapter_set_active(self._handle(), array, c_weights, len(names)))
        del keep

    def disable(self):
        """Unmerges everything (as PEFT) and computes the base only until enable()."""
        check(lib.rai_adapter_set_enabled(self._handle(), 0))

    def enable(self):
        """Computes with the active adapters again after disable()."""
        check(lib.rai_adapter_set_enabled(self._handle(), 1))

    @property
    def active(self):
        """The active adapters as [(name, weight), ...], in activation order."""
        return [(a["name"], float(a["weight"])) for a in self.info()["active"]]

    @property
    def enabled(self):
        """False between disable() and enable()."""
        return bool(self.info()["enabled"])

    def add_weighted(self, new_name, names, weights, combination="cat"):
        """New LoRA adapter `new_name` combining LoRA adapters `names` with `weights`, as PEFT's
        add_weighted_adapter ("cat": exact, "linear": equal ranks)."""
        names, weights = list(names), [float(w) for w in weights]
        if len(weights) != len(names):
            raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                       f"weights has {len(weights)} entries, names has {len(names)}")
        array, keep = name_array(names, "names")
        c_weights = ffi.new("float[]", weights) if weights else ffi.NULL
        check(lib.rai_adapter_add_weighted(self._handle(), encode_name(new_name, "new_name"), array,
                                           c_weights, len(names),
                                           int(enum_arg(Combination, combination, "combination"))))
        del keep

    # -- adapter tensors
    def tensors(self, adapter):
        """[{"key", "shape", "trainable"}, ...] of an adapter (rai_adapter_tensors_json)."""
        handle, c_name = self._handle(), encode_name(adapter, "adapter")
        return take_json(lambda out: lib.rai_adapter_tensors_json(handle, c_name, out))

    def config(self, adapter):
        """The adapter's PEFT adapter_config.json, parsed."""
        handle, c_name = self._handle(), encode_name(adapter, "adapter")
        return json.loads(take_string(lambda out: lib.rai_adapter_config_json(handle, c_name, out)))

    def _key_shape(self, adapter, key):
        for entry in self.tensors(adapter):
            if entry["key"] == key or entry["key"].replace(".default", "") == key.replace(".default", ""):
                return tuple(entry["shape"])
        raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                   f"key {key!r} is not a tensor of adapter {adapter!r}")

    def get_tensor(self, adapter, key, out=None):
        """A copy of the adapter tensor with PEFT key `key` ("base_model.model.<module>.lora_A.weight",
        ...) as a new f32 numpy array unless `out` is given."""
        value, t = output(out, self._key_shape(adapter, key), "f32", "out")
        check(lib.rai_adapter_get_tensor(self._handle(), encode_name(adapter, "adapter"),
                                         encode_name(key, "key"), t.cdata))
        return value

    def get_grad(self, adapter, key, out=None):
        """The accumulated gradient of the tensor `key`, like get_tensor."""
        value, t = output(out, self._key_shape(adapter, key), "f32", "out")
        check(lib.rai_adapter_get_grad(self._handle(), encode_name(adapter, "adapter"),
                                       encode_name(key, "key"), t.cdata))
        return value

    def set_tensor(self, adapter, key, value):
        """Copies `value` (f32/bf16/f16 of the key's shape) into the adapter tensor `key`."""
        t = as_tensor(value, what="value")
        check(lib.rai_adapter_set_tensor(self._handle(), encode_name(adapter, "adapter"),
                                         encode_name(key, "key"), t.cdata))

    def clip_grad_norm(self, max_norm, adapter=None):
        """Global-norm clipping of the gradients of `adapter` (None = every adapter); returns the
        norm before clipping."""
        norm = ffi.new("float *")
        check(lib.rai_adapter_clip_grad_norm(self._handle(), encode_name(adapter, "adapter", allow_none=True),
                                             float(max_norm), norm))
        return float(norm[0])

    def adalora_update(self, adapter, global_step):
        """AdaLoRA's budget allocator for one training step (peft's update_and_allocate): call it
        after backward and the optimizer step, before zero_grad. Returns the rank budget."""
        budget = ffi.new("int64_t *")
        check(lib.rai_adapter_adalora_update(self._handle(), encode_name(adapter, "adapter"), int(global_step), budget))
        return int(budget[0])

    def adalora_orth_reg(self, adapter, accumulate_grad=True):
        """AdaLoRA's orthogonal regulariser (add it to the loss, as peft's forward does); with
        accumulate_grad its gradient is added to the adapter's gradients."""
        loss = ffi.new("float *")
        check(lib.rai_adapter_adalora_orth_reg(self._handle(), encode_name(adapter, "adapter"),
                                               1 if accumulate_grad else 0, loss))
        return float(loss[0])

    def zero_grad(self, adapter=None):
        """Zeroes accumulated gradients (adapter None = every adapter)."""
        check(lib.rai_adapter_zero_grad(self._handle(), encode_name(adapter, "adapter", allow_none=True)))

    # -- compute
    def _io(self, module, x, out, what_out):
        n_out, n_in, _ = self._module(module)
        tx = as_tensor(x, what="x")
        if tx.ndim < 1:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "x must have at least one dimension [..., in]")
        y, ty = output(out, tx.shape[:-1] + (n_out,), tx.dtype, what_out)
        return tx, y, ty

    def forward(self, module, x, out=None):
        """y = module(x) with the active adapters: x [..., in] -> y [..., out] (x's dtype)."""
        tx, y, ty = self._io(module, x, out, "out")
        check(lib.rai_adapter_forward(self._handle(), encode_name(module, "module"), tx.cdata, ty.cdata))
        return y

    def forward_mixed(self, module, x, row_adapters, out=None):
        """Mixed batch (eval only): row i of x [M, in] uses adapter row_adapters[i] (a name, or
        None for the base only)."""
        tx, y, ty = self._io(module, x, out, "out")
        names, index = [], []
        for name in row_adapters:
            if name is None:
                index.append(-1)
                continue
            if name not in names:
                names.append(name)
            index.append(names.index(name))
        rows = _row_indices(index, tx.shape[0], "row_adapters")
        array, keep = name_array(names, "row_adapters")
        check(lib.rai_adapter_forward_mixed(self._handle(), encode_name(module, "module"), tx.cdata, array,
                                            len(names), ffi.cast("const int32_t *", ffi.from_buffer(rows)),
                                            ty.cdata))
        del keep
        return y

    def backward(self, module, x, dy, dx=None, *, need_dx=True):
        """Backward of the latest forward of `module` (same x): adds the active adapters'
        gradients and returns dx (x's shape and dtype; None with need_dx=False)."""
        tx, tdy = as_tensor(x, what="x"), as_tensor(dy, what="dy")
        self._module(module)
        result, tdx = _grad_outputs(need_dx, dx, tx.shape, tx.dtype, "dx")
        check(lib.rai_adapter_backward(self._handle(), encode_name(module, "module"), tx.cdata, tdy.cdata,
                                       cdata(tdx)))
        return result

    # -- merging
    def merge(self, names=None, *, safe=False, lossy=False, keep_original=False):
        """W += delta for the named adapters (None = the active ones), pushed on the merged stack.
        safe: out of place, OutOfRangeError on non-finite results; lossy: allow merging into a
        4-bit base; keep_original: keep the weights so unmerge is bit-exact."""
        flags = ((lib.RAI_ADAPTER_MERGE_SAFE if safe else 0) | (lib.RAI_ADAPTER_MERGE_LOSSY if lossy else 0)
                 | (lib.RAI_ADAPTER_MERGE_KEEP_ORIGINAL if keep_original else 0))
        if isinstance(names, str):
            names = [names]
        array, keep = name_array(list(names or []), "names")
        check(lib.rai_adapter_merge(self._handle(), array, len(keep), flags))

    def unmerge(self, count=0):
        """Pops `count` merged adapters (LIFO; 0 = all) and restores the weights."""
        check(lib.rai_adapter_unmerge(self._handle(), operator.index(count)))

    @property
    def merged(self):
        """Names of the merged adapters, oldest first."""
        return list(self.info()["merged"])

    def merged_weight(self, module, names=None, master=None, out=None):
        """Module `module`'s weight with the named adapters (None = the active ones) merged in
        fp32, applied to `master` [out, in] when given; nothing in the model changes. A new f32
        numpy array unless `out` is given."""
        n_out, n_in, _ = self._module(module)
        if isinstance(names, str):
            names = [names]
        array, keep = name_array(list(names or []), "names")
        tmaster = optional_in(master, "master")
        w, tw = output(out, (n_out, n_in), "f32", "out")
        check(lib.rai_adapter_merged_weight(self._handle(), encode_name(module, "module"), array, len(keep),
                                            cdata(tmaster), tw.cdata))
        return w

    def __repr__(self):
        if self.closed:
            return "<rai.AdapterModel closed>"
        return f"<rai.AdapterModel {len(self._modules)} modules>"


AdapterModel.__module__ = "rai"
