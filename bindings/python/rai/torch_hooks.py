"""A PyTorch DistributedDataParallel communication hook that compresses gradient buckets with
rai (error feedback included) and reduces the compressed form through torch.distributed.

    from rai.torch_hooks import RaiCompressionState, rai_compression_hook
    state = RaiCompressionState(rai.Context("cpu"), "sign", seed=0)
    ddp_model.register_comm_hook(state, rai_compression_hook)

Protocols (the averaged gradient is written back into the bucket):
  * POWERSGD: per gradient tensor of the bucket, rai_gc_powersgd_p -> all_reduce of the P
    factor's f32 payload -> rai_gc_powersgd_q -> all_reduce of Q -> decompress (two small
    all-reduces, as PyTorch's PowerSGD hook); raw steps (warm-up, 1-D tensors) all-reduce the
    raw f32 values once;
  * every other method: the flat bucket is compressed into one message, the messages are
    all-gathered (sizes first, then the padded bytes), reduced by rai_gc_message_reduce (exact
    sparse union for TOPK, majority vote for SIGN, ...) and decompressed; with
    sum_decoded=True each message is decompressed and the decodes summed instead, which is what
    error feedback assumes (it differs from the reduce only for SIGN; on the T2 benchmark it
    took EF-sign from +20 % to +10 % over uncompressed, docs/compress.md).

Gradients are compressed where they live: CPU buckets (gloo) on a CPU rai Context; CUDA buckets
need a CUDA Context on the same device. torch is imported lazily: importing rai never needs it.
"""

from ._c_out import enum_arg
from .compress import GCMethod, GradientCompressor

# Wire format offsets (docs/compress.md): the 40-byte header, the encoding byte, and the f32
# payload of raw (encoding 1) and PowerSGD round (8: P, 9: Q) messages.
_HEADER_BYTES = 40
_ENCODING_OFFSET = 7
_ENCODING_RAW_F32 = 1
_ENCODING_POWERSGD_ROUNDS = (8, 9)
_POWERSGD_ROUND_PAYLOAD = _HEADER_BYTES + 12  # u32 rows, cols, r before the factor


def _torch():
    import torch
    import torch.distributed as dist

    return torch, dist


class RaiCompressionState:
    """The hook's state: one GradientCompressor per bucket layout, keyed by the bucket index and
    the gradients' shapes (DDP rebuilds its buckets after the first iteration; a new layout gets
    a fresh compressor and error feedback).

    ctx            -- the rai.Context the compression runs on (must match the buckets' device)
    method, **options -- as rai.GradientCompressor (ratio, rank, warmup_steps, error_feedback,
                      seed, momentum, ...). Every rank must use the same method, options and
                      seed. With momentum=0.9 (DGC momentum correction) the hook returns the
                      averaged velocity: step with torch.optim.SGD(momentum=0).
    process_group  -- the torch.distributed group (None = the default group)
    sum_decoded    -- gathered methods: sum each rank's decoded message instead of reducing the
                      messages (SIGN: the mean of the scaled signs instead of a majority vote)
    """

    def __init__(self, ctx, method="powersgd", process_group=None, sum_decoded=False, **options):
        self.ctx = ctx
        self.sum_decoded = bool(sum_decoded)
        self.method = enum_arg(GCMethod, method, "method")
        self.options = options
        self.process_group = process_group
        self._compressors = {}
        GradientCompressor(ctx, method, **options).close()  # fail now on bad options, not in the hook

    def compressor(self, key, grads):
        """The compressor for a bucket layout, creating it (and registering `grads`) once."""
        gc = self._compressors.get(key)
        if gc is None:
            gc = GradientCompressor(self.ctx, self.method, **self.options)
            for i, g in enumerate(grads):
                gc.add_tensor(g, name=f"grad{i}")
            self._compressors[key] = gc
        return gc

    def __getstate__(self):
        raise TypeError("RaiCompressionState holds rai handles and cannot be pickled")


def _world(dist, group):
    return dist.get_world_size(group=group)


def _allreduce_payload(torch, dist, group, message, offset):
    """Sums the f32 payload of `message` from byte `offset` over the group; the header stays."""
    buf = bytearray(message)
    values = torch.frombuffer(buf, dtype=torch.float32, offset=offset,
                              count=(len(buf) - offset) // 4)
    dist.all_reduce(values, group=group)
    return bytes(buf)


def _encoding(message):
    return message[_ENCODING_OFFSET]


def _powersgd_bucket(torch, dist, state, bucket):
    """PowerSGD with two all-reduces per gradient tensor of the bucket."""
    group = state.process_group
    grads = [g.detach() for g in bucket.gradients()]
    key = (bucket.index(), tuple(tuple(g.shape) for g in grads))
    gc = state.compressor(key, [g.contiguous() for g in grads])
    world = _world(dist, group)
    buffer = bucket.buffer()
    for gid, grad in enumerate(grads):
        source = grad.contiguous()
        p_msg = gc.powersgd_p(gid, source)
        if _encoding(p_msg) == _ENCODING_RAW_F32:  # warm-up, 1-D or too small: raw values
            final = _allreduce_payload(torch, dist, group, p_msg, _HEADER_BYTES)
        else:
            p_sum = _allreduce_payload(torch, dist, group, p_msg, _POWERSGD_ROUND_PAYLOAD)
            q_msg = gc.powersgd_q(gid, p_sum)
            final = _allreduce_payload(torch, dist, group, q_msg, _POWERSGD_ROUND_PAYLOAD)
        gc.decompress(gid, final, out=source)
        source.div_(world)
        if source.data_ptr() != grad.data_ptr():
            grad.copy_(source)
    return buffer


def _gathered_bucket(torch, dist, state, bucket):
    """Any method: compress the flat bucket, all-gather the messages, reduce, decompress."""
    group = state.process_group
    buffer = bucket.buffer()
    flat = buffer.detach()
    key = (bucket.index(), (flat.numel(),))
    gc = state.compressor(key, [flat])
    message = gc.compress(0, flat)
    world = _world(dist, group)
    size = torch.tensor([len(message)], dtype=torch.int64, device=flat.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    sizes = [int(s.item()) for s in sizes]
    longest = max(sizes)
    mine = torch.zeros(longest, dtype=torch.uint8, device=flat.device)
    mine[:len(message)] = torch.frombuffer(bytearray(message), dtype=torch.uint8)
    gathered = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine, group=group)
    messages = [g[:n].cpu().numpy().tobytes() for g, n in zip(gathered, sizes)]
    if state.sum_decoded:  # the sum of what each rank's error feedback assumes was sent
        decoded = torch.empty_like(flat)
        gc.decompress(0, messages[0], out=flat)
        for m in messages[1:]:
            gc.decompress(0, m, out=decoded)
            flat.add_(decoded)
    else:
        gc.decompress(0, gc.reduce(0, messages), out=flat)
    flat.div_(world)
    return buffer


def rai_compression_hook(state, bucket):
    """DDP communication hook: register with ddp_model.register_comm_hook(state, this), where
    state is a RaiCompressionState. Returns a completed torch.futures.Future holding the bucket's
    averaged (compressed) gradient."""
    torch, dist = _torch()
    if not isinstance(state, RaiCompressionState):
        raise TypeError(f"state must be a RaiCompressionState, got {type(state).__name__}")
    future = torch.futures.Future()
    try:
        if state.method == GCMethod.POWERSGD:
            result = _powersgd_bucket(torch, dist, state, bucket)
        else:
            result = _gathered_bucket(torch, dist, state, bucket)
    except BaseException as exc:  # surfaces in DDP's backward instead of hanging the future
        future.set_exception(exc)
        return future
    future.set_result(result)
    return future

