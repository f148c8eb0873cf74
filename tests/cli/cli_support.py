"""Shared pieces of the `rai quantize` / `rai inspect` tests: a test checkpoint written with
struct + json (safetensors needs nothing else), a safetensors reader, running the CLI, and the
library's own quantize -> dequantize through the Python binding's raw cffi access (rai.lib), the
reference the files written by the CLI must match exactly.

Environment: RAI_CLI (the rai executable), RAI_CLI_WORKDIR (a scratch directory)."""
import json
import os
import struct
import subprocess

import numpy as np
import rai

ffi, lib = rai.ffi, rai.lib
CLI = os.environ["RAI_CLI"]
WORKDIR = os.environ["RAI_CLI_WORKDIR"]

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64, "U8": np.uint8,
             "BOOL": np.bool_, "I32": np.int32}


def to_bf16(x):
    """f32 -> bf16 bits (round to nearest even) as uint16."""
    u = np.asarray(x, np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def as_f32(dtype, array):
    """The float values of a stored tensor (bf16 is kept as uint16 bits)."""
    if dtype == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32)


def write_safetensors(path, tensors, metadata=None, shapes=None):
    """tensors: list of (name, dtype name, numpy array with the stored bytes); shapes: {name:
    shape} to override an array's own shape (raw bytes of another dtype)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, arr in tensors:
        raw = np.ascontiguousarray(arr).tobytes()
        shape = (shapes or {}).get(name, arr.shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """{name: (dtype, shape, raw bytes)}, metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {k: (v["dtype"], tuple(v["shape"]), data[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
           for k, v in header.items()}
    return out, meta


def array_of(entry):
    dtype, shape, raw = entry
    return np.frombuffer(raw, ST_DTYPES[dtype]).reshape(shape)


def make_checkpoint(path):
    """A small checkpoint with the cases the default rule and each format care about. Returns
    the list written."""
    rng = np.random.default_rng(1234)
    n = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    tensors = [
        ("model.embed_tokens.weight", "F32", n(50, 256)),               # embedding: never by default
        ("model.layers.0.self_attn.q_proj.weight", "BF16", to_bf16(n(48, 256) * 0.02)),
        ("model.layers.0.self_attn.q_proj.bias", "F32", n(48)),
        ("model.layers.0.mlp.up_proj.weight", "F16", (n(80, 512) * 0.5).astype(np.float16)),
        ("model.layers.0.mlp.down_proj.weight", "F32", n(33, 384)),     # in % 256 != 0: not TQ
        ("model.layers.0.odd.weight", "F32", n(7, 99)),                 # odd n; no ternary format holds it
        ("model.layers.1.zero.weight", "F32", np.zeros((4, 256), np.float32)),
        ("model.norm.weight", "F32", n(256)),                           # 1-D: never by default
        ("lm_head.weight", "F32", n(50, 256)),                          # kept in full precision
        ("model.step", "I64", np.array([1, -2, 3], np.int64)),
    ]
    write_safetensors(path, tensors, {"format": "pt", "note": "rai cli test"})
    return tensors


def run(*args):
    """Runs the CLI; returns (exit code, stdout, stderr)."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def _check(status, what):
    if status != 0:
        raise AssertionError(f"{what}: {ffi.string(lib.rai_status_string(status)).decode()}: "
                             f"{ffi.string(lib.rai_last_error_message()).decode()}")


class Library:
    """The C library's quantizers on a CPU context."""

    def __init__(self):
        p = ffi.new("rai_context_params *")
        lib.rai_context_params_init_sized(p, ffi.sizeof("rai_context_params"))
        p.device_type = lib.RAI_DEVICE_CPU
        p.flags = lib.RAI_CONTEXT_IGNORE_ENV
        out = ffi.new("rai_context **")
        _check(lib.rai_context_create(p, out), "rai_context_create")
        self.ctx = ffi.gc(out[0], lib.rai_context_destroy)

    @staticmethod
    def _tensor(arr, dtype=None):
        return rai.as_tensor(arr, dtype)

    def q4_roundtrip(self, stored, st_dtype, qtype, blocksize, double_quant):
        p = ffi.new("rai_q4_params *")
        lib.rai_q4_params_init_sized(p, ffi.sizeof("rai_q4_params"))
        p.type, p.blocksize, p.double_quant = qtype, blocksize, int(double_quant)
        # Tensors are kept in variables: a descriptor lives as long as its Tensor.
        src = self._tensor(stored, "bf16" if st_dtype == "BF16" else None)
        codes = np.zeros((stored.size + 1) // 2, np.uint8)
        out = np.zeros(stored.shape, np.float32)
        tc, to = self._tensor(codes), self._tensor(out)
        state = ffi.new("rai_q4_state **")
        _check(lib.rai_q4_quantize(self.ctx, p, src.cdata, tc.cdata, state), "rai_q4_quantize")
        try:
            _check(lib.rai_q4_dequantize(self.ctx, state[0], tc.cdata, to.cdata), "rai_q4_dequantize")
        finally:
            lib.rai_q4_state_destroy(state[0])
        return codes, out

    def q4_load_bnb(self, path, prefix, shape):
        """The repo's bitsandbytes-format reader on a written file, dequantized to f32."""
        f = ffi.new("rai_safetensors **")
        _check(lib.rai_safetensors_open(path.encode(), f), "rai_safetensors_open")
        st = ffi.new("rai_q4_state **")
        try:
            _check(lib.rai_q4_state_load_bnb(self.ctx, f[0], prefix.encode(), st), "rai_q4_state_load_bnb")
            idx = ffi.new("int64_t *")
            lib.rai_safetensors_find(f[0], (prefix + ".weight").encode(), idx)
            codes = ffi.new("rai_tensor *")
            _check(lib.rai_safetensors_tensor_view(f[0], idx[0], codes), "tensor_view")
            out = np.zeros(shape, np.float32)
            to = self._tensor(out)
            _check(lib.rai_q4_dequantize(self.ctx, st[0], codes, to.cdata), "rai_q4_dequantize")
            return out
        finally:
            lib.rai_q4_state_destroy(st[0])
            lib.rai_safetensors_destroy(f[0])

    def codebook(self, qtype):
        out = ffi.new("float[16]")
        _check(lib.rai_q4_codebook(qtype, out), "rai_q4_codebook")
        return np.array(list(out), np.float32)

    def bitnet(self, stored, st_dtype, granularity, group_size):
        """rai_bitnet_quantize_weights -> (trits, scales, rai_bitnet_dequantize_weights)."""
        p = ffi.new("rai_bitnet_weight_params *")
        lib.rai_bitnet_weight_params_init_sized(p, ffi.sizeof("rai_bitnet_weight_params"))
        p.granularity, p.group_size = granularity, group_size
        rows, cols = stored.shape
        scale_shape = {lib.RAI_BITNET_GRANULARITY_TENSOR: (1,), lib.RAI_BITNET_GRANULARITY_ROW: (rows,),
                       lib.RAI_BITNET_GRANULARITY_GROUP: (rows, cols // max(group_size, 1))}[granularity]
        trits = np.zeros((rows, cols), np.int8)
        scales = np.zeros(scale_shape, np.float32)
        out = np.zeros((rows, cols), np.float32)
        src = self._tensor(stored, "bf16" if st_dtype == "BF16" else None)
        tt, ts, to = self._tensor(trits), self._tensor(scales), self._tensor(out)
        _check(lib.rai_bitnet_quantize_weights(self.ctx, p, src.cdata, tt.cdata, ts.cdata),
               "rai_bitnet_quantize_weights")
        _check(lib.rai_bitnet_dequantize_weights(self.ctx, tt.cdata, ts.cdata, to.cdata),
               "rai_bitnet_dequantize_weights")
        return trits, scales, out

    def gguf_tensors(self, path):
        """{name: (ggml type, shape, f32 values or None, raw bytes)} through rai's GGUF reader."""
        r = ffi.new("rai_gguf_reader **")
        _check(lib.rai_gguf_reader_open(path.encode(), r), "rai_gguf_reader_open")
        try:
            fi = ffi.new("rai_gguf_file_info *")
            lib.rai_gguf_file_info_init_sized(fi, ffi.sizeof("rai_gguf_file_info"))
            lib.rai_gguf_reader_get_info(r[0], fi)
            out = {}
            for i in range(fi.tensor_count):
                ti = ffi.new("rai_gguf_tensor_info *")
                lib.rai_gguf_tensor_info_init_sized(ti, ffi.sizeof("rai_gguf_tensor_info"))
                _check(lib.rai_gguf_reader_tensor(r[0], i, ti), "rai_gguf_reader_tensor")
                shape = tuple(ti.shape[d] for d in range(ti.ndim))
                raw = bytearray(ti.nbytes)
                need = ffi.new("size_t *")
                _check(lib.rai_gguf_reader_read_raw(r[0], i, ffi.from_buffer(raw), len(raw), need), "read_raw")
                values = None
                if ti.ggml_type in (0, 1, 30, 34, 35):
                    values = np.zeros(shape, np.float32)
                    tv = self._tensor(values)
                    _check(lib.rai_gguf_reader_read_tensor(r[0], i, tv.cdata), "read_tensor")
                out[ffi.string(ti.name).decode()] = (ti.ggml_type, shape, values, bytes(raw))
            return out
        finally:
            lib.rai_gguf_reader_destroy(r[0])


def relative_rms(x, r):
    x = np.asarray(x, np.float64)
    err, ref = np.sum((x - r) ** 2), np.sum(x * x)
    return 0.0 if ref == 0 and err == 0 else float(np.sqrt(err / ref))
