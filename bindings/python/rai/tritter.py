"""tritter-accel's Python function set (PyO3 module `tritter_accel`, v0.2.2) on librai, numpy in
and out. The functions are exported at the top level of the package as well:

    import rai
    a = rai.vsa_random(10_000, seed=1)       # int8 [-1, 0, 1]
    b = rai.vsa_random(10_000, seed=2)
    c = rai.vsa_bind(a, b)
    assert (rai.vsa_unbind(c, b) == a).all()
    packed, scales = rai.pack_ternary_weights(w_ternary_f32, row_scales)
    w = rai.unpack_ternary_weights(packed, scales, w_ternary_f32.shape)

Semantics (the reference, /work/shared/reference/ternary-vsa-bitnet.md 7.4, and docs/ternary.md):
  * vsa_bind / vsa_unbind: trit-vsa's MOD3 algebra (tritter's CPU fallback), unbind(bind(a, b), b)
    == a. Inputs are int8-valued 1-D arrays of one length; any value other than -1/0/1, a length
    mismatch or an empty list raise ValueError (rai's InvalidArgumentError / ShapeMismatchError
    derive from it).
  * vsa_similarity metric: "cosine" (in [-1, 1]), "dot" (in [-n, n]) or "hamming" (the Hamming
    distance, in [0, n]); a float.
  * vsa_random(dim, seed): the seed is truncated to u32 as tritter does; dim 0 is a ValueError.
    The generator is RAI_VSA_RNG_TRITTER_CHACHA8 (vsa.random(..., generator="tritter")), bit-exact
    with tritter-accel's VsaOps::random: ChaCha8Rng::seed_from_u64(seed), one u32 per trit, its
    0.333 / 0.666 thresholds (docs/ternary.md; golden vectors from rand_chacha 0.3.1).
  * device: "auto", "cpu", "cuda" or "gpu" (case-insensitive), else ValueError. These vector
    operations run on the host in librai; the argument is validated and otherwise ignored.
  * pack_ternary_weights(weights f32 [rows, cols], scales f32 [rows]) -> (u8 [rows * ceil(cols /
    4)], a copy of scales): BYTE2 (4 trits per byte, LSB first, 01 = +1, 10 = -1, 00 = 0) after
    tritter's truncating f32 -> int8 cast (1.7 -> 1, -0.9 -> 0); a value that is not a trit after
    the cast is a ValueError naming the element.
  * unpack_ternary_weights(packed, scales, (rows, cols)) -> f32 [rows, cols] = trit * scales[row];
    code 11 unpacks as 0. Unlike tritter, the packed length is checked.
"""

from ._arrays import numpy
from ._c_out import choice, index_arg, invalid
from ._backend import ffi, lib
from ._errors import check
from . import vsa as _vsa

_DEVICES = {"auto": 0, "cpu": 1, "cuda": 2, "gpu": 2}
_SIMILARITY = {"cosine": _vsa.cosine, "dot": _vsa.dot, "hamming": _vsa.hamming_distance}


def _device(device):
    if not isinstance(device, str):
        raise invalid(f"device={device!r} is not one of 'auto', 'cpu', 'cuda', 'gpu'")
    choice(device, _DEVICES, "device")


def _vector(values, what):
    np = numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise invalid(f"{what} must be a 1-D array of trits, got {arr.ndim}-D")
    return _vsa.as_vector(arr, what)


def _pair(a, b, names):
    va, vb = _vector(a, names[0]), _vector(b, names[1])
    if va.dim != vb.dim:
        from ._errors import ShapeMismatchError, Status
        raise ShapeMismatchError(Status.SHAPE_MISMATCH,
                                 f"vector dimensions must match: {names[0]} has {va.dim}, {names[1]} {vb.dim}")
    return va, vb


def vsa_bind(a, b, device="auto"):
    """bind(a, b) = (a - b) mod 3 on int8 trit arrays -> int8 array."""
    _device(device)
    va, vb = _pair(a, b, ("a", "b"))
    with va, vb, _vsa.bind(va, vb) as out:
        return out.to_array()


def vsa_unbind(bound, key, device="auto"):
    """unbind(bound, key) = (bound + key) mod 3: unbind(bind(a, b), b) == a."""
    _device(device)
    vc, vk = _pair(bound, key, ("bound", "key"))
    with vc, vk, _vsa.unbind(vc, vk) as out:
        return out.to_array()


def vsa_bundle(vectors, device="auto"):
    """Majority (sign of the sum, ties 0) of a non-empty list of equal-length trit arrays."""
    _device(device)
    vectors = list(vectors)
    if not vectors:
        raise invalid("vectors is empty: vsa_bundle needs at least one vector")
    vs = [_vector(v, f"vectors[{i}]") for i, v in enumerate(vectors)]
    with _vsa.bundle(vs) as out:
        result = out.to_array()
    for v in vs:
        v.close()
    return result


def vsa_similarity(a, b, metric="cosine", device="auto"):
    """"cosine", "dot" or "hamming" (distance) of two trit arrays, as a float."""
    _device(device)
    if not isinstance(metric, str) or metric.lower() not in _SIMILARITY:
        raise invalid(f"metric={metric!r} is not one of 'cosine', 'dot', 'hamming'")
    va, vb = _pair(a, b, ("a", "b"))
    with va, vb:
        return float(_SIMILARITY[metric.lower()](va, vb))


def vsa_random(dim, seed, device="auto"):
    """A dense random trit vector (int8 [dim]), tritter-accel's ChaCha8 stream; seed truncated to
    u32; dim 0 is a ValueError."""
    _device(device)
    dim = index_arg(dim, "dim")
    if dim == 0:
        raise invalid("dim is 0: vsa_random needs a positive dimension")
    seed = index_arg(seed, "seed") & 0xFFFFFFFF
    with _vsa.random(dim, seed=seed, generator="tritter") as out:
        return out.to_array()


def _truncated_trits(weights):
    """tritter's `val as i8` on f32 ternary weights, then the trit check."""
    np = numpy()
    w = np.asarray(weights)
    if w.dtype.kind not in "fiu":
        raise invalid(f"weights: a {w.dtype} array was given, float32 ternary values are needed")
    if w.ndim != 2:
        raise invalid(f"weights must be 2-D [rows, cols], got {w.ndim}-D")
    w = w.astype(np.float32, copy=False)
    bad = np.flatnonzero(~np.isfinite(w) | (np.trunc(w) < -1) | (np.trunc(w) > 1))
    if bad.size:
        r, c = divmod(int(bad[0]), w.shape[1])
        raise invalid(f"weights[{r}, {c}] is {w[r, c]}, not a ternary value after the truncating "
                      f"cast to int8")
    return np.ascontiguousarray(np.trunc(w).astype(np.int8))


def _row_scales(scales, rows, what="scales"):
    np = numpy()
    s = np.asarray(scales)
    if s.dtype.kind != "f":
        raise invalid(f"{what}: a {s.dtype} array was given, float32 scales are needed")
    s = np.ascontiguousarray(s, dtype=np.float32).reshape(-1)
    if s.size != rows:
        raise invalid(f"{what} has {s.size} values for {rows} rows")
    return s.copy()


def _packed_size(rows, cols):
    out = ffi.new("size_t *")
    check(lib.rai_ternary_packed_size(lib.RAI_TERNARY_LAYOUT_BYTE2, rows, cols, out))
    return int(out[0])


def pack_ternary_weights(weights, scales):
    """(u8 [rows * ceil(cols / 4)] BYTE2 codes, f32 [rows] copy of scales)."""
    from . import bitnet
    np = numpy()
    trits = _truncated_trits(weights)
    scales = _row_scales(scales, trits.shape[0])
    packed = np.zeros(_packed_size(*trits.shape), dtype=np.uint8)
    bitnet.pack(trits, "byte2", out=packed)
    return packed, scales


def unpack_ternary_weights(packed, scales, shape):
    """f32 [rows, cols] = trit * scales[row] from BYTE2 codes."""
    from . import bitnet
    np = numpy()
    try:
        rows, cols = (index_arg(d, "shape[]") for d in shape)
    except ValueError:
        raise invalid(f"shape must be (rows, cols), got {shape!r}") from None
    codes = np.asarray(packed)
    if codes.dtype != np.uint8:
        raise invalid(f"packed: a {codes.dtype} array was given, uint8 BYTE2 codes are needed")
    scales = _row_scales(scales, rows)
    trits = bitnet.unpack(codes.reshape(-1), "byte2", (rows, cols))
    return trits.astype(np.float32) * scales[:, None]


__all__ = ["vsa_bind", "vsa_unbind", "vsa_bundle", "vsa_similarity", "vsa_random",
           "pack_ternary_weights", "unpack_ternary_weights"]
