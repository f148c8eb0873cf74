"""rai's optimizers and hybrid predictive training (rai.h section "hybrid predictive training",
docs/train.md).

Parameters and gradients are BORROWED, as in C: add_param keeps the arrays (numpy, or anything
with __dlpack__ such as a PyTorch tensor) alive and rai reads and writes their memory in later
calls, so update them in place (g[...] = ..., never g = ...).

    opt = rai.Optimizer(ctx, "adamw", lr=0.01)
    h = rai.HybridTrainer(ctx)                       # FIXED 10/5/20/5 schedule, HOLD predictor
    for p, g in params_and_grads:
        opt.add_param(p, g); h.add_param(p, g)
    h.set_optimizer(opt)
    for _ in range(steps):
        info = h.begin()
        if info.needs_backward:
            h.record_gradients(forward_backward_into_g())
        else:
            h.apply_predicted()
            if info.needs_forward:
                h.report_loss(forward())
        result = h.end()
"""

import dataclasses
import enum
import json
import math
import operator

from ._backend import ffi, lib
from ._arrays import output
from ._c_out import byte_view, c_enum, encode_name, enum_arg, fill_struct, new_params, take_string
from ._context import Context
from ._errors import InvalidArgumentError, Status, check
from ._handle import Handle
from ._tensor import as_tensor



def _flag_enum(py_name, prefix, doc):
    members = {name[len(prefix):]: getattr(lib, name) for name in dir(lib) if name.startswith(prefix)}
    cls = enum.IntFlag(py_name, members, module=__name__, qualname=py_name)
    cls.__module__ = "rai"
    cls.__doc__ = doc
    return cls


OptimizerKind = c_enum("rai_optimizer_kind", "RAI_OPTIMIZER_", "OptimizerKind",
                        "rai_optimizer_kind: SGD, MOMENTUM, ADAMW.")
Phase = c_enum("rai_hybrid_phase", "RAI_HYBRID_PHASE_", "Phase", "rai_hybrid_phase of a step.")
Schedule = c_enum("rai_hybrid_schedule", "RAI_HYBRID_SCHEDULE_", "Schedule", "rai_hybrid_schedule.")
Predictor = c_enum("rai_hybrid_predictor", "RAI_HYBRID_PREDICTOR_", "Predictor", "rai_hybrid_predictor.")
LossModel = c_enum("rai_hybrid_loss_model", "RAI_HYBRID_LOSS_MODEL_", "LossModel",
                    "rai_hybrid_loss_model.")
Divergence = c_enum("rai_hybrid_divergence", "RAI_HYBRID_DIVERGENCE_", "Divergence",
                     "rai_hybrid_divergence: the guard's verdict on a step.")
HybridEvent = _flag_enum("HybridEvent", "RAI_HYBRID_EVENT_", "rai_hybrid_step_result.events bits.")
HybridSignal = _flag_enum("HybridSignal", "RAI_HYBRID_SIGNAL_",
                          "rai_hybrid_step_result.divergence_signals bits.")


def _context_handle(ctx):
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
    return ctx._handle()


def _borrowed_pair(param, grad):
    """Tensors over a parameter and its gradient, both written by rai later (so writable)."""
    tp, tg = as_tensor(param, what="param"), as_tensor(grad, what="grad")
    for t, what in ((tp, "param"), (tg, "grad")):
        if t.readonly:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} is read-only; rai writes it")
    return tp, tg


def _state_blob(size_call, save_call):
    """A state blob from rai's (size, save) pair."""
    size = ffi.new("size_t *")
    check(size_call(size))
    buf = ffi.new("char[]", max(int(size[0]), 1))
    written = ffi.new("size_t *")
    check(save_call(buf, int(size[0]), written))
    return ffi.unpack(buf, int(written[0]))


class Optimizer(Handle):
    """rai_optimizer: SGD, MOMENTUM (PyTorch SGD with momentum, optional Nesterov) or ADAMW
    (PyTorch AdamW), over borrowed f32 parameters and gradients.

    kind -- "sgd", "momentum", "adamw" (or an OptimizerKind); lr default 1e-3; betas (b1, b2)
    default (0.9, 0.999); max_grad_norm > 0 clips by the global norm inside step()."""

    _KIND = "rai.Optimizer"

    def __init__(self, ctx, kind="sgd", *, lr=None, momentum=None, betas=None, eps=None,
                 weight_decay=None, max_grad_norm=None, nesterov=False):
        handle = _context_handle(ctx)
        p = new_params("rai_optimizer_params")
        p.kind = int(enum_arg(OptimizerKind, kind, "kind"))
        beta1, beta2 = (None, None) if betas is None else tuple(betas)
        fill_struct(p, {"lr": lr, "momentum": momentum, "beta1": beta1, "beta2": beta2, "eps": eps,
                        "weight_decay": weight_decay, "max_grad_norm": max_grad_norm,
                        "nesterov": 1 if nesterov else 0}, "Optimizer")
        out = ffi.new("rai_optimizer **")
        check(lib.rai_optimizer_create(handle, p, out))
        self._own(out[0], lib.rai_optimizer_destroy)
        self._ctx = ctx
        self._kind_value = OptimizerKind(p.kind)
        self._params = []  # (param, grad, their Tensors): rai keeps the data pointers

    @property
    def kind(self):
        return self._kind_value

    def add_param(self, param, grad, name=None):
        """Registers a parameter and its gradient (borrowed: kept alive here). Returns the id."""
        tp, tg = _borrowed_pair(param, grad)
        out = ffi.new("uint32_t *")
        check(lib.rai_optimizer_add_param(self._handle(), encode_name(name, "name", allow_none=True),
                                          tp.cdata, tg.cdata, out))
        self._params.append((param, grad, tp, tg))
        return int(out[0])

    def step(self):
        """One update with the gradients now in the grad buffers; returns the global gradient
        norm (before clipping). InvalidArgumentError, nothing updated, for a non-finite norm."""
        norm = ffi.new("float *")
        check(lib.rai_optimizer_step(self._handle(), norm))
        return float(norm[0])

    def grad_norm(self):
        """Global L2 norm of the registered gradients."""
        norm = ffi.new("float *")
        check(lib.rai_optimizer_grad_norm(self._handle(), norm))
        return float(norm[0])

    def clip_grad_norm(self, max_norm):
        """torch.nn.utils.clip_grad_norm_ on the registered gradients; returns the norm before."""
        norm = ffi.new("float *")
        check(lib.rai_optimizer_clip_grad_norm(self._handle(), float(max_norm), norm))
        return float(norm[0])

    @property
    def lr(self):
        out = ffi.new("float *")
        check(lib.rai_optimizer_get_lr(self._handle(), out))
        return float(out[0])

    @lr.setter
    def lr(self, value):
        check(lib.rai_optimizer_set_lr(self._handle(), float(value)))

    @property
    def step_count(self):
        """Steps taken (AdamW's t)."""
        out = ffi.new("uint64_t *")
        check(lib.rai_optimizer_step_count(self._handle(), out))
        return int(out[0])

    def save_state(self):
        """Step count, lr and moment buffers as a versioned blob (bytes)."""
        handle = self._handle()
        return _state_blob(lambda size: lib.rai_optimizer_state_size(handle, size),
                           lambda buf, cap, written: lib.rai_optimizer_state_save(handle, buf, cap, written))

    def load_state(self, blob):
        data, length = byte_view(blob, "blob")
        check(lib.rai_optimizer_state_load(self._handle(), data, length))

    def __repr__(self):
        if self.closed:
            return "<rai.Optimizer closed>"
        return f"<rai.Optimizer {self._kind_value.name.lower()} lr={self.lr:g} {len(self._params)} params>"


Optimizer.__module__ = "rai"


# ------------------------------------------------------------------ hybrid trainer


def _nan_to_none(value):
    value = float(value)
    return None if math.isnan(value) else value


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """What begin() says about the step: run backward (needs_backward) or a forward only
    (needs_forward) after apply_predicted()/get_predicted()."""

    phase: Phase
    needs_forward: bool
    needs_backward: bool
    has_prediction: bool
    phase_changed: bool
    step: int
    phase_step: int
    cycle: int
    horizon_remaining: int
    confidence: float
    predicted_loss: object  # float, None when the loss model has no forecast


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What end() reports about the step (NaN fields of C are None)."""

    step: int
    phase: Phase
    events: HybridEvent
    divergence: Divergence
    signals: HybridSignal
    loss: object
    predicted_loss: object
    loss_zscore: object
    grad_norm: object
    update_norm: object
    confidence: float
    rollback_step: int

    @property
    def rolled_back(self):
        return bool(self.events & HybridEvent.ROLLED_BACK)


_STATS_FIELDS = [name for name, _ in ffi.typeof("rai_hybrid_stats").fields if name != "struct_size"]
HybridStats = dataclasses.make_dataclass("HybridStats", _STATS_FIELDS, frozen=True)
HybridStats.__module__ = "rai"
HybridStats.__doc__ = "rai_hybrid_stats: counters, schedule, predictor quality and timings."

for _cls in (StepInfo, StepResult):
    _cls.__module__ = "rai"


def _step_info(c):
    return StepInfo(phase=Phase(c.phase), needs_forward=bool(c.needs_forward),
                    needs_backward=bool(c.needs_backward), has_prediction=bool(c.has_prediction),
                    phase_changed=bool(c.phase_changed), step=int(c.step), phase_step=int(c.phase_step),
                    cycle=int(c.cycle), horizon_remaining=int(c.horizon_remaining),
                    confidence=float(c.confidence), predicted_loss=_nan_to_none(c.predicted_loss))


def _step_result(c):
    return StepResult(step=int(c.step), phase=Phase(c.phase), events=HybridEvent(c.events),
                      divergence=Divergence(c.divergence_level), signals=HybridSignal(c.divergence_signals),
                      loss=_nan_to_none(c.loss), predicted_loss=_nan_to_none(c.predicted_loss),
                      loss_zscore=_nan_to_none(c.loss_zscore), grad_norm=_nan_to_none(c.grad_norm),
                      update_norm=_nan_to_none(c.update_norm), confidence=float(c.confidence),
                      rollback_step=int(c.rollback_step))


# rai_hybrid_params fields set from keyword arguments of the same name.
_HYBRID_FIELDS = tuple(name for name, _ in ffi.typeof("rai_hybrid_params").fields
                       if name not in ("struct_size", "schedule", "predictor", "loss_model", "flags",
                                       "reserved0"))


class HybridTrainer(Handle):
    """rai_hybrid: a caller-driven trainer that skips some backward passes by predicting updates,
    with a divergence guard that rolls back bit for bit.

    schedule ("fixed", "adaptive"), predictor ("hold", "skip", "momentum_coast", "ema",
    "wls_linear", "low_rank_trend"), loss_model ("linear", "ema"); snapshot=False and guard=False
    set RAI_HYBRID_NO_SNAPSHOT / NO_GUARD. Every other keyword is the rai_hybrid_params field of
    that name (warmup_steps, full_steps, predict_steps, correct_every, seed, guard_sigma, ...;
    0 = the default)."""

    _KIND = "rai.HybridTrainer"

    def __init__(self, ctx, *, schedule="fixed", predictor="default", loss_model="default",
                 snapshot=True, guard=True, **fields):
        handle = _context_handle(ctx)
        unknown = sorted(set(fields) - set(_HYBRID_FIELDS))
        if unknown:
            raise TypeError(f"HybridTrainer: unknown keyword(s) {', '.join(unknown)} (known: "
                            f"schedule, predictor, loss_model, snapshot, guard, {', '.join(_HYBRID_FIELDS)})")
        p = new_params("rai_hybrid_params")
        p.schedule = int(enum_arg(Schedule, schedule, "schedule"))
        p.predictor = int(enum_arg(Predictor, predictor, "predictor"))
        p.loss_model = int(enum_arg(LossModel, loss_model, "loss_model"))
        p.flags = (0 if snapshot else lib.RAI_HYBRID_NO_SNAPSHOT) | (0 if guard else lib.RAI_HYBRID_NO_GUARD)
        fill_struct(p, fields, "HybridTrainer")
        out = ffi.new("rai_hybrid **")
        check(lib.rai_hybrid_create(handle, p, out))
        self._own(out[0], lib.rai_hybrid_destroy)
        self._ctx = ctx
        self._params = []
        self._optimizer = None  # kept alive: rai borrows it and it must outlive the hybrid

    # -- setup
    def add_param(self, param, grad, name=None):
        """Registers a parameter and its gradient buffer (borrowed) before the first step."""
        tp, tg = _borrowed_pair(param, grad)
        out = ffi.new("uint32_t *")
        check(lib.rai_hybrid_add_param(self._handle(), encode_name(name, "name", allow_none=True),
                                       tp.cdata, tg.cdata, out))
        self._params.append((param, grad, tp, tg))
        return int(out[0])

    def set_optimizer(self, optimizer):
        """Attaches an Optimizer with the same tensors in the same order: record_gradients then
        steps it and predictions live in update space. Kept alive by the trainer."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a rai.Optimizer, got {type(optimizer).__name__}")
        check(lib.rai_hybrid_set_optimizer(self._handle(), optimizer._handle()))
        self._optimizer = optimizer

    @property
    def optimizer(self):
        return self._optimizer

    def close(self):
        """Destroys the trainer (before the optimizer it borrows). Idempotent."""
        super().close()
        self._optimizer = None

    # -- the step protocol
    def begin(self):
        """Opens a step; returns its StepInfo."""
        info = new_params("rai_hybrid_step_info")
        check(lib.rai_hybrid_begin_step(self._handle(), info))
        return _step_info(info)

    def record_gradients(self, loss):
        """After a real forward + backward into the grad buffers: feeds the predictor and steps
        the attached optimizer. A non-finite loss or gradient: InvalidArgumentError, nothing
        updated, the step is Critical (end() rolls back)."""
        check(lib.rai_hybrid_record_gradients(self._handle(), float(loss)))

    def apply_predicted(self):
        """PREDICT step: applies the predicted update (or, without an optimizer, writes the
        predicted gradient into the grad buffers)."""
        check(lib.rai_hybrid_apply_predicted(self._handle()))

    def get_predicted(self, out=None):
        """PREDICT step, instead of apply_predicted: the prediction for every parameter, written
        into `out` (a list of arrays shaped like the parameters) or new f32 numpy arrays.
        Parameters are not touched."""
        if out is None:
            out = [None] * len(self._params)
        out = list(out)
        if len(out) != len(self._params):
            raise InvalidArgumentError(Status.INVALID_ARGUMENT,
                                       f"out has {len(out)} arrays, {len(self._params)} parameters are registered")
        pairs = [output(o, b[2].shape, "f32", f"out[{i}]") for i, (o, b) in enumerate(zip(out, self._params))]
        n = len(pairs)
        c_out = ffi.new("const rai_tensor *[]", [t.cdata for _, t in pairs]) if n else ffi.NULL
        check(lib.rai_hybrid_get_predicted(self._handle(), c_out, n))
        return [o for o, _ in pairs]

    def report_loss(self, loss):
        """PREDICT step: the loss of the forward pass after the prediction was applied."""
        check(lib.rai_hybrid_report_loss(self._handle(), float(loss)))

    def end(self):
        """Closes the step (divergence guard, rollback); returns its StepResult."""
        res = new_params("rai_hybrid_step_result")
        check(lib.rai_hybrid_end_step(self._handle(), res))
        return _step_result(res)

    def abort(self):
        """Abandons the open step (e.g. the caller's forward failed)."""
        check(lib.rai_hybrid_abort_step(self._handle()))

    # -- reports
    def stats(self):
        """HybridStats (counters, schedule, predictor quality, timings)."""
        s = new_params("rai_hybrid_stats")
        check(lib.rai_hybrid_get_stats(self._handle(), s))
        values = {}
        for name in _STATS_FIELDS:
            value = getattr(s, name)
            values[name] = Phase(value) if name == "phase" else value
        return HybridStats(**values)

    def metrics_json(self, timings=False):
        """The metrics as JSON text; without timings bitwise identical for identical CPU runs."""
        handle, flags = self._handle(), lib.RAI_HYBRID_JSON_TIMINGS if timings else 0
        return take_string(lambda out: lib.rai_hybrid_metrics_json(handle, flags, out))

    def metrics(self, timings=False):
        """metrics_json parsed."""
        return json.loads(self.metrics_json(timings))

    # -- checkpoints
    def save_state(self, *, params=False, optimizer=False):
        """The trainer's state (with params / optimizer: also the parameters' values and the
        attached optimizer's state) as a versioned blob, between steps."""
        handle = self._handle()
        flags = (lib.RAI_HYBRID_STATE_PARAMS if params else 0) | (lib.RAI_HYBRID_STATE_OPTIMIZER if optimizer else 0)
        return _state_blob(lambda size: lib.rai_hybrid_state_size(handle, flags, size),
                           lambda buf, cap, written: lib.rai_hybrid_state_save(handle, flags, buf, cap, written))

    def load_state(self, blob):
        """Restores save_state()'s blob (a failed load changes nothing)."""
        data, length = byte_view(blob, "blob")
        check(lib.rai_hybrid_state_load(self._handle(), data, length))

    # -- the callback driver
    def run_steps(self, n, backward, forward, apply_update=None, on_step=None):
        """Runs `n` steps of the protocol with Python callables (rai_hybrid_run_steps):

        backward(step) -> loss   forward + backward into the grad buffers
        forward(step) -> loss    forward only, after a predicted update
        apply_update(step, grads) -- required without an attached optimizer: apply the
                                  gradients (the registered grad arrays) with your optimizer
        on_step(result)          after every step, with its StepResult; return False to stop

        Returns the number of steps completed. An exception raised by a callback stops the run
        (the step is closed) and is re-raised here. The C callbacks are ffi.callback objects,
        in API and ABI mode alike, alive only for this call.
        """
        state = {"error": None, "stopped": False}
        grads = [b[1] for b in self._params]

        def guarded(fn):
            def call(*args):
                try:
                    return fn(*args)
                except BaseException as exc:  # stop the run; re-raised after it
                    state["error"] = exc
                    return 1
            return call

        @guarded
        def c_backward(user, step, loss):
            loss[0] = float(backward(int(step)))
            return 0

        @guarded
        def c_forward(user, step, loss):
            loss[0] = float(forward(int(step)))
            return 0

        @guarded
        def c_apply(user, step, tensors, count):
            apply_update(int(step), grads[:int(count)])
            return 0

        @guarded
        def c_on_step(user, result):
            if on_step(_step_result(result)) is False:
                state["stopped"] = True
                return 1
            return 0

        fields = dict(ffi.typeof("rai_hybrid_callbacks").fields)
        keep = [ffi.callback(fields["backward"].type, c_backward, error=1),
                ffi.callback(fields["forward"].type, c_forward, error=1)]
        cb = ffi.new("rai_hybrid_callbacks *")
        cb.struct_size = ffi.sizeof("rai_hybrid_callbacks")
        cb.backward, cb.forward = keep
        if apply_update is not None:
            keep.append(ffi.callback(fields["apply_update"].type, c_apply, error=1))
            cb.apply_update = keep[-1]
        if on_step is not None:
            keep.append(ffi.callback(fields["on_step"].type, c_on_step, error=1))
            cb.on_step = keep[-1]
        done = ffi.new("uint64_t *")
        status = lib.rai_hybrid_run_steps(self._handle(), cb, ffi.NULL, operator.index(n), done)
        if state["error"] is not None:
            raise state["error"]
        if status == Status.CANCELLED and state["stopped"]:
            return int(done[0])
        check(status)
        return int(done[0])

    def __repr__(self):
        if self.closed:
            return "<rai.HybridTrainer closed>"
        return f"<rai.HybridTrainer {len(self._params)} params>"


HybridTrainer.__module__ = "rai"


def phase_name(phase):
    """rai_hybrid_phase_name: "warmup", "full", "predict", "correct" (None for others)."""
    name = lib.rai_hybrid_phase_name(int(phase))
    return None if name == ffi.NULL else ffi.string(name).decode()

