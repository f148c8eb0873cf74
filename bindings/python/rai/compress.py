"""Error-feedback gradient compression for data-parallel training (rai.h section "gradient
compression", docs/compress.md).

    gc = rai.GradientCompressor(ctx, "topk", ratio=0.01, seed=42)
    gid = gc.add_tensor(grad)              # register once, in a fixed order
    msg = gc.compress(gid, grad)           # bytes; EF residual updated
    ... send msg, gather the peers' messages ...
    total = gc.decompress(gid, gc.reduce(gid, messages))

Gradients are numpy arrays or anything with __dlpack__ (a PyTorch tensor); on a CUDA context
they must live on its device. Messages are always bytes (host memory).
"""

import dataclasses
import enum
import operator

from ._backend import ffi, lib
from ._arrays import output
from ._c_out import byte_view, c_enum, encode_name, enum_arg, fill_struct, new_params, sized_bytes
from ._context import Context
from ._errors import InvalidArgumentError, Status, check
from ._handle import Handle
from ._tensor import as_tensor



GCMethod = c_enum("rai_gc_method", "RAI_GC_", "GCMethod",
                   "rai_gc_method: NONE, TOPK, SIGN, TERNARY, TERNARY_STOCH, QSGD, POWERSGD, "
                   "VSA_COMPAT (compatibility only; never train with it).")


def has_mpi():
    """True when librai was built with MPI (rai_gc_allreduce_mpi works)."""
    return bool(lib.rai_gc_has_mpi())


@dataclasses.dataclass(frozen=True)
class GCStats:
    """rai_gc_stats of one tensor or of all of them."""

    steps: int
    params: int
    bits_in: int
    bits_out: int
    bits_per_param: float
    last_cosine: float
    last_rel_error: float
    ef_norm: float
    quality_samples: int


GCStats.__module__ = "rai"


def _allreduce_flags(average, sum_decoded):
    return ((lib.RAI_GC_ALLREDUCE_AVERAGE if average else 0)
            | (lib.RAI_GC_ALLREDUCE_SUM_DECODED if sum_decoded else 0))


def _mpi_comm_pointer(comm):
    """A `void *` to an MPI_Comm: from an mpi4py communicator (its handle's address), an int
    address, or a cffi pointer."""
    if isinstance(comm, ffi.CData):
        return ffi.cast("void *", comm)
    if isinstance(comm, int):
        return ffi.cast("void *", comm)
    try:
        from mpi4py import MPI
    except ImportError:
        raise TypeError("comm must be an mpi4py communicator (mpi4py is not installed), an int "
                        "address of an MPI_Comm, or a cffi pointer") from None
    if not isinstance(comm, MPI.Comm):
        raise TypeError(f"comm must be an mpi4py MPI.Comm, got {type(comm).__name__}")
    return ffi.cast("void *", MPI._addressof(comm))


class GradientCompressor(Handle):
    """rai_gc: a compressor with per-tensor error-feedback residuals, PowerSGD warm starts,
    step counters and statistics.

    method        -- "none", "topk", "sign", "ternary", "ternary_stoch", "qsgd", "powersgd",
                     "vsa_compat" (or a GCMethod)
    ratio         -- TOPK fraction kept, in (0, 1] (default 0.01)
    rank, power_iters -- POWERSGD (defaults 2, 1)
    qsgd_levels   -- QSGD levels in [1, 32767] (default 7)
    vsa_dimension, vsa_ratio -- VSA_COMPAT
    error_feedback -- None: the method's default (on for the biased methods); True / False
    warmup_steps  -- each tensor's first steps are sent uncompressed
    measure_quality -- record cosine and relative error of every compression (stats())
    seed          -- keys every random stream; peers must agree on it
    momentum      -- momentum correction (DGC) in [0, 1); 0 = off. The compressor keeps a velocity
                     u = momentum*u + grad per tensor and sends it with its EF residual: step with
                     plain SGD (no momentum) on the decompressed average. Needs error feedback.

    The Context is kept alive. Use it as a context manager or call close().
    """

    _KIND = "rai.GradientCompressor"

    def __init__(self, ctx, method="topk", *, ratio=None, rank=None, power_iters=None,
                 qsgd_levels=None, vsa_dimension=None, vsa_ratio=None, error_feedback=None,
                 warmup_steps=None, measure_quality=False, seed=0, momentum=None):
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a rai.Context, got {type(ctx).__name__}")
        params = new_params("rai_gc_params")
        params.method = int(enum_arg(GCMethod, method, "method"))
        if error_feedback is not None:
            params.error_feedback = lib.RAI_GC_EF_ON if error_feedback else lib.RAI_GC_EF_OFF
        params.flags = lib.RAI_GC_MEASURE_QUALITY if measure_quality else 0
        fill_struct(params, {"ratio": ratio, "rank": rank, "power_iters": power_iters,
                             "qsgd_levels": qsgd_levels, "vsa_dimension": vsa_dimension,
                             "vsa_ratio": vsa_ratio, "warmup_steps": warmup_steps, "seed": seed,
                             "momentum": momentum},
                    "GradientCompressor")
        out = ffi.new("rai_gc **")
        check(lib.rai_gc_create(ctx._handle(), params, out))
        self._own(out[0], lib.rai_gc_destroy)
        self._ctx = ctx
        self._method = GCMethod(params.method)
        self._shapes = []  # registered shape per id, for decompress outputs

    @property
    def method(self):
        return self._method

    @property
    def context(self):
        return self._ctx

    # -- tensors
    def add_tensor(self, like, name=None):
        """Registers a gradient tensor (dtype f32 or bf16 and shape taken from `like`, whose data
        is not read). Returns its id: 0, 1, 2, ... in call order."""
        t = as_tensor(like, what="like")
        out = ffi.new("uint32_t *")
        check(lib.rai_gc_add_tensor(self._handle(), encode_name(name, "name", allow_none=True), t.cdata, out))
        self._shapes.append(t.shape)
        return int(out[0])

    def __len__(self):
        out = ffi.new("uint32_t *")
        check(lib.rai_gc_tensor_count(self._handle(), out))
        return int(out[0])

    def _id(self, tensor_id):
        tensor_id = operator.index(tensor_id)
        if not 0 <= tensor_id < 2 ** 32:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"tensor_id {tensor_id} is out of range")
        return tensor_id

    def max_message_size(self, tensor_id):
        """The largest message compress() can produce for `tensor_id`, in bytes."""
        out = ffi.new("size_t *")
        check(lib.rai_gc_max_message_size(self._handle(), self._id(tensor_id), out))
        return int(out[0])

    # -- one tensor, one step
    def compress(self, tensor_id, grad):
        """Compresses `grad` (EF add, encode, EF update) and returns the message as bytes."""
        handle, gid, t = self._handle(), self._id(tensor_id), as_tensor(grad, what="grad")
        return sized_bytes(lambda out, cap, written: lib.rai_gc_compress(handle, gid, t.cdata, out, cap, written))

    def decompress(self, tensor_id, message, out=None):
        """Decodes a message (own, a peer's or a reduced one) into `out` (f32/bf16 of the
        registered shape), or a new f32 numpy array. Returns it."""
        gid = self._id(tensor_id)
        data, length = byte_view(message, "message")
        shape = self._shapes[gid] if gid < len(self._shapes) else (0,)
        result, t = output(out, shape, "f32", "out") if out is None else (out, as_tensor(out, what="out"))
        check(lib.rai_gc_decompress(self._handle(), gid, data, length, t.cdata))
        return result

    def apply(self, tensor_id, grad):
        """grad <- decompress(compress(grad)) in place, with the same EF update. Returns grad."""
        t = as_tensor(grad, what="grad")
        if t.readonly:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "grad is read-only")
        check(lib.rai_gc_apply(self._handle(), self._id(tensor_id), t.cdata))
        return grad

    def reduce(self, tensor_id, messages):
        """One message that decodes to the sum of the peers' `messages` (bytes-like, all of the
        same step). The handle's state does not change."""
        handle, gid = self._handle(), self._id(tensor_id)
        views = [byte_view(m, f"messages[{i}]") for i, m in enumerate(messages)]
        n = len(views)
        c_msgs = ffi.new("const void *[]", [v[0] for v in views]) if n else ffi.NULL
        c_lens = ffi.new("size_t[]", [v[1] for v in views]) if n else ffi.NULL
        return sized_bytes(lambda out, cap, written: lib.rai_gc_message_reduce(
            handle, gid, c_msgs, c_lens, n, out, cap, written))

    # -- PowerSGD with two all-reduces
    def powersgd_p(self, tensor_id, grad):
        """PowerSGD round 1: the P message (P_i = M_i Q). Sum it over peers, then powersgd_q."""
        handle, gid, t = self._handle(), self._id(tensor_id), as_tensor(grad, what="grad")
        return sized_bytes(lambda out, cap, written: lib.rai_gc_powersgd_p(handle, gid, t.cdata, out, cap, written))

    def powersgd_q(self, tensor_id, p_sum):
        """PowerSGD round 2 from the summed P message: the Q message (b"" when the tensor went
        raw: then decompress the summed P message itself). Sum it over peers, then decompress."""
        handle, gid = self._handle(), self._id(tensor_id)
        data, length = byte_view(p_sum, "p_sum")
        return sized_bytes(lambda out, cap, written: lib.rai_gc_powersgd_q(
            handle, gid, data, length, out, cap, written))

    # -- collectives run by librai
    def allreduce_mpi(self, tensor_id, grad, comm, *, average=False, sum_decoded=False):
        """Compressed all-reduce over MPI: afterwards `grad` holds the (compressed) sum over ranks
        (the mean with average=True). `comm` is an mpi4py communicator (or the address of an
        MPI_Comm). sum_decoded=True sums every rank's decoded message instead of reducing the
        gathered messages (SIGN: the mean of the scaled signs, not a majority vote).
        UnsupportedError when librai was built without MPI (see has_mpi())."""
        t = as_tensor(grad, what="grad")
        flags = _allreduce_flags(average, sum_decoded)
        check(lib.rai_gc_allreduce_mpi(self._handle(), self._id(tensor_id), t.cdata,
                                       _mpi_comm_pointer(comm), flags))
        return grad

    def allreduce_nccl(self, tensor_id, grad, nccl_comm, *, average=False, sum_decoded=False):
        """The same over NCCL for GPU gradients on a CUDA context: `nccl_comm` is the ncclComm_t
        (an int or a cffi pointer). UnsupportedError on a CPU context or without NCCL."""
        t = as_tensor(grad, what="grad")
        if not isinstance(nccl_comm, (int, ffi.CData)):
            raise TypeError(f"nccl_comm must be an int ncclComm_t or a cffi pointer, got {type(nccl_comm).__name__}")
        flags = _allreduce_flags(average, sum_decoded)
        check(lib.rai_gc_allreduce_nccl(self._handle(), self._id(tensor_id), t.cdata,
                                        ffi.cast("void *", nccl_comm), flags))
        return grad

    # -- statistics and state
    def stats(self, tensor_id=None):
        """GCStats of one tensor, or of all of them with tensor_id=None."""
        gid = lib.RAI_GC_ALL_TENSORS if tensor_id is None else self._id(tensor_id)
        s = new_params("rai_gc_stats")
        check(lib.rai_gc_get_stats(self._handle(), gid, s))
        return GCStats(**{f.name: getattr(s, f.name) for f in dataclasses.fields(GCStats)})

    def reset_stats(self):
        check(lib.rai_gc_reset_stats(self._handle()))

    def state_size(self):
        out = ffi.new("size_t *")
        check(lib.rai_gc_state_size(self._handle(), out))
        return int(out[0])

    def save_state(self):
        """The EF residuals, PowerSGD Q and step counters as a versioned blob (bytes)."""
        handle = self._handle()
        return sized_bytes(lambda out, cap, written: lib.rai_gc_state_save(handle, out, cap, written))

    def load_state(self, blob):
        """Restores save_state()'s blob; FormatError / ShapeMismatchError (nothing changed) when
        it belongs to other parameters or tensors."""
        data, length = byte_view(blob, "blob")
        check(lib.rai_gc_state_load(self._handle(), data, length))

    def __repr__(self):
        if self.closed:
            return "<rai.GradientCompressor closed>"
        return f"<rai.GradientCompressor {self._method.name.lower()} {len(self._shapes)} tensors>"


GradientCompressor.__module__ = "rai"
